"""`python -m qa` as a user runs it: index, ask (text, --json, stdin), eval, and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEED_ID, SEEDS, write


def qa(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "index"
    done = qa("index", str(SEEDS), "--index-dir", str(path))
    assert done.returncode == 0, done.stderr
    assert "1 files, 13 chunks" in done.stdout
    return str(path)


def test_ask_prints_a_cited_answer(index_dir: str) -> None:
    done = qa("ask", "Who offered Jack Ma the advisor role?", "--index-dir", index_dir)
    assert done.returncode == 0, done.stderr
    assert "Joko Widodo [1]" in done.stdout
    assert f"[1] {SEED_ID}" in done.stdout and "paragraph 1" in done.stdout


def test_ask_json_has_the_documented_fields(index_dir: str) -> None:
    done = qa("ask", "Siapa yang menawari Jack Ma menjadi penasehat?", "--json", "--index-dir", index_dir)
    out = json.loads(done.stdout)
    assert {"question", "language", "answer", "abstained", "support", "citations", "passages", "timings_ms"} <= set(out)
    assert out["language"] == "id" and out["answer"] == "Presiden Joko Widodo" and not out["abstained"]
    citation = out["citations"][0]
    assert {"n", "doc_id", "source", "text", "start", "end", "score"} <= set(citation)
    assert citation["n"] == 1 and citation["doc_id"] == SEED_ID
    assert len(out["passages"]) == 5 and {"doc_id", "source", "text", "score"} <= set(out["passages"][0])
    assert set(out["timings_ms"]) == {"retrieve", "read", "answer", "total"}
    assert out["reader_margin"] is not None


def test_ask_reads_questions_from_stdin_one_json_line_each(index_dir: str) -> None:
    questions = "Who offered Jack Ma the advisor role?\n\nWhat is the boiling point of mercury?\n" + "x" * 5000 + "\n"
    done = qa("ask", "--index-dir", index_dir, stdin=questions)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert "Joko Widodo" in lines[0]["answer"] and lines[1]["abstained"] is True
    assert "too long" in lines[2]["error"]


def test_stdin_takes_conversations_as_json_lines_and_survives_bad_ones(index_dir: str) -> None:
    lines_in = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Who offered Jack Ma the advisor role?"},
                    {"role": "assistant", "content": "Presiden Joko Widodo [1]"},
                    {"role": "user", "content": "In which field?"},
                ]
            }
        ),
        '{"messages": [{"role": "user", "content": "Who offered',  # cut off: not JSON
        json.dumps({"question": "Apa nama sebelumnya dari Tmall?"}),
        json.dumps({"messages": [{"role": "assistant", "content": "hello"}]}),  # no user question
        "Siapa yang menawari Jack Ma menjadi penasehat?",
        json.dumps(
            {
                "messages": [  # a new question after a follow-up is not rewritten
                    {"role": "user", "content": "Who offered Jack Ma the advisor role?"},
                    {"role": "assistant", "content": "Presiden Joko Widodo [1]"},
                    {"role": "user", "content": "Apa nama sebelumnya dari Tmall?"},
                ]
            }
        ),
    ]
    done = qa("ask", "--index-dir", index_dir, stdin="\n".join(lines_in) + "\n")
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 6, done.stderr
    assert out[0]["question"] == "In which field?" and "Jack Ma" in out[0]["understood_as"]
    assert "e-commerce" in out[0]["answer"]
    assert "not valid JSON" in out[1]["error"]
    assert out[2]["answer"] == "Taobao Mall" and out[2]["understood_as"] == "Apa nama sebelumnya dari Tmall?"
    assert "last message must be the user's question" in out[3]["error"]
    assert "Joko Widodo" in out[4]["answer"]
    assert out[5]["understood_as"] == "Apa nama sebelumnya dari Tmall?" and out[5]["answer"] == "Taobao Mall"


def test_eval_reports_the_figures(index_dir: str, tmp_path: Path) -> None:
    questions = [
        {
            "id": "1",
            "question": "Siapa yang menawari Jack Ma menjadi penasehat?",
            "answers": ["Presiden Joko Widodo"],
            "doc_id": SEED_ID,
        },
        {"id": "2", "question": "Apa nama sebelumnya dari Tmall?", "answers": ["Taobao Mall"], "evidence": "Taobao Mall"},
        {"id": "3", "question": "What is the boiling point of mercury?", "answers": []},
    ]
    path = write(tmp_path / "q.jsonl", "\n".join(json.dumps(q) for q in questions))
    done = qa("eval", str(path), "--index-dir", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 3 and result["recall@1"] == 1.0 and result["recall@5"] == 1.0 and result["mrr@10"] == 1.0
    assert result["answer_em"] == 1.0 and result["answer_f1"] == 1.0 and result["abstain_accuracy"] == 1.0
    assert result["latency_ms_p50"] > 0 and result["latency_ms_p95"] >= result["latency_ms_p50"]
    human = qa("eval", str(path), "--index-dir", index_dir, "--retriever", "bm25")
    assert "recall@5" in human.stdout and "bm25" in human.stdout


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    done = qa("ask", "Siapa?", "--index-dir", str(tmp_path / "none"))
    assert done.returncode == 2 and "no index" in done.stderr and "Traceback" not in done.stderr
    empty = write(tmp_path / "empty" / "a.txt", "")
    done = qa("index", str(empty.parent), "--index-dir", str(tmp_path / "i"))
    assert done.returncode == 2 and "nothing to index" in done.stderr and "Traceback" not in done.stderr
    sentences = str(ROOT / "data" / "dev" / "sentence-dev.jsonl")
    chooser = str(ROOT / "qa" / "data" / "sentence-chooser")
    done = qa(
        "train", sentences, "--chooser", "--dev", sentences, "--init", chooser, "--trained-layers", "4", "--out", str(tmp_path)
    )
    assert (
        done.returncode == 2 and "--trained-layers cannot be given with --init" in done.stderr and "Traceback" not in done.stderr
    )


def test_list_and_remove(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write(folder / "a.txt", "Berita A\n\nWali Kota Bandung Ridwan Kamil meresmikan taman.")
    write(folder / "b.txt", "Berita B\n\nGubernur Jawa Tengah meresmikan jembatan.")
    index = str(tmp_path / "index")
    assert qa("index", str(folder), "--index-dir", index).returncode == 0
    listed = json.loads(qa("list", "--json", "--index-dir", index).stdout)
    assert [f["doc_id"] for f in listed] == ["a", "b"] and listed[0]["title"] == "Berita A"
    done = qa("remove", "a", "--index-dir", index)
    assert done.returncode == 0 and "removed a" in done.stdout
    assert "b\t" in qa("list", "--index-dir", index).stdout and "a\t" not in qa("list", "--index-dir", index).stdout
    assert qa("remove", "zzz", "--index-dir", index).returncode == 2
