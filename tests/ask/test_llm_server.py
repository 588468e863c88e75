"""Written answers through a real OpenAI-compatible model server: llama-cpp-python's own server
(`python -m qa serve-llm`, the packaged Gemma 3 270M) started on loopback by the test, and Tanya
configured as anyone running vLLM or llama.cpp would: QA_LLM=openai:NAME + QA_LLM_URL + QA_LLM_KEY."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import ROOT, SEEDS, ask_in_page, free_port, serve_app
from test_generative import _assert_citations_checked

from qa import Tanya
from qa.records import Answer

pytestmark = pytest.mark.slow  # starts a language-model server

pytest.importorskip("llama_cpp.server")
KEY = "llm-test-key"


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("llm") / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve-llm", "gemma3-270m", "--port", str(port), "--api-key", KEY],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while True:
        assert proc.poll() is None and time.time() < deadline, open(log.name).read()
        try:
            if httpx.get(url + "/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_the_model_server_wants_its_key(llm_url: str) -> None:
    assert httpx.get(llm_url + "/models", timeout=10).status_code == 401


def test_a_written_answer_streams_from_the_server_with_checked_citations(seed_tanya: Tanya, llm_url: str) -> None:
    tanya = Tanya(seed_tanya.settings.with_values(llm="openai:gemma3-270m", llm_url=llm_url, llm_key=KEY))
    events = list(tanya.ask_stream("Kapan Alibaba Group menguasai saham Lazada?"))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert not answer.notice, answer.notice
    pieces = [p for p in events[:-1] if isinstance(p, str)]
    assert len(pieces) == len(events) - 1  # the text as it grew, then the answer
    assert len(pieces) >= 2 and all(b.startswith(a) for a, b in zip(pieces, pieces[1:]))  # it grew, token by token
    assert answer.mode == "generative" and answer.raw_reply == pieces[-1]
    _assert_citations_checked(answer)
    assert answer.citations and {c.paragraph for c in answer.citations} <= {6}


def test_a_wrong_key_falls_back_to_the_extracted_answer_and_says_so(seed_tanya: Tanya, llm_url: str) -> None:
    tanya = Tanya(seed_tanya.settings.with_values(llm="openai:gemma3-270m", llm_url=llm_url, llm_key="wrong"))
    answer = tanya.ask("Who offered Jack Ma the advisor role?")
    assert answer.mode == "extractive" and answer.notice and "Joko Widodo" in answer.text


@pytest.fixture(scope="module")
def app_with_llm(tmp_path_factory: pytest.TempPathFactory, llm_url: str) -> Iterator[str]:
    root = tmp_path_factory.mktemp("llm-app")
    articles = root / "articles"
    shutil.copytree(SEEDS, articles)
    with serve_app(root, articles, QA_LLM="openai:gemma3-270m", QA_LLM_URL=llm_url, QA_LLM_KEY=KEY) as url:
        yield url


def test_our_api_streams_the_written_answer_through(app_with_llm: str) -> None:
    import openai

    client = openai.OpenAI(base_url=app_with_llm + "v1", api_key="open-loopback", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="tanya", stream=True, messages=[{"role": "user", "content": "Kapan Alibaba Group menguasai saham Lazada?"}]
        )
    )
    content = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content) >= 2  # the model's words as they came, not one block at the end
    final = chunks[-1].model_extra
    assert final is not None
    assert final["citations"] and final["citations"][0]["paragraph"] == 6
    if final["tanya"]["mode"] == "extractive":  # the check refused what the model wrote (it varies with the server's cache)
        assert final["tanya"]["notice"] and "2016" in final["tanya"]["answer"]
    streamed, checked = "".join(content), final["tanya"]
    assert streamed.startswith(checked["raw_reply"]) and "[1]" in checked["reply"]
    # a client that only shows the streamed text still ends with the checked reply
    assert streamed == checked["raw_reply"] or streamed.endswith(checked["reply"])
    extracted = client.chat.completions.create(
        model="tanya",
        extra_body={"written": False},
        messages=[{"role": "user", "content": "Kapan Alibaba Group menguasai saham Lazada?"}],
    )
    assert extracted.model_extra is not None and extracted.model_extra["tanya"]["mode"] == "extractive"


@pytest.mark.browser
def test_the_page_shows_the_served_models_answer_and_its_check(app_with_llm: str, browser) -> None:
    page = browser.new_page()
    page.goto(app_with_llm)
    assert page.locator("#written input").is_checked()
    assert "openai:gemma3-270m" in page.locator("#written").inner_text()
    ask_in_page(page, "Kapan Alibaba Group menguasai saham Lazada?")
    page.wait_for_function("document.querySelector('#chat').innerText.includes('▌')", timeout=60_000)
    page.locator("#citation-check").wait_for(timeout=60_000)
    chat = page.locator("#chat").inner_text()
    assert "▌" not in chat and "[1]" in chat and ".txt, 2016-09-09, ¶6" in chat
    assert "citation recall" in page.locator("#citation-check").inner_text()
    page.close()


def test_serve_llm_names_a_missing_model_file(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    done = subprocess.run(
        [sys.executable, "-m", "qa", "serve-llm", str(tmp_path / "none.gguf"), "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no GGUF model file" in done.stderr
