"""The yes/no label read from the pair: question and answer sentence through the e5-small encoder, a
three-way head (yes, no, uncertain) over the first token. Trained by `python -m qa train … --yesno …
--pair` (qa/training/yesno_pair.py); its trained layers, head and the probability below which no label
is given are in qa/data/yesno-pair/ (fp16). Needs torch: `labeller()` (qa/ask/labelling.py) falls back to
the linear label model without it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch

from .question import Question
from .reader import Encoding, pad_batch
from .reader_model import PairModel, load_trained
from .yesno import LABELS, Verdict, most_likely


class LabelModel(PairModel):
    """Three logits (yes, no, uncertain) from the first token's hidden state."""

    OUTPUTS = len(LABELS)


class PairLabeller:
    """The trained pair model, and the probability below which it gives no label."""

    def __init__(self, folder: Path) -> None:
        self.meta = json.loads((folder / "meta.json").read_text())
        self.min_probability = float(self.meta.get("min_probability", 1.0))
        self.model = load_trained(LabelModel, folder)
        self.encoding = Encoding()
        self._lock = threading.Lock()

    def probabilities(self, q: Question, sentence: str) -> dict[str, float]:
        ids, mask = pad_batch([self.encoding.pair(q.text, sentence)], self.encoding.pad)
        with self._lock, torch.inference_mode():
            logits = self.model(ids, mask)[0].numpy()
        p = np.exp(logits - logits.max())
        return dict(zip(LABELS, (p / p.sum()).tolist(), strict=True))

    def verdict(self, q: Question, sentence: str) -> Verdict | None:
        """The label, if the model is sure enough of it; else None (say only what the sentence says)."""
        return most_likely(self.probabilities(q, sentence), self.min_probability)
