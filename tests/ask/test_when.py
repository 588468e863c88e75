"""Time in questions (qa/ask/when.py) over a real index of articles on one recurring topic, a year
apart, each dated its own way (a dateline, a JSON "date", HTML metadata): citations carry the date,
a question naming a time reads that time's article, since/until filter strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import settings_for, write

from qa import Tanya
from qa.ask.when import Dates
from qa.errors import QuestionError

FESTIVAL = (
    "Festival Kopi Lembah Hijau kembali digelar di alun-alun Kecamatan Lembah Hijau. Juri menetapkan {winner} "
    "dari Desa {village} sebagai juara pertama lomba seduh kopi tahun ini. Panitia mencatat {visitors} pengunjung "
    "selama tiga hari festival, dan kopi robusta dari lereng gunung kembali menjadi primadona."
)
YEARS = {
    2015: ("Sutrisno Wibowo", "Karanganyar", "12.000"),
    2016: ("Ratna Kusumawati", "Sukamaju", "15.500"),
    2017: ("Hendra Gunawan", "Talang Sari", "18.200"),
}


@pytest.fixture(scope="module")
def tanya(tmp_path_factory: pytest.TempPathFactory) -> Tanya:
    root = tmp_path_factory.mktemp("dated")
    text = {y: FESTIVAL.format(winner=w, village=v, visitors=n) for y, (w, v, n) in YEARS.items()}
    write(root / "articles" / "festival-a.txt", f"LEMBAH HIJAU, Antara - Sabtu (12/9/2015). {text[2015]}")
    write(
        root / "articles" / "festival-b.json",
        json.dumps({"title": "Festival Kopi Lembah Hijau", "date": "2016-09-10", "text": text[2016]}),
    )
    write(
        root / "articles" / "festival-c.html",
        "<html><head><title>Festival Kopi Lembah Hijau</title>"
        '<meta property="article:published_time" content="2017-09-09T08:00:00+07:00"></head>'
        f"<body><article><h1>Festival Kopi Lembah Hijau</h1><p>{text[2017]}</p></article></body></html>",
    )
    write(
        root / "articles" / "tol.txt",
        "Jakarta, 9 September 2016 - Bupati Lembah Hijau meresmikan jembatan Cikaret kemarin. "
        "Jembatan sepanjang 120 meter itu menghubungkan dua desa penghasil kopi.",
    )
    write(
        root / "articles" / "pasar.json",
        json.dumps(
            {
                "title": "Pasar Ikan Muara Jaya",
                "date": "2016-10-05",
                "text": "Pasar Ikan Muara Jaya diresmikan kemarin oleh Wali Kota. Pasar itu menampung 300 pedagang ikan.",
            }
        ),
    )
    tanya = Tanya(settings_for(root / "index"))
    tanya.articles.index([root / "articles"])
    return tanya


def test_every_article_gets_its_date_whatever_gives_it(tanya: Tanya) -> None:
    dates = {Path(f["source"]).name: f.get("date") for f in tanya.articles.files()}
    assert dates == {
        "festival-a.txt": "2015-09-12",
        "festival-b.json": "2016-09-10",
        "festival-c.html": "2017-09-09",
        "tol.txt": "2016-09-09",
        "pasar.json": "2016-10-05",
    }
    answer = tanya.ask("Siapa juara lomba seduh kopi di Festival Kopi Lembah Hijau pada 2016?")
    assert answer.citations and answer.citations[0].date == "2016-09-10"
    assert answer.to_json()["citations"][0]["date"] == "2016-09-10"


@pytest.mark.parametrize("year", sorted(YEARS))
def test_a_question_naming_a_year_reads_that_years_article(tanya: Tanya, year: int) -> None:
    winner = YEARS[year][0]
    for question in (
        f"Siapa juara lomba seduh kopi Festival Kopi Lembah Hijau pada {year}?",
        f"Who won the coffee brewing contest at the Lembah Hijau Coffee Festival in {year}?",
    ):
        answer = tanya.ask(question)
        assert winner in answer.text, (question, answer.text)
        assert all(str(year) in (h.chunk.date or "") for h in answer.hits if "Festival" in h.chunk.text)


def test_without_the_preference_the_years_are_confused(tanya: Tanya) -> None:
    """The same questions with the preference switched off: the articles look alike, so some year is answered
    from another year's article (what the preference is for)."""
    plain = Tanya(tanya.settings.with_values(time_preference=False))
    answers = [plain.ask(f"Siapa juara lomba seduh kopi Festival Kopi Lembah Hijau pada {y}?").text for y in YEARS]
    assert any(YEARS[y][0] not in a for y, a in zip(YEARS, answers)), answers


def test_relative_times_are_seen_from_the_asking_day_and_the_articles_day(tanya: Tanya) -> None:
    asked = "Berapa pengunjung Festival Kopi Lembah Hijau tahun lalu?"
    assert "15.500" in tanya.ask(asked, dates=Dates.of(today="2017-03-01")).text
    assert "12.000" in tanya.ask(asked, dates=Dates.of(today="2016-03-01")).text
    latest = tanya.ask("Siapa juara terbaru lomba seduh kopi Festival Kopi Lembah Hijau?")
    assert "Hendra Gunawan" in latest.text
    as_of = tanya.ask("Siapa juara terbaru lomba seduh kopi Festival Kopi Lembah Hijau?", dates=Dates.of(today="2016-12-31"))
    assert "Ratna Kusumawati" in as_of.text
    # "kemarin" in an article of 9 September 2016 is the 8th
    opened = tanya.ask("Jembatan apa yang diresmikan Bupati Lembah Hijau pada 8 September 2016?")
    assert "Cikaret" in opened.text and opened.citations[0].date == "2016-09-09"
    opened = tanya.ask("Pasar apa yang diresmikan Wali Kota pada 4 Oktober 2016?")
    assert "Muara Jaya" in opened.text and opened.citations[0].date == "2016-10-05"


def test_since_and_until_search_only_articles_published_then(tanya: Tanya) -> None:
    question = "Siapa juara lomba seduh kopi Festival Kopi Lembah Hijau?"
    answer = tanya.ask(question, dates=Dates.of(since="2015-01-01", until="2015-12-31"))
    assert "Sutrisno Wibowo" in answer.text
    assert answer.hits and {h.chunk.date for h in answer.hits} == {"2015-09-12"}
    later = tanya.ask(question, dates=Dates.of(since="2017-01-01"))
    assert "Hendra Gunawan" in later.text and {h.chunk.date for h in later.hits} == {"2017-09-09"}
    none = tanya.ask(question, dates=Dates.of(until="2014-12-31"))
    assert none.abstained and not none.hits and "2014-12-31" in none.notice
    with pytest.raises(QuestionError, match="since"):
        Dates.of(since="2018-01-01", until="2017-01-01")
    with pytest.raises(QuestionError, match="cannot read the date"):
        Dates.of(since="next week")
