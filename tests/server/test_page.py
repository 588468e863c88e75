"""The chat page in a real browser (Debian's chromium driven by Playwright) over a real index."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ROOT, SEEDS, ask_in_page, serve_app, write

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

pytestmark = pytest.mark.browser

HOSTILE = """Artikel Berbahaya
Wali Kota Surabaya Tri Rismaharini meresmikan taman baru <script>window.__pwned = 1; alert('xss')</script> di pusat kota.
Gambar <img src=x onerror="window.__pwned = 2; alert('img')"> dan <a href="javascript:alert('link')">tautan</a> ada di sini.
"""


@pytest.fixture(scope="module")
def pixel() -> Iterator[dict]:
    """A server on 127.0.0.1 that counts what browsers fetch from it (a tracking pixel's host)."""
    fetched: list[str] = []

    class Pixel(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "fetched": fetched}
    server.shutdown()


def _markdown_article(pixel_url: str) -> str:
    return (
        f"Pameran Batik ![judul]({pixel_url}/title.png)\n"
        f"Gubernur Jawa Barat Ahmad Heryawan membuka pameran batik ![pixel]({pixel_url}/pixel.png) "
        f"[tautan](javascript:alert('md')) <img src=\"{pixel_url}/html.png\"> di Gedung Sate.\n"
    )


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, pixel: dict) -> Iterator[str]:
    root = tmp_path_factory.mktemp("page")
    articles = root / "articles"
    shutil.copytree(SEEDS, articles)
    write(articles / "hostile.txt", HOSTILE)
    write(articles / "pameran.txt", _markdown_article(pixel["url"]))
    with serve_app(root, articles) as url:
        yield url


@pytest.mark.parametrize("question", ["Who offered Jack Ma the advisor role?", "Siapa yang menawari Jack Ma menjadi penasehat?"])
def test_jack_ma_question_is_answered_with_a_citation(app_url: str, browser, question: str) -> None:
    page = browser.new_page()
    page.goto(app_url)
    ask_in_page(page, question)
    chat = page.locator("#chat")
    chat.get_by_text("Joko Widodo [1]").first.wait_for(timeout=30_000)
    assert "000_3a3f117793ab0552.txt, 2016-09-09, ¶1" in chat.inner_text()
    mark = page.locator("#sources mark")
    assert "ditawari Presiden Joko Widodo" in mark.first.inner_text()
    # the [1] marker opens the whole article in the side panel, scrolled to the sentence
    details = page.locator("#source-1 details")
    assert details.get_attribute("open") is None
    chat.locator("a[href='#source-1']").first.click()
    page.wait_for_function("document.querySelector('#source-1 details').open === true", timeout=5_000)
    article_mark = page.locator("#source-1 details mark")
    article_mark.wait_for(state="visible", timeout=5_000)
    assert "ditawari Presiden Joko Widodo" in article_mark.inner_text()
    assert "Tmall" in page.locator("#source-1 details").inner_text()  # the whole article, not one passage
    if question.startswith("Who"):
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
    page.close()


def test_follow_up_question_is_understood_in_context(app_url: str, browser) -> None:
    page = browser.new_page()
    page.goto(app_url)
    ask_in_page(page, "Who offered Jack Ma the advisor role?")
    page.locator("#chat").get_by_text("Joko Widodo").first.wait_for(timeout=30_000)
    ask_in_page(page, "In which field?")
    page.locator("#rewritten").wait_for(timeout=30_000)
    assert "Jack Ma" in page.locator("#rewritten").inner_text()
    last = page.locator("#chat").inner_text().split("In which field?")[-1]
    assert "e-commerce" in last
    # a question that names its own subject is not polluted by the turns before it
    ask_in_page(page, "Apa nama sebelumnya dari Tmall?")
    page.wait_for_function(
        "document.querySelector('#chat').innerText.split('Apa nama sebelumnya dari Tmall?').length > 1 && "
        "document.querySelector('#chat').innerText.split('Apa nama sebelumnya dari Tmall?')[1].includes('[1]')",
        timeout=30_000,
    )
    assert "Taobao Mall" in page.locator("#chat").inner_text().split("Apa nama sebelumnya dari Tmall?")[-1]
    assert page.locator("#rewritten").count() == 0
    page.close()


def test_uploaded_article_becomes_answerable_without_restart(app_url: str, browser, tmp_path: Path) -> None:
    article = write(
        tmp_path / "bandung-bus.txt",
        "Bus Listrik Bandung\nWali Kota Bandung Ridwan Kamil meresmikan 25 bus listrik baru pada Senin (3/10/2016).\n",
    )
    page = browser.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Add articles").click()
    assert page.locator("#folder").count() == 0 or not page.locator("#folder").is_visible()  # no QA_IMPORT_ROOT: no folder import
    page.locator("#upload input[type=file]").set_input_files([str(article)])
    page.locator("#add").click()
    result = page.locator("#add-result")
    result.get_by_text("Index updated").wait_for(timeout=60_000)
    text = result.inner_text()
    assert "Added (1): bandung-bus" in text
    page.get_by_role("tab", name="Collection").click()
    assert "bandung-bus" in page.locator("#collection").inner_text()
    page.get_by_role("tab", name="Chat").click()
    ask_in_page(page, "Siapa Wali Kota Bandung?")
    page.locator("#chat").get_by_text("Ridwan Kamil").first.wait_for(timeout=30_000)
    page.close()


