"""Fit the yes/no label model (qa/ask/yesno.py) on yes/no questions with their answer sentences.

Training rows are the answerable yes/no questions of the given files (`kind` "yesno", a `label`, the
sentence in `answers[0]`); the probability below which no label is given is chosen on the dev files:
the lowest at which the labels given are right at least `precision` of the time (1.0, no label at
all, when none reaches it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..ask.question import Question, analyse
from ..ask.yesno import LABELS, YESNO_FILE, YesNo, candidate_rows, features
from ..linear import fit
from .evaluation import load_questions


def labelled(paths: list[Path]) -> list[dict[str, Any]]:
    """The answerable yes/no questions of the files."""
    rows = [r for p in paths for r in load_questions(p)]
    return [r for r in rows if r.get("kind") == "yesno" and r.get("answers") and r.get("label") in LABELS]


def _groups(rows: list[dict[str, Any]]) -> list[tuple[list[dict[str, float]], np.ndarray]]:
    out = []
    for r in rows:
        values = features(analyse(r["question"]), str(r["answers"][0]))
        out.append((candidate_rows(values), np.array([float(r["label"] == label) for label in LABELS])))
    return out


class Scorer(Protocol):
    """A label model: the probability of each label for a question and its answer sentence."""

    def probabilities(self, q: Question, sentence: str) -> dict[str, float]: ...


def choose_threshold(model: Scorer, dev: list[dict[str, Any]], precision: float) -> tuple[float, float, float]:
    """(threshold, share of dev labelled, share of those right): the lowest threshold at which the
    labels given are right at least `precision` of the time."""
    verdicts = []
    for r in dev:
        probs = model.probabilities(analyse(r["question"]), str(r["answers"][0]))
        label = max(probs, key=probs.__getitem__)
        verdicts.append((probs[label], label == r["label"]))
    for threshold in sorted({round(p, 3) for p, _ in verdicts}):
        given = [right for p, right in verdicts if p >= threshold]
        if given and np.mean(given) >= precision:
            return threshold, len(given) / len(verdicts), float(np.mean(given))
    return 1.0, 0.0, 0.0


def train_yesno(
    train: list[Path], dev: list[Path], precision: float = 0.85, out: Path = YESNO_FILE, l2: float = 1e-2
) -> dict[str, Any]:
    """Fit on `train`, choose the threshold on `dev`, write the model; returns what was measured."""
    rows, dev_rows = labelled(train), labelled(dev)
    if not rows or not dev_rows:
        raise ValueError("no yes/no questions with a label and an answer sentence in the training or dev files")
    model = fit(_groups(rows), l2=l2, steps=1500)
    model.meta = {"trained_on": [str(p) for p in train], "chosen_on": [str(p) for p in dev], "precision_goal": precision}
    scorer = YesNo(model)
    accuracy = float(np.mean([_top(scorer, r) == r["label"] for r in dev_rows]))
    threshold, coverage, right = choose_threshold(scorer, dev_rows, precision)
    model.meta.update(
        min_probability=threshold,
        dev_n=len(dev_rows),
        dev_accuracy=round(accuracy, 4),
        dev_labelled=round(coverage, 4),
        dev_labelled_right=round(right, 4),
        train_n=len(rows),
    )
    model.save(out)
    return model.meta


def _top(scorer: YesNo, row: dict[str, Any]) -> str:
    probs = scorer.probabilities(analyse(row["question"]), str(row["answers"][0]))
    return max(probs, key=probs.__getitem__)
