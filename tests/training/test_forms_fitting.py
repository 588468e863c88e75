"""Fitting the "Apakah …" model (qa/training/forms.py): whether vs what, chosen on dev."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from qa.ask.forms import apakah_features
from qa.linear import LinearModel, sigmoid
from qa.training.forms import train_forms

SHARED = ROOT.parent / "shared" / "data"
pytestmark = pytest.mark.shared


def test_the_apakah_model_finds_yes_no_questions_and_keeps_what_questions(tmp_path: Path) -> None:
    train = [ROOT / "data" / "train" / f"sentence-{n}-train.jsonl" for n in ("facqa", "wiki")]
    train += [SHARED / "facqa-id" / "questions-train.jsonl", SHARED / "tydiqa-id" / "questions-train.jsonl"]
    dev = [ROOT / "data" / "dev" / "sentence-dev.jsonl", SHARED / "facqa-id" / "questions-dev.jsonl"]
    meta = train_forms(train, dev, out=tmp_path / "apakah.json", keep=0.95)
    assert meta["dev_what_kept"] >= 0.95 and meta["dev_yesno_found"] >= 0.6, meta
    model = LinearModel.load(tmp_path / "apakah.json")
    says = sigmoid(model.score(apakah_features("Apakah kebanyakan jenis kaktus hidup di gurun?")))
    assert says >= model.meta["threshold"]  # read as a yes/no question
