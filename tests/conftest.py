"""Shared fixtures: real model, real FAISS index over the real seed article, no network."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
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


def settings_for(index_dir: Path, **overrides) -> Settings:
    """Settings that ignore the caller's QA_* environment, for a throwaway index."""
    return Settings.from_env(env={}, index_dir=index_dir, **{"seeds_dir": SEEDS, **overrides})


@pytest.fixture(scope="session")
def seed_tanya(tmp_path_factory: pytest.TempPathFactory) -> Tanya:
    """Tanya over an index of the seed article, built once per test session."""
    tanya = Tanya(settings_for(tmp_path_factory.mktemp("seed") / "index"))
    tanya.index()
    return tanya


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
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
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
