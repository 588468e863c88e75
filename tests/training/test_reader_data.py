"""The reader's training data as read from question files (qa/training/reader.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.training.reader import load_corpus


def _lines(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_questions_over_passages_of_several_sets_find_each_passage(tmp_path: Path) -> None:
    _lines(tmp_path / "wiki-id" / "corpus.jsonl", [{"doc_id": "tydi-1", "text": "Jakarta adalah ibu kota."}])
    _lines(tmp_path / "wiki-en" / "corpus.jsonl", [{"doc_id": "tydien-1", "text": "Paris is the capital."}])
    rows = [
        {"id": "a", "question": "Is Paris the capital?", "doc_id": "tydien-1", "corpus": "../wiki-en/corpus.jsonl"},
        {"id": "b", "question": "Apakah Jakarta ibu kota?", "doc_id": "tydi-1", "corpus": "../wiki-id/corpus.jsonl"},
    ]
    questions = _lines(tmp_path / "train" / "mixed.jsonl", rows)
    corpus = load_corpus(questions, rows)
    assert corpus == {"tydi-1": "Jakarta adalah ibu kota.", "tydien-1": "Paris is the capital."}


def test_a_corpus_beside_the_questions_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    _lines(tmp_path / "set" / "corpus.jsonl", [{"doc_id": "d", "text": "beside"}])
    rows = [{"id": "a", "question": "q", "doc_id": "d", "corpus": "../elsewhere/corpus.jsonl"}]
    assert load_corpus(_lines(tmp_path / "set" / "questions.jsonl", rows), rows) == {"d": "beside"}
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        load_corpus(_lines(tmp_path / "lonely" / "questions.jsonl", rows), rows)
