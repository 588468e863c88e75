"""The feedback store and what is made of it (qa/server/feedback.py, qa/server/quality.py), over real
answers from a real index; the API's feedback routes against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import SEEDS, serve_app

from qa.server.feedback import (
    MAX_COMMENT,
    FeedbackInvalid,
    FeedbackNotFound,
    FeedbackStore,
    FeedbackUnavailable,
    Given,
    Rating,
    feedback_path,
)
from qa.server.quality import by_reason, daily, evaluation_set, thumbs_down, totals
from qa.server.users import UserStore
from qa.training.evaluation import evaluate

ASKED = "Siapa yang menawari Jack Ma menjadi penasehat?"
UNANSWERABLE = "Berapa harga saham Alibaba pada tahun 2030?"


@pytest.fixture(scope="module")
def answers(seed_tanya) -> dict:
    return {"answered": seed_tanya.ask(ASKED), "refused": seed_tanya.ask(UNANSWERABLE)}


def test_an_answer_is_kept_with_what_a_rating_needs(tmp_path: Path, seed_tanya, answers: dict) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    said = [{"role": "user", "content": "Siapa pendiri Alibaba?"}, {"role": "assistant", "content": "Jack Ma [1]"}]
    ident = store.record(Given("alice", answers["answered"], said, ["default"], {"reader": "r1"}, via="api"))
    kept = store.rating(ident, "alice")
    assert kept.question == ASKED and kept.answer == answers["answered"].text and "Joko Widodo" in kept.answer
    assert kept.conversation == said and kept.collections == ["default"] and kept.version == {"reader": "r1"}
    assert kept.citations[0]["doc_id"] == answers["answered"].citations[0].doc_id and kept.citations[0]["quote"]
    assert kept.rating is None and kept.via == "api" and kept.confidence == answers["answered"].confidence


def test_a_rating_is_changed_and_withdrawn_only_by_its_reader(tmp_path: Path, answers: dict) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    ident = store.record(Given("alice", answers["answered"], collections=["default"]))
    assert store.rate(ident, "alice", Rating("up")) == Rating("up")
    assert store.rating(ident, "alice").rating == Rating("up")
    store.rate(ident, "alice", Rating("down", "wrong_citation", "  paragraf 5  "))
    assert store.rating(ident, "alice").rating == Rating("down", "wrong_citation", "paragraf 5")
    assert [r.id for r in store.mine("alice")] == [ident] and store.mine("bob") == []
    for user in ("bob", ""):  # another reader, or a visitor, cannot rate or read it: as if it did not exist
        with pytest.raises(FeedbackNotFound):
            store.rate(ident, user, Rating("up"))
        with pytest.raises(FeedbackNotFound):
            store.rating(ident, user)
    with pytest.raises(FeedbackNotFound):
        store.rate("ans-0000", "alice", Rating("up"))
    store.rate(ident, "alice", None)
    assert store.rating(ident, "alice").rating is None and store.mine("alice") == []


@pytest.mark.parametrize(
    "rating",
    [Rating("sideways"), Rating("down", "because"), Rating("down", "other", "x" * (MAX_COMMENT + 1)), Rating("up", 5)],  # type: ignore[arg-type]
)
def test_a_bad_rating_is_refused_and_changes_nothing(tmp_path: Path, answers: dict, rating: Rating) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    ident = store.record(Given("alice", answers["answered"]))
    store.rate(ident, "alice", Rating("up"))
    with pytest.raises(FeedbackInvalid):
        store.rate(ident, "alice", rating)
    assert store.rating(ident, "alice").rating == Rating("up")


def test_a_store_that_cannot_be_written_says_so(tmp_path: Path, answers: dict) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(FeedbackUnavailable):
        FeedbackStore(tmp_path / "not-a-folder" / "feedback.sqlite3").record(Given("alice", answers["answered"]))
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is no database" * 100)
    with pytest.raises(FeedbackUnavailable):
        FeedbackStore(damaged).record(Given("alice", answers["answered"]))


def test_editors_figures_and_the_evaluation_set(tmp_path: Path, seed_tanya, answers: dict) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    good = store.record(Given("alice", answers["answered"], collections=["default"]))
    wrong = store.record(Given("bob", answers["answered"], collections=["default"]))
    refused = store.record(Given("bob", answers["refused"], collections=["default"]))
    elsewhere = store.record(Given("bob", answers["answered"], collections=["news"]))
    store.rate(good, "alice", Rating("up"))
    store.rate(wrong, "bob", Rating("down", "should_not_answer", "<img src=x onerror=alert(1)> **bold**"))
    store.rate(refused, "bob", Rating("down", "should_answer"))
    store.rate(elsewhere, "bob", Rating("down", "wrong_answer"))
    rows = store.answers(["default"])
    assert {r.id for r in rows} == {good, wrong, refused}
    assert totals(rows) == {"questions": 3, "answered": 2, "refused": 1, "up": 1, "down": 2}
    assert sum(d["count"] for d in daily(rows) if d["what"] == "questions") == 3
    assert {r["reason"]: r["count"] for r in by_reason(rows)}["should_not_answer"] == 1
    assert [r.id for r in thumbs_down(rows, "should_answer")] == [refused]
    assert [r.id for r in thumbs_down(rows, search="onerror")] == [wrong]
    records = {r["id"]: r for r in evaluation_set(rows)}
    assert records[good]["answers"] == [answers["answered"].text] and records[good]["doc_id"]
    assert records[wrong]["answers"] == []  # should not have answered: an unanswerable question
    assert records[refused]["answers"] is None  # should have answered, but what is right is not known
    assert all(r["question"] for r in records.values())

    # the set, read by `qa eval` with the same reader and index: nothing changed, nothing good lost;
    # with the rated-good answer made different, it is counted as lost
    lines = list(records.values())
    figures = evaluate(seed_tanya, json.loads(json.dumps(lines)))["feedback"]
    assert figures["rated"] == 3 and figures["changed"] == 0 and figures["good_lost"] == 0
    assert figures["should_not_answer"] == 1 and figures["should_not_answer_now_refused"] == 0
    assert figures["should_answer"] == 1 and figures["should_answer_now_answered"] == 0
    lines[0 if lines[0]["id"] == good else [r["id"] for r in lines].index(good)]["feedback"]["answer"] = "Xi Jinping"
    assert evaluate(seed_tanya, lines)["feedback"]["good_lost"] == 1


def test_the_store_lives_beside_the_users_file_unless_named() -> None:
    assert feedback_path(Path("/srv/tanya/users.json")) == Path("/srv/tanya/feedback.sqlite3")
    assert feedback_path(Path("/srv/tanya/users.json"), "/var/lib/tanya/f.db") == Path("/var/lib/tanya/f.db")


# -- the API ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("feedback-api")
    users = UserStore(root / "users.json")
    users.add("alice", "reader", "alice-password-1")
    users.add("bob", "reader", "bob-password-12")
    keys = {"alice": users.new_key("alice"), "bob": users.new_key("bob")}
    with serve_app(root, SEEDS, QA_CHAT_SECRET="feedback-test") as url:
        yield {"url": url, "keys": keys, "root": root}


def _auth(keyed: dict, who: str) -> dict:
    return {"Authorization": f"Bearer {keyed['keys'][who]}"}


def test_every_api_answer_has_an_id_its_user_can_rate(keyed: dict) -> None:
    url = keyed["url"]
    asked = httpx.post(url + "v1/ask", json={"question": ASKED}, headers=_auth(keyed, "alice"), timeout=60).json()
    assert asked["id"].startswith("ans-") and "Joko Widodo" in asked["answer"]
    body = {"model": "tanya", "messages": [{"role": "user", "content": ASKED}]}
    completion = httpx.post(url + "v1/chat/completions", json=body, headers=_auth(keyed, "alice"), timeout=60).json()
    assert completion["id"].startswith("ans-") and completion["tanya"]["answer_id"] == completion["id"]
    streamed = httpx.post(url + "v1/chat/completions", json={**body, "stream": True}, headers=_auth(keyed, "alice"), timeout=60)
    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    assert chunks[-1]["tanya"]["answer_id"] == chunks[0]["id"]

    rated = httpx.post(
        url + "v1/feedback",
        json={"id": asked["id"], "rating": "down", "reason": "wrong_citation", "comment": "paragraf 5"},
        headers=_auth(keyed, "alice"),
        timeout=30,
    )
    assert rated.status_code == 200 and rated.json()["reason"] == "wrong_citation" and rated.json()["question"] == ASKED
    mine = httpx.get(url + "v1/feedback", headers=_auth(keyed, "alice"), timeout=30).json()["data"]
    assert [m["id"] for m in mine] == [asked["id"]] and mine[0]["comment"] == "paragraf 5"
    assert httpx.get(url + "v1/feedback", headers=_auth(keyed, "bob"), timeout=30).json()["data"] == []
    again = httpx.post(
        url + "v1/feedback", json={"id": chunks[0]["id"], "rating": "up"}, headers=_auth(keyed, "alice"), timeout=30
    )
    assert again.status_code == 200 and again.json()["rating"] == "up"
    withdrawn = httpx.post(
        url + "v1/feedback", json={"id": asked["id"], "rating": None}, headers=_auth(keyed, "alice"), timeout=30
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["rating"] is None
    assert [m["id"] for m in httpx.get(url + "v1/feedback", headers=_auth(keyed, "alice"), timeout=30).json()["data"]] == [
        chunks[0]["id"]
    ]


def test_feedback_is_refused_to_strangers_other_users_and_bad_bodies(keyed: dict) -> None:
    url = keyed["url"]
    asked = httpx.post(url + "v1/ask", json={"question": ASKED}, headers=_auth(keyed, "alice"), timeout=60).json()
    rate = lambda body, who="alice": httpx.post(  # noqa: E731
        url + "v1/feedback", json=body, headers=_auth(keyed, who) if who else {}, timeout=30
    )
    assert rate({"id": asked["id"], "rating": "up"}, who="").status_code == 401
    assert httpx.get(url + "v1/feedback", timeout=30).status_code == 401
    assert rate({"id": asked["id"], "rating": "up"}, who="bob").status_code == 404  # not bob's: as if it did not exist
    assert httpx.get(url + f"v1/feedback/{asked['id']}", headers=_auth(keyed, "bob"), timeout=30).status_code == 404
    assert rate({"id": "ans-" + "0" * 32, "rating": "up"}).status_code == 404
    for body in (
        {"id": asked["id"], "rating": "down", "comment": "x" * (MAX_COMMENT + 1)},
        {"id": asked["id"], "rating": "sideways"},
        {"id": asked["id"], "rating": "down", "reason": "because"},
        {"id": asked["id"], "rating": 1},
        {"id": ["ans"], "rating": "up"},
        {"rating": "up"},
    ):
        refused = rate(body)
        assert refused.status_code == 400 and refused.json()["error"]["message"], (body, refused.text)
    assert httpx.get(url + f"v1/feedback/{asked['id']}", headers=_auth(keyed, "alice"), timeout=30).json()["rating"] is None


@pytest.mark.slow  # a server of its own
def test_answers_go_on_when_the_store_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the store's folder should be")
    with serve_app(tmp_path, SEEDS, QA_FEEDBACK_FILE=str(tmp_path / "blocked" / "feedback.sqlite3")) as url:
        asked = httpx.post(url + "v1/ask", json={"question": ASKED}, timeout=60)
        assert asked.status_code == 200 and "Joko Widodo" in asked.json()["answer"] and asked.json()["id"] is None
        rated = httpx.post(url + "v1/feedback", json={"id": "ans-1", "rating": "up"}, timeout=30)
        assert rated.status_code == 503 and "cannot be saved" in rated.json()["error"]["message"]
