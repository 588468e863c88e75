"""What readers thought of the answers: every answer the server gives (page or API) is recorded with an
id, and a reader may rate it 👍 / 👎 (with a reason and a comment), change the rating, or withdraw it.

    store = FeedbackStore(path)                      # SQLite, beside the users file by default
    ident = store.record(Given(user, answer, said, collections, via="page"))
    store.rate(ident, user, Rating("down", "should_not_answer", "the article says nothing of it"))
    store.rate(ident, user, None)                    # withdrawn
    store.answers(["default"], since="2026-12-01")   # for a collection's editors (qa/server/quality.py)

An answer belongs to the user who was given it: rating another user's answer, or one that does not
exist, is `FeedbackNotFound` (the API's 404), the same for both, so ids cannot be probed. Anything that
keeps the store from reading or writing (a damaged file, a full disk, a folder it may not write) is
`FeedbackUnavailable`: the answer is still shown, only the rating says it was not saved.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, MachineError, TanyaError
from ..records import Answer

RATINGS = ("up", "down")
REASONS = ("wrong_answer", "wrong_citation", "should_answer", "should_not_answer", "other")
MAX_COMMENT = 2000
MAX_KEPT_TURNS = 20  # the conversation before an answer, as kept with it

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    at TEXT NOT NULL,              -- UTC, ISO 8601
    via TEXT NOT NULL,             -- page | api
    question TEXT NOT NULL,        -- as asked
    understood TEXT NOT NULL,      -- as understood (a follow-up made whole)
    conversation TEXT NOT NULL,    -- JSON: the messages before it
    reply TEXT NOT NULL,
    answer TEXT NOT NULL,          -- the short answer ('' when it said "not in the articles")
    abstained INTEGER NOT NULL,
    confidence REAL,
    label TEXT NOT NULL,
    language TEXT NOT NULL,
    mode TEXT NOT NULL,
    citations TEXT NOT NULL,       -- JSON, as the API gives them
    version TEXT NOT NULL          -- JSON: Tanya's, the reader's, and each collection's index version
);
CREATE TABLE IF NOT EXISTS answer_collections (
    answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    PRIMARY KEY (answer_id, collection)
);
CREATE INDEX IF NOT EXISTS answer_collections_by_name ON answer_collections(collection, answer_id);
CREATE INDEX IF NOT EXISTS answers_by_user ON answers(user, at);
CREATE TABLE IF NOT EXISTS ratings (
    answer_id TEXT PRIMARY KEY REFERENCES answers(id) ON DELETE CASCADE,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL,
    comment TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class FeedbackError(TanyaError):
    """Base of what the feedback store refuses."""


class FeedbackNotFound(FeedbackError, LookupError):
    """No answer with this id was given to this user."""


class FeedbackInvalid(FeedbackError, InputError):
    """A rating that cannot be taken as it is (unknown rating or reason, a comment too long)."""


class FeedbackUnavailable(FeedbackError, MachineError):
    """The store cannot be read or written; answers go on, ratings are not saved."""


@dataclass(frozen=True)
class Rating:
    """A reader's verdict on one answer: `up` or `down`; with `down`, a reason (REASONS, or "" when
    none was given); any comment."""

    rating: str
    reason: str = ""
    comment: str = ""

    def checked(self) -> "Rating":
        """The rating as stored, or FeedbackInvalid saying what is wrong with it."""
        if self.rating not in RATINGS:
            raise FeedbackInvalid(f"rating must be one of {', '.join(RATINGS)} (or null to withdraw it)")
        if not isinstance(self.reason, str) or (self.reason and self.reason not in REASONS):
            raise FeedbackInvalid(f"reason must be one of {', '.join(REASONS)}")
        if not isinstance(self.comment, str):
            raise FeedbackInvalid("comment must be text")
        if len(self.comment) > MAX_COMMENT:
            raise FeedbackInvalid(f"the comment is longer than {MAX_COMMENT:,} characters")
        return Rating(self.rating, self.reason if self.rating == "down" else "", self.comment.strip())


@dataclass(frozen=True)
class Given:
    """An answer as it was given: to whom, after which conversation, over which collections, by which
    versions of Tanya, its reader and the collections' indexes."""

    user: str
    answer: Answer
    conversation: list[dict[str, str]] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    versions: dict[str, Any] = field(default_factory=dict)
    via: str = "page"


@dataclass(frozen=True)
class Rated:
    """A recorded answer with its rating (None when unrated), as the quality view and the export read it."""

    id: str
    user: str
    at: str
    via: str
    question: str
    understood: str
    conversation: list[dict[str, str]]
    reply: str
    answer: str
    abstained: bool
    confidence: float | None
    label: str
    language: str
    citations: list[dict[str, Any]]
    collections: list[str]
    version: dict[str, Any]
    rating: Rating | None
    rated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "rating"}
        out["rating"] = self.rating.rating if self.rating else None
        out["reason"] = self.rating.reason if self.rating else None
        out["comment"] = self.rating.comment if self.rating else None
        return out


