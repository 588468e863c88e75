"""Fitting the yes/no label models (qa/training/yesno.py, the linear one; qa/training/yesno_pair.py, the
pair model) on the shipped sentence sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, killed_after_the_first_epoch

from qa.ask.question import analyse
from qa.ask.yesno import LABELS, YesNo
from qa.ask.yesno_model import PairLabeller
from qa.linear import LinearModel
from qa.training.yesno import labelled, train_yesno
from qa.training.yesno_pair import train_pair

TRAIN = [ROOT / "data" / "train" / "sentence-facqa-train.jsonl", ROOT / "data" / "train" / "sentence-wiki-train.jsonl"]
DEV = [ROOT / "data" / "dev" / "sentence-dev.jsonl"]


def test_the_label_model_is_fitted_on_train_and_labels_dev_at_the_precision_asked(tmp_path: Path) -> None:
    out = tmp_path / "yesno.json"
    meta = train_yesno(TRAIN, DEV, precision=0.85, out=out)
    assert meta["train_n"] == len(labelled(TRAIN)) > 300 and meta["dev_n"] == len(labelled(DEV)) > 40
    assert meta["dev_accuracy"] > 0.55  # the majority label (yes) is 46% of dev
    model = YesNo(LinearModel.load(out))
    if meta["dev_labelled"] > 0:
        assert meta["dev_labelled_right"] >= 0.85 and model.min_probability < 1
    assert json.loads(out.read_text())["trained_on"] == [str(p) for p in TRAIN]


@pytest.mark.slow
def test_the_pair_model_trains_loads_and_resumes_a_killed_run(tmp_path: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("".join((ROOT / "data" / "train" / "sentence3-tydiid-train.jsonl").read_text().splitlines(True)[:40]))
    options: dict[str, Any] = {"out": tmp_path / "pair", "work": tmp_path / "work", "epochs": 2, "split": 10, "batch": 8}

    with pytest.raises(KeyboardInterrupt):
        train_pair([small], DEV, **options, log=killed_after_the_first_epoch)
    lines: list[str] = []
    meta = train_pair([small], DEV, **options, log=lines.append)
    assert lines[0].startswith("resuming") and "epoch 2 of 2" in lines[0]
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and meta["train_n"] == 40 and meta["dev_n"] == len(labelled(DEV))
    labeller = PairLabeller(tmp_path / "pair")
    probs = labeller.probabilities(
        analyse("Apakah Jack Ma menerima tawaran itu?"), "Jack Ma kemungkinan akan menerima tawaran itu."
    )
    assert set(probs) == set(LABELS) and abs(sum(probs.values()) - 1) < 1e-5
    assert labeller.min_probability == meta["min_probability"]
    # only the trained layers (10, 11) and the head are shipped
    assert json.loads((tmp_path / "pair" / "meta.json").read_text())["split"] == 10
