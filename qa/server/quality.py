"""What the feedback says, for a collection's editors: counts per day (questions, answers, refusals,
👍, 👎), 👎 by reason, the list of 👎 answers, and the rated answers as an evaluation set that
`qa eval` reads.

    rows = store.answers(["default"], since="2026-11-01")
    daily(rows)           # [{"day", "what", "count"}, …] for a plot
    by_reason(rows)       # [{"reason", "count"}, …]
    evaluation_set(rows)  # question records: a 👍 keeps its answer as gold, a 👎 "should not have
                          # answered" is an unanswerable question, any other 👎 has no known gold

`qa eval` on such a set, after a model or index change, says how many answers changed and how many
answers readers had rated good were lost (qa/training/evaluation.py `feedback_changes`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .feedback import REASONS, Rated

WHATS = ("questions", "answered", "refused", "up", "down")


def daily(rows: list[Rated]) -> list[dict[str, Any]]:
    """Per day (UTC) and kind: how many questions were asked, answered, refused, rated 👍 and 👎."""
    counts: Counter[tuple[str, str]] = Counter()
    for r in rows:
        day = r.at[:10]
        counts[(day, "questions")] += 1
        counts[(day, "refused" if r.abstained else "answered")] += 1
        if r.rating is not None:
            counts[((r.rated_at or r.at)[:10], r.rating.rating)] += 1
    days = sorted({d for d, _ in counts})
    return [{"day": d, "what": w, "count": counts[(d, w)]} for d in days for w in WHATS]


def totals(rows: list[Rated]) -> dict[str, int]:
    """The counts of `daily`, over the whole period."""
    out = dict.fromkeys(WHATS, 0)
    for item in daily(rows):
        out[item["what"]] += item["count"]
    return out


def by_reason(rows: list[Rated]) -> list[dict[str, Any]]:
    """How many 👎 each reason got."""
    counts = Counter(r.rating.reason or "unspecified" for r in rows if r.rating is not None and r.rating.rating == "down")
    return [{"reason": reason, "count": counts[reason]} for reason in (*REASONS, "unspecified")]


def thumbs_down(rows: list[Rated], reason: str = "", search: str = "") -> list[Rated]:
    """The 👎 answers, of one reason if given, whose question, answer or comment holds `search`."""
    needle = search.strip().lower()
    out = []
    for r in rows:
        if r.rating is None or r.rating.rating != "down" or (reason and r.rating.reason != reason):
            continue
        if needle and not any(needle in text.lower() for text in (r.question, r.understood, r.reply, r.rating.comment)):
            continue
        out.append(r)
    return out


def evaluation_record(r: Rated) -> dict[str, Any] | None:
    """A rated answer as a question for `qa eval` (None when it is not rated). The question is the one
    as understood, so that a follow-up stands on its own."""
    if r.rating is None:
        return None
    answers: list[str] | None = None
    if r.rating.rating == "up":
        answers = [] if r.abstained else [r.answer]
    elif r.rating.reason == "should_not_answer":
        answers = []
    record: dict[str, Any] = {"id": r.id, "question": r.understood, "answers": answers}
    if r.understood != r.question:
        record["asked"] = r.question
    if r.rating.rating == "up" and r.citations and not r.abstained:
        record["doc_id"] = r.citations[0]["doc_id"]
    record["collections"] = r.collections
    record["feedback"] = {
        "rating": r.rating.rating,
        "reason": r.rating.reason or None,
        "comment": r.rating.comment,
        "answer": r.answer,
        "abstained": r.abstained,
        "at": r.rated_at or r.at,
        "version": r.version,
    }
    return record


def evaluation_set(rows: list[Rated]) -> list[dict[str, Any]]:
    """Every rated answer of `rows` as a question record, oldest first."""
    records = [evaluation_record(r) for r in reversed(rows)]
    return [r for r in records if r is not None]


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
