"""The evaluation and training sets under data/: each is described, and training never saw what Tanya is
judged on (a passage of a dev or test question, or a dev or test question itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SHARED

DATA = ROOT / "data"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sets(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (DATA / folder).rglob("*.jsonl"))


def judged_on() -> tuple[set[str], set[str]]:
    """The passages (doc_id) and questions of every dev and test set, ours and the shared ones."""
    rows = [r for p in sets("dev", "test") for r in lines(p)]
    rows += [r for split in ("dev", "test") for p in SHARED.glob(f"*/questions-{split}.jsonl") for r in lines(p)]
    return {r["doc_id"] for r in rows if r.get("doc_id")}, {r["question"] for r in rows if r.get("question")}


def test_every_set_is_described_in_its_folder_readme() -> None:
    for path in sets("train", "dev", "test"):
        readme = path.parent / "README.md"
        assert readme.is_file() and path.name in readme.read_text(encoding="utf-8"), f"{path} has no datasheet row"


@pytest.mark.parametrize("path", sets("train", "dev", "test"), ids=lambda p: str(p.relative_to(DATA)))
def test_a_set_is_well_formed(path: Path) -> None:
    rows = lines(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), f"{path}: repeated ids"
    for r in rows:
        if "question" in r:
            assert isinstance(r["answers"], list) and r["question"].strip(), r["id"]


@pytest.mark.shared
def test_training_sets_share_no_passage_or_question_with_dev_or_test() -> None:
    """Sets written by hand use train passages only and ask no dev/test question; translations (they keep
    their source question in `question_id` or `question_en`) translate a train question of a shared set,
    over its own passage (FacQA itself shares passages between its splits, and a translated "What is the
    capital of Canada?" may match a dev question word for word, so neither is held against them)."""
    passages, questions = judged_on()
    train_questions = {r["question"] for p in SHARED.glob("*/questions-train.jsonl") for r in lines(p)}
    for path in sets("train"):
        for r in lines(path):
            source = r.get("question_id") or r.get("question_en")
            if source is not None:
                assert source in train_questions, f"{path}: {r['id']} translates no train question"
            else:
                assert r["doc_id"] not in passages, f"{path}: {r['id']} is over a dev/test passage"
                assert r["question"] not in questions, f"{path}: {r['id']} is a dev/test question"
