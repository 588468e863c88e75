"""Time in questions: the articles' dates a user filters by (`since`/`until`), the time a question
names ("pada 2016", "Maret 2018", "tahun lalu", "kemarin", "terbaru"), and preferring the passages
from that time.

A filter is strict: only passages of articles published in it are searched (qa/ask/retrieval.py).
A time the question names is a preference: among the passages found for the question, those of
articles about that time — published then, or naming it ("pada 2016", or "kemarin" in an article of
the day after) — are read with those of undated articles, the others only when none is; "terbaru"/"latest" reads the newest of the passages that
answer about as well as the best.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from ..dates import EARLIEST, LATEST, Period, parse_date, periods_in
from ..errors import QuestionError
from ..records import Hit

_LATEST = re.compile(r"\b(terbaru|terkini|terakhir|saat ini|sekarang|latest|most recent|newest|currently|these days)\b", re.I)
_BEFORE = re.compile(r"\b(sebelum|before|prior to)\s+(tahun\s+)?$", re.I)
_AFTER = re.compile(r"\b(setelah|sesudah|after)\s+(tahun\s+)?$", re.I)
_SINCE = re.compile(r"\b(sejak|since|from)\s+(tahun\s+)?$", re.I)


@dataclass(frozen=True)
class Dates:
    """What the user says about time besides the question: only articles published `since`..`until`
    (inclusive), and the day the question is asked (`today`, from which "tahun lalu" is seen)."""

    since: date | None = None
    until: date | None = None
    today: date | None = None

    @classmethod
    def of(cls, since: object = None, until: object = None, today: object = None) -> "Dates | None":
        """From what a user typed ("2016-01-01", "9 September 2016", …); QuestionError if unreadable."""
        read = {}
        for name, value in (("since", since), ("until", until), ("today", today)):
            if value is None or value == "":
                continue
            found = parse_date(value)
            if found is None:
                raise QuestionError(f"cannot read the date {name}={str(value)[:40]!r} (write it as YYYY-MM-DD)")
            read[name] = found
        if not read:
            return None
        if "since" in read and "until" in read and read["since"] > read["until"]:
            raise QuestionError(f"since ({read['since']}) is after until ({read['until']})")
        return cls(**read)

    @property
    def window(self) -> Period | None:
        """The articles' dates the user allows, or None for all."""
        if self.since is None and self.until is None:
            return None
        return Period(self.since or EARLIEST, self.until or LATEST)


@dataclass(frozen=True)
class TimeAsked:
    """What a question asks of time: the period it names (preferred), whether it wants the newest,
    the user's filter (strict), and the day it is asked."""

    period: Period | None
    latest: bool
    window: Period | None
    today: date

    @property
    def prefers(self) -> bool:
        return self.period is not None or self.latest


def time_asked(question: str, dates: Dates | None = None) -> TimeAsked | None:
    """The time `question` names and the user's filter, or None when neither says anything."""
    today = (dates.today if dates else None) or date.today()
    window = dates.window if dates else None
    period = _named_period(question, today)
    latest = period is None and bool(_LATEST.search(question))
    if period is None and not latest and window is None:
        return None
    return TimeAsked(period, latest, window, today)


def _named_period(question: str, today: date) -> Period | None:
    """The span of every period the question names, widened by "sebelum"/"after"/"sejak" before it."""
    found: list[Period] = []
    for period in periods_in(question, today):
        found.append(period)
    if not found:
        return None
    period = Period(min(p.start for p in found), max(p.end for p in found))
    # "sebelum 2016" / "after 2018" / "sejak 2018": the words just before the first date
    first_at = _first_date_at(question)
    if first_at is not None:
        before = question[:first_at]
        if _BEFORE.search(before):
            return Period(EARLIEST, period.start - timedelta(days=1))
        if _AFTER.search(before):
            return Period(period.end + timedelta(days=1), max(today, period.end + timedelta(days=1)))
        if _SINCE.search(before):
            return Period(period.start, max(today, period.end))
    return period


def _first_date_at(question: str) -> int | None:
    m = re.search(
        r"\b(\d{1,2}[/.-]\d{1,2}[/.-])?(19|20)\d\d\b|\b\d{1,2}\s+[A-Za-z]+\.?\s+(19|20)\d\d\b|\b[A-Za-z]+\.?\s+(19|20)\d\d\b",
        question,
    )
    return m.start() if m else None


def passage_periods(hit: Hit) -> list[Period]:
    """What a passage is about in time: its article's date, and the periods its text names (relative
    ones such as "kemarin" seen from that date)."""
    written = parse_date(hit.chunk.date)
    return ([Period.day(written)] if written else []) + periods_in(hit.chunk.text, written)


def prefer_time(time: TimeAsked | None, hits: list[Hit], margin: float) -> list[Hit]:
    """The hits a question naming a time should read, best first: those about that time (if any of
    them scores within `margin` of the best hit), or for "terbaru" the newest article's among those
    within `margin` of the best; otherwise `hits` unchanged."""
    if time is None or not time.prefers or not hits:
        return hits
    best = max(h.score for h in hits)
    close = [h for h in hits if h.score >= best - margin]
    if time.period is not None:
        # an article is about the time when it was published then or one of its passages found names it;
        # all its passages found are read (the one naming the year is often not the one answering)
        articles = {h.chunk.doc_id for h in hits if any(p.overlaps(time.period) for p in passage_periods(h))}
        if not any(h.chunk.doc_id in articles for h in close):
            return hits
        # what is known to be about another time goes; an undated article's passages keep their place
        chosen = [h for h in hits if h.chunk.doc_id in articles or h.chunk.date is None]
    else:
        dated = [(d, h) for h in close if (d := parse_date(h.chunk.date)) is not None and d <= time.today]
        if not dated:
            return hits
        newest = max(d for d, _ in dated)
        chosen = [h for d, h in dated if d == newest]
    return [replace(h, rank=n) for n, h in enumerate(chosen, 1)]
