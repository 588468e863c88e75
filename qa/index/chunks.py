"""Passages and articles of one embedded-store version, in SQLite (nothing here is ever unpickled)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from ..dates import iso
from ..records import Chunk, Document, FileRecord
from .base import HashSource, Passages, fsync_file

# --- chunk records -----------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE chunks (
  row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL, source TEXT NOT NULL,
  title TEXT NOT NULL, paragraph INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
  text TEXT NOT NULL, page INTEGER, text_hash TEXT NOT NULL
);
CREATE TABLE documents (
  doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, sha256 TEXT NOT NULL,
  chunks INTEGER NOT NULL, added_at TEXT NOT NULL, text TEXT NOT NULL, date TEXT, url TEXT, page_starts TEXT
);
CREATE INDEX documents_sha ON documents(sha256);
"""
# made once every chunk is in: building an index at the end is faster than keeping it up on each insert
_CHUNK_INDEXES = """
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_hash ON chunks(text_hash);
"""
_FILE_COLUMNS = ("doc_id", "source", "title", "sha256", "chunks", "added_at", "date", "url")
_CHUNK_COLUMNS = 'chunk_id, doc_id, source, title, paragraph, start, "end", text, page'
_JOINED_COLUMNS = ", ".join(f"c.{c.strip()}" for c in _CHUNK_COLUMNS.split(","))


