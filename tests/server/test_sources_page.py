"""Sources from the page, over HTTP against a real server: editors add feed addresses, fetch them and
remove them; readers may not; nothing but a web address is taken from the page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import BUS, SEEDS, Site, feed, serve_app
from test_collections import Session
from test_security import PASSWORDS, _qa

pytestmark = pytest.mark.slow  # a server of its own


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("newsroom")
    users = str(tmp / "users.json")
    _qa("user", "add", "alice", "--role", "editor", "--users-file", users, stdin=PASSWORDS["alice"] + "\n")
    _qa("user", "add", "bob", "--role", "reader", "--users-file", users, stdin=PASSWORDS["bob"] + "\n")
    key = _qa("user", "key", "alice", "--users-file", users)
    site = Site()
    with serve_app(tmp, SEEDS, QA_ALLOW_PRIVATE_URLS="1", QA_FETCH_TIMEOUT="2") as url:
        yield {"url": url, "tmp": tmp, "site": site, "key": key}
    site.server.shutdown()


def test_editors_add_fetch_and_remove_feeds(newsroom: dict) -> None:
    site: Site = newsroom["site"]
    site.put("/bus.html", BUS)
    rss = site.put("/feed.xml", feed(site.url, [("/bus.html", "Bus")]), "application/rss+xml")
    alice = Session(newsroom["url"], "alice")
    message, listed = alice.result("/add_source", [rss, "default"])
    assert "Added" in message and rss in listed.replace("\\", "") and "never fetched" in listed
    fetched = alice.result("/fetch_sources", ["default"])
    assert "Index updated" in fetched[0] and "1 new or changed" in fetched[4], fetched
    asked = httpx.post(
        newsroom["url"] + "v1/ask",
        json={"question": "Siapa yang meresmikan bus listrik di Bandung?"},
        headers={"Authorization": f"Bearer {newsroom['key']}"},
        timeout=60,
    ).json()
    assert "Ridwan Kamil" in asked["answer"] and asked["citations"][0]["source"] == site.url + "/bus.html"
    assert "updated" in alice.result("/collection", ["default"])[1]  # readers see when it was last fetched
    for refused in ("file:///etc/passwd", str(newsroom["tmp"]), "http://169.254.169.254/latest/"):
        message = alice.result("/add_source", [refused, "default"])[0]
        assert "Nothing changed" in message, (refused, message)
    message, listed = alice.result("/remove_source", [rss, "default"])
    assert "Removed" in message and listed == "No sources yet."


def test_readers_may_not_touch_sources(newsroom: dict) -> None:
    bob = Session(newsroom["url"], "bob")
    site: Site = newsroom["site"]
    for name, data in (
        ("/add_source", [site.url + "/feed.xml", "default"]),
        ("/remove_source", ["x", "default"]),
        ("/fetch_sources", ["default"]),
    ):
        assert bob.result(name, data)[0] == "**Refused:** you may not change that collection."
    assert bob.result("/source_list", ["default"])[0] == ""
