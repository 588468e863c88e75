"""Measure the decision to answer (qa/ask/decision.py `Confidence`) on dev readings; the fitting itself,
and writing the shipped qa/data/confidence.json, is `python -m qa train SET… --confidence --out qa/data/confidence.json`
(qa/training/confidence.py).

    python -m benchmarks.calibrate read  SET… [--reader DIR] --out READINGS.jsonl
    python -m benchmarks.calibrate fit   READINGS.jsonl                 # cross-fitted figures, nothing written
    python -m benchmarks.calibrate score READINGS.jsonl [--model FILE]  # figures per set and per kind, old rule beside
    python -m benchmarks.calibrate compare A.jsonl B.jsonl [--at 0.03 0.05]  # readers at equal FacQA withheld

A SET is NAME=QUESTIONS@INDEX_DIR (see qa/training/confidence.py). `score` and `compare` are
measurements: per set and per kind of question (question language > passage language, span or
sentence) how many are answered right, withheld though answerable, and unanswerable answered, with the
calibration (mean predicted probability against the observed share right).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.ask.decision import CONFIDENCE_FILE, Confidence  # noqa: E402
from qa.linear import LinearModel  # noqa: E402
from qa.training.confidence import (  # noqa: E402
    cross_fitted,
    figures,
    fit,
    load_readings,
    probabilities,
    read_sets,
)


def compare(paths: list[Path], rates: list[float], anchor: str = "facqa") -> None:
    """Readers side by side, each with its own cross-fitted decision, at thresholds where the `anchor`
    set is wrongly withheld at the same rate: what is left to differ is the reading."""
    results = []
    for path in paths:
        rows = load_readings(path)
        probs, _ = cross_fitted(rows)
        pos = np.array([p for r, p in zip(rows, probs) if r["set"] == anchor and r["answerable"] and r["answer"]])
        n_pos = sum(1 for r in rows if r["set"] == anchor and r["answerable"])
        per_rate = {}
        for rate in rates:
            # the highest threshold at which at most `rate` of the anchor's answerable questions are withheld
            t = max((t for t in np.arange(0.0, 1.0, 0.005) if (n_pos - (pos >= t).sum()) / n_pos <= rate), default=0.0)
            per_rate[rate] = figures(rows, [bool(p >= t) and bool(r["answer"]) for r, p in zip(rows, probs)])
            per_rate[rate]["threshold"] = {"t": round(float(t), 3)}
        results.append(per_rate)
    keys = ("f1", "abstained_wrongly", "unanswerable_answered")
    for rate in rates:
        print(f"{anchor} wrongly withheld held at {rate:.0%}: " + " | ".join(p.name for p in paths))
        names = list(dict.fromkeys(n for res in results for n in res[rate]))
        for name in names:
            cells = [
                " ".join(f"{k[:6]}={res[rate].get(name, {}).get(k, '-')}" for k in keys + ("t",) if k in res[rate].get(name, {}))
                for res in results
            ]
            print(f"  {name:16s} " + " | ".join(cells))


def score(path: Path, model_file: Path) -> None:
    rows = load_readings(path)
    confidence = Confidence(LinearModel.load(model_file))
    probs = probabilities(confidence.model, rows)
    print("old rule:")
    for name, f in figures(rows, [r["old_answers"] and bool(r["answer"]) for r in rows]).items():
        print(f"  {name:24s} {json.dumps(f)}")
    print(f"calibrated decision (threshold {confidence.threshold}, sentence answers {confidence.sentence_threshold}):")
    limits = [confidence.sentence_threshold if r.get("group", "").endswith("sentence") else confidence.threshold for r in rows]
    decided = [bool(p >= t) and bool(r["answer"]) for r, p, t in zip(rows, probs, limits)]
    for name, f in figures(rows, decided).items():
        print(f"  {name:24s} {json.dumps(f)}")
    by_group(rows, probs, decided)


def by_group(rows: list[dict], probs: np.ndarray, decided: list[bool]) -> None:
    """Per kind of question (`group`): how many, answered right, withheld though answerable, unanswerable
    answered, and calibration (mean predicted probability of a right answer against the observed
    share right, over answerable questions)."""
    print("per group (question>passage language, span/sentence):")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r.get("group", "?")].append(i)
    for name in sorted(groups):
        pos = [i for i in groups[name] if rows[i]["answerable"]]
        neg = [i for i in groups[name] if not rows[i]["answerable"]]
        line: dict[str, float] = {"n": len(groups[name])}
        if pos:
            line["right"] = round(float(np.mean([rows[i]["right"] and decided[i] for i in pos])), 3)
            line["withheld_wrongly"] = round(float(np.mean([not decided[i] for i in pos])), 3)
            line["predicted"] = round(float(np.mean([probs[i] for i in pos])), 3)
            line["observed"] = round(float(np.mean([rows[i]["right"] for i in pos])), 3)
        if neg:
            line["unanswerable_n"] = len(neg)
            line["unanswerable_answered"] = round(float(np.mean([decided[i] for i in neg])), 3)
        print(f"  {name:20s} {json.dumps(line)}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calibrate", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("read")
    p.add_argument("sets", nargs="+")
    p.add_argument("--reader", default="e5")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("fit")
    p.add_argument("features", type=Path)
    p = sub.add_parser("compare")
    p.add_argument("features", type=Path, nargs="+")
    p.add_argument("--at", type=float, nargs="+", default=[0.03, 0.05, 0.07], help="the anchor set's wrongly withheld rates")
    p.add_argument("--anchor", default="facqa")
    p = sub.add_parser("score")
    p.add_argument("features", type=Path)
    p.add_argument("--model", type=Path, default=CONFIDENCE_FILE)
    args = parser.parse_args()
    if args.command == "read":
        read_sets(args.sets, args.out, args.reader)
    elif args.command == "compare":
        compare(args.features, args.at, args.anchor)
    elif args.command == "fit":
        fit(args.features)
    else:
        score(args.features, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