class FeedbackStore:
    """Answers given and their ratings, in one SQLite file (WAL: several app servers on one machine
    may share it; servers on several machines each keep their own, see docs/page.md)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None  # one, opened on first use, shared under the lock

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """The store's connection, in one transaction; FeedbackUnavailable when it cannot be used (then
        the next call opens it again: the file may have been mended or replaced)."""
        try:
            with self._lock:
                if self._connection is None:
                    self._connection = self._open()
                try:
                    with self._connection:
                        yield self._connection
                except sqlite3.DatabaseError:
                    self._close()
                    raise
        except (sqlite3.DatabaseError, OSError) as exc:  # damaged, locked for too long, full, not writable
            raise FeedbackUnavailable(f"the feedback store {self.path} cannot be used: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)  # used by one thread at a time (the lock)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            # with WAL, a commit is not synced to disk (the last few may be lost with the power, never
            # corrupted): recording an answer costs ~0.3 ms instead of a disk sync (BENCHMARKS.md)
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- writing -------------------------------------------------------------------------------------
    def record(self, given: Given, ident: str = "") -> str:
        """Keep an answer as it was given, under `ident` (default: a new one, see `new_id`); returns
        its id, what a rating names."""
        a = given.answer
        ident = ident or new_id()
        row = (
            ident,
            given.user or "",
            _now(),
            given.via,
            a.asked or a.question,
            a.question,
            json.dumps(given.conversation[-MAX_KEPT_TURNS:], ensure_ascii=False),
            a.reply,
            "" if a.abstained else a.text,
            int(a.abstained),
            a.confidence,
            a.label or "",
            a.language or "",
            a.mode or "",
            json.dumps([c.to_json() for c in a.citations], ensure_ascii=False),
            json.dumps(given.versions, ensure_ascii=False, sort_keys=True),
        )
        with self._db() as db:
            db.execute(f"INSERT INTO answers VALUES ({', '.join('?' * len(row))})", row)
            db.executemany("INSERT OR IGNORE INTO answer_collections VALUES (?, ?)", [(ident, c) for c in given.collections])
        return ident

    def rate(self, answer_id: str, user: str, rating: Rating | None) -> Rating | None:
        """Rate an answer given to `user` (None withdraws the rating); returns the rating as stored."""
        checked = rating.checked() if rating is not None else None
        with self._db() as db:
            if not self._owned(db, answer_id, user):
                raise FeedbackNotFound(f"no answer {str(answer_id)[:80]!r} was given to you")
            if checked is None:
                db.execute("DELETE FROM ratings WHERE answer_id = ?", (answer_id,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?)",
                    (answer_id, checked.rating, checked.reason, checked.comment, _now()),
                )
        return checked

    # -- reading -------------------------------------------------------------------------------------
    def rating(self, answer_id: str, user: str) -> Rated:
        """One answer given to `user`, with its rating (FeedbackNotFound otherwise)."""
        with self._db() as db:
            rows = self._select(db, "a.id = ? AND a.user = ?", (str(answer_id), user or ""))
        if not rows:
            raise FeedbackNotFound(f"no answer {str(answer_id)[:80]!r} was given to you")
        return rows[0]

    def mine(self, user: str, rated_only: bool = True, limit: int = 500) -> list[Rated]:
        """The answers given to `user` (those rated, by default), newest first."""
        where = "a.user = ?" + (" AND r.rating IS NOT NULL" if rated_only else "")
        with self._db() as db:
            return self._select(db, where, (user or "",), limit)

    def answers(self, collections: list[str], since: str = "", limit: int = 100_000) -> list[Rated]:
        """The answers drawn from any of `collections` (given since the day `since`, if any), newest first."""
        if not collections:
            return []
        marks = ", ".join("?" * len(collections))
        where = f"a.id IN (SELECT answer_id FROM answer_collections WHERE collection IN ({marks}))"
        params: tuple[Any, ...] = tuple(collections)
        if since:
            where += " AND a.at >= ?"
            params += (since,)
        with self._db() as db:
            return self._select(db, where, params, limit)

    @staticmethod
    def _owned(db: sqlite3.Connection, answer_id: Any, user: str) -> bool:
        if not isinstance(answer_id, str) or len(answer_id) > 100:
            return False
        row = db.execute("SELECT 1 FROM answers WHERE id = ? AND user = ?", (answer_id, user or "")).fetchone()
        return row is not None

    @staticmethod
    def _select(db: sqlite3.Connection, where: str, params: tuple[Any, ...], limit: int = 100_000) -> list[Rated]:
        rows = db.execute(
            "SELECT a.*, r.rating, r.reason, r.comment, r.at, "
            "(SELECT json_group_array(collection) FROM answer_collections c WHERE c.answer_id = a.id) "
            f"FROM answers a LEFT JOIN ratings r ON r.answer_id = a.id WHERE {where} ORDER BY a.at DESC, a.rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_rated(row) for row in rows]


def _rated(row: tuple) -> Rated:
    (ident, user, at, via, question, understood, conversation, reply, answer, abstained, confidence, label, language,
     _mode, citations, version, rating, reason, comment, rated_at, collections) = row  # fmt: skip
    return Rated(
        id=ident,
        user=user,
        at=at,
        via=via,
        question=question,
        understood=understood,
        conversation=json.loads(conversation),
        reply=reply,
        answer=answer,
        abstained=bool(abstained),
        confidence=confidence,
        label=label,
        language=language,
        citations=json.loads(citations),
        collections=sorted(json.loads(collections or "[]")),
        version=json.loads(version),
        rating=Rating(rating, reason or "", comment or "") if rating else None,
        rated_at=rated_at or "",
    )


def new_id() -> str:
    """An answer's id: unguessable, so that knowing one says nothing of another."""
    return "ans-" + uuid.uuid4().hex


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def feedback_path(users_file: Path | str, configured: Path | str = "") -> Path:
    """Where the store lives: `configured` (QA_FEEDBACK_FILE), else beside the users file."""
    return Path(configured) if str(configured) else Path(users_file).with_name("feedback.sqlite3")
