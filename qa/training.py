"""Train the answer-span scorer from questions with known answers (FacQA train).

For each question: retrieve as shipped, generate the candidate spans the extractor would consider,
and learn linear weights with a listwise (softmax) loss so that the candidate with the best token F1
against the gold answer scores highest. Pure numpy; the result is a small JSON file of weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .answer import AnswerModel, analyse, candidates
from .evaluation import token_f1
from .pipeline import Tanya


def collect(
    tanya: Tanya, questions: list[dict[str, Any]], progress: Callable[[int, int], None] | None = None
) -> list[tuple[list[dict[str, float]], np.ndarray]]:
    """Per answerable question: the candidates' features and their F1 against the gold answers."""
    groups = []
    for n, record in enumerate(questions, start=1):
        golds = [str(a) for a in record.get("answers", [])]
        if golds:
            hits = tanya.retriever().search(record["question"], k=max(10, tanya.settings.top_k))
            cands = candidates(analyse(record["question"]), hits)
            if cands:
                groups.append(([c.features for c in cands], np.array([token_f1(c.text, golds) for c in cands])))
        if progress:
            progress(n, len(questions))
    return groups


def fit(
    groups: list[tuple[list[dict[str, float]], np.ndarray]], l2: float = 1e-3, steps: int = 400, lr: float = 0.05
) -> AnswerModel:
    """Weights that put the best-F1 candidate of each question on top (softmax over its candidates)."""
    names = sorted({k for feats, _ in groups for f in feats for k in f})
    index = {k: i for i, k in enumerate(names)}
    mats, targets = [], []
    for feats, f1 in groups:
        if f1.max() <= 0:
            continue  # the answer is not among the candidates: nothing to learn from
        x = np.zeros((len(feats), len(names)))
        for row, f in enumerate(feats):
            for k, v in f.items():
                x[row, index[k]] = v
        best = (f1 >= f1.max() - 1e-9).astype(float)
        mats.append(x)
        targets.append(best / best.sum())
    w = np.zeros(len(names))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):  # Adam on the mean listwise cross-entropy
        grad = l2 * w
        for x, t in zip(mats, targets):
            logits = x @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            grad += x.T @ (p - t) / len(mats)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return AnswerModel({k: round(float(w[i]), 5) for k, i in index.items() if abs(w[i]) > 1e-6})


def save(model: AnswerModel, path: Path, trained_on: str, questions: int) -> None:
    """Write the weights with a note of what they were trained on."""
    path.write_text(
        json.dumps(
            {
                "trained_on": trained_on,
                "questions": questions,
                "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "bias": model.bias,
                "weights": dict(sorted(model.weights.items())),
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
