"""Linear scorers over named features, trained listwise (softmax over each question's candidates).

Used for reranking passages (retrieval) and choosing answer spans (answer). Pure numpy; a model
is a small JSON file of weights under qa/data/, written by `python -m qa train`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).with_name("data")

# One question's candidates: their features, and how good each is (e.g. F1, or 1.0 for the gold passage).
Group = tuple[list[dict[str, float]], np.ndarray]


class LinearModel:
    """score(features) = bias + Σ weight[name] · value."""

    def __init__(self, weights: dict[str, float], bias: float = 0.0, meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.bias = bias
        self.meta = meta or {}

    @classmethod
    def load(cls, path: Path) -> "LinearModel":
        """Read a model written by `save`."""
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = {k: v for k, v in data.items() if k not in ("weights", "bias")}
        return cls(data["weights"], data.get("bias", 0.0), meta)

    def save(self, path: Path, **meta: Any) -> None:
        """Write the weights with a note of what they were trained on."""
        data = {**self.meta, **meta, "trained_at": datetime.now(UTC).isoformat(timespec="seconds")}
        data.update(bias=self.bias, weights=dict(sorted(self.weights.items())))
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def score(self, features: dict[str, float]) -> float:
        """Higher is better."""
        w = self.weights
        return self.bias + sum(w.get(k, 0.0) * v for k, v in features.items())


def _matrix(rows: list[dict[str, float]], index: dict[str, int], bias: bool = False) -> np.ndarray:
    x = np.zeros((len(rows), len(index) + bias))
    for r, f in enumerate(rows):
        for k, v in f.items():
            x[r, index[k]] = v
    if bias:
        x[:, -1] = 1.0
    return x


def _adam(gradient: Callable[[np.ndarray], np.ndarray], size: int, steps: int, lr: float) -> np.ndarray:
    w = np.zeros(size)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):
        grad = gradient(w)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def fit(groups: list[Group], l2: float = 1e-3, steps: int = 1000, lr: float = 0.05) -> LinearModel:
    """Weights that put each group's best candidate on top (mean softmax cross-entropy, Adam)."""
    names = sorted({k for feats, _ in groups for f in feats for k in f})
    index = {k: i for i, k in enumerate(names)}
    mats, targets = [], []
    for feats, quality in groups:
        if quality.max() <= 0:
            continue  # no good candidate: nothing to learn from this one
        best = (quality >= quality.max() - 1e-9).astype(float)
        mats.append(_matrix(feats, index))
        targets.append(best / best.sum())

    def gradient(w: np.ndarray) -> np.ndarray:
        grad = l2 * w
        for x, t in zip(mats, targets):
            logits = x @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            grad += x.T @ (p - t) / len(mats)
        return grad

    w = _adam(gradient, len(names), steps, lr)
    return LinearModel({k: round(float(w[i]), 5) for k, i in index.items() if abs(w[i]) > 1e-6})


def fit_binary(
    rows: list[dict[str, float]], labels: np.ndarray, l2: float = 1e-3, steps: int = 2000, lr: float = 0.05
) -> LinearModel:
    """Logistic regression: weights whose sigmoid(score) estimates P(label = 1), fitted with Adam."""
    index = {k: i for i, k in enumerate(sorted({k for f in rows for k in f}))}
    x = _matrix(rows, index, bias=True)
    y = labels.astype(float)

    def gradient(w: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        return x.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0]

    w = _adam(gradient, x.shape[1], steps, lr)
    return LinearModel({k: round(float(w[i]), 5) for k, i in index.items()}, bias=round(float(w[-1]), 5))


def sigmoid(score: float) -> float:
    """The probability a binary model's score stands for."""
    return float(1.0 / (1.0 + np.exp(-score)))
