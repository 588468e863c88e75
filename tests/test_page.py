"""The chat page in a real browser (Debian's chromium driven by Playwright) over a real index."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, write

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser

HOSTILE = """Artikel Berbahaya
Wali Kota Surabaya Tri Rismaharini meresmikan taman baru <script>window.__pwned = 1; alert('xss')</script> di pusat kota.
Gambar <img src=x onerror="window.__pwned = 2; alert('img')"> dan <a href="javascript:alert('link')">tautan</a> ada di sini.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("page")
    articles = root / "articles"
    shutil.copytree(SEEDS, articles)
    write(articles / "hostile.txt", HOSTILE)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_SEEDS_DIR"] = str(articles)
    log = open(root / "app.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--index-dir", str(root / "index")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
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
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
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


def _ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


@pytest.mark.parametrize(
    "question", ["Who offered Jack Ma the advisor role?", "Siapa yang menawari Jack Ma menjadi penasehat?"]
)
def test_jack_ma_question_is_answered_with_a_citation(app_url: str, browser, question: str) -> None:
    page = browser.new_page()
    page.goto(app_url)
    _ask(page, question)
    chat = page.locator("#chat")
    chat.get_by_text("Joko Widodo [1]").first.wait_for(timeout=30_000)
    assert "000_3a3f117793ab0552.txt, ¶1" in chat.inner_text()
    mark = page.locator("#sources mark")
    assert "ditawari Presiden Joko Widodo" in mark.first.inner_text()
    if question.startswith("Who"):
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
    page.close()


def test_no_answer_is_said_plainly(app_url: str, browser) -> None:
    page = browser.new_page()
    page.goto(app_url)
    _ask(page, "What is the boiling point of mercury?")
    page.locator("#chat").get_by_text("could not find the answer").wait_for(timeout=30_000)
    assert "do not answer" in page.locator("#sources").inner_text()
    page.close()


def test_article_html_is_shown_as_text_and_runs_nothing(app_url: str, browser) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url)
    _ask(page, "Siapa Wali Kota Surabaya yang meresmikan taman baru?")
    page.locator("#chat").get_by_text("Tri Rismaharini").first.wait_for(timeout=30_000)
    sources = page.locator("#sources")
    assert "<script>" in sources.inner_text()  # shown, as text
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#sources script, #sources img, #chat img[src='x']").count() == 0
    page.close()
