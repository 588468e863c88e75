"""Fitting the decision to answer on dev readings (qa/training/confidence.py, `qa train --confidence`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from qa import Tanya
from qa.ask.decision import Confidence
from qa.linear import LinearModel
from qa.training.confidence import fit, load_readings, read_sets

ANSWERABLE = [
    ("Who offered Jack Ma the advisor role?", "Joko Widodo"),
    ("Siapa yang menawari Jack Ma menjadi penasehat?", "Presiden Joko Widodo"),
    ("Berapa kementerian yang terdiri dalam steering committee?", "10 kementerian"),
    ("Siapa Menteri Komunikasi dan Informatika?", "Rudiantara"),
    ("Kapan Alibaba Group menguasai saham Lazada?", "awal 2016"),
    ("What was Tmall previously called?", "Taobao Mall"),
    ("Layanan pembayaran apa yang diintegrasikan Lazada Indonesia?", "Alipay"),
    ("Siapa pendiri Alibaba Group?", "Jack Ma"),
]
UNANSWERABLE = [
    "What is the boiling point of mercury?",
    "Siapa pemenang Piala Dunia 2014?",
    "Berapa jumlah penduduk Surabaya?",
    "Who wrote the novel War and Peace?",
    "Kapan Candi Borobudur dibangun?",
    "How tall is Mount Everest?",
]


def test_the_decision_is_fitted_on_readings_and_written_only_where_asked(seed_tanya: Tanya, tmp_path: Path) -> None:
    questions = tmp_path / "seed-dev.jsonl"
    lines = [{"id": f"a{i}", "question": q, "answers": [a]} for i, (q, a) in enumerate(ANSWERABLE)]
    lines += [{"id": f"u{i}", "question": q, "answers": []} for i, q in enumerate(UNANSWERABLE)]
    questions.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    readings = tmp_path / "readings.jsonl"
    read_sets([f"seed={questions}@{seed_tanya.settings.store.index_dir}"], readings)
    rows = load_readings(readings)
    assert [r["id"] for r in rows] == [x["id"] for x in lines]
    assert sum(r["right"] for r in rows) >= 6 and not any(r["right"] for r in rows if not r["answerable"])
    assert {r["group"].split()[-1] for r in rows} == {"span"} and all(r["features"] for r in rows)

    model = fit(readings, tmp_path / "confidence.json")
    shipped = Confidence(LinearModel.load(tmp_path / "confidence.json"))
    assert shipped.model.weights == model.weights and 0.0 <= shipped.threshold <= 1.0
    right = [shipped.probability(r["features"]) for r in rows if r["right"]]
    refused = [shipped.probability(r["features"]) for r in rows if not r["answerable"]]
    assert min(right) > max(refused)  # on its own training rows the fitted model orders them

    # the command line: figures from readings written before, nothing written without --out
    done = subprocess.run(
        [sys.executable, "-m", "qa", "train", str(readings), "--confidence"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "calibrated decision, cross-fitted" in done.stdout and "written to" not in done.stdout
