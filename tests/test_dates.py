"""Dates in metadata and text (qa/dates.py): an article's publication date, and the periods a text names."""

from __future__ import annotations

from datetime import date

import pytest

from qa.dates import Period, dateline, iso, periods_in, when_said
from qa.ingest.documents import publication_date


@pytest.mark.parametrize(
    "given, expected",
    [
        ("2016-09-09", "2016-09-09"),
        ("2018-05-02T08:00:00+07:00", "2018-05-02"),
        ("Fri, 09 Sep 2016 08:00:00 +0700", "2016-09-09"),
        ("9 September 2016", "2016-09-09"),
        ("Sept. 9, 2016", "2016-09-09"),
        ("14/3/2017", "2017-03-14"),
        ("2 Agustus 2019", "2019-08-02"),
        ("soon", None),
        ("31/2/2016", None),
    ],
)
def test_metadata_dates_in_any_common_form(given: str, expected: str | None) -> None:
    assert iso(given) == expected


def test_the_dateline_dates_an_article_without_metadata() -> None:
    seed = "Bisnis.com, JAKARTA - Jack Ma ... Menurut pernyataan yang dikutip dari techinasia.com Jumat (9/9/2016), Menteri ..."
    assert dateline(seed) == date(2016, 9, 9)
    assert dateline("JAKARTA, Sept. 9, 2016 (Antara) - The minister said") == date(2016, 9, 9)
    assert dateline("Jakarta, 9 September 2016 - Harga cabai naik.") == date(2016, 9, 9)
    # the date far into the text is not the dateline; metadata wins over the text
    assert dateline("x " * 600 + "Jumat (9/9/2016)") is None
    assert publication_date("2020-01-02", seed) == "2020-01-02" and publication_date(None, seed) == "2016-09-09"
    assert publication_date(None, "Harga cabai naik lagi.") is None


def test_the_periods_a_text_names_relative_ones_seen_from_its_date() -> None:
    text = "Bupati meresmikan ruas tol itu kemarin. Tahun lalu, pada Maret 2015, tarifnya Rp 5.000; Senin (7/9) dibuka."
    found = set(periods_in(text, date(2016, 9, 9)))
    assert Period.day(date(2016, 9, 8)) in found  # kemarin
    assert Period.year(2015) in found  # tahun lalu
    assert Period.month(2015, 3) in found
    assert Period.day(date(2016, 9, 7)) in found  # Senin (7/9) in an article of 2016
    # without the day of writing only what is written out counts; a number is not a year
    assert set(periods_in(text)) == {Period.month(2015, 3)}
    assert periods_in("Harga naik Rp 2.016 per kilogram dan 2016,5 ton") == []


def test_an_answer_that_is_only_a_relative_time_is_spelled_out() -> None:
    written = date(2016, 9, 9)
    assert when_said("kemarin", written, "id") == "8 September 2016"
    assert when_said("yesterday", written, "en") == "8 September 2016"
    assert when_said("bulan lalu", written, "id") == "Agustus 2016" and when_said("last month", written, "en") == "August 2016"
    assert when_said("pekan lalu", written) == "2–8 September 2016" and when_said("tahun lalu", written) == "2015"
    assert when_said("Senin kemarin", written) is None  # last Monday, not yesterday
    assert when_said("Joko Widodo", written) is None and when_said("kemarin", None) is None
