"""The gate in front of everything the server answers: one ASGI middleware that decides, before the
page (Gradio) or the API sees a request, whether it may go on.

- **Strangers** (no login, on a server that wants one) reach only the login form and what it needs to
  draw itself; every other route answers 401 — no handler list, no configuration, no files.
- **Routes nobody needs** (OpenAPI schemas, monitoring, run history, proxies, the MCP and vibe-edit
  routes, media streams) answer 404 to everyone.
- **Files in a request**: a request to a page handler may name a file only if this login session
  uploaded it through `/gradio_api/upload` (recorded here as the upload route answers). Any other
  file object — a server path in a chat history, a path in a "file" input, a URL — is refused with
  403 before Gradio reads or copies it, whatever Gradio's own checks do when it is mounted.
- **Sessions** end when their user is removed or their role changes (the next request gets 401 and
  the cookie is cleared).
- **Wrong logins** are throttled per user name and per address, with a backoff that doubles.
- **Host names**: a request must name the server by an address, `localhost`, or a name in
  QA_ALLOWED_HOSTS; on loopback no other name is answered (400). Otherwise a web page could rebind its
  own name to 127.0.0.1 and use an open local server as its own site (read articles, change the index).
- **Every response** carries a Content-Security-Policy that keeps the page to its own origin (no remote
  image, script, frame or connection), and `nosniff`/no-referrer/no-framing headers.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

from .users import Access

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

# Nobody needs these: schemas and monitoring show the handlers; proxies, streams and recordings are
# features the page does not use.
CLOSED = re.compile(
    r"^/(openapi\.json|docs|redoc|monitoring|manifest\.json|pwa_icon"
    r"|gradio_api/(openapi\.json|monitoring|runs|run-history|vibe-edit|proxy=|process_recording|dev/|mcp"
    r"|stream/|custom_component/|deep_link|token))"
)
# What a stranger may reach: the login form and the files that draw it, and the API (its own keys).
OPEN = re.compile(
    r"^/($|login/?$|logout/?$|assets/|static/|svelte/|favicon\.ico$|theme\.css$|robots\.txt$"
    r"|gradio_api/(theme\.css|login_check/?|user/?|startup-events)|config/?$|v1/)"
)
UNKNOWN_HOST = "Unknown host name: this server answers to its address, localhost and the names in QA_ALLOWED_HOSTS."
HANDLER_POST = re.compile(r"^/gradio_api/")
UPLOAD = "/gradio_api/upload"
MAX_HANDLER_BODY = 32 * 1024 * 1024  # a page request (kept chats included) is far smaller


class HostNames:
    """Which names in a request's Host header the server answers to: any address (an address is its
    own origin: no other site's page can speak to it under it), `localhost`, the `names` given, and, when
    the server listens on a network address and no names are given, any name."""

    def __init__(self, listen_on: str, names: str) -> None:
        self.names = {_bare_host(n) for n in names.split(",") if n.strip()} | {"localhost"}
        self.any_name = not names.strip() and not _is_loopback(listen_on)

    def allows(self, host_header: str | None) -> bool:
        if host_header is None:  # HTTP/1.0 without Host: no browser sends that
            return True
        host = _bare_host(host_header)
        return self.any_name or host in self.names or _is_address(host) or host.endswith(".localhost")


def _bare_host(header: str) -> str:
    """'Example.org.:7860' → 'example.org'; '[::1]:7860' → '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") == 1 else header.rstrip(".")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return host == "localhost" or (_is_address(host) and ipaddress.ip_address(host).is_loopback)


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


class UploadLedger:
    """Which files each login session uploaded through Gradio's upload route (the paths it answered)."""

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


MAX_LIST = 2_000  # items in one list of a page request (kept chats hold at most 30 × 200 messages)


class Oversized(ValueError):
    """A page request with a list longer than any the page sends."""


