"""Articles from the web: article URLs, RSS/Atom feeds and XML sitemaps, fetched safely into records
that the index reads like any article file.

    python -m qa index https://example.org/feed.xml https://example.org/2016/09/jack-ma.html

Each article becomes `index_dir/web/<hash of its canonical URL>.json` ({"title", "text", "url", "date",
"source"}; what each URL answered last, for conditional requests, is in `index_dir/web-fetched.json`), so the build reads, embeds and updates it like a file: an unchanged article (the server
answers 304 to a conditional request, or the text is the same) costs nothing; a changed one (same URL,
new text) replaces its old version; the same story under two URLs (the page's canonical link, or the
same text) is kept once. Citations name the article by its URL.

Fetching never becomes a way into the server's network: only http(s); every host is resolved and each
of its addresses must be public — loopback and private ones only with `allow_private_urls`
(QA_ALLOW_PRIVATE_URLS, for a feed on your own network), link-local and metadata ones never — and this
is checked again on every redirect (at most 5); robots.txt is honoured; each request has a timeout;
a response is read up to `max_file_mb` and no further; requests to one host are spaced a second apart.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
import time
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..errors import FetchFailed, FetchRefused, TanyaError
from ..files import write_atomic
from ..records import Skipped
from ..text import normalise

AGENT = "TanyaBot/0.1 (+https://github.com/tanya-qa; article indexing)"
MAX_REDIRECTS = 5
HOST_INTERVAL = 1.0  # seconds between two requests to the same host
MAX_FEED_ITEMS = 500  # articles taken from one feed or sitemap


def is_url(value: object) -> bool:
    """Whether a source names a URL (any scheme: `file://` or `ftp://` are URLs too, and refused)."""
    return isinstance(value, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) is not None


@dataclass
class Response:
    url: str  # after redirects
    status: int
    content_type: str
    body: bytes
    etag: str | None
    last_modified: str | None


class Fetcher:
    """One run's HTTP client: safe addresses, bounded redirects, sizes and times, robots.txt, politeness."""

    def __init__(self, timeout: float, max_bytes: int, allow_private: bool) -> None:
        import httpx

        self.timeout, self.max_bytes, self.allow_private = timeout, max_bytes, allow_private
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": AGENT}, trust_env=False)
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}

    def close(self) -> None:
        self.client.close()

    def check(self, url: str) -> None:
        """FetchRefused unless `url` is http(s) on a host whose every address may be fetched."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"{url}: only http and https URLs are fetched")
        try:
            infos = socket.getaddrinfo(
                parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchFailed(f"{url}: the host {parts.hostname} cannot be resolved ({exc})") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
                raise FetchRefused(f"{url}: {parts.hostname} is a link-local, metadata or reserved address; not fetched")
            if not address.is_global and not self.allow_private:
                raise FetchRefused(
                    f"{url}: {parts.hostname} is a loopback or private address; not fetched (QA_ALLOW_PRIVATE_URLS=1 allows it)"
                )

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None, robots: bool = True) -> Response:
        """GET with the checks above; a 304 to a conditional request comes back as status 304, no body."""
        import httpx

        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _ in range(MAX_REDIRECTS + 1):
            self.check(url)
            if robots and not self._robots_allow(url):
                raise FetchRefused(f"{url}: the site's robots.txt does not allow it")
            self._wait_turn(url)
            try:
                with self.client.stream("GET", url, headers=headers) as response:
                    if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code == 304:
                        return Response(url, 304, "", b"", etag, last_modified)
                    if response.status_code >= 400:
                        raise FetchFailed(f"{url}: the server answered HTTP {response.status_code}")
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body += piece
                        if len(body) > self.max_bytes:
                            raise FetchFailed(f"{url}: larger than {self.max_bytes / 1048576:g} MB (QA_MAX_FILE_MB); not read")
                    return Response(
                        str(url),
                        response.status_code,
                        response.headers.get("content-type", ""),
                        bytes(body),
                        response.headers.get("etag"),
                        response.headers.get("last-modified"),
                    )
            except httpx.TimeoutException:
                raise FetchFailed(f"{url}: no answer within {self.timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from None
        raise FetchFailed(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).netloc
        wait = self._last.get(host, 0.0) + HOST_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last[host] = time.monotonic()

    def _robots_allow(self, url: str) -> bool:
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            parser: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser()
            try:
                found = self.get(root + "/robots.txt", robots=False)
                assert parser is not None
                parser.parse(found.body.decode("utf-8", "replace").splitlines())
            except (FetchFailed, FetchRefused):
                parser = None  # no robots.txt (or none readable): everything is allowed
            self._robots[root] = parser
        parser = self._robots[root]
        return parser is None or parser.can_fetch(AGENT, url)


@dataclass
class Entry:
    """An article to fetch, with what a feed said of it."""

    url: str
    title: str | None = None
    date: str | None = None


def entries_of(response: Response) -> list[Entry] | None:
    """The articles a feed or sitemap lists, or None when the response is a page (an article)."""
    head = response.body[:2048].lstrip().lower()
    kind = response.content_type.lower()
    looks_xml = head.startswith(b"<?xml") or any(t in head for t in (b"<rss", b"<feed", b"<urlset", b"<sitemapindex", b"<rdf"))
    if not looks_xml and "xml" not in kind and "rss" not in kind and "atom" not in kind:
        return None
    if b"<urlset" in head or b"<sitemapindex" in head:
        return _sitemap(response)
    import feedparser

    feed: Any = feedparser.parse(response.body)
    items = [
        Entry(urljoin(response.url, e.get("link")), e.get("title"), e.get("published") or e.get("updated"))
        for e in feed.entries
        if e.get("link")
    ]
    if not items:
        reason = f" ({feed.bozo_exception})" if feed.get("bozo") else ""
        raise FetchFailed(f"{response.url}: not a feed, sitemap or article Tanya can read{reason}")
    return items[:MAX_FEED_ITEMS]


def _sitemap(response: Response) -> list[Entry]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(response.body)
    except ET.ParseError as exc:
        raise FetchFailed(f"{response.url}: the sitemap is not well-formed XML ({exc})") from None
    out = []
    for node in root.iter():
        if node.tag.endswith("}url") or node.tag == "url":
            loc = next((c.text for c in node if c.tag.endswith("loc") and c.text), None)
            date = next((c.text for c in node if c.tag.endswith("lastmod") and c.text), None)
            if loc:
                out.append(Entry(urljoin(response.url, loc.strip()), None, date))
    return out[:MAX_FEED_ITEMS]


def article_record(response: Response, entry: Entry) -> dict[str, Any]:
    """The article a page holds (trafilatura: text, title, date, canonical URL), as the record the index reads."""
    import trafilatura

    html = response.body.decode("utf-8", "replace")
    extracted = trafilatura.extract(html, output_format="json", with_metadata=True, include_comments=False, url=response.url)
    record = json.loads(extracted) if extracted else {}
    text = normalise(record.get("text") or "")
    if not text:
        raise FetchFailed(f"{response.url}: no article text on the page")
    canonical = record.get("url") if str(record.get("url") or "").startswith(("http://", "https://")) else None
    url = canonical or response.url
    return {
        "title": (record.get("title") or entry.title or "").strip() or None,
        "text": text,
        "url": url,
        "source": url,
        "date": record.get("date") or entry.date,
    }


class WebSources:
    """The web articles of one collection: `index_dir/web/`, with what each URL answered last time."""

    def __init__(self, index_dir: Path, timeout: float, max_bytes: int, allow_private: bool) -> None:
        self.folder = Path(index_dir) / "web"
        self.timeout, self.max_bytes, self.allow_private = timeout, max_bytes, allow_private

    def fetcher_check(self, url: str) -> None:
        """FetchRefused (or FetchFailed) now, before a URL is remembered, if it could never be fetched."""
        fetcher = Fetcher(self.timeout, self.max_bytes, self.allow_private)
        try:
            fetcher.check(url)
        finally:
            fetcher.close()

    def _state_file(self) -> Path:
        return self.folder.parent / "web-fetched.json"  # beside the folder: the build reads every file in it

    def _state(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads(self._state_file().read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return {}

    def fetch(self, urls: Iterable[str]) -> tuple[int, int, list[Skipped]]:
        """Fetch the URLs (articles, feeds, sitemaps) into the folder; returns (articles kept — new,
        changed or unchanged —, of them new or changed, what was skipped and why). Nothing is written
        for a URL that fails."""

        self.folder.mkdir(parents=True, exist_ok=True)
        state, skipped, kept, changed = self._state(), [], 0, 0
        fetcher = Fetcher(self.timeout, self.max_bytes, self.allow_private)
        texts = {v.get("sha"): k for k, v in state.items() if v.get("sha")}
        try:
            for url in urls:
                try:
                    first = fetcher.get(url, *_conditional(state.get(url)))
                    listed = entries_of(first) if first.status != 304 else None
                except TanyaError as exc:
                    skipped.append(Skipped(url, _reason(url, exc)))
                    continue
                pages = [(Entry(url), first)] if listed is None else [(e, None) for e in listed]
                for entry, response in pages:
                    try:
                        new = self._keep(fetcher, entry, response, state, texts)
                        kept, changed = kept + 1, changed + new
                    except TanyaError as exc:
                        skipped.append(Skipped(entry.url, _reason(entry.url, exc)))
        finally:
            fetcher.close()
            write_atomic(self._state_file(), json.dumps(state, indent=1, ensure_ascii=False))
        return kept, changed, skipped

    def _keep(self, fetcher: Fetcher, entry: Entry, response: Response | None, state: dict, texts: dict) -> int:
        """Fetch one article (unless its page came with the URL) and write its record; 1 when it is new
        or changed, 0 when it is as it was (FetchFailed when it cannot be kept)."""

        known = state.get(entry.url)
        if response is None:
            response = fetcher.get(entry.url, *_conditional(known))
        if response.status == 304 and known and (self.folder / known["file"]).is_file():
            return 0  # unchanged: not read again
        record = article_record(response, entry)
        sha = hashlib.sha256(record["text"].encode("utf-8")).hexdigest()
        same = texts.get(sha)
        if same is not None and same != entry.url and state.get(same, {}).get("file") != _file_for(str(record["url"])):
            raise FetchFailed(f"the same article as {same}; kept once")
        name = _file_for(str(record["url"]))  # the canonical URL names it: two URLs of one story share the file
        if known and known.get("sha") == sha and known.get("file") == name and (self.folder / name).is_file():
            known.update(etag=response.etag, last_modified=response.last_modified)
            return 0  # fetched again (no conditional support), the same text
        write_atomic(self.folder / name, json.dumps(record, ensure_ascii=False))
        state[entry.url] = {
            "file": name,
            "etag": response.etag,
            "last_modified": response.last_modified,
            "sha": sha,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        texts[sha] = entry.url
        return 1


def _reason(url: str, exc: Exception) -> str:
    """An error's message without the URL it starts with (a Skipped names the URL itself)."""
    return str(exc).removeprefix(f"{url}: ")


def _conditional(known: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) of what a URL answered last time, for a conditional request."""
    return (known.get("etag"), known.get("last_modified")) if known else (None, None)


def _file_for(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:20] + ".json"
