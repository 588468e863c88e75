"""The page's quality tab, for editors: a collection's questions, answers, refusals and ratings per
day, 👎 by reason, the 👎 answers (filtered by reason and text), and their export as an evaluation set.

Only collections the caller edits are shown (qa/server/visitors.py); everything a reader wrote is
shown as text in a table (never Markdown or HTML).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from .feedback import REASONS, FeedbackStore, FeedbackUnavailable
from .i18n import Texts, texts
from .quality import by_reason, daily, evaluation_set, jsonl, thumbs_down, totals
from .users import EDIT
from .visitors import Visitors

DAYS = (7, 30, 90, 365)
LIST_ROWS = 500


def reason_choices(tr: Texts, any_reason: bool = False) -> list[tuple[str, str]]:
    """The 👎 reasons as (label in the page's language, value)."""
    first = [(tr("quality.any_reason"), "")] if any_reason else []
    return first + [(tr(f"feedback.reason.{r}"), r) for r in REASONS]


def list_columns(tr: Texts) -> list[str]:
    return [tr(f"quality.col.{c}") for c in ("when", "user", "question", "answer", "citations", "reason", "comment")]


class QualityView:
    """The handlers of the quality tab."""

    def __init__(self, visitors: Visitors, store: FeedbackStore) -> None:
        self.visitors = visitors
        self.store = store

    def show(self, collection: Any, days: Any, reason: Any, search: Any, lang: Any, request: gr.Request):
        """Summary, plot of each day, plot of reasons, the 👎 list and the export file for one collection
        the caller edits (nothing for one they do not)."""
        tr = texts(lang)
        names = self.visitors.chosen(collection, request, EDIT)
        empty = pd.DataFrame({"day": [], "what": [], "count": []})
        hidden = gr.update(visible=False)
        if not names:
            return tr("quality.none"), hidden, hidden, self._table([], tr), None
        period = int(days) if isinstance(days, (int, float)) and int(days) in DAYS else 30
        since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - period * 86400))
        try:
            rows = self.store.answers(names, since=since)
        except FeedbackUnavailable:
            return tr("quality.unavailable"), hidden, hidden, self._table([], tr), None
        what = {w: tr(f"quality.{w}") for w in ("questions", "answered", "refused", "up", "down")}
        per_day = pd.DataFrame([{**d, "what": what[d["what"]]} for d in daily(rows)] or empty)
        reasons = pd.DataFrame([{"reason": tr(f"feedback.reason.{r['reason']}"), "count": r["count"]} for r in by_reason(rows)])
        wanted = reason if isinstance(reason, str) and reason in REASONS else ""
        listed = thumbs_down(rows, wanted, search if isinstance(search, str) else "")[:LIST_ROWS]
        plots = (gr.update(value=per_day, visible=bool(rows)), gr.update(value=reasons, visible=bool(rows)))
        return tr("quality.summary", **totals(rows)), *plots, self._table(listed, tr), self._export(rows, names[0])

    @staticmethod
    def _table(rows: list, tr: Texts) -> dict[str, Any]:
        data = [
            [
                r.at.replace("T", " ")[:16],
                r.user or "—",
                r.question,
                r.answer or tr("quality.not_in_articles"),
                "; ".join(f"[{c['n']}] {c['title']} ¶{c['paragraph']}" for c in r.citations),
                tr(f"feedback.reason.{r.rating.reason or 'unspecified'}"),
                r.rating.comment,
            ]
            for r in rows
        ]
        return {"headers": list_columns(tr), "data": data}

    @staticmethod
    def _export(rows: list, name: str) -> str | None:
        records = evaluation_set(rows)
        if not records:
            return None
        path = Path(tempfile.mkdtemp(prefix="tanya-feedback-")) / f"tanya-feedback-{name}.jsonl"
        path.write_text(jsonl(records), encoding="utf-8")
        return str(path)
