"""Dates in news text and metadata, Indonesian and English: an article's publication date (metadata in
any common form, or the text's own dateline such as "Jumat (9/9/2016)"), the periods a passage or a
question names ("pada 2016", "Maret 2018", "kemarin", "last year"), and periods as inclusive day ranges.

Shared by ingestion (a document's date) and asking (what a question names, what a passage is about).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime

MONTHS = {
    **{
        m: n
        for n, m in enumerate("januari februari maret april mei juni juli agustus september oktober november desember".split(), 1)
    },
    **{
        m: n
        for n, m in enumerate("january february march april may june july august september october november december".split(), 1)
    },
    **{m: n for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)},
    "agu": 8,
    "agt": 8,
    "ags": 8,
    "okt": 10,
    "nop": 11,
    "des": 12,
    "sept": 9,
    "peb": 2,
    "pebruari": 2,
    "nopember": 11,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_YEAR = r"(?:19[5-9]\d|20\d\d)"
_DAYNAME = r"(?:senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"

# a full date written out: 9/9/2016, 9-9-2016, 2016-09-09, 9 September 2016, September 9, 2016, Sept. 9 2016
_SLASHED = re.compile(rf"\b(\d{{1,2}})[/.-](\d{{1,2}})[/.-]({_YEAR})\b")
_ISO = re.compile(rf"\b({_YEAR})-(\d{{2}})-(\d{{2}})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?,?\s+({_YEAR})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+({_YEAR})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?,?\s+(?:tahun\s+)?({_YEAR})\b", re.I)
_YEAR_ALONE = re.compile(rf"(?<![\d/.,-])\b({_YEAR})\b(?![\d/-]|\.\d|,\d)")
# a dateline's day without its year, "Senin (14/3)": the year is the article's
_DAY_SLASH_MONTH = re.compile(rf"\b{_DAYNAME}\s*\((\d{{1,2}})/(\d{{1,2}})\)", re.I)


EARLIEST, LATEST = date(1900, 1, 1), date(9999, 12, 31)  # the ends of a period open on that side


@dataclass(frozen=True, order=True)
class Period:
    """An inclusive range of days (EARLIEST / LATEST: open on that side)."""

    start: date
    end: date

    def bounds(self) -> tuple[str | None, str | None]:
        """(since, until) as YYYY-MM-DD, None for an open end."""
        return (None if self.start <= EARLIEST else self.start.isoformat(), None if self.end >= LATEST else self.end.isoformat())

    @classmethod
    def day(cls, d: date) -> "Period":
        return cls(d, d)

    @classmethod
    def year(cls, y: int) -> "Period":
        return cls(date(y, 1, 1), date(y, 12, 31))

    @classmethod
    def month(cls, y: int, m: int) -> "Period":
        return cls(date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1]))

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        since, until = self.bounds()
        return f"{since or ''}…{until or ''}"


def _safe(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(value: object) -> date | None:
    """A date from metadata in any common form ("2016-09-09", "2016-09-09T08:00:00+07:00",
    "Fri, 09 Sep 2016 08:00:00 +0700", "9 September 2016", "Sept. 9, 2016", "9/9/2016"), or None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if m := re.match(rf"({_YEAR})-(\d{{1,2}})-(\d{{1,2}})", text):
        return _safe(int(m[1]), int(m[2]), int(m[3]))
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    return first_date(text)


def first_date(text: str) -> date | None:
    """The first full date written in `text` (day, month and year), or None."""
    found: list[tuple[int, date]] = []
    for pattern, order in ((_ISO, "ymd"), (_SLASHED, "dmy"), (_DAY_MONTH_YEAR, "dMy"), (_MONTH_DAY_YEAR, "Mdy")):
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            month = MONTHS[parts["M"].lower()] if "M" in parts else int(parts["m"])
            if (d := _safe(int(parts["y"]), month, int(parts["d"]))) is not None:
                found.append((m.start(), d))
                break
    return min(found)[1] if found else None


def dateline(text: str, within: int = 1000) -> date | None:
    """The date an article's opening gives ("Bisnis.com, JAKARTA - … Jumat (9/9/2016)", "Jakarta,
    9 September 2016 -", "JAKARTA, Sept. 9, 2016 (Antara)"): the first full date in its first `within`
    characters."""
    return first_date(text[:within])


def iso(value: object) -> str | None:
    """A metadata date as YYYY-MM-DD (None when it cannot be read)."""
    d = parse_date(value)
    return d.isoformat() if d else None


# --- periods a text names ------------------------------------------------------------------

