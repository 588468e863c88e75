"""Training the sentence chooser (qa/training/chooser.py): the pairs it learns from, and a real run
that is killed and resumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from qa.ask.chooser_model import SentenceChooser
from qa.ask.question import analyse
from qa.text import sentence_spans
from qa.training.chooser import Asked, answering, pairs_from, train_chooser

PASSAGE = (
    "Jack Ma ditawari menjadi penasihat ekonomi digital. Tawaran itu datang dari pemerintah Indonesia. "
    "Jack Ma kemungkinan akan menerima tawaran itu. Alibaba memiliki Lazada."
)
OTHER = "Rudiantara adalah menteri. Ia berbicara tentang perusahaan kecil."


def _sentence(text: str) -> tuple[int, int]:
    at = PASSAGE.index(text)
    return at, at + len(text)


def test_the_answer_sentence_is_every_sentence_the_answer_covers_or_the_one_holding_a_short_span() -> None:
    spans = sentence_spans(PASSAGE)
    third = _sentence("Jack Ma kemungkinan akan menerima tawaran itu.")
    assert answering(spans, third) == [third]
    assert answering(spans, _sentence("pemerintah Indonesia")) == [_sentence("Tawaran itu datang dari pemerintah Indonesia.")]
    two = (_sentence("Tawaran itu")[0], third[1])
    assert [PASSAGE[a:b] for a, b in answering(spans, two)] == [
        "Tawaran itu datang dari pemerintah Indonesia.",
        "Jack Ma kemungkinan akan menerima tawaran itu.",
    ]


def test_pairs_teach_the_answer_sentence_against_its_neighbours_and_another_passage() -> None:
    question = "Apakah Jack Ma menerima tawaran itu?"
    asked = Asked(question, PASSAGE, _sentence("Jack Ma kemungkinan akan menerima tawaran itu."), (OTHER,))
    pairs = pairs_from([asked], same=2, other=1)
    assert [s for _, s, t in pairs if t == 1] == ["Jack Ma kemungkinan akan menerima tawaran itu."]
    negatives = [s for _, s, t in pairs if t == 0]
    assert len(negatives) == 3 and negatives[-1] in OTHER
    # the passage's sentences most like the question come first among its negatives
    assert negatives[0] == "Jack Ma ditawari menjadi penasihat ekonomi digital."
    unanswerable = pairs_from([Asked(question, PASSAGE, None, ())], same=3, other=1)
    assert len(unanswerable) == 3 and all(t == 0 for *_, t in unanswerable)


@pytest.mark.slow
@pytest.mark.shared
def test_the_chooser_trains_loads_and_resumes_a_killed_run(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    lines = (ROOT / "data" / "train" / "sentence3-tydiid-train.jsonl").read_text().splitlines(True)[:30]
    small.write_text("".join(line.replace("../../../shared", str(ROOT.parent / "shared")) for line in lines))
    dev = [ROOT / "data" / "dev" / "sentence-dev.jsonl"]
    options: dict[str, Any] = {"out": tmp_path / "chooser", "work": tmp_path / "work", "epochs": 2, "split": 10, "batch": 8}

    def killed_in_the_first_epoch(line: str) -> None:  # as a kill would, after its second checkpoint
        if line == "epoch 1: checkpoint after step 10":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_chooser([small], dev, **options, checkpoint_every=5, log=killed_in_the_first_epoch)
    said: list[str] = []
    meta = train_chooser([small], dev, **options, checkpoint_every=5, log=said.append)
    assert said[1].startswith("resuming") and said[1].endswith("epoch 1 of 2, after step 10")
    assert "epoch 1: checkpoint after step 15" in said and "epoch 1: checkpoint after step 5" not in said
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and meta["dev_n"] == 120
    chooser = SentenceChooser(tmp_path / "chooser")
    p = chooser.probabilities(analyse("Apakah Jack Ma menerima tawaran itu?"), [s for s in PASSAGE.split(". ")])
    assert len(p) == 4 and all(0 <= x <= 1 for x in p)
    assert chooser.min_probability == meta["min_probability"] and 0 < meta["pair_min_probability"] <= 1
    assert json.loads((tmp_path / "chooser" / "meta.json").read_text())["split"] == 10

    # a run from the trained chooser starts from its weights and layers, and is a run of its own (it does
    # not resume the checkpoint above): at learning rate 0 it gives what the chooser it started from gives
    said.clear()
    again = train_chooser(
        [small],
        dev,
        **options | {"epochs": 1, "lr": 0.0, "out": tmp_path / "again"},
        init=tmp_path / "chooser",
        same=5,
        log=said.append,
    )
    assert not any(line.startswith("resuming") for line in said)
    assert again["started_from"] == str(tmp_path / "chooser") and again["same_passage_negatives"] == 5
    continued = SentenceChooser(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "meta.json").read_text())["split"] == 10
    assert continued.probabilities(
        analyse("Apakah Jack Ma menerima tawaran itu?"), [s for s in PASSAGE.split(". ")]
    ) == pytest.approx(p, abs=2e-3)
