"""The OpenAI-compatible API of a real server process (app.py) over the seed article, called with the
official `openai` client and with curl, streaming included; bad requests get 4xx JSON errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SEED_ID, SEEDS, serve_app

openai = pytest.importorskip("openai")
CURL = shutil.which("curl")


@pytest.fixture(scope="module")
def server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def base_url(server_root: Path) -> Iterator[str]:
    with serve_app(server_root, SEEDS) as url:  # loopback, no users: open
        yield url


@pytest.fixture(scope="module")
def client(base_url: str):
    return openai.OpenAI(base_url=base_url + "v1", api_key="unused-on-an-open-loopback-server", max_retries=0)


def test_models_lists_the_collections(client) -> None:
    assert [m.id for m in client.models.list()] == ["default"]


def test_a_chat_completion_is_the_cited_answer_with_structured_citations(client) -> None:
    done = client.chat.completions.create(
        model="tanya", messages=[{"role": "user", "content": "Who offered Jack Ma the advisor role?"}]
    )
    reply = done.choices[0].message.content
    assert reply.startswith("Presiden Joko Widodo [1]") and done.choices[0].finish_reason == "stop"
    [citation] = done.model_extra["citations"]
    assert citation["n"] == 1 and citation["doc_id"] == SEED_ID and citation["paragraph"] == 1
    assert citation["source"].endswith(f"{SEED_ID}.txt") and "ditawari Presiden Joko Widodo" in citation["quote"]
    assert citation["quote"] in citation["passage"] and citation["end"] - citation["start"] == len(citation["quote"])
    assert done.model_extra["tanya"]["answer"] == "Presiden Joko Widodo" and not done.model_extra["tanya"]["abstained"]


def test_messages_carry_the_conversation(client) -> None:
    done = client.chat.completions.create(
        model="tanya",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Who offered Jack Ma the advisor role?"},
            {"role": "assistant", "content": "Presiden Joko Widodo [1]"},
            {"role": "user", "content": [{"type": "text", "text": "In which field?"}]},
        ],
    )
    extra = done.model_extra["tanya"]
    assert "e-commerce" in extra["answer"] and extra["question"] == "In which field?" and "Jack Ma" in extra["understood_as"]


def test_streaming_with_the_openai_client(client) -> None:
    chunks = list(
        client.chat.completions.create(
            model="tanya", stream=True, messages=[{"role": "user", "content": "Siapa yang menawari Jack Ma menjadi penasehat?"}]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("Presiden Joko Widodo [1]")
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"][0]["doc_id"] == SEED_ID
    assert chunks[-1].model_extra["tanya"]["reply"] == text


def test_no_answer_is_said_and_cites_nothing(client) -> None:
    done = client.chat.completions.create(
        model="tanya", messages=[{"role": "user", "content": "What is the boiling point of mercury?"}]
    )
    assert "could not find" in done.choices[0].message.content
    assert done.model_extra["citations"] == [] and done.model_extra["tanya"]["abstained"]


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_streams_server_sent_events(base_url: str) -> None:
    assert CURL is not None
    body = json.dumps(
        {"model": "tanya", "stream": True, "messages": [{"role": "user", "content": "Apa nama sebelumnya dari Tmall?"}]}
    )
    done = subprocess.run(
        [CURL, "-sN", base_url + "v1/chat/completions", "-H", "Content-Type: application/json", "-d", body],
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = [line[6:] for line in done.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "Taobao Mall [1]" in "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["citations"][0]["paragraph"] == 12


def test_ask_returns_what_the_cli_prints(base_url: str, server_root: Path) -> None:
    question = "Berapa kementerian dalam steering committee?"
    api = httpx.post(base_url + "v1/ask", json={"question": question}, timeout=60).json()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", question, "--json", "--index-dir", str(server_root / "index")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    cli = json.loads(done.stdout)
    for out in (api, cli):
        del out["timings_ms"]
    assert api.pop("id").startswith("ans-")  # the API's answers are kept for rating (tests/server/test_feedback.py)
    assert api == cli
    assert set(api) >= {"question", "understood_as", "answer", "reply", "abstained", "citations", "passages"}
    assert api["answer"].startswith("10") and api["citations"][0]["paragraph"] == 3
    conversation = httpx.post(
        base_url + "v1/ask",
        json={
            "messages": [
                {"role": "user", "content": "Apa nama sebelumnya dari Tmall?"},
                {"role": "assistant", "content": "Taobao Mall [1]"},
                {"role": "user", "content": "Siapa pemiliknya?"},
            ]
        },
        timeout=60,
    ).json()
    assert "Alibaba" in conversation["answer"] and "Tmall" in conversation["understood_as"]


def test_dates_filter_what_is_asked_and_are_cited(base_url: str) -> None:
    """`since`/`until` over HTTP: the seed article (dated by its dateline, 9/9/2016) answers inside its
    dates and not outside them; every citation carries the date; an unreadable date is a 400."""
    question = "Siapa yang menawari Jack Ma menjadi penasehat?"
    inside = httpx.post(
        base_url + "v1/ask", json={"question": question, "since": "2016-09-01", "until": "2016-09-30"}, timeout=60
    ).json()
    assert "Joko Widodo" in inside["answer"] and {c["date"] for c in inside["citations"]} == {"2016-09-09"}
    outside = httpx.post(
        base_url + "v1/chat/completions",
        json={"model": "tanya", "since": "2017-01-01", "messages": [{"role": "user", "content": question}]},
        timeout=60,
    ).json()
    assert (
        outside["tanya"]["abstained"]
        and not outside["citations"]
        and "Joko Widodo" not in outside["choices"][0]["message"]["content"]
    )
    for bad in ({"since": "soon"}, {"until": 20160101}, {"since": "2017-01-01", "until": "2016-01-01"}):
        response = httpx.post(base_url + "v1/ask", json={"question": question, **bad}, timeout=60)
        assert response.status_code == 400 and response.json()["error"]["message"], bad


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"model": "tanya"}, 400, "missing_messages"),
        ({"model": "tanya", "messages": []}, 400, "invalid_messages"),
        ({"model": "tanya", "messages": "hello"}, 400, "invalid_messages"),
        ({"model": "tanya", "messages": [{"role": "user", "content": 42}]}, 400, "invalid_messages"),
        ({"model": "tanya", "messages": [{"role": "robot", "content": "hi"}]}, 400, "invalid_messages"),
        ({"model": "tanya", "messages": [{"role": "user", "content": "   "}]}, 400, "invalid_messages"),
        ({"model": "tanya", "stream": "yes", "messages": [{"role": "user", "content": "Siapa?"}]}, 400, "invalid_type"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "Siapa?"}]}, 404, "model_not_found"),
        ([1, 2, 3], 400, "invalid_body"),
        ("{not json", 400, "invalid_json"),
        ({"model": "tanya", "messages": [{"role": "user", "content": "x" * 10_000_000}]}, 413, "request_too_large"),
    ],
)
def test_bad_requests_get_json_errors_and_the_server_keeps_serving(base_url: str, body, status: int, code: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(base_url + "v1/chat/completions", content=raw, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    again = httpx.post(base_url + "v1/ask", json={"question": "Apa nama sebelumnya dari Tmall?"}, timeout=60)
    assert again.status_code == 200 and again.json()["answer"] == "Taobao Mall"
