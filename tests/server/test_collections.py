"""Collections and rights over HTTP, as a stranger would try them: one real server with three
collections and two users, each of whom may read only some. A collection the caller may not read must
behave as if it did not exist, through every route that returns article data (SECURITY.md lists them)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, SEEDS, log_in_page, serve_app, write
from test_probe import PageSession
from test_security import PASSWORDS, _qa

FINANCE = """Laporan Keuangan Sinar Laut
PT Sinar Laut Perkasa membukukan laba bersih Rp 7,3 triliun pada kuartal ketiga 2016. Direktur keuangan Sinar Laut, Melati Kusumawardani, mengatakan laba itu naik karena ekspor ikan tuna ke Jepang.
"""
HR = """Pengumuman Kepegawaian
Kepala bagian personalia yang baru adalah Bambang Wiratmoko. Ia menggantikan Sri Handayani yang pensiun pada bulan Maret.
"""
HR_Q = "Siapa kepala bagian personalia yang baru?"
FINANCE_Q = "Berapa laba bersih PT Sinar Laut Perkasa pada kuartal ketiga 2016?"
# what must never reach a caller who may not read the collection
HR_SECRETS = ("Bambang", "Wiratmoko", "Pengumuman Kepegawaian", "kepala.txt")
FINANCE_SECRETS = ("Melati", "7,3 triliun", "Laporan Keuangan Sinar Laut", "laba.txt")


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """app.py over `default` (the seed article), `finance` and `hr`. alice has the editor role and may
    edit hr; bob is a reader who may read finance. Nothing is granted on default: both read it."""
    tmp = tmp_path_factory.mktemp("office")
    users, index = str(tmp / "users.json"), str(tmp / "index")
    _qa("user", "add", "alice", "--role", "editor", "--users-file", users, stdin=PASSWORDS["alice"] + "\n")
    _qa("user", "add", "bob", "--role", "reader", "--group", "accounts", "--users-file", users, stdin=PASSWORDS["bob"] + "\n")
    for name, text in (("finance", FINANCE), ("hr", HR)):
        article = write(tmp / name / ("laba.txt" if name == "finance" else "kepala.txt"), text)
        _qa("index", str(article.parent), "--collection", name, "--index-dir", index, "--quiet")
    _qa("grant", "alice", "edit", "hr", "--index-dir", index, "--users-file", users)
    _qa("grant", "@accounts", "read", "finance", "--index-dir", index, "--users-file", users)
    keys = {name: _qa("user", "key", name, "--users-file", users) for name in PASSWORDS}
    with serve_app(tmp, SEEDS) as url:
        yield {"url": url, "tmp": tmp, "keys": keys, "users": users, "index": index}


def _post(office: dict, route: str, body: dict, who: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {office['keys'][who]}"}
    return httpx.post(office["url"] + route, json=body, headers=headers, timeout=60)


def _served(office: dict, name: str) -> str:
    return (Path(office["index"]) / "collections" / name / "CURRENT").read_text()


def _clean(text: str, secrets: tuple[str, ...]) -> bool:
    return not any(s.lower() in text.lower() for s in secrets)


def test_models_are_the_readable_collections(office: dict) -> None:
    for who, readable in (("alice", ["default", "hr"]), ("bob", ["default", "finance"])):
        listed = httpx.get(office["url"] + "v1/models", headers={"Authorization": f"Bearer {office['keys'][who]}"}, timeout=30)
        assert [m["id"] for m in listed.json()["data"]] == readable


def test_an_unreadable_collection_is_answered_as_a_missing_one(office: dict) -> None:
    messages = [{"role": "user", "content": HR_Q}]
    for route, body in (
        ("v1/chat/completions", {"messages": messages}),
        ("v1/ask", {"question": HR_Q}),
        ("v1/ask", {"messages": messages}),
    ):
        for picks, shown in (
            ({"model": "hr"}, "hr"),
            ({"model": "default+hr"}, "hr"),
            ({"model": "finance+hr"}, "hr"),
            ({"collections": ["default", "hr"]}, "hr"),
        ):
            refused = _post(office, route, {**body, **picks}, "bob")
            missing = _post(office, route, {**body, **json.loads(json.dumps(picks).replace('"hr"', '"nosuch"'))}, "bob")
            assert refused.status_code == missing.status_code == 404, refused.text
            assert refused.json()["error"]["code"] == "model_not_found"
            assert refused.text == missing.text.replace("nosuch", shown)  # not a byte tells them apart
            assert _clean(refused.text, HR_SECRETS)


def test_answers_come_only_from_readable_collections(office: dict) -> None:
    for model in ("tanya", "default", "default+finance", "finance"):
        done = _post(office, "v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": HR_Q}]}, "bob")
        assert done.status_code == 200 and done.json()["model"] == model
        assert _clean(done.text, HR_SECRETS), model
    asked = _post(office, "v1/ask", {"question": FINANCE_Q, "collections": ["default", "finance"]}, "bob").json()
    assert "7,3 triliun" in asked["answer"] and asked["citations"][0]["collection"] == "finance"
    assert {p["collection"] for p in asked["passages"]} <= {"default", "finance"}
    asked = _post(office, "v1/ask", {"question": HR_Q, "model": "hr"}, "alice").json()
    assert "Bambang Wiratmoko" in asked["answer"] and asked["citations"][0]["collection"] == "hr"
    asked = _post(office, "v1/ask", {"question": FINANCE_Q, "model": "default+hr"}, "alice")
    assert _clean(asked.text, FINANCE_SECRETS)


class Session(PageSession):
    """A PageSession that can also send an event's data (a table row clicked), through Gradio's queue."""

    def event(self, api_name: str, data: list, event_data: Any) -> str:
        config = self.http.get("config").json()
        fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name.lstrip("/"))
        session = uuid.uuid4().hex
        joined = self.http.post(
            "gradio_api/queue/join",
            json={"data": data, "event_data": event_data, "fn_index": fn, "session_hash": session, "trigger_id": None},
        )
        assert joined.status_code == 200, joined.text
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            text = ""
            for piece in stream.iter_text():
                text += piece
                if "process_completed" in text:
                    break
        return text


def test_page_routes_never_show_an_unreadable_collection(office: dict) -> None:
    bob = Session(office["url"], "bob")
    config = bob.http.get("config").text
    assert '"finance"' not in config and '"hr"' not in config  # the layout names no collection
    asking, browsing, editing, _, judged, quality_tab = bob.result("/choices", [])
    assert asking["choices"] == browsing["choices"] == [["default", "default"], ["finance", "finance"]]
    assert editing["choices"] == judged["choices"] == []  # a reader edits nothing, and sees no one's feedback
    assert quality_tab["visible"] is False
    hr_doc = next(f["doc_id"] for f in json.loads(_qa("list", "--collection", "hr", "--json", "--index-dir", office["index"])))
    seen = [
        bob.call("/collection", ["hr"])[1],
        bob.call("/collection", [["hr", "default"]])[1],
        bob.call("/search", ["", "hr"])[1],
        bob.call("/search", ["Pengumuman", "hr"])[1],
        bob.call("/ask_remove", ["hr"])[1],
        bob.call("/respond", [HR_Q, False, {}, ["hr"], "", ""])[1],
        bob.call("/respond", [HR_Q, False, {}, "hr", "", ""])[1],
        bob.event("/open_article", ["hr", None], {"index": [0, 0], "value": hr_doc, "row_value": ["", "", "", "", "", hr_doc]}),
    ]
    for text in seen:
        assert "complete" in text or "process_completed" in text, text
        assert _clean(text, HR_SECRETS), text
    opened = bob.event(
        "/open_article", ["finance", None], {"index": [0, 0], "value": "", "row_value": [""] * 5 + [_doc(office, "finance")]}
    )
    assert "Melati" in opened  # the same route opens what bob may read


def _doc(office: dict, name: str) -> str:
    return json.loads(_qa("list", "--collection", name, "--json", "--index-dir", office["index"]))[0]["doc_id"]


def test_editing_wants_the_edit_right_on_that_collection(office: dict) -> None:
    alice, bob = Session(office["url"], "alice"), Session(office["url"], "bob")
    before = {name: _served(office, name) for name in ("finance", "hr")}
    default_before = (Path(office["index"]) / "CURRENT").read_text()

    def upload(session: Session, name: str) -> dict:
        path = session.upload(name, b"Kabar Kantor\nRapat direksi digelar pada hari Kamis di Surabaya.\n")
        return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    refused = [
        bob.result("/add_files", [[upload(bob, "b1.txt")], "finance"]),  # reads finance, may not edit it
        bob.result("/add_files", [[upload(bob, "b2.txt")], "default"]),  # a reader
        bob.result("/add_files", [[upload(bob, "b3.txt")], "hr"]),
        bob.result("/rebuild", ["finance"]),
        bob.result("/remove_article", ["", "finance"]),
        alice.result("/add_files", [[upload(alice, "a1.txt")], "finance"]),  # an editor, but not of finance
        alice.result("/add_folder", ["x", "finance"]),
        alice.result("/rebuild", ["finance"]),
        alice.result("/remove_article", ["", "finance"]),
        alice.result("/add_files", [[upload(alice, "a2.txt")], "nosuch"]),
    ]
    for message in refused:
        assert message[0] == "**Refused:** you may not change that collection.", message
    assert {name: _served(office, name) for name in ("finance", "hr")} == before
    assert (Path(office["index"]) / "CURRENT").read_text() == default_before
    assert not (Path(office["index"]) / "collections" / "finance" / "uploads").exists()
    added = alice.result("/add_files", [[upload(alice, "rapat.txt")], "hr"])
    assert "Index updated" in added[0] and added[3]["value"] == "hr"
    assert (Path(office["index"]) / "collections" / "hr" / "uploads" / "rapat.txt").is_file()
    assert _served(office, "hr") != before["hr"]


def test_kept_chats_follow_the_rights(office: dict) -> None:
    bob = Session(office["url"], "bob")
    turn = bob.result("/respond", [FINANCE_Q, False, {}, ["finance"], "", ""])
    kept = turn[5]
    assert "7,3 triliun" in json.dumps(turn[3]) and kept["bob"]["chats"][0]["collections"] == ["finance"]
    assert bob.result("/open_page", ["", kept])[-10:][5]["choices"]  # the chat is listed
    _qa("revoke", "@accounts", "read", "finance", "--index-dir", office["index"], "--users-file", office["users"])
    try:
        restored = bob.result("/open_page", ["", kept])[-10:]
        assert restored[5]["choices"] == [] and restored[6] is None  # not listed, nothing to export
        assert _clean(json.dumps(restored[:4] + restored[5:]), FINANCE_SECRETS)
        assert restored[4]["bob"]["chats"] == kept["bob"]["chats"]  # still kept in the browser, hidden
        models = httpx.get(office["url"] + "v1/models", headers={"Authorization": f"Bearer {office['keys']['bob']}"}, timeout=30)
        assert [m["id"] for m in models.json()["data"]] == ["default"]  # at once, no restart
        assert _post(office, "v1/ask", {"question": FINANCE_Q, "model": "finance"}, "bob").status_code == 404
    finally:
        _qa("grant", "@accounts", "read", "finance", "--index-dir", office["index"], "--users-file", office["users"])
    assert bob.result("/open_page", ["", kept])[-10:][5]["choices"]  # the right is back: so is the chat


def test_z_a_revoked_key_stops_at_once(office: dict) -> None:
    assert _post(office, "v1/ask", {"question": FINANCE_Q, "model": "finance"}, "bob").status_code == 200
    _qa("user", "revoke", "bob", "--users-file", office["users"])
    done = _post(office, "v1/ask", {"question": FINANCE_Q, "model": "finance"}, "bob")
    assert done.status_code == 401 and _clean(done.text, FINANCE_SECRETS)


def test_collections_on_the_command_line(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    write(tmp_path / "hr" / "kepala.txt", HR)

    def qa(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "qa", *args, "--index-dir", index],
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )

    assert qa("index", str(tmp_path / "hr"), "--collection", "hr", "--quiet").returncode == 0
    assert "Bambang" in qa("ask", HR_Q, "--collection", "hr").stdout
    assert "Bambang" not in qa("ask", HR_Q).stdout  # default: nothing indexed there yet … an error, no answer
    listed = qa("collection", "list").stdout
    assert "hr\t1 articles" in listed and "no one may read it" in listed
    refused = qa("collection", "remove", "hr")  # no terminal to confirm on
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert qa("ask", "x", "--collection", "nosuch").stderr.strip() == "error: no collection 'nosuch'"
    assert qa("collection", "remove", "hr", "--yes").returncode == 0
    assert not (tmp_path / "index" / "collections" / "hr").exists()
    assert "no collection 'hr'" in qa("ask", HR_Q, "--collection", "hr").stderr


def _log_in(browser, office: dict, name: str):
    page = log_in_page(browser, office["url"], name, PASSWORDS[name])
    page.locator("#asking").wait_for(timeout=30_000)  # shown once the page knows the caller's collections
    return page


def _options(page, picker: str) -> list[str]:
    page.locator(f"#{picker} input").click()
    options = page.locator("ul[role=listbox] li")
    options.first.wait_for(timeout=10_000)
    texts = [t.replace("✓", "").strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


@pytest.mark.browser
def test_each_user_sees_and_asks_only_their_collections(office: dict, browser) -> None:
    from conftest import ask_in_page

    for name, readable, secrets in (("bob", ["default", "finance"], HR_SECRETS), ("alice", ["default", "hr"], FINANCE_SECRETS)):
        page = _log_in(browser, office, name)
        assert _options(page, "asking") == readable
        page.get_by_role("tab", name="Collection").click()
        assert sorted(_options(page, "browsing")) == readable
        assert _clean(page.content(), secrets)
        page.close()
    page = _log_in(browser, office, "bob")
    page.locator("#asking input").click()
    page.locator("ul[role=listbox] li", has_text="finance").click()
    page.keyboard.press("Escape")
    ask_in_page(page, FINANCE_Q)
    page.locator("#sources .source").first.wait_for(timeout=60_000)
    assert "7,3 triliun" in page.locator("#chat").inner_text()
    assert "finance: finance/laba.txt" in page.locator("#sources").inner_text()  # collection: file
    page.close()


def test_feedback_is_seen_only_by_its_reader_and_the_collections_editors(office: dict) -> None:
    """bob rates an answer from finance 👎 and one from default; alice (editor of hr and, by her role,
    of default) sees the default one in her quality view and not the finance one, nor bob's ratings
    through the API; bob, a reader, has no quality view at all."""
    office = {**office, "keys": {who: _qa("user", "key", who, "--users-file", office["users"]) for who in PASSWORDS}}
    rated = {}
    for name, question in (("finance", FINANCE_Q), ("default", "Siapa yang menawari Jack Ma menjadi penasehat?")):
        asked = _post(office, "v1/ask", {"question": question, "collections": [name]}, "bob").json()
        assert asked.get("id"), asked
        done = _post(office, "v1/feedback", {"id": asked["id"], "rating": "down", "reason": "wrong_answer"}, "bob")
        assert done.status_code == 200, done.text
        rated[name] = asked["id"]
    assert _post(office, "v1/feedback", {"id": rated["default"], "rating": "up"}, "alice").status_code == 404
    listed = httpx.get(office["url"] + "v1/feedback", headers={"Authorization": f"Bearer {office['keys']['alice']}"}, timeout=30)
    assert listed.json()["data"] == []
    alice, bob = Session(office["url"], "alice"), Session(office["url"], "bob")
    for shown in ("finance", ["finance"], ["finance", "default"]):
        summary, _, _, table, export = alice.result("/show", [shown, 30, "", ""])
        assert _clean(json.dumps(table), FINANCE_SECRETS) and _clean(json.dumps(export), FINANCE_SECRETS)
        assert (export is None) == (shown != ["finance", "default"])
    summary, _, _, table, export = alice.result("/show", ["default", 30, "", ""])
    assert "Jack Ma" in json.dumps(table) and "bob" in json.dumps(table) and _clean(json.dumps(table), FINANCE_SECRETS)
    assert "1 👎" in summary.replace("*", "")
    for name in ("finance", "default", "hr"):
        summary, _, _, table, export = bob.result("/show", [name, 30, "", ""])
        assert table["data"] == [] and export is None and "no feedback" in summary
