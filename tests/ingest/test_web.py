"""Articles from the web (qa/ingest/web.py) against a real HTTP server started by the test on 127.0.0.1:
feeds, sitemaps, redirects, conditional requests, failures of every kind, and addresses that must never
be fetched."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUS, KERETA, PASAR, ROOT, Site, feed, page, settings_for

from qa import Tanya
from qa.errors import NothingToIndex


@pytest.fixture()
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.server.shutdown()


def _tanya(tmp_path: Path, **overrides) -> Tanya:
    return Tanya(settings_for(tmp_path / "index", allow_private_urls=True, fetch_timeout=1.5, **overrides))


def test_a_feed_is_indexed_and_cited_by_url(site: Site, tmp_path: Path) -> None:
    site.put("/bus.html", BUS)
    site.put("/kereta.html", KERETA)
    rss = site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus"), ("/kereta.html", "Kereta")]), "application/rss+xml")
    tanya = _tanya(tmp_path)
    report = tanya.articles.index([rss])
    assert sorted(report.added) and report.documents == 2, report.summary()
    answer = tanya.ask("Siapa yang meresmikan bus listrik di Bandung?")
    assert "Ridwan Kamil" in answer.text and answer.citations[0].source == site.url + "/bus.html"
    dates = {f["source"]: f["date"] for f in tanya.articles.files()}
    assert dates[site.url + "/bus.html"] == "2016-09-09"


def test_an_updated_feed_costs_only_what_is_new_or_changed(site: Site, tmp_path: Path) -> None:
    site.put("/bus.html", BUS)
    site.put("/kereta.html", KERETA)
    rss = site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus"), ("/kereta.html", "Kereta")]), "application/rss+xml")
    tanya = _tanya(tmp_path)
    tanya.articles.index([rss])
    site.put("/pasar.html", PASAR)
    site.put(
        "/feed.xml",
        feed(site.url, [("/bus.html", "Bus"), ("/kereta.html", "Kereta"), ("/pasar.html", "Pasar")]),
        "application/rss+xml",
    )
    bodies_before = {p: site.hits.get(p, 0) for p in ("/bus.html", "/kereta.html")}
    report = tanya.articles.index([rss])
    assert len(report.added) == 1 and report.embedded == 2 and len(report.unchanged) == 2, report.summary()  # 304s
    assert {p: site.hits[p] for p in bodies_before} == {p: n + 1 for p, n in bodies_before.items()}  # asked once each
    site.put("/bus.html", page("Bus Listrik Bandung", "Wali Kota Bandung Ridwan Kamil meresmikan tiga puluh bus listrik baru."))
    report = tanya.articles.index([rss])
    assert len(report.updated) == 1 and report.documents == 3, report.summary()  # same URL, new text: replaced
    assert "tiga puluh" in tanya.ask("Berapa bus listrik yang diresmikan Ridwan Kamil?").reply
    served = (tmp_path / "index" / "CURRENT").read_text()
    report = tanya.articles.index([rss])  # nothing new: no build at all
    assert (tmp_path / "index" / "CURRENT").read_text() == served and report.documents == 3


def test_a_story_under_two_urls_is_kept_once_and_sitemaps_and_redirects_work(site: Site, tmp_path: Path) -> None:
    canonical = site.url + "/bus.html"
    site.put("/bus.html", page("Bus Listrik Bandung", "Wali Kota Bandung Ridwan Kamil meresmikan bus listrik.", canonical))
    site.put("/amp/bus.html", page("Bus Listrik Bandung", "Wali Kota Bandung Ridwan Kamil meresmikan bus listrik.", canonical))
    site.put("/kereta.html", KERETA)
    site.put("/old-kereta", b"/kereta.html", status=301)
    sitemap = site.put(
        "/sitemap.xml",
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.url}/bus.html</loc></url><url><loc>{site.url}/amp/bus.html</loc></url>"
            f"<url><loc>{site.url}/old-kereta</loc></url></urlset>"
        ).encode(),
        "application/xml",
    )
    tanya = _tanya(tmp_path)
    report = tanya.articles.index([sitemap])
    sources = sorted(f["source"] for f in tanya.articles.files())
    assert sources == [site.url + "/bus.html", site.url + "/kereta.html"], (sources, report.summary())


def test_failures_say_why_and_change_nothing(site: Site, tmp_path: Path) -> None:
    site.put("/bus.html", BUS)
    tanya = _tanya(tmp_path, max_file_mb=2.0)
    tanya.articles.index([site.url + "/bus.html"])
    served = (tmp_path / "index" / "CURRENT").read_text()
    site.put("/broken", b"oops", status=500)
    site.put("/bad.xml", b'<?xml version="1.0"?><rss><channel><item><title>x</ti', "application/rss+xml")
    site.put("/loop", b"/loop", status=302)
    cases = {
        site.url + "/broken": "HTTP 500",
        site.url + "/slow": "no answer within 1.5 s",
        site.url + "/bad.xml": "not a feed",
        site.url + "/huge": "larger than 2 MB",
        site.url + "/loop": "more than 5 redirects",
        "http://169.254.169.254/latest/meta-data/": "link-local, metadata",
        "file:///etc/passwd": "only http and https",
        "ftp://127.0.0.1/x": "only http and https",
    }
    for url, reason in cases.items():
        with pytest.raises(NothingToIndex, match=reason):
            tanya.articles.index([url])
    assert (tmp_path / "index" / "CURRENT").read_text() == served
    assert len(tanya.articles.files()) == 1


def test_a_feed_cannot_point_into_the_servers_network(site: Site, tmp_path: Path) -> None:
    rss = site.put(
        "/feed.xml",
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
            "<item><title>meta</title><link>http://169.254.169.254/latest/meta-data/iam</link></item>"
            "<item><title>file</title><link>file:///etc/passwd</link></item>"
            f"<item><title>bus</title><link>{site.url}/bus.html</link></item></channel></rss>"
        ).encode(),
        "application/rss+xml",
    )
    site.put("/bus.html", BUS)
    report = _tanya(tmp_path).articles.index([rss])
    reasons = {s.path: s.reason for s in report.skipped}
    assert "link-local, metadata" in reasons["http://169.254.169.254/latest/meta-data/iam"]
    # a file: link is refused, or dropped by the feed parser (which keeps only web schemes): never read
    assert "only http and https" in reasons.get("file:///etc/passwd", "only http and https")
    indexed = Tanya(settings_for(tmp_path / "index"))
    assert report.documents == 1 and all(
        "root:" not in (indexed.articles.document_text(f["doc_id"]) or "") for f in indexed.articles.files()
    )
    strict = Tanya(settings_for(tmp_path / "strict", fetch_timeout=1.5))  # the default: loopback refused
    with pytest.raises(NothingToIndex, match="loopback or private address"):
        strict.articles.index([site.url + "/bus.html"])
    assert site.hits.get("/bus.html", 0) == 1  # the strict run did not fetch it


def test_robots_txt_is_honoured(site: Site, tmp_path: Path) -> None:
    site.put("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
    site.put("/private/bus.html", BUS)
    with pytest.raises(NothingToIndex, match="robots.txt"):
        _tanya(tmp_path).articles.index([site.url + "/private/bus.html"])
    assert "/private/bus.html" not in site.hits


def test_index_a_feed_from_the_command_line(site: Site, tmp_path: Path) -> None:
    site.put("/bus.html", BUS)
    rss = site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus")]), "application/rss+xml")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QA_ALLOW_PRIVATE_URLS": "1"}

    def run(*a: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "qa", *a, "--index-dir", str(tmp_path / "index")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = run("index", rss, "--quiet")
    assert done.returncode == 0, done.stderr
    asked = json.loads(run("ask", "Siapa yang meresmikan bus listrik di Bandung?", "--json").stdout)
    assert "Ridwan Kamil" in asked["answer"] and asked["citations"][0]["source"] == site.url + "/bus.html"
