"""What a call of a page handler must be before Gradio sees it: the gate's checks of a handler request's
body (qa/server/gate.py decides when they run).

- **Files**: a request may name a file only if this login session uploaded it through
  `/gradio_api/upload` (a `Ledger`). Any other file object (a server path in a chat history,
  a URL, a path in a "file" input) is refused.
- **Session hashes**: the page's state (its chat, the article shown) is kept per Gradio session hash;
  a hash belongs to the login session that first used it (`SessionHashes`), so naming another
  user's hash reaches nothing of theirs.
- **Results**: a stream of results names a session hash or an event this login session started
  (`queue/data` after `queue/join`, `call/NAME/EVENT` after `call/NAME`); any other is 404 before
  Gradio opens a stream it would break off.
- **Shape**: a handler that exists (`fn_index`, api name, `component_id` and its server function), as
  many parameters as it takes, text that is Unicode (no lone surrogate), lists no longer than any the
  page sends. A malformed call gets a 4xx with a short reason, never reaches Gradio to become a 500.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_LIST = 2_000  # items in one list of a page request (kept chats hold at most 30 × 200 messages)


class Refusal(Exception):
    """A handler request refused: its HTTP status and a short reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Ledger:
    """What each login session was handed: the files Gradio's upload route stored for it (the paths it
    answered), or the events its handler calls started (their ids)."""

    PER_SESSION = 2_000
    SESSIONS = 10_000

    def __init__(self) -> None:
        self.files: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, session: str, paths: list[str]) -> None:
        with self.lock:
            mine = self.files.pop(session, None) or OrderedDict()
            for p in paths:
                mine[p] = None
            while len(mine) > self.PER_SESSION:
                mine.popitem(last=False)
            self.files[session] = mine
            while len(self.files) > self.SESSIONS:
                self.files.popitem(last=False)

    def owns(self, session: str, path: str) -> bool:
        with self.lock:
            return path in self.files.get(session, ())


class SessionHashes:
    """Which login session each Gradio session hash belongs to: the first to use it."""

    KEEP = 50_000

    def __init__(self) -> None:
        self.owners: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def claim(self, session_hash: str, session: str) -> bool:
        """Whether `session` may use `session_hash` (it now owns it if nobody did)."""
        with self.lock:
            owner = self.owners.setdefault(session_hash, session)
            self.owners.move_to_end(session_hash)
            while len(self.owners) > self.KEEP:
                self.owners.popitem(last=False)
            return owner == session

    def owner(self, session_hash: str) -> str | None:
        """The login session that used `session_hash` first (None: nobody has used it)."""
        with self.lock:
            return self.owners.get(session_hash)


@dataclass
class Payload:
    """What a request body names: its files, and whether some text in it is not Unicode."""

    files: list[Any] = field(default_factory=list)
    unicode: bool = True


def inspect_payload(data: Any) -> Payload:
    """Every file a request names — the `path` (or, without one, the `url`) of each object that has
    one, at any depth (a FileData, a chat message's file, a gallery item …) — and whether every string
    (keys too) is Unicode. Refusal (413) for a list longer than MAX_LIST."""
    out = Payload()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.unicode = out.unicode and _is_unicode(item)
        elif isinstance(item, dict):
            if "path" in item or "url" in item:
                out.files.append(item.get("path") if "path" in item else item.get("url"))
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            if len(item) > MAX_LIST:
                raise Refusal(413, f"The request is too large: a list in it has {len(item):,} items (at most {MAX_LIST:,}).")
            stack.extend(item)
    return out


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") parses from JSON but is no text
        return False
    return True


CALL = re.compile(r"^/gradio_api/call/(?P<api>[^/]+)/?$")
JOIN = "/gradio_api/queue/join"
COMPONENT = re.compile(r"^/gradio_api/component_server/?$")


class Handlers:
    """The page's handlers as Gradio knows them (`blocks`: the mounted app's Blocks): which exist and
    how many parameters each takes."""

    def __init__(self, blocks: Any) -> None:
        self.blocks = blocks

    def check(self, path: str, body: dict[str, Any]) -> None:
        """Refusal unless `body` calls an existing handler with its parameters (or a component's
        server function that exists)."""
        if path == JOIN:
            fn_index = body.get("fn_index")
            fn = self.blocks.fns.get(fn_index) if _is_int(fn_index) else None
            if fn is None:
                raise Refusal(404, "No such handler (fn_index).")
            self._arity(fn, body.get("data"))
        elif match := CALL.match(path):
            fn = next((f for f in self.blocks.fns.values() if f.api_name == match["api"]), None)
            if fn is None:
                raise Refusal(404, "No such handler.")
            self._arity(fn, body.get("data"))
        elif COMPONENT.match(path):
            block = self.blocks.blocks.get(body.get("component_id")) if _is_int(body.get("component_id")) else None
            name = body.get("fn_name")
            server_fn = getattr(block, name, None) if block is not None and isinstance(name, str) else None
            if not getattr(server_fn, "_is_server_fn", False):
                raise Refusal(404, "No such component function.")

    @staticmethod
    def _arity(fn: Any, data: Any) -> None:
        if not isinstance(data, list):
            raise Refusal(422, "A handler call needs its parameters as a list in `data`.")
        takes = {len(fn.inputs), len([b for b in fn.inputs if not b.skip_api])}
        if len(data) not in takes:
            wanted = " or ".join(str(n) for n in sorted(takes))
            raise Refusal(422, f"This handler takes {wanted} parameters, not {len(data)}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def session_hashes_in(path: str, query: dict[str, list[str]], body: Any) -> Iterator[str]:
    """The Gradio session hashes a request names: in its body (`session_hash`), its query string or
    the heartbeat route's path."""
    if isinstance(body, dict) and body.get("session_hash") is not None:
        yield str(body["session_hash"])
    yield from query.get("session_hash", [])
    if path.startswith("/gradio_api/heartbeat/"):
        yield path.removeprefix("/gradio_api/heartbeat/").rstrip("/")
