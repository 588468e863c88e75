"""Measure retrieval and answers against questions with known answers (e.g. FacQA-id).

Question lines: `{"id", "question", "answers": [...], "doc_id"?, "evidence"?, "since"?, "until"?, "today"?}`. A retrieved chunk is
gold when its doc_id equals `doc_id` or its text contains `evidence`; `answers: []` means the right
reply is to abstain; `answers: null`, that the right answer is not known (a question readers rated 👎
without saying what is right): it counts only in the feedback figures.

Lines exported from readers' ratings (`qa feedback export`) carry `feedback` (the rating, its reason,
the answer then given): `evaluate` then also says how many answers changed since, how many answers
rated 👍 were lost, and how the 👎 ones fared (`feedback_changes`).
"""

from __future__ import annotations

import json
import re
import statistics
import string
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..ask.when import Dates
from ..errors import InputError
from ..pipeline import Tanya
from ..records import Hit

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}“”‘’]")


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Question records from a JSONL file; a line without `question` is an error naming the line."""
    questions = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record["question"], record.setdefault("answers", [])
            except (ValueError, KeyError, TypeError):
                raise InputError(f"{path}:{number}: not a question line (need JSON with 'question')") from None
            questions.append(record)
    return questions


def normalise_answer(text: str) -> str:
    """Lowercase, no punctuation, no English articles, single spaces (SQuAD-style)."""
    text = _PUNCT.sub(" ", text.lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def exact_match(prediction: str, golds: list[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return float(any(normalise_answer(prediction) == normalise_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """Best token-overlap F1 of the prediction against the gold answers."""
    best = 0.0
    pred = normalise_answer(prediction).split()
    for gold in golds:
        ref = normalise_answer(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def is_gold(hit: Hit, record: dict[str, Any]) -> bool:
    """Whether a retrieved chunk is a gold passage for the question."""
    if record.get("doc_id") and hit.chunk.doc_id == record["doc_id"]:
        return True
    evidence = record.get("evidence")
    return isinstance(evidence, str) and bool(evidence) and evidence in hit.chunk.text


def evaluate(
    tanya: Tanya,
    questions: list[dict[str, Any]],
    retriever: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    dates: Dates | None = None,
) -> dict[str, Any]:
    """Recall@1/5, MRR@10, answer-in-top-5, EM, F1, abstention accuracy and latency over `questions`
    (each asked with its own "since"/"until"/"today", else those of `dates`)."""
    default = dates or Dates()
    sums: defaultdict[str, float] = defaultdict(float)
    retrieval_n = answer_n = 0
    latencies = []
    known_n = 0
    changes = FeedbackChanges()
    for i, record in enumerate(questions):
        asked = Dates.of(*(record.get(f) or getattr(default, f) for f in ("since", "until", "today")))
        answer = tanya.ask(record["question"], k=max(10, tanya.settings.retrieval.top_k), retriever=retriever, dates=asked)
        latencies.append(answer.timings_ms["total"])
        if isinstance(record.get("feedback"), dict):
            changes.add(record["feedback"], "" if answer.abstained else answer.text, answer.abstained)
        if record.get("answers") is None:  # no known gold: only the feedback figures
            if progress:
                progress(i + 1, len(questions))
            continue
        known_n += 1
        golds = [str(a) for a in record["answers"]]
        sums["abstain_ok"] += answer.abstained == (not golds)
        if record.get("doc_id") or record.get("evidence"):
            retrieval_n += 1
            ranks = [h.rank for h in answer.hits[:10] if is_gold(h, record)]
            first = min(ranks) if ranks else None
            sums["recall@1"] += first == 1
            sums["recall@5"] += first is not None and first <= 5
            sums["mrr@10"] += 1 / first if first else 0.0
        if golds:
            answer_n += 1
            top5 = " ".join(normalise_answer(h.chunk.text) for h in answer.hits[:5])
            sums["answer_in_top5"] += any(normalise_answer(g) in top5 for g in golds)
            prediction = "" if answer.abstained else answer.text
            sums["answer_em"] += exact_match(prediction, golds)
            sums["answer_f1"] += token_f1(prediction, golds)
            sums["abstained_wrongly"] += answer.abstained
        if progress:
            progress(i + 1, len(questions))
    n = len(questions)
    latencies.sort()
    result: dict[str, Any] = {"n": n, "retriever": retriever or tanya.settings.retrieval.mode}
    for key in ("recall@1", "recall@5", "mrr@10"):
        result[key] = round(sums[key] / retrieval_n, 4) if retrieval_n else None
    for key in ("answer_in_top5", "answer_em", "answer_f1", "abstained_wrongly"):
        result[key] = round(sums[key] / answer_n, 4) if answer_n else None
    result["abstain_accuracy"] = round(sums["abstain_ok"] / known_n, 4) if known_n else None
    result["latency_ms_p50"] = round(statistics.median(latencies), 1) if latencies else None
    result["latency_ms_p95"] = round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1) if latencies else None
    if changes.rated:
        result["feedback"] = changes.figures()
    return result


class FeedbackChanges:
    """How today's answers compare with those readers rated: changed at all, 👍 answers lost, 👎 answers
    changed, and for the two refusal reasons whether the decision now goes the reader's way."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.rated = 0

    def add(self, feedback: dict[str, Any], text: str, abstained: bool) -> None:
        self.rated += 1
        before_text = str(feedback.get("answer") or "")
        before_abstained = bool(feedback.get("abstained"))
        changed = abstained != before_abstained or normalise_answer(text) != normalise_answer(before_text)
        self.counts["changed"] += changed
        if feedback.get("rating") == "up":
            self.counts["rated_good"] += 1
            self.counts["good_lost"] += changed
        else:
            self.counts["rated_bad"] += 1
            self.counts["bad_changed"] += changed
            reason = feedback.get("reason")
            if reason == "should_not_answer":
                self.counts["should_not_answer"] += 1
                self.counts["should_not_answer_now_refused"] += abstained
            elif reason == "should_answer":
                self.counts["should_answer"] += 1
                self.counts["should_answer_now_answered"] += not abstained

    def figures(self) -> dict[str, int]:
        keys = (
            "changed",
            "rated_good",
            "good_lost",
            "rated_bad",
            "bad_changed",
            "should_not_answer",
            "should_not_answer_now_refused",
            "should_answer",
            "should_answer_now_answered",
        )
        return {"rated": self.rated, **{k: self.counts[k] for k in keys}}
