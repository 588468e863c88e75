"""A collection's remembered sources — feeds, article URLs and folders — and keeping them current.

    python -m qa source add https://example.org/feed.xml [--collection NAME]
    python -m qa source add /srv/articles/incoming
    python -m qa source list | remove SOURCE | fetch
    python -m qa watch [--every 15m]          # feeds polled, folders looked at every 2 s

The list lives in the collection's index folder (`sources.json`, written atomically) with each source's
last fetch: when, how many articles were added, and the error if it failed. `Watcher` is what
`qa watch` and the server (`QA_WATCH=15m`) run: a folder that changed is indexed at once (its new and
changed files, and its deleted files' articles dropped), and feeds and URLs are fetched again every
period; a feed's update adds and replaces, it never drops what the feed no longer lists (news stays).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import write_atomic
from .web import is_url

SOURCES = "sources.json"


def parse_every(text: str) -> float:
    """Seconds in "90s", "15m", "2h" (a bare number is minutes)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not found or float(found.group(1)) <= 0:
        raise InputError(f"'{text}' is not a period: say 90s, 15m or 2h")
    return float(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "": 60}[found.group(2)]


class Sources:
    """The sources remembered in one index folder."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / SOURCES

    def all(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return []
        return [s for s in data if isinstance(s, dict) and isinstance(s.get("source"), str)] if isinstance(data, list) else []

    def add(self, source: str) -> dict[str, Any]:
        """Remember a feed/URL (http or https) or a folder on this machine."""
        if is_url(source):
            if not source.lower().startswith(("http://", "https://")):
                raise InputError(f"{source}: only http and https URLs are fetched")
            entry = {"source": source, "kind": "url"}
        else:
            folder = Path(source).expanduser().resolve()
            if not folder.is_dir():
                raise InputError(f"{source}: not a folder (a source is a feed or article URL, or a folder)")
            entry = {"source": str(folder), "kind": "folder"}
        listed = self.all()
        if any(s["source"] == entry["source"] for s in listed):
            raise InputError(f"{entry['source']} is already a source")
        entry["added"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._save([*listed, entry])
        return entry

    def remove(self, source: str) -> None:
        listed = self.all()
        keep = [s for s in listed if s["source"] not in (source, str(Path(source).expanduser().resolve()))]
        if len(keep) == len(listed):
            raise InputError(f"{source} is not a source (python -m qa source list)")
        self._save(keep)

    def record(self, sources: list[str], at: str, added: int, errors: dict[str, str]) -> None:
        """Note the outcome of one update of these sources: the articles it added or changed (all of
        them together), and each source's own error."""
        listed = self.all()
        for s in listed:
            if s["source"] in sources:
                failed = errors.get(s["source"])
                s["last"] = {"at": at, "added": 0 if failed else added, "error": failed}
        self._save(listed)

    def _save(self, listed: list[dict[str, Any]]) -> None:

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(listed, indent=1, ensure_ascii=False))


def _signature(folder: Path) -> tuple:
    """What changes when a file in the folder is added, changed or removed (names, sizes, times)."""
    try:
        return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()))
    except OSError:
        return ()


@dataclass
class Watcher:
    """Keeps a collection's sources current: `update(paths)` is called with the folders that changed
    (looked at every `look` seconds) and with every feed/URL each `every` seconds."""

    sources: Sources
    update: Callable[[list[str]], Any]
    every: float
    look: float = 2.0
    log: Callable[[str], None] = print
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        seen: dict[str, tuple] = {}
        next_fetch = 0.0
        while not self._stop.is_set():
            listed = self.sources.all()
            changed = []
            for s in listed:
                if s["kind"] == "folder":
                    signature = _signature(Path(s["source"]))
                    if seen.get(s["source"]) != signature:
                        seen[s["source"]] = signature
                        changed.append(s["source"])
            urls = [s["source"] for s in listed if s["kind"] == "url"]
            if time.monotonic() >= next_fetch:
                next_fetch = time.monotonic() + self.every
                changed += urls
            if changed:
                self._update(changed)
            self._stop.wait(self.look)

    def update_now(self, changed: list[str]) -> Any:
        """One update of these sources now, recorded like the watcher's; returns its report (or raises)."""
        from ..errors import EXPECTED_ERRORS

        at = time.strftime("%Y-%m-%dT%H:%M:%S")
        try:
            report = self.update(changed)
        except EXPECTED_ERRORS as exc:
            self.sources.record(changed, at, 0, {c: str(exc) for c in changed})
            raise
        errors = {s.path: s.reason for s in report.skipped if s.path in changed}
        self.sources.record(changed, at, len(report.added) + len(report.updated), errors)
        return report

    def _update(self, changed: list[str]) -> None:
        from ..errors import EXPECTED_ERRORS

        at = time.strftime("%Y-%m-%dT%H:%M:%S")
        try:
            report = self.update_now(changed)
        except EXPECTED_ERRORS as exc:  # said and recorded, and the watcher goes on (a bug stops it, with its traceback)
            self.log(f"{at} {', '.join(changed)}: {exc}")
            return
        self.log(f"{at} {', '.join(changed)}: {report.summary()}")

    def stop(self) -> None:
        self._stop.set()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True, name="tanya-watch")
        thread.start()
        return thread