# relative to the day of writing: (pattern, what it names)
_RELATIVE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(kemarin|yesterday)\b", re.I), "yesterday"),
    (re.compile(r"\b(hari ini|today)\b", re.I), "today"),
    (re.compile(r"\b(tahun lalu|last year|tahun sebelumnya|the previous year)\b", re.I), "last year"),
    (re.compile(r"\b(tahun ini|this year)\b", re.I), "this year"),
    (re.compile(r"\b(bulan lalu|last month)\b", re.I), "last month"),
    (re.compile(r"\b(bulan ini|this month)\b", re.I), "this month"),
    (re.compile(r"\b(pekan lalu|minggu lalu|last week)\b", re.I), "last week"),
]
_AGO = re.compile(r"\b(\d{1,2}|dua|tiga|empat|lima|two|three|four|five)\s+(tahun|years?)\s+(lalu|yang lalu|ago)\b", re.I)
_NUMBER_WORDS = {"dua": 2, "tiga": 3, "empat": 4, "lima": 5, "two": 2, "three": 3, "four": 4, "five": 5}


def without_relative_times(text: str) -> str:
    """`text` without the times it names relative to a day ("Berapa pengunjung festival tahun lalu?" →
    "Berapa pengunjung festival?")."""
    text = _AGO.sub("", text)  # "2 tahun lalu" before "tahun lalu"
    for pattern, _ in _RELATIVE:
        text = pattern.sub("", text)
    text = re.sub(r"\s{2,}", " ", text)
    return re.sub(r"\s+([?.!,])", r"\1", text).strip()


def relative_period(what: str, written: date) -> Period:
    """The period a relative expression names, seen from the day it was written."""
    if what == "yesterday":
        return Period.day(written - timedelta(days=1))
    if what == "today":
        return Period.day(written)
    if what == "last year":
        return Period.year(written.year - 1)
    if what == "this year":
        return Period.year(written.year)
    if what == "last month":
        first = written.replace(day=1) - timedelta(days=1)
        return Period.month(first.year, first.month)
    if what == "this month":
        return Period.month(written.year, written.month)
    if what == "last week":
        return Period(written - timedelta(days=7), written - timedelta(days=1))
    raise ValueError(what)


def periods_in(text: str, written: date | None = None) -> list[Period]:
    """Every period `text` names: full dates, months of a year, years, and — when the day it was
    written is known — "kemarin", "tahun lalu", "Senin (14/3)" and the like, seen from that day."""
    out: list[Period] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], period: Period | None) -> None:
        if period is not None and not any(a <= m.start() < b for a, b in taken):
            out.append(period)
            taken.append(m.span())

    for m in _ISO.finditer(text):
        add(m, _day(int(m[1]), int(m[2]), int(m[3])))
    for m in _SLASHED.finditer(text):
        add(m, _day(int(m[3]), int(m[2]), int(m[1])))
    for m in _DAY_MONTH_YEAR.finditer(text):
        add(m, _day(int(m[3]), MONTHS[m[2].lower()], int(m[1])))
    for m in _MONTH_DAY_YEAR.finditer(text):
        add(m, _day(int(m[3]), MONTHS[m[1].lower()], int(m[2])))
    for m in _MONTH_YEAR.finditer(text):
        add(m, Period.month(int(m[2]), MONTHS[m[1].lower()]))
    for m in _YEAR_ALONE.finditer(text):
        add(m, Period.year(int(m[1])))
    if written is not None:
        for m in _DAY_SLASH_MONTH.finditer(text):
            add(m, _day(written.year, int(m[2]), int(m[1])))
        for pattern, what in _RELATIVE:
            for m in pattern.finditer(text):
                add(m, relative_period(what, written))
        for m in _AGO.finditer(text):
            n = int(m[1]) if m[1].isdigit() else _NUMBER_WORDS[m[1].lower()]
            add(m, Period.year(written.year - n))
    return out


def _day(y: int, m: int, d: int) -> Period | None:
    found = _safe(y, m, d)
    return Period.day(found) if found else None


_NAMES = {
    "id": "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember".split(),
    "en": "January February March April May June July August September October November December".split(),
}


def spoken(period: Period, language: str = "id") -> str:
    """A period as a reader says it: "8 September 2016", "Agustus 2016", "2015", "1–7 September 2016"."""
    names = _NAMES.get(language, _NAMES["en"])
    a, b = period.start, period.end

    def day(d: date) -> str:
        return f"{d.day} {names[d.month - 1]} {d.year}"

    if a == b:
        return day(a)
    if a == date(a.year, 1, 1) and b == date(a.year, 12, 31):
        return str(a.year)
    if a.day == 1 and b == Period.month(a.year, a.month).end:
        return f"{names[a.month - 1]} {a.year}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}–{day(b)}"
    return f"{day(a)}–{day(b)}"


_RELATIVE_ONLY = re.compile(r"^\s*(\w+(?: \w+)?)\s*$")


def when_said(span: str, written: date | None, language: str = "id") -> str | None:
    """What a short answer that is only a relative time ("kemarin", "tahun lalu", "yesterday") means,
    seen from the day its article was written, or None."""
    if written is None or not _RELATIVE_ONLY.match(span):
        return None
    for pattern, what in _RELATIVE:
        if pattern.fullmatch(_RELATIVE_ONLY.match(span)[1].strip()):  # type: ignore[index]
            return spoken(relative_period(what, written), language)
    return None
