"""The page in the browser's language, Indonesian or English, with a switch that is remembered; and a
reader's 👎 that an editor sees, exports and runs through `qa eval` (Chromium, a real server)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SEED_ID, SEEDS, ask_in_page, log_in_page, serve_app

from qa.server.i18n import LANGUAGES, catalogue
from qa.server.users import UserStore

pytestmark = pytest.mark.browser

TABS = {"en": ("Chat", "Add articles", "Collection", "Quality"), "id": ("Obrolan", "Tambah artikel", "Koleksi", "Mutu")}


def _pattern(text: str) -> re.Pattern:
    """A catalogue entry as it shows on the page: Markdown marks gone, placeholders as anything."""
    shown = re.sub(r"[*_#`]", "", text).strip()
    parts = re.split(r"\{[a-z_]+\}", shown)
    return re.compile(".+".join(re.escape(p) for p in parts))


def gradio_words(language: str) -> set[str]:
    """The words of Gradio's own widgets in `language`, from Gradio's own catalogue (its front end's)."""
    import gradio

    assets = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"
    bundles = [*assets.glob(f"{language}-*.js")]
    if language == "en":  # Gradio's English is compiled into its core too
        bundles += assets.glob("core-*.js")
    return {w.strip() for bundle in bundles for w in re.findall(r"`([^`]*)`", bundle.read_text(encoding="utf-8"))}


def _unknown_lines(page, language: str, widgets: str) -> list[str]:
    """The lines of text shown on the page that are neither a word of `language`'s catalogue (a label
    cut short with "…" counts as its word), nor a word of Gradio's own catalogue in that language, nor
    the name Tanya or a language's name, nor data (the collection's rows), nor only digits and marks.
    Gradio's widgets speak the browser's language, `widgets`."""
    words = catalogue(language).values()
    known = [_pattern(v) for v in words]
    names = {"Tanya", *(catalogue(code)["language.name"] for code in LANGUAGES), "Bahasa / Language"}
    data = {SEED_ID, f"{SEED_ID}.txt"}  # the collection's one article: its title (cut short), file and doc id
    title = (SEEDS / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in page.locator("body").inner_text().splitlines() if line.strip()]
    return [
        line
        for line in lines
        if line not in names | gradio_words(widgets) | data
        and line.strip("- ") not in gradio_words(widgets)
        and re.search(r"[A-Za-z]{2}", line)
        and not any(p.fullmatch(line) for p in known)
        and not (line.endswith("…") and any(w.startswith(line[:-1]) for w in [*words, title]))
    ]


def _every_tab(page, language: str, widgets: str = "") -> list[str]:
    unknown = []
    for tab in TABS[language]:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        unknown += _unknown_lines(page, language, widgets or language)
    page.get_by_role("tab", name=TABS[language][0]).click()
    return unknown


@pytest.fixture(scope="module")
def open_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with no users on loopback: its visitor may do everything, so every tab shows."""
    root = tmp_path_factory.mktemp("language")
    with serve_app(root, SEEDS) as url:
        yield url


@pytest.mark.parametrize("locale,language", [("id-ID", "id"), ("en-US", "en")])
def test_the_page_speaks_the_browsers_language(open_url: str, browser, locale: str, language: str) -> None:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(open_url)
    page.get_by_role("tab", name=TABS[language][-1]).wait_for(timeout=30_000)  # the quality tab: the last of the load
    page.locator("#examples").get_by_text(catalogue(language)["example.1"]).wait_for(timeout=10_000)
    unknown = _every_tab(page, language)
    assert unknown == [], "\n".join(unknown)
    other = "en" if language == "id" else "id"
    assert page.locator("#ask").inner_text() == catalogue(language)["chat.ask"] != catalogue(other)["chat.ask"]
    ask_in_page(page, catalogue(language)["example.1"])
    page.locator("#chat").get_by_text("Joko Widodo").first.wait_for(timeout=30_000)
    page.wait_for_function("/ \\d+ ms/.test(document.querySelector('#sources').innerText)", timeout=30_000)
    sources = page.locator("#sources").inner_text()
    assert catalogue(language)["sources.whole_article"] in sources and catalogue(language)["sources.language"] in sources
    if language == "id":
        page.screenshot(path=str(ROOT / "docs" / "page-id.png"), full_page=True)
    context.close()


def test_the_switch_flips_the_language_and_is_remembered(open_url: str, browser) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(open_url)
    page.get_by_role("tab", name="Quality").wait_for(timeout=30_000)
    page.locator("#language").get_by_text("Bahasa Indonesia").click()
    page.get_by_role("tab", name="Obrolan").wait_for(timeout=10_000)
    page.locator("#examples").get_by_text(catalogue("id")["example.1"]).wait_for(timeout=10_000)
    unknown = _every_tab(page, "id", widgets="en")  # Gradio's own widgets keep following the browser
    assert unknown == [], "\n".join(unknown)
    page.reload()
    page.get_by_role("tab", name="Mutu").wait_for(timeout=30_000)
    assert page.locator("#ask").inner_text() == "Tanya"
    page.locator("#language").get_by_text("English").click()
    page.get_by_role("tab", name="Chat").wait_for(timeout=10_000)
    page.reload()
    page.get_by_role("tab", name="Quality").wait_for(timeout=30_000)
    assert page.locator("#ask").inner_text() == "Ask"
    context.close()


# -- feedback ----------------------------------------------------------------------------------------

HOSTILE = '<img src=x onerror="window.__pwned=1"> **tebal** [tautan](javascript:alert(1))'


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("feedback-page")
    users = UserStore(root / "users.json")
    users.add("rina", "reader", "rina-password-1")
    users.add("edo", "editor", "edo-password-12")
    with serve_app(root, SEEDS, QA_CHAT_SECRET="feedback-page-test") as url:
        yield {"url": url, "root": root}


def test_a_readers_thumbs_down_reaches_the_editors_quality_view(team: dict, browser, tmp_path: Path) -> None:
    url = team["url"]
    reader = log_in_page(browser, url, "rina", "rina-password-1")
    assert reader.get_by_role("tab", name="Quality").count() == 0  # readers edit nothing: no quality view
    question = "Siapa yang menawari Jack Ma menjadi penasehat?"
    ask_in_page(reader, question)
    reader.locator("#chat").get_by_text("Joko Widodo").first.wait_for(timeout=30_000)
    reader.locator("#chat").get_by_role("button", name="Dislike").last.click()
    reader.locator("#feedback-note").get_by_text("Tell us what was wrong").wait_for(timeout=10_000)
    reader.locator("#feedback-reason").get_by_text("Should not have answered").click()
    reader.locator("#feedback-comment textarea").fill(HOSTILE)
    reader.locator("#feedback-send").click()
    reader.locator("#feedback-note").get_by_text("Should not have answered").wait_for(timeout=10_000)
    reader.close()

    editor = log_in_page(browser, url, "edo", "edo-password-12")
    editor.get_by_role("tab", name="Quality").click()
    editor.locator("#quality-refresh").click()
    listed = editor.locator("#quality-list")
    editor.wait_for_function(
        f"document.querySelector('#quality-list').innerText.includes({json.dumps(question)})", timeout=30_000
    )
    text = listed.inner_text()
    assert "rina" in text and HOSTILE in text and "Should not have answered" in text  # shown as text, as written
    assert listed.locator("img").count() == 0 and editor.evaluate("window.__pwned") is None
    assert "1 👎" in editor.locator("#quality-summary").inner_text()
    with editor.expect_download() as download:
        editor.locator("#quality-export").click()
    exported = tmp_path / "feedback.jsonl"
    download.value.save_as(exported)
    editor.close()

    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["question"], r["answers"], r["feedback"]["reason"]) for r in records] == [(question, [], "should_not_answer")]
    assert records[0]["feedback"]["comment"] == HOSTILE
    done = subprocess.run(
        [sys.executable, "-m", "qa", "eval", str(exported), "--json", "--index-dir", str(team["root"] / "index")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(done.stdout)
    assert result["n"] == 1 and result["feedback"]["rated"] == 1 and result["feedback"]["should_not_answer"] == 1
    assert result["feedback"]["changed"] == 0 and result["abstain_accuracy"] == 0.0  # the same answer as rated, still given
