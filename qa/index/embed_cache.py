"""Vectors embedded by a build that has not been published yet (so a killed build resumes)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import HashSource
from .chunks import _in_parts


class EmbeddingCache:
    """Vectors embedded by a build that has not been published yet, by chunk-text hash, so that a
    build killed half-way resumes where it stopped instead of embedding everything again."""

    FILE = ".embed-cache.sqlite"

    def __init__(self, index_dir: Path, model: str, dim: int, fresh: bool = False) -> None:
        self.path = index_dir / self.FILE
        self.dim = dim
        if fresh:
            self.path.unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (model TEXT, dim INTEGER)")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        meta = self._db.execute("SELECT model, dim FROM meta").fetchone()
        if meta != (model, dim):  # vectors of another model are of no use
            self._db.execute("DELETE FROM vectors")
            self._db.execute("DELETE FROM meta")
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (model, dim))
        self._db.commit()
        # vectors up to this rowid were there before this build: those are resumed, later ones its own
        self._before = int(self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM vectors").fetchone()[0])

    def hash_source(self) -> HashSource:
        """Where the cached vectors' text hashes can be read by SQLite."""
        return HashSource(self.path, "vectors", "hash")

    def get(self, hashes: Sequence[str], earlier_only: bool = False) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` (only those cached before this build began: `earlier_only`)."""
        found: dict[str, np.ndarray] = {}
        limit = self._before if earlier_only else -1
        for part, marks in _in_parts(hashes):
            sql = f"SELECT hash, vector FROM vectors WHERE hash IN ({marks}) AND (? < 0 OR rowid <= ?)"
            for h, blob in self._db.execute(sql, [*part, limit, limit]):
                found[h] = np.frombuffer(blob, dtype=np.float32, count=self.dim)
        return found

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Keep a batch of new vectors (committed at once: a kill loses at most the batch in flight)."""
        rows = [(h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors)]
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        self._db.commit()

    def clear(self) -> None:
        """Forget everything (after the build that needed it has been published)."""
        self._db.close()
        self.path.unlink(missing_ok=True)
