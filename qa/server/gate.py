"""The gate in front of everything the server answers: one ASGI middleware that decides, before the
page (Gradio) or the API sees a request, whether it may go on.

- **Strangers** (no login, on a server that wants one) reach only the login form and what it needs to
  draw itself; every other route answers 401 — no handler list, no configuration, no files.
- **Routes nobody needs** (OpenAPI schemas, monitoring, run history, proxies, the MCP and vibe-edit
  routes, media streams, the direct handler routes) answer 404 to everyone, and so does a file route
  that names a URL: no route fetches anything from the web for a visitor.
- **Handler calls** are checked before Gradio reads them (qa/server/calls.py): files only from this
  login session's uploads, session hashes only this login session's, a handler that exists with the
  parameters it takes, Unicode text. A malformed call gets a 4xx, never a 500.
- **Other sites' pages** cannot act for a visitor: a request that changes something (any POST, the
  logout, a websocket) from a foreign `Origin` (or marked cross-site by the browser) gets 403, and the
  login cookie is `SameSite=Lax` (`Secure` over HTTPS).
- **Sessions** end when their user is removed or their role changes (the next request gets 401 and
  the cookie is cleared).
- **Wrong logins** are throttled per user name (exactly the name the login checks) and per address
  (the connection's, or one forwarded by a proxy named in QA_TRUSTED_PROXIES), with a backoff that
  doubles.
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
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .calls import Handlers, Ledger, Refusal, SessionHashes, inspect_payload, session_hashes_in
from .i18n import Texts, language_of, texts
from .logins import BadLoginForm, LoginThrottle, read_login_form
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
# The page calls its handlers through the queue (`queue/join`); `call/` serves API clients. The direct
# routes (`run/`, `api/`, `call/v2/`) answer a failing handler with a 500 and are not used.
CLOSED = re.compile(
    r"^/(openapi\.json|docs|redoc|monitoring|manifest\.json|pwa_icon"
    r"|gradio_api/(openapi\.json|monitoring|runs|run-history|vibe-edit|undo-vibe-edit|vibe-code|proxy="
    r"|process_recording|dev/|mcp|stream/|custom_component/|deep_link|token|run/|api/|call/v2/))"
)
# Gradio's file routes fetch a URL for the visitor (and serve it from this origin): never.
FILE_ROUTE = re.compile(r"^/gradio_api/file(=|/)(?P<target>.*)$", re.DOTALL)
URL_LIKE = re.compile(r"^\s*([a-z][a-z0-9+.\-]*:|[/\\]{2})", re.IGNORECASE)
CALL = re.compile(r"^/gradio_api/call/[^/]+/?$")
CALL_RESULT = re.compile(r"^/gradio_api/call/[^/]+/(?P<event>[^/]+)/?$")
NO_STREAM = "No such event or page session: results are read after the call that starts them."
CROSS_SITE = "Refused: this request comes from another site's page."
FOREIGN_HASH = "Refused: this page session belongs to another login."
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
        self.ledger = Ledger()  # files uploaded, per login session
        self.events = Ledger()  # events started by `call/NAME`, per login session
        self.hashes = SessionHashes()
        self.roles: dict[str, tuple[str, str | None]] = {}  # login token → (user, role when first seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        send = _with_headers(send, secure=scope.get("scheme") == "https") if scope["type"] == "http" else send
        if not self.hosts.allows(_header(scope, b"host")):
            return await _reply(scope, send, 400, {"detail": UNKNOWN_HOST})
        if CLOSED.match(path) or _names_a_url(path):
            return await _reply(scope, send, 404, {"detail": "Not Found"})
        if _cross_site(scope, method, path):
            return await _reply(scope, send, 403, {"detail": CROSS_SITE})
        token, user = self._session(scope)
        if token and user is not None and not self._still_valid(token, user):
            ended = _words(scope)("login.session_ended")
            return await _reply(scope, send, 401, {"detail": ended}, clear=self._cookie_names())
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
            return await self.app(scope, receive, self._recording(self.ledger, session, send))
        if HANDLER_POST.match(path) and method == "POST":
            return await self._checked_handler(scope, receive, send, session)
        if HANDLER_POST.match(path):
            refused = self._stream_refusal(scope, session)
            if refused is None and not self._owns_hashes(scope, session, None):
                refused = (403, FOREIGN_HASH)
            if refused:
                return await _reply(scope, send, refused[0], {"detail": refused[1]})
        return await self.app(scope, receive, send)

    def _stream_refusal(self, scope: Scope, session: str) -> tuple[int, str] | None:
        """Why a stream of results may not be opened, if it may not: it must name what this login session
        started — `queue/data` a session hash its call used (403 another login's, 404 nobody's),
        `call/NAME/EVENT` an event its `call/NAME` started (404 otherwise)."""
        path = scope.get("path", "")
        if path.rstrip("/") == "/gradio_api/queue/data":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            owners = {self.hashes.owner(h) for h in query.get("session_hash", [""])}
            if owners - {session, None}:
                return 403, FOREIGN_HASH
            return (404, NO_STREAM) if None in owners else None
        if (match := CALL_RESULT.match(path)) and not self.events.owns(session, match["event"]):
            return 404, NO_STREAM
        return None

    def _owns_hashes(self, scope: Scope, session: str, body: Any) -> bool:
        """Whether every Gradio session hash the request names belongs to this login session."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return all(self.hashes.claim(h, session) for h in session_hashes_in(scope.get("path", ""), query, body))

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
        try:
            form = await read_login_form(scope.get("headers", []), body)
        except BadLoginForm as exc:
            return await _reply(scope, send, 400, {"detail": str(exc)})
        name, address = form.username, _address(scope)
        wait = max(self.users.wait(name), self.addresses.wait(address))
        if wait > 0:
            return await _reply(
                scope,
                send,
                429,
                {"detail": _words(scope)("login.too_many", seconds=math.ceil(wait))},
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

    # -- files and events ---------------------------------------------------------------------------
    def _recording(self, ledger: Ledger, session: str, send: Send) -> Send:
        """A `send` that passes a route's answer on and records for the session what it hands out: the
        paths the upload route answers (a list), or the event a call started (`{"event_id": …}`)."""
        chunks: list[bytes] = []
        status: list[int] = []

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and status and status[0] == 200:
                    try:
                        said = json.loads(b"".join(chunks))
                    except ValueError:
                        said = []
                    handed = said if isinstance(said, list) else [said.get("event_id")] if isinstance(said, dict) else []
                    ledger.add(session, [p for p in handed if isinstance(p, str)])
            await send(message)

        return recording

    async def _checked_handler(self, scope: Scope, receive: Receive, send: Send, session: str) -> None:
        """A page handler's request goes on only if it is well formed (calls.py: a handler that exists,
        its parameters, Unicode text), every file it names was uploaded by this session, and every
        session hash it names is this session's."""
        body = await _read_body(receive, MAX_HANDLER_BODY)
        if body is None:
            return await _reply(scope, send, 413, {"detail": "The request is too large."})
        data: Any = None
        if body.strip():
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                return await _reply(scope, send, 400, {"detail": "The request is not valid JSON."})
            if not self._owns_hashes(scope, session, data):
                return await _reply(scope, send, 403, {"detail": FOREIGN_HASH})
            try:
                payload = inspect_payload(data)
                if any(not (isinstance(p, str) and self.ledger.owns(session, p)) for p in payload.files):
                    raise Refusal(403, "A file in this request was not uploaded by you in this session.")
                if not payload.unicode:
                    raise Refusal(400, "The request holds text that is not valid Unicode (a lone surrogate).")
                if isinstance(data, dict):
                    Handlers(self.gradio().get_blocks()).check(scope.get("path", ""), data)
            except Refusal as refused:
                return await _reply(scope, send, refused.status, {"detail": refused.detail})
        elif not self._owns_hashes(scope, session, None):
            return await _reply(scope, send, 403, {"detail": FOREIGN_HASH})
        if CALL.match(scope.get("path", "")):
            send = self._recording(self.events, session, send)
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


def _with_headers(send: Send, secure: bool) -> Send:
    """A `send` that adds the security headers and makes every cookie `SameSite=Lax`, `Secure` only
    when the page is served over HTTPS (Gradio sets its login cookie `SameSite=None; Secure`)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, _lax_cookie(v, secure) if k.lower() == b"set-cookie" else v)
                for k, v in message.get("headers", [])
                if k.lower() not in dict(SECURITY_HEADERS)
            ]
            message = {**message, "headers": headers + SECURITY_HEADERS}
        await send(message)

    return sending


def _lax_cookie(header: bytes, secure: bool) -> bytes:
    parts = [p.strip() for p in header.decode("latin-1").split(";")]
    kept = [p for p in parts[1:] if p.lower().split("=", 1)[0] not in ("samesite", "secure")]
    return "; ".join([parts[0], *kept, "SameSite=Lax", *(["Secure"] if secure else [])]).encode("latin-1")


def _names_a_url(path: str) -> bool:
    """Whether a request asks Gradio's file route for a URL (any scheme, or `//host`)."""
    match = FILE_ROUTE.match(path)
    return bool(match and URL_LIKE.match(match["target"]))


UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _cross_site(scope: Scope, method: str, path: str) -> bool:
    """Whether a request that changes something (an unsafe method, a websocket, the logout) comes from
    another site's page: its `Origin` is not this server's as the request names it (`Host`), or the
    browser marks it `Sec-Fetch-Site: cross-site`. Clients that are not browsers send neither."""
    changes = scope["type"] == "websocket" or method in UNSAFE or path.rstrip("/") == "/logout"
    if not changes:
        return False
    if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
        return True
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    host = _header(scope, b"host") or ""
    try:
        named = urlsplit(origin.strip())
        port = named.port
    except ValueError:
        return True
    if named.scheme not in ("http", "https") or not named.hostname:
        return True  # "null" (a sandboxed frame, a file:// page) and anything stranger
    default = 443 if named.scheme == "https" else 80
    return (named.hostname, port or default) != _host_and_port(host, default)


def _host_and_port(header: str, default: int) -> tuple[str, int]:
    """'Example.org:7860' → ('example.org', 7860); '[::1]' → ('::1', default)."""
    try:
        parsed = urlsplit(f"//{header.strip()}")
        return (parsed.hostname or "", parsed.port or default)
    except ValueError:
        return ("", -1)


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


def _words(scope: Scope) -> Texts:
    """The catalogue of the language the request's browser asks for (what the login form shows)."""
    return texts(language_of(_header(scope, b"accept-language")))


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
