"""Shared fixtures: real model, real FAISS index over the real seed article, no network."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from qa import Settings, Tanya  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ID = "000_3a3f117793ab0552"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHARED = ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `shared` are skipped, with the reason, on a checkout without ../shared/data."""
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the shared data sets in {SHARED} (CI has them)")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


def settings_for(index_dir: Path, **overrides) -> Settings:
    """Settings that ignore the caller's QA_* environment, for a throwaway index."""
    return Settings.from_env(env={}, index_dir=index_dir, **{"seeds_dir": SEEDS, **overrides})


@pytest.fixture(scope="session")
def seed_tanya(tmp_path_factory: pytest.TempPathFactory) -> Tanya:
    """Tanya over an index of the seed article, built once per test session."""
    tanya = Tanya(settings_for(tmp_path_factory.mktemp("seed") / "index"))
    tanya.articles.index()
    return tanya


def killed_after_the_first_epoch(line: str) -> None:
    """A training run's log that stops it (as a kill would) once its first epoch is written."""
    if '"epoch": 1' in line:
        raise KeyboardInterrupt


def write(path: Path, content: str | bytes) -> Path:
    """Write a fixture file (text as UTF-8), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def free_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(root: Path, articles: Path | None, *args: str, cwd: Path = ROOT, **env_extra: str) -> Iterator[str]:
    """Run app.py (a real server process, with `args`, from `cwd`) over `articles` (None: the default
    seeds folder, relative to `cwd`), indexing into `root`; yields its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    if articles is not None:
        env["QA_SEEDS_DIR"] = str(articles)
    env.update(QA_UPLOAD_DIR=str(root / "uploads"), QA_USERS_FILE=str(root / "users.json"), **env_extra)
    log = open(root / "app.log", "w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index-dir", str(root / "index"), *args],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((root / "app.log").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("the app did not start: " + (root / "app.log").read_text())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (make browser installs Debian's package)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def ask_in_page(page, question: str) -> None:
    """Type a question in the chat page and press Ask."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def log_in_page(browser, url: str, name: str, password: str):
    """A new browser page logged in to the chat page as `name`, once the chat has appeared."""
    page = browser.new_page()
    page.goto(url)
    page.locator("input[type=password]").wait_for(timeout=30_000)
    page.locator("input:not([type=password])").first.fill(name)
    page.locator("input[type=password]").fill(password)
    page.locator("input[type=password]").press("Enter")
    page.locator("#question").wait_for(timeout=30_000)
    return page


# -- a small web site on 127.0.0.1 for the tests of fetching (tests/ingest/test_web.py and others) --


def page(title: str, body: str, canonical: str | None = None, date: str = "2016-09-09") -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f'<html><head><title>{title}</title>{link}<meta property="article:published_time" content="{date}"></head>'
        f"<body><nav>Beranda | Ekonomi</nav><article><h1>{title}</h1><p>{body}</p></article></body></html>"
    ).encode()


BUS = page(
    "Bus Listrik Bandung",
    "Wali Kota Bandung Ridwan Kamil meresmikan dua puluh lima bus listrik baru pada hari Senin di Balai Kota.",
)
KERETA = page(
    "Kereta Cepat",
    "Kereta cepat Jakarta Bandung akan menempuh perjalanan dalam empat puluh menit, kata Menteri Perhubungan Budi Karya.",
)
PASAR = page(
    "Pasar Baru", "Pedagang Pasar Baru di Bogor pindah ke gedung sementara selama renovasi yang berlangsung delapan bulan."
)


def feed(base: str, items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>{base}{path}</link><pubDate>Fri, 09 Sep 2016 10:00:00 GMT</pubDate></item>"
        for path, t in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Berita</title>{entries}</channel></rss>'.encode()


class Site:
    """A small web site whose pages the test changes; it counts requests and honours If-None-Match."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.hits: dict[str, int] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                if self.path == "/slow":
                    time.sleep(3)
                if self.path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    try:
                        for _ in range(50):  # 50 MB, if anyone read it all
                            self.wfile.write(b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>")
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                status, kind, body = site.pages.get(self.path, (404, "text/plain", b"not here"))
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout being tested)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, path: str, body: bytes, kind: str = "text/html", status: int = 200) -> str:
        self.pages[path] = (status, kind, body)
        return self.url + path