def test_no_answer_is_said_plainly(app_url: str, browser) -> None:
    page = browser.new_page()
    page.goto(app_url)
    ask_in_page(page, "What is the boiling point of mercury?")
    # the reply's sources panel says how long it took; then the reply itself must say "not found"
    # (an article here has an image's web address in its title: its digits are never an answer)
    page.wait_for_function("/ \\d+ ms/.test(document.querySelector('#sources').innerText)", timeout=60_000)
    assert "could not find the answer" in page.locator("#chat").inner_text(), page.locator("#chat").inner_text()
    assert "do not answer" in page.locator("#sources").inner_text()
    page.close()


def test_questions_can_be_kept_to_articles_published_between_dates(app_url: str, browser) -> None:
    """The seed article is dated 2016-09-09: kept to 2015 its answer is not offered, kept to 2016 it is."""
    page = browser.new_page()
    page.goto(app_url)
    page.locator("#dates").get_by_text("Only articles published").click()
    turns = [
        ("", "2015-12-31", "No article in the index was published"),
        ("2016-01-01", "", "Joko Widodo [1]"),
        ("9 September 2017", "", "No article in the index was published"),
        ("kemarin lusa", "", "Please ask again: cannot read the date since"),
    ]
    for n, (since, until, expected) in enumerate(turns, 1):
        page.locator("#since input, #since textarea").first.fill(since)
        page.locator("#until input, #until textarea").first.fill(until)
        ask_in_page(page, "Who offered Jack Ma the advisor role?")
        page.wait_for_function(
            f"document.querySelector('#chat').innerText.split('Who offered Jack Ma the advisor role?').length > {n} && "
            "!document.querySelector('#chat').innerText.endsWith('Searching…')",
            timeout=60_000,
        )
        page.locator("#chat").get_by_text(expected).last.wait_for(timeout=30_000)
        last = page.locator("#chat").inner_text().split("Who offered Jack Ma the advisor role?")[-1]
        assert expected in last and ("Joko Widodo" in last) == (expected.startswith("Joko")), (since, until, last)
    page.close()


def test_article_html_is_shown_as_text_and_runs_nothing(app_url: str, browser) -> None:
    page = browser.new_page()
    dialogs: list[str] = []

    def dismiss(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dismiss)
    page.goto(app_url)
    ask_in_page(page, "Siapa Wali Kota Surabaya yang meresmikan taman baru?")
    page.locator("#chat").get_by_text("Tri Rismaharini").first.wait_for(timeout=30_000)
    sources = page.locator("#sources")
    assert "<script>" in sources.inner_text()  # shown, as text
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#sources script, #sources img, #chat img[src='x']").count() == 0
    page.close()


