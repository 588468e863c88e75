"""Who is calling a page handler, and which collections they may touch: every handler asks here.

Which collections a handler touches is chosen in the page but checked in every handler
(`Access.may`): a collection the caller may not read is treated as one that does not exist, and
editing wants the edit right on the collection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..library import Library
from ..pipeline import Tanya
from ..settings import DEFAULT_COLLECTION
from .users import READ, Access


class Visitors:
    """The rights of whoever sent a request, over one library."""

    def __init__(self, library: Library, access: Access) -> None:
        self.library = library
        self.access = access

    @staticmethod
    def user_of(request: gr.Request | None) -> str | None:
        return getattr(request, "username", None)

    def allowed(self, request: gr.Request | None, right: str) -> list[str]:
        """The collections the caller may read (or edit), `default` first."""
        return self.access.allowed(self.user_of(request), right, self.library.names())

    def chosen(self, names: Any, request: gr.Request | None, right: str = READ) -> list[str]:
        """Of the collection names the page sent (one or a list), those that exist and the caller may
        read (or edit); the rest are dropped as if they did not exist."""
        names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        mine = set(self.allowed(request, right))
        return [n for n in dict.fromkeys(names) if isinstance(n, str) and n in mine]

    def member(self, name: Any, request: gr.Request | None, right: str = READ) -> Tanya | None:
        """One collection, if it exists and the caller may read (or edit) it; else None."""
        names = self.chosen(name, request, right)
        return self.library.get(names[0]) if names else None

    def readable(self, request: gr.Request | None) -> Callable[[str], bool]:
        """Whether the caller may read a collection now (for kept chats and sources)."""
        user = self.user_of(request)
        return lambda name: self.library.exists(name) and self.access.may(user, READ, name)

    @staticmethod
    def first(names: list[str]) -> list[str]:
        """What a collection picker starts on: `default` when it is among `names`, else the first."""
        return [DEFAULT_COLLECTION] if DEFAULT_COLLECTION in names else names[:1]
