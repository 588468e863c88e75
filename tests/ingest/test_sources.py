"""Remembered sources and the watcher (qa/ingest/sources.py): folders indexed as files land in them,
feeds fetched again each period, outcomes recorded; and the server doing the same with QA_WATCH."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from conftest import BUS, KERETA, SEEDS, Site, feed, serve_app, settings_for, write

from qa import Tanya
from qa.errors import InputError, NothingToIndex
from qa.ingest.sources import Sources, parse_every

PASAR = "Pasar Baru Bogor\nPedagang Pasar Baru di Bogor pindah ke gedung sementara selama renovasi delapan bulan.\n"


def test_sources_are_checked_and_remembered(tmp_path: Path) -> None:
    sources = Sources(tmp_path / "index")
    folder = (tmp_path / "incoming").resolve()
    folder.mkdir()
    assert sources.add("https://example.org/feed.xml")["kind"] == "url"
    assert sources.add(str(tmp_path / "incoming"))["source"] == str(folder)
    for bad, reason in (
        ("ftp://example.org/x", "only http and https"),
        (str(tmp_path / "nope"), "not a folder"),
        ("https://example.org/feed.xml", "already a source"),
    ):
        with pytest.raises(InputError, match=reason):
            sources.add(bad)
    sources.remove("https://example.org/feed.xml")
    assert [s["source"] for s in Sources(tmp_path / "index").all()] == [str(folder)]
    with pytest.raises(InputError, match="not a source"):
        sources.remove("https://example.org/feed.xml")
    assert parse_every("15m") == 900 and parse_every("90s") == 90 and parse_every("2h") == 7200
    with pytest.raises(InputError):
        parse_every("soon")


def test_a_watched_folder_makes_a_dropped_file_answerable_within_seconds(tmp_path: Path) -> None:
    tanya = Tanya(settings_for(tmp_path / "index"))
    tanya.articles.index()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    tanya.articles.sources().add(str(incoming))
    lines: list[str] = []
    watcher = tanya.articles.watcher(every=3600, log=lines.append)
    watcher.look = 0.5
    thread = watcher.start()
    try:
        time.sleep(1.5)  # the first look (an empty folder: nothing to index, said and recorded)
        write(incoming / "pasar.txt", PASAR)
        dropped, answered = time.monotonic(), None
        while time.monotonic() - dropped < 10:
            answer = tanya.ask("Berapa lama renovasi Pasar Baru di Bogor?")  # answering throughout
            if "delapan bulan" in answer.reply:
                answered = time.monotonic() - dropped
                break
            time.sleep(0.3)
        assert answered is not None, lines
        assert "Joko Widodo" in tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?").text  # nothing dropped
        last = tanya.articles.sources().all()[0]["last"]
        assert last["error"] is None and last["added"] == 1
        # a file deleted from the folder leaves the index; what came from elsewhere stays
        (incoming / "pasar.txt").unlink()
        deleted = time.monotonic()
        while "delapan bulan" in tanya.ask("Berapa lama renovasi Pasar Baru di Bogor?").reply and time.monotonic() - deleted < 10:
            time.sleep(0.3)
        assert [f["source"] for f in tanya.articles.files()] == ["seeds/" + next(SEEDS.iterdir()).name], lines
        assert "Joko Widodo" in tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?").text
    finally:
        watcher.stop()
        thread.join(timeout=30)


def test_feeds_are_fetched_again_and_failures_recorded(tmp_path: Path) -> None:
    site = Site()
    try:
        site.put("/bus.html", BUS)
        rss = site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus")]), "application/rss+xml")
        tanya = Tanya(settings_for(tmp_path / "index", allow_private_urls=True, fetch_timeout=1.5))
        tanya.articles.index()
        tanya.articles.sources().add(rss)
        tanya.articles.sources().add(site.url + "/gone.xml")
        with pytest.raises(NothingToIndex, match="no sources"):
            Tanya(settings_for(tmp_path / "other")).articles.refresh()
        watcher = tanya.articles.watcher(every=3600, log=lambda line: None)
        watcher._update([s["source"] for s in tanya.articles.sources().all()])
        site.put("/kereta.html", KERETA)
        site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus"), ("/kereta.html", "Kereta")]), "application/rss+xml")
        watcher._update([rss])
        assert "Budi Karya" in tanya.ask("Siapa Menteri Perhubungan yang berbicara tentang kereta cepat?").text
        listed = {s["source"]: s["last"] for s in tanya.articles.sources().all()}
        assert listed[rss]["added"] == 1 and listed[rss]["error"] is None
        assert "HTTP 404" in listed[site.url + "/gone.xml"]["error"]  # from the first update, which went on without it
    finally:
        site.server.shutdown()


@pytest.mark.slow  # a server of its own
def test_the_server_watches_with_qa_watch(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    Sources(tmp_path / "index").add(str(incoming))
    with serve_app(tmp_path, SEEDS, QA_WATCH="1h") as url:
        ask = lambda: httpx.post(url + "v1/ask", json={"question": "Berapa lama renovasi Pasar Baru di Bogor?"}, timeout=60)  # noqa: E731
        assert "delapan bulan" not in ask().json()["reply"]
        write(incoming / "pasar.txt", PASAR)
        dropped = time.monotonic()
        while "delapan bulan" not in ask().json()["reply"]:
            assert time.monotonic() - dropped < 10, (tmp_path / "app.log").read_text()[-2000:]
            time.sleep(0.3)