class ChunkTable(Passages):
    """Chunk records by row (the FAISS id), and the documents they came from, in SQLite."""

    def __init__(self, path: Path, writable: bool = False) -> None:
        self.path = path
        uri = f"file:{path}" + ("" if writable else "?mode=ro")
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path) -> "ChunkTable":
        """A new, empty table file, filled by a build and sealed by `seal`."""
        table = cls(path, writable=True)
        # a build's own new file, thrown away whole if the build fails: no journal needed, and it is
        # synced to disk once, by `seal`, before the version can be published
        table._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;" + _SCHEMA)
        return table

    def seal(self) -> None:
        """Index the chunk columns, commit, close, and sync the file to disk."""
        self._db.executescript(_CHUNK_INDEXES)
        self._db.commit()
        self._db.close()
        fsync_file(self.path)

    def add_chunks(self, rows: Sequence[int], chunks: Sequence[Chunk], hashes: Sequence[str]) -> None:
        """Store chunks under their rows."""
        self._db.executemany(
            f"INSERT INTO chunks (row, {_CHUNK_COLUMNS}, text_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (r, c.chunk_id, c.doc_id, c.source, c.title, c.paragraph, c.start, c.end, c.text, c.page, h)
                for r, c, h in zip(rows, chunks, hashes)
            ],
        )

    def add_document(self, doc: Document, chunks: int, added_at: str) -> None:
        """Store one document's record and full text (for showing the whole article)."""
        self._db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                doc.doc_id,
                doc.source,
                doc.title,
                doc.sha256,
                chunks,
                added_at,
                doc.text,
                doc.date,
                doc.url,
                json.dumps(list(doc.page_starts)) if doc.page_starts else None,
            ),
        )

    def commit(self) -> None:
        """Flush to disk."""
        self._db.commit()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """Chunks by row."""
        rows = [int(r) for r in rows]
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        with self._lock:
            found = self._db.execute(
                f"SELECT c.row, {_JOINED_COLUMNS}, d.date FROM chunks c LEFT JOIN documents d ON d.doc_id = c.doc_id"
                f" WHERE c.row IN ({marks})",
                rows,
            ).fetchall()
        return {r[0]: Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], iso(r[10])) for r in found}

    def rows_dated(self, since: str | None, until: str | None) -> list[int]:
        """The rows of passages whose article was published in since..until (YYYY-MM-DD, inclusive;
        None: open), in row order. Undated articles are in no range."""
        sql = "SELECT c.row FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE d.date IS NOT NULL"
        args = []
        if since:
            sql += " AND substr(d.date, 1, 10) >= ?"
            args.append(since)
        if until:
            sql += " AND substr(d.date, 1, 10) <= ?"
            args.append(until)
        with self._lock:
            return [r[0] for r in self._db.execute(sql + " ORDER BY c.row", args)]

    def count(self) -> int:
        """Number of chunks."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def document_text(self, doc_id: str) -> str | None:
        """The full normalised text of a document (chunk offsets point into it)."""
        with self._lock:
            row = self._db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def documents(self) -> Iterator[Document]:
        """Every stored document, in the order they were indexed (read a few at a time)."""
        for row in _streamed(
            self._db.execute("SELECT doc_id, source, title, text, sha256, date, url, page_starts FROM documents ORDER BY rowid")
        ):
            doc_id, source, title, text, sha256, date, url, starts = row
            yield Document(
                doc_id, source, title, text, sha256, date, url, page_starts=tuple(json.loads(starts)) if starts else ()
            )

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[FileRecord]:
        """Records of the indexed articles (doc_id, source, title, sha256, chunks, added_at, date, url),
        those whose title or file contains `query`, in indexing order or newest first."""
        sql = f"SELECT {', '.join(_FILE_COLUMNS)} FROM documents"
        args: list[Any] = []
        if query:
            sql += " WHERE instr(lower(title || ' ' || source), ?) > 0"
            args.append(query.lower())
        sql += " ORDER BY added_at DESC, rowid DESC" if newest_first else " ORDER BY rowid"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            found = self._db.execute(sql, args).fetchall()
        return [
            cast(FileRecord, {k: v for k, v in zip(_FILE_COLUMNS, row) if v is not None or k not in ("date", "url")})
            for row in found
        ]

    def has_document(self, doc_id: str) -> bool:
        """Whether a document has this id."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone() is not None

    def document_record(self, doc_id: str) -> tuple[str, str] | None:
        """(sha256, added_at) of a document, or None."""
        with self._lock:
            return self._db.execute("SELECT sha256, added_at FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()

    def source_with_sha(self, sha256: str) -> str | None:
        """The file of a document with this content hash, if one is stored."""
        with self._lock:
            row = self._db.execute("SELECT source FROM documents WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        return row[0] if row else None

    def doc_ids(self) -> Iterator[str]:
        """Every document id, in indexing order (read a few at a time)."""
        for row in _streamed(self._db.execute("SELECT doc_id FROM documents ORDER BY rowid")):
            yield row[0]

    def passages(self, start: int, stop: int) -> list[tuple[str, str]]:
        """(text, text hash) of rows start..stop-1, in row order."""
        with self._lock:
            return self._db.execute(
                "SELECT text, text_hash FROM chunks WHERE row >= ? AND row < ? ORDER BY row", (start, stop)
            ).fetchall()

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        """Content hash → a row with that text, for those of `hashes` stored here."""
        found: dict[str, int] = {}
        with self._lock:
            for part, marks in _in_parts(hashes):
                found.update(self._db.execute(f"SELECT text_hash, row FROM chunks WHERE text_hash IN ({marks})", part))
        return found

    def hash_source(self) -> HashSource:
        return HashSource(self.path, "chunks", "text_hash")

    def count_new_texts(self, known: Sequence[HashSource]) -> int:
        """How many distinct chunk texts have a hash found in none of `known`: (SQLite file, table, hash
        column), as each owner gives its own with `hash_source()`."""
        with self._lock:
            clauses = []
            for n, (path, table, column) in enumerate(known):
                self._db.execute(f"ATTACH DATABASE ? AS known{n}", (f"file:{path}?mode=ro",))
                clauses.append(f"text_hash NOT IN (SELECT {column} FROM known{n}.{table})")
            try:
                where = " WHERE " + " AND ".join(clauses) if clauses else ""
                return int(self._db.execute(f"SELECT COUNT(DISTINCT text_hash) FROM chunks{where}").fetchone()[0])
            finally:
                for n in range(len(known)):
                    self._db.execute(f"DETACH DATABASE known{n}")


def text_hash(text: str) -> str:
    """What a passage's text is known by (a build reuses the vector of a text it has seen)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _streamed(cursor: sqlite3.Cursor, size: int = 512) -> Iterator[tuple]:
    """The rows of a query, fetched a few hundred at a time rather than all at once."""
    while batch := cursor.fetchmany(size):
        yield from batch


def _in_parts(keys: Sequence[str], size: int = 500) -> Iterator[tuple[list[str], str]]:
    """Distinct `keys` in parts small enough for one `IN (…)` (SQLite caps a query's parameters),
    each with its placeholders."""
    unique = list(dict.fromkeys(keys))
    for at in range(0, len(unique), size):
        part = unique[at : at + size]
        yield part, ",".join("?" * len(part))