def file_paths(data: Any) -> Iterator[Any]:
    """Every file a request names: the `path` (or, without one, the `url`) of each object that has one,
    at any depth (a FileData, a chat message's file, a gallery item …). Oversized for a list longer
    than MAX_LIST."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "path" in item or "url" in item:
                yield item.get("path") if "path" in item else item.get("url")
            stack.extend(item.values())
        elif isinstance(item, list):
            if len(item) > MAX_LIST:
                raise Oversized(f"a list in the request has {len(item):,} items (at most {MAX_LIST:,})")
            stack.extend(item)


class Gate:
    """The ASGI middleware (see the module's docstring). `gradio` gives the mounted Gradio app (its
    login tokens and cookie name), looked up when the first request arrives."""

    def __init__(self, app: ASGIApp, access: Access, gradio: Callable[[], Any], hosts: HostNames) -> None:
        self.app = app
        self.access = access
        self.gradio = gradio
        self.hosts = hosts
        # a user name gets 5 free wrong passwords, an address (many people behind one proxy) 20
        self.users, self.addresses = LoginThrottle(free=5), LoginThrottle(free=20)
        self.ledger = UploadLedger()
        self.roles: dict[str, tuple[str, str | None]] = {}  # login token → (user, role when first seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        send = _with_headers(send) if scope["type"] == "http" else send
        if not self.hosts.allows(_header(scope, b"host")):
            return await _reply(scope, send, 400, {"detail": UNKNOWN_HOST})
        if CLOSED.match(path):
            return await _reply(scope, send, 404, {"detail": "Not Found"})
        token, user = self._session(scope)
        if token and user is not None and not self._still_valid(token, user):
            return await _reply(
                scope, send, 401, {"detail": "Your session has ended: please log in again."}, clear=self._cookie_names()
            )
        stranger = self.access.needs_login and user is None
        if stranger and not (OPEN.match(path) and scope["type"] == "http"):
            return await _reply(scope, send, 401, {"detail": "Not authenticated"})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if stranger and path == "/":
            return await self._login_form(scope, receive, send)
        session = token or f"anonymous:{_address(scope)}"
        if path.rstrip("/") == "/login" and method == "POST":
            return await self._login(scope, receive, send)
        if path.rstrip("/") == UPLOAD and method == "POST":
            return await self.app(scope, receive, self._recording_uploads(session, send))
        if HANDLER_POST.match(path) and method == "POST":
            return await self._checked_handler(scope, receive, send, session)
        return await self.app(scope, receive, send)

    # -- sessions ---------------------------------------------------------------------------------
    def _cookie_names(self) -> list[str]:
        app = self.gradio()
        return [f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}"] if app else []

    def _session(self, scope: Scope) -> tuple[str | None, str | None]:
        """The login token the request carries and the user it belongs to (None, None: no login)."""
        app = self.gradio()
        if app is None:
            return None, None
        cookies = _cookies(scope)
        for name in self._cookie_names():
            token = cookies.get(name)
            if token and token in app.tokens:
                return token, app.tokens[token]
        return None, None

    def _still_valid(self, token: str, user: str) -> bool:
        """Whether the user still exists with the role it had when its session was first seen; if not,
        the session is ended."""
        role = self.access.role_of(user)
        seen = self.roles.setdefault(token, (user, role))
        if role is not None and seen == (user, role):
            return True
        self.roles.pop(token, None)
        self.gradio().tokens.pop(token, None)
        return False

    # -- login ------------------------------------------------------------------------------------
    async def _login_form(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gradio's page as a stranger gets it — the login form — without the list of handlers Gradio
        puts in it (`window.gradio_api_info`)."""
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        start: list[Message] = []
        body = bytearray()

        async def rewriting(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = _without_api_info(bytes(body))
            headers = [(k, v) for k, v in start[0].get("headers", []) if k.lower() != b"content-length"]
            await send({**start[0], "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, rewriting)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, 64 * 1024)
        if body is None:
            return await _reply(scope, send, 413, {"detail": "The login form is too large."})
        form = parse_qs(body.decode("utf-8", "replace"))
        name, address = (form.get("username") or [""])[0].strip().lower(), _address(scope)
        wait = max(self.users.wait(name), self.addresses.wait(address))
        if wait > 0:
            return await _reply(
                scope,
                send,
                429,
                {"detail": f"Too many wrong logins: try again in {math.ceil(wait)} s."},
                headers=[(b"retry-after", str(math.ceil(wait)).encode())],
            )
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, _replay(body, receive), watch)
        if status and status[0] == 200:
            self.users.succeeded(name)
        else:
            self.users.failed(name)
            self.addresses.failed(address)

    # -- files ------------------------------------------------------------------------------------
    def _recording_uploads(self, session: str, send: Send) -> Send:
        """A `send` that passes the upload route's answer on and records the paths it names."""
        chunks: list[bytes] = []
        status: list[int] = []

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and status and status[0] == 200:
                    try:
                        paths = json.loads(b"".join(chunks))
                    except ValueError:
                        paths = []
                    if isinstance(paths, list):
                        self.ledger.add(session, [p for p in paths if isinstance(p, str)])
            await send(message)

        return recording

    async def _checked_handler(self, scope: Scope, receive: Receive, send: Send, session: str) -> None:
        """A page handler's request goes on only if every file it names was uploaded by this session."""
        body = await _read_body(receive, MAX_HANDLER_BODY)
        if body is None:
            return await _reply(scope, send, 413, {"detail": "The request is too large."})
        if body.strip():
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                return await _reply(scope, send, 400, {"detail": "The request is not valid JSON."})
            try:
                named = list(file_paths(data))
            except Oversized as exc:
                return await _reply(scope, send, 413, {"detail": f"The request is too large: {exc}."})
            foreign = [p for p in named if not (isinstance(p, str) and self.ledger.owns(session, p))]
            if foreign:
                return await _reply(
                    scope, send, 403, {"detail": "A file in this request was not uploaded by you in this session."}
                )
        await self.app(scope, _replay(body, receive), send)


_API_INFO = b"window.gradio_api_info = "


def _without_api_info(page: bytes) -> bytes:
    """The page with Gradio's description of its handlers emptied."""
    at = page.find(_API_INFO)
    if at < 0:
        return page
    end = page.find(b"</script>", at)
    if end < 0:
        return page[:at]
    return page[:at] + _API_INFO + b'{"named_endpoints": {}, "unnamed_endpoints": {}};' + page[end:]


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(SECURITY_HEADERS)]
            message = {**message, "headers": headers + SECURITY_HEADERS}
        await send(message)

    return sending


async def _reply(
    scope: Scope,
    send: Send,
    status: int,
    body: dict,
    headers: list[tuple[bytes, bytes]] | None = None,
    clear: list[str] | None = None,
) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    payload = json.dumps(body).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *(headers or [])]
    for name in clear or []:
        out.append((b"set-cookie", f"{name}=; Max-Age=0; Path=/; HttpOnly".encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then what the client does next (its disconnect)."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


def _header(scope: Scope, name: bytes) -> str | None:
    return next((value.decode("latin-1") for key, value in scope.get("headers", []) if key == name), None)


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, val = part.strip().partition("=")
                if name:
                    out[name] = val
    return out


def _address(scope: Scope) -> str:
    client = scope.get("client") or ("?", 0)
    return str(client[0])
