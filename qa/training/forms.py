"""Fit the model that tells "Apakah …" = whether from "Apakah …" = what (qa/ask/forms.py).

Positives are the Indonesian yes/no questions of sentence sets (`kind` "yesno") that start with
"Apakah"; negatives the "Apakah …" questions of span sets (FacQA, TyDi QA, IDK-MRC *train*: answered by
a name or a phrase). The dev files are read the same way: the threshold is chosen on them (`choose`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..ask.forms import APAKAH_FILE, APAKAH_START, apakah_features
from ..linear import fit_binary, sigmoid
from .evaluation import load_questions


def apakah_rows(paths: list[Path]) -> tuple[list[str], list[int]]:
    """The "Apakah …" questions of the files, labelled 1 for whether (a yes/no sentence question), 0 for what."""
    texts, labels = [], []
    for path in paths:
        for r in load_questions(path):
            question = str(r.get("question", "")).strip()
            if not APAKAH_START.match(question.lower()):
                continue
            kind = r.get("kind")
            if kind in ("why", "how"):
                continue
            texts.append(question)
            labels.append(int(kind == "yesno"))
    return texts, labels


def train_forms(train: list[Path], dev: list[Path], out: Path = APAKAH_FILE, keep: float = 0.95) -> dict[str, Any]:
    texts, labels = apakah_rows(train)
    if not texts or len(set(labels)) < 2:
        raise ValueError("the training files need 'Apakah …' questions of both kinds (yes/no sentence sets and span sets)")
    # the kinds weigh the same (about one "Apakah" question in twelve is a yes/no one in training)
    weight = max(1, round((len(labels) - sum(labels)) / max(1, sum(labels))))
    rows = [apakah_features(t) for t, y in zip(texts, labels, strict=True) for _ in range(weight if y else 1)]
    ys = np.array([y for y in labels for _ in range(weight if y else 1)])
    model = fit_binary(rows, ys, l2=1e-3, steps=3000)
    dev_texts, dev_labels = apakah_rows(dev)
    probs = [sigmoid(model.score(apakah_features(t))) for t in dev_texts]
    threshold, found, kept = choose(probs, dev_labels, keep)
    model.meta = {
        "trained_on": [str(p) for p in train],
        "train_n": len(texts),
        "train_yesno": sum(labels),
        "chosen_on": [str(p) for p in dev],
        "threshold": threshold,
        "dev_n": len(dev_texts),
        "dev_yesno_found": found,
        "dev_what_kept": kept,
    }
    model.save(out)
    return model.meta


def choose(probs: list[float], labels: list[int], keep: float) -> tuple[float, float, float]:
    """(threshold, share of yes/no questions found, share of "what" questions kept as such): the lowest
    threshold at which at least `keep` of the "what" questions stay span questions (a factoid read as
    yes/no loses its answer; a yes/no read as factoid still gets a sentence)."""
    what = [p for p, y in zip(probs, labels, strict=True) if not y]
    yes = [p for p, y in zip(probs, labels, strict=True) if y]
    for threshold in sorted({round(p, 3) for p in probs} | {0.5}):
        kept = float(np.mean([p < threshold for p in what])) if what else 1.0
        if threshold >= 0.5 and kept >= keep:
            found = float(np.mean([p >= threshold for p in yes])) if yes else 0.0
            return threshold, round(found, 4), round(kept, 4)
    return 1.0, 0.0, 1.0
