"""The server: the chat page (qa/server/page.py) and the OpenAI-compatible /v1 API
(qa/server/api.py) on one port, behind the gate (qa/server/gate.py).

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index] [--allow-anonymous]
    tanya serve …                      # the same, from an installed package

Who may do what comes from the users file and QA_AUTH (qa/server/users.py). An index is built from the
seed articles first when none exists.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.routing import Mount  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from ..errors import (
    EXPECTED_ERRORS,  # noqa: E402
    AccessRefused,
    ConfigError,
)
from ..library import Library  # noqa: E402
from ..settings import DEFAULT_COLLECTION, Settings  # noqa: E402
from .api import api_router  # noqa: E402
from .bounded_log import BoundedLog  # noqa: E402
from .feedback import FeedbackStore, feedback_path  # noqa: E402
from .gate import Gate, HostNames  # noqa: E402
from .i18n import gradio_translations  # noqa: E402
from .layout import build_page  # noqa: E402
from .page import Page  # noqa: E402
from .render import CSS, JS  # noqa: E402
from .users import Access  # noqa: E402


def create_app(library: Library, access: Access) -> FastAPI:
    """The ASGI app: the gate, the /v1 API and the page, over the library's collections."""
    server = FastAPI(title="Tanya", docs_url=None, redoc_url=None, openapi_url=None)
    settings = library.settings
    feedback = FeedbackStore(feedback_path(settings.server.users_file, settings.server.feedback_file))
    server.include_router(api_router(library, access, feedback))
    blocks = build_page(Page(library, access, feedback)).queue(default_concurrency_limit=4)
    server = gr.mount_gradio_app(
        server,
        blocks,
        path="",
        auth=access.login if access.needs_login else None,
        css=CSS,
        head=JS,
        show_error=False,
        max_file_size=f"{library.settings.ingest.max_file_mb:g}mb",
        footer_links=[],
        run_history=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        i18n=gr.I18n(**gradio_translations()),
    )
    # Gradio checks that a file in a request was uploaded (and that a file it hands out lies in its cache,
    # the working folder or the temp folder) only once `launch()` has run; mounted, it never does. Its
    # check is switched on as a second layer behind the gate's.
    blocks.has_launched = True
    gradio_app = next(r.app for r in server.routes if isinstance(r, Mount))
    hosts = HostNames(library.settings.server.host, library.settings.server.allowed_hosts)
    server.add_middleware(Gate, access=access, gradio=lambda: gradio_app, hosts=hosts)
    trusted = [p.strip() for p in library.settings.server.trusted_proxies.split(",") if p.strip()]
    if trusted:  # outside the gate: the gate sees the forwarded address and scheme
        server.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    return server


def serve(settings: Settings, allow_anonymous: bool = False) -> int:
    """Check who may use the server, make sure an index exists, serve until stopped. Returns the exit status."""
    library = Library(settings)
    tanya = library.get(DEFAULT_COLLECTION)
    try:
        access = Access.configure(settings.server.users_file, settings.server.auth, settings.server.host, allow_anonymous)
        if not tanya.has_index():
            print(f"No index in {settings.store.index_dir}: indexing {settings.store.seeds_dir} first …", flush=True)
            print(tanya.articles.index().summary(), flush=True)
        for name in library.names():
            if library.get(name).has_index():
                library.get(name).warm_up()
    except AccessRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        watching = start_watchers(library)
    except EXPECTED_ERRORS as exc:
        print(f"error: QA_WATCH: {exc}", file=sys.stderr)
        return 2
    if watching:
        print(f"keeping the sources of {', '.join(watching)} current (QA_WATCH={settings.server.watch})", flush=True)
    app = create_app(library, access)
    sys.stderr = BoundedLog(sys.stderr)
    print(f"Tanya on http://{settings.server.host}:{settings.server.port}/ (API: /v1/chat/completions)", flush=True)
    # forwarded headers are believed only from QA_TRUSTED_PROXIES (create_app), never by uvicorn's default
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    return 0


def start_watchers(library: Library) -> list[str]:
    """With QA_WATCH, a thread per collection that has sources keeps them current beside the server
    (qa/ingest/sources.py); returns the collections watched."""
    from ..ingest.sources import parse_every

    if not library.settings.server.watch:
        return []
    every = parse_every(library.settings.server.watch)
    watched = []
    for name in library.names():
        member = library.get(name)
        if member.articles.sources().all():
            member.articles.watcher(every, log=functools.partial(_log_watch, name)).start()
            watched.append(name)
    return watched


def _log_watch(collection: str, line: str) -> None:
    print(f"watch {collection}: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tanya chat page and OpenAI-compatible API")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="let visitors who have not logged in ask (never edit), e.g. on a network with no users",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(host=args.host, port=args.port, index_dir=args.index_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(settings, args.allow_anonymous)


def with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Settings with the host and port given on a command line (None keeps the configured ones)."""
    return settings.with_values(
        host=settings.server.host if host is None else host, port=settings.server.port if port is None else port
    )
