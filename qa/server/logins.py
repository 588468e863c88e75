"""Wrong logins and how they are counted: the login form read as Gradio reads it, and the throttle
that makes a user name (and an address) wait after repeated failures.

The throttle must count exactly the name the login checks, or a guesser counts against one name while
trying another: the form is read the way Starlette reads it for Gradio's login route (URL-encoded or
multipart), a repeated field is refused, and the name is stripped as Gradio strips it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request


class LoginThrottle:
    """Wrong logins per key (a user name, or an address): the first `free` are free, then each further
    attempt must wait 2, 4, 8 … seconds (at most MAX_WAIT) after the last failure. A success clears
    the key's count."""

    MAX_WAIT = 900.0
    KEEP = 10_000  # keys remembered (the oldest forgotten first)

    def __init__(self, free: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.clock = clock
        self.failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until another attempt with this key is allowed (0: now)."""
        with self.lock:
            failures = self.failures.get(key)
        return max(0.0, self._delay(*failures) - self.clock()) if failures else 0.0

    def _delay(self, count: int, last: float) -> float:
        if count < self.free:
            return last
        return last + min(self.MAX_WAIT, 2.0 ** (count - self.free + 1))

    def failed(self, key: str) -> None:
        with self.lock:
            count = self.failures.pop(key, (0, 0.0))[0]
            self.failures[key] = (count + 1, self.clock())
            while len(self.failures) > self.KEEP:
                self.failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self.lock:
            self.failures.pop(key, None)


class BadLoginForm(ValueError):
    """A login body that is not one user name and one password."""


@dataclass(frozen=True)
class LoginForm:
    username: str  # as Gradio passes it to the password check: stripped, case kept


FIELDS = ("username", "password")


async def read_login_form(headers: list[tuple[bytes, bytes]], body: bytes) -> LoginForm:
    """The login body as Gradio's route reads it (Starlette's form parser: URL-encoded or multipart).
    BadLoginForm for a body that is neither, a field given twice, or a file in place of text."""
    scope = {"type": "http", "method": "POST", "path": "/login", "headers": headers, "query_string": b""}
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, receive)
    try:
        form = await request.form(max_files=0, max_fields=16)
    except MultiPartException as exc:
        raise BadLoginForm(f"The login form could not be read: {exc.message}") from None
    try:
        for name in FIELDS:
            values = form.getlist(name)
            if len(values) > 1:
                raise BadLoginForm(f"The login form names the field '{name}' more than once.")
            if any(isinstance(v, UploadFile) for v in values):
                raise BadLoginForm(f"The login form's '{name}' must be text.")
        username = form.get("username")
        return LoginForm(username.strip() if isinstance(username, str) else "")
    finally:
        await form.close()