def test_markdown_in_an_article_loads_nothing_anywhere(app_url: str, browser, pixel: dict) -> None:
    """An article's Markdown image, link and HTML stay text in the chat, the sources, the collection
    and the export; the browser fetches nothing from the pixel's host (and the CSP would refuse it)."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    dialogs: list[str] = []

    def dismiss(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dismiss)
    page.goto(app_url)
    reply = _answered(page, "Siapa Gubernur Jawa Barat yang membuka pameran batik?")
    assert "Ahmad Heryawan" in reply and "![pixel](" in reply  # the supporting sentence, shown as written
    page.get_by_role("tab", name="Collection").click()
    page.locator("#collection").get_by_text("Pameran Batik", exact=False).first.click()
    page.locator("#article-view").wait_for(timeout=10_000)
    with page.expect_download() as download:
        page.get_by_role("tab", name="Chat").click()
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "!\\[pixel\\](" in exported and "\\<img src=" in exported
    page.wait_for_timeout(1000)
    host = pixel["url"].split("//")[1]
    assert page.locator(f"img[src*='{host}'], a[href^='javascript:'], iframe").count() == 0
    assert pixel["fetched"] == [] and dialogs == []
    context.close()


def _answered(page, question: str) -> str:
    """Ask and wait until the answer to this question has its citation (or its abstention) in the chat."""
    ask_in_page(page, question)
    page.wait_for_function(
        "q => { const t = document.querySelector('#chat').innerText.split(q); "
        "return t.length > 1 && /\\[1\\]|could not find|tidak ditemukan/.test(t[t.length - 1]); }",
        arg=question,
        timeout=30_000,
    )
    return page.locator("#chat").inner_text().split(question)[-1]


def _pick_chat(page, label_part: str) -> None:
    page.locator("#past-chats input").click()
    page.get_by_role("option", name=label_part).first.click()


def test_chats_are_kept_reopened_deleted_and_exported(app_url: str, browser) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(app_url)
    assert "Joko Widodo [1]" in _answered(page, "Who offered Jack Ma the advisor role?")
    assert "e-commerce" in _answered(page, "In which field?")
    page.reload()  # the chat, its sources and its context come back
    page.locator("#chat").get_by_text("In which field?").wait_for(timeout=30_000)
    assert "e-commerce" in page.locator("#chat").inner_text()
    assert page.locator("#sources mark").count() >= 1
    _answered(page, "Kapan?")  # the conversation's context survived the reload
    assert "Jack Ma" in page.locator("#rewritten").inner_text()
    page.locator("#new-chat").click()
    page.wait_for_function("!document.querySelector('#chat').innerText.includes('Jack Ma')", timeout=10_000)
    assert "Taobao Mall" in _answered(page, "Apa nama sebelumnya dari Tmall?")
    _pick_chat(page, "Who offered Jack Ma the advisor role?")
    page.locator("#chat").get_by_text("In which field?").wait_for(timeout=10_000)
    assert "Tmall" not in page.locator("#chat").inner_text()
    with page.expect_download() as download:
        page.locator("#export").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "**Q:** Who offered Jack Ma the advisor role?" in markdown and "**Q:** In which field?" in markdown
    assert "Presiden Joko Widodo [1]" in markdown
    assert (
        "[1] " in markdown
        and "000_3a3f117793ab0552.txt, 2016-09-09, ¶1" in markdown
        and "ditawari Presiden Joko Widodo" in markdown
    )
    page.locator("#delete-chat").click()  # the Jack Ma chat goes; the Tmall one is opened
    page.locator("#chat").get_by_text("Apa nama sebelumnya dari Tmall?").wait_for(timeout=10_000)
    page.reload()
    page.locator("#chat").get_by_text("Apa nama sebelumnya dari Tmall?").wait_for(timeout=30_000)
    page.locator("#past-chats input").click()
    assert page.get_by_role("option", name="Who offered Jack Ma").count() == 0
    context.close()


def test_another_browser_does_not_see_the_chats(app_url: str, browser) -> None:
    first = browser.new_context()
    page = first.new_page()
    page.goto(app_url)
    _answered(page, "Siapa Menteri Komunikasi dan Informatika?")
    other = browser.new_context().new_page()
    other.goto(app_url)
    other.locator("#question").wait_for(timeout=30_000)
    other.wait_for_timeout(1000)
    assert "Rudiantara" not in other.locator("#chat").inner_text()
    first.close()
    other.context.close()


BUS = "Bus Listrik Bandung\nWali Kota Bandung Ridwan Kamil meresmikan 25 bus listrik baru pada Senin (3/10/2016).\n"


def test_the_collection_opens_and_removes_articles(browser, tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    write(articles / "bandung-bus.txt", BUS)
    with serve_app(tmp_path, articles) as url:
        page = browser.new_page()
        page.goto(url)
        assert "Ridwan Kamil" in _answered(page, "Siapa Wali Kota Bandung?")
        page.get_by_role("tab", name="Collection").click()
        table = page.locator("#collection")
        assert "bandung-bus.txt" in table.inner_text() and "passages" in table.inner_text() and "date" in table.inner_text()
        table.get_by_text("bandung-bus.txt").click()
        page.locator("#article-view").wait_for(timeout=10_000)
        assert "meresmikan 25 bus listrik" in page.locator("#article-view").inner_text()  # the whole article
        page.locator("#remove").click()
        page.locator("#confirm-remove").get_by_text("Remove").first.wait_for(timeout=10_000)
        page.locator("#remove-no").click()  # cancelling changes nothing
        assert "bandung-bus.txt" in table.inner_text()
        page.locator("#remove").click()
        page.locator("#remove-yes").click()
        page.locator("#remove-result").get_by_text("Removed").wait_for(timeout=60_000)
        assert "bandung-bus.txt" not in table.inner_text() and "000_3a3f117793ab0552" in table.inner_text()
        page.get_by_role("tab", name="Chat").click()
        page.locator("#new-chat").click()
        assert "Ridwan Kamil" not in _answered(page, "Siapa Wali Kota Bandung?")
        # an update of the collection (here: a rebuild) does not bring the removed article back
        page.get_by_role("tab", name="Add articles").click()
        page.locator("#rebuild").click()
        page.locator("#add-result").get_by_text("Index updated").wait_for(timeout=60_000)
        assert "removed from the collection" in page.locator("#add-result").inner_text()
        page.get_by_role("tab", name="Chat").click()
        page.locator("#new-chat").click()
        last = _answered(page, "Siapa Wali Kota Bandung?")
        assert "Ridwan Kamil" not in last and "tidak ditemukan" in last
        page.close()
