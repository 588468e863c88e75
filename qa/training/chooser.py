"""Fine-tune the sentence chooser (qa/ask/chooser_model.py): `python -m qa train QUESTIONS --chooser
MORE… --dev DEV… [--out DIR]`.

Each question's passage comes from the corpus its file names (as for the reader). An answerable
question teaches its answer's sentence (every sentence the answer covers) as "answers" and the
passage's other sentences most like the question, and those of another passage on the same words
(BM25), as "does not"; an unanswerable one (`"answers": []` with its `doc_id`) teaches its passage's
sentences most like it as "does not". Questions whose answer is a short span (FacQA, TyDi QA: `FILE:N`
samples N) teach the sentence that holds the span: the same skill, in both languages.

The pair loop (qa/training/pairs.py) trains the upper layers and a one-logit head (binary
cross-entropy). Then dev is read with the chooser alone — every sentence of the gold passage and of the
two passages BM25 ranks next — and what it gives is recorded, with the probability the chooser alone
would need (`pair_min_probability`: the most right answers less wrong ones, a wrong sentence or an
answered unanswerable costing one right one). What answers is the chooser weighed with the reader's
span and the rank; those weights and the threshold (qa/ask/choosing.py) are written into meta.json and
are chosen end to end on dev with `python -m benchmarks.sentence_choice` once a chooser is trained.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..ask.chooser_model import ChooserModel, SentenceChooser
from ..ask.choosing import CHOOSER_DIR
from ..ask.question import analyse
from ..ask.reader import Encoding
from ..ask.reader_model import PairModel, load_trained, restored, save_reader_model
from ..text import sentence_spans, terms
from .evaluation import load_questions
from .pairs import Log, PairRun, cache_lower, default_work, fit, outputs
from .reader import Bm25Negatives, answer_span, load_corpus, sampled_file

Span = tuple[int, int]
# how the chooser's probability is weighed with the reader's span and the rank, and the probability the
# weighed score needs (qa/ask/choosing.py): chosen end to end on dev with `python -m
# benchmarks.sentence_choice` (BENCHMARKS.md, "The sentence chooser"), written into meta.json
READER_WEIGHT, RANK_PENALTY, MIN_PROBABILITY = 2.0, 1.5, 0.4


@dataclass(frozen=True)
class Asked:
    """A question over its passage: where its answer stands (None: the passage does not answer it), and
    the passages BM25 ranks next for it (other doc ids, best first)."""

    question: str
    passage: str
    answer: Span | None
    others: tuple[str, ...]


def _overlap(question: str, sentence: str) -> float:
    q = set(terms(question))
    return len(q & set(terms(sentence))) / (len(q) or 1)


def answering(sentences: list[Span], answer: Span) -> list[Span]:
    """The sentences the answer covers (at least half of a sentence, or the one holding a short span)."""
    a, b = answer
    covered = [(s, e) for s, e in sentences if min(b, e) - max(a, s) >= 0.5 * (e - s)]
    return covered or [(s, e) for s, e in sentences if s < b and a < e][:1]


def asked_from(paths: list[str | Path], search_others: int = 2, seed: int = 0) -> list[Asked]:
    """Every question of the files (`FILE:N` samples N) with its passage from the corpus its file names."""
    out: list[Asked] = []
    for spec in paths:
        path, n = sampled_file(spec)
        records = load_questions(path)
        if n is not None and n < len(records):
            records = [records[i] for i in sorted(random.Random(seed).sample(range(len(records)), n))]
        corpus = load_corpus(path, records)
        bm25 = Bm25Negatives(corpus)
        for r in records:
            passage = corpus.get(r.get("doc_id", ""))
            if passage is None:
                continue
            answer = answer_span(r, passage) if r.get("answers") else None
            if r.get("answers") and answer is None:
                continue
            others = [d for d in bm25.search(r["question"], search_others + 2) if d != r["doc_id"]]
            out.append(Asked(r["question"], passage, answer, tuple(corpus[d] for d in others[:search_others])))
    return out


def pairs_from(asked: list[Asked], same: int = 3, other: int = 1) -> list[tuple[str, str, int]]:
    """(question, sentence, 1 if it answers) pairs: the answer's sentences, the `same` sentences of its
    passage most like the question that do not answer it, and the `other` most like it of the next passage."""
    pairs = []
    for a in asked:
        spans = sentence_spans(a.passage)
        right = answering(spans, a.answer) if a.answer else []
        pairs += [(a.question, a.passage[s:e], 1) for s, e in right]
        wrong = [a.passage[s:e] for s, e in spans if (s, e) not in right]
        wrong.sort(key=lambda t: _overlap(a.question, t), reverse=True)
        pairs += [(a.question, t, 0) for t in wrong[:same]]
        if a.others and other:
            theirs = [a.others[0][s:e] for s, e in sentence_spans(a.others[0])]
            theirs.sort(key=lambda t: _overlap(a.question, t), reverse=True)
            pairs += [(a.question, t, 0) for t in theirs[:other]]
    return pairs


def choose_threshold(model: SentenceChooser, dev: list[Asked]) -> tuple[float, dict[str, float]]:
    """The probability below which no sentence answers, read over dev as Tanya reads it, and what it gives."""
    readings = []  # (best probability, 1 right / -1 wrong or unanswerable)
    for a in dev:
        q = analyse(a.question)
        spans = [(0, s, e) for s, e in sentence_spans(a.passage)]
        spans += [(k + 1, s, e) for k, text in enumerate(a.others) for s, e in sentence_spans(text)]
        texts = [(a.passage, *a.others)[k][s:e] for k, s, e in spans]
        if not texts:
            continue
        p = model.probabilities(q, texts)
        best = max(range(len(p)), key=p.__getitem__)
        k, s, e = spans[best]
        right = a.answer is not None and k == 0 and (s, e) in answering(sentence_spans(a.passage), a.answer)
        readings.append((p[best], 1 if right else -1, a.answer is not None))
    chosen, gain = 1.0, 0
    for t in sorted({round(p, 4) for p, _, _ in readings}):
        g = sum(v for p, v, _ in readings if p >= t)
        if g > gain:
            chosen, gain = t, g
    answerable = [r for r in readings if r[2]]
    figures = {
        "dev_n": len(readings),
        "dev_top_right": round(sum(v > 0 for _, v, _ in answerable) / max(len(answerable), 1), 4),
        "dev_answered_right": round(sum(v > 0 and p >= chosen for p, v, _ in answerable) / max(len(answerable), 1), 4),
        "dev_answered_wrong": round(sum(v < 0 and p >= chosen for p, v, _ in answerable) / max(len(answerable), 1), 4),
        "dev_unanswerable_answered": round(
            sum(p >= chosen for p, _, ok in readings if not ok) / max(sum(not ok for *_, ok in readings), 1), 4
        ),
    }
    return chosen, figures


def train_chooser(
    train: list[str | Path],
    dev: list[Path],
    out: Path = CHOOSER_DIR,
    work: Path | None = None,
    epochs: int = 2,
    lr: float = 5e-5,
    split: int = 6,
    batch: int = 16,
    seed: int = 0,
    checkpoint_every: int = 200,
    same: int = 3,
    init: Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Train on `train` (from the chooser in `init`, else from the restored encoder; `same`: the sentences
    of a question's own passage taught as not answering), choose the threshold on `dev`, write the chooser
    to `out`; returns what was measured."""
    pairs, dev_asked = pairs_from(asked_from(train, seed=seed), same=same), asked_from(list(dev), seed=seed)
    if not pairs or not dev_asked:
        raise ValueError("no questions with their passage in the training or dev files")
    dev_pairs = pairs_from(dev_asked)
    log(f"{len(pairs)} training pairs ({sum(t for *_, t in pairs)} answering), {len(dev_pairs)} dev pairs")
    encoding = Encoding()
    ids = [encoding.pair(q, s) for q, s, _ in pairs]
    targets = torch.tensor([float(t) for *_, t in pairs])
    dev_targets = torch.tensor([float(t) for *_, t in dev_pairs])

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits[:, 0], target)

    if init is not None:
        model = load_trained(ChooserModel, init)
        split = model.split
    else:
        model = restored(ChooserModel, split)
    start = json.dumps(json.loads((init / "meta.json").read_text()), sort_keys=True) if init is not None else ""
    run = PairRun(ids, targets, loss, encoding.pad, split, epochs, lr, batch, seed, start)
    dev_hidden = cache_lower(model, [encoding.pair(q, s) for q, s, _ in dev_pairs], encoding.pad)

    def dev_loss(m: PairModel) -> dict[str, float]:
        return {"dev_loss": round(float(loss(outputs(m, dev_hidden), dev_targets)), 4)}

    history = fit(model, run, work or default_work("chooser", run), dev_loss, log, checkpoint_every=checkpoint_every)
    meta: dict[str, Any] = {"trained_on": [str(p) for p in train], "chosen_on": [str(p) for p in dev]}
    meta |= {"started_from": str(init)} if init is not None else {}
    meta |= {
        "same_passage_negatives": same,
        "train_pairs": len(pairs),
        "epochs": epochs,
        "lr": lr,
        "batch": batch,
        "history": history,
    }
    meta |= {"reader_weight": READER_WEIGHT, "rank_penalty": RANK_PENALTY, "min_probability": MIN_PROBABILITY}
    save_reader_model(model, out, **meta)
    threshold, figures = choose_threshold(SentenceChooser(out), dev_asked)
    meta |= {"pair_min_probability": threshold, **figures}
    save_reader_model(model, out, **meta)
    return {k: v for k, v in meta.items() if k not in ("trained_on", "chosen_on")}
