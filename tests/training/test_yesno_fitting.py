"""Fitting the yes/no label model (qa/training/yesno.py) on the shipped sentence sets."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT

from qa.ask.yesno import YesNo
from qa.linear import LinearModel
from qa.training.yesno import labelled, train_yesno

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
