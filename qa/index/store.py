"""The index on disk: vectors (FAISS), chunk records (SQLite), manifest (JSON); the keyword index
(bm25s) is in `keywords.py`.

Layout of an index directory::

    index/
      CURRENT                 name of the version being served (replaced atomically)
      v-<time>-<rand>/
        manifest.json         model, dimension, chunking, vector index type, counts, build time
        vectors.faiss         FAISS inner-product index over unit vectors (row i = chunk row i)
        chunks.sqlite         chunk records and documents (hash, date added, text); nothing here is ever unpickled
        keyword/              bm25s sparse matrices (.npy, loaded memory-mapped) and vocabulary (.json)

A new build is written into a fresh version directory and switched to by replacing CURRENT,
so a half-written build is never served.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .keywords import KeywordIndex
from ..records import Chunk, Document

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.sqlite"
KEYWORD = "keyword"


class IndexProblem(RuntimeError):
    """Base of index problems; the message names the file and the fix."""


class IndexMissing(IndexProblem):
    """No index has been built in this directory yet."""


class IndexCorrupt(IndexProblem):
    """An index file is missing, truncated or inconsistent."""


class IndexMismatch(IndexProblem):
    """The index was built with another model than the one configured."""


# --- vectors -----------------------------------------------------------------------------


class VectorStore(ABC):
    """Nearest-neighbour search over unit vectors; row ids are 0..n-1 in insertion order."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each of shape (len(queries), k); missing results have row -1."""

    @abstractmethod
    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows`."""


class FaissVectorStore(VectorStore):
    """Inner-product search with FAISS over unit vectors (cosine similarity).

    Up to `exact_max` vectors: exact search (`IndexFlatIP`). Beyond: an inverted file with 8-bit
    scalar quantisation (`IVF{nlist},SQ8`, a quarter of the memory), whose `nprobe` is chosen at build
    time as the smallest that keeps recall@10 against exact search ≥ `target_recall` on a sample.
    """

    def __init__(self, index: Any, info: dict[str, Any] | None = None) -> None:
        self.index = index
        self.info = info or {"type": "IndexFlatIP"}
        if "nprobe" in self.info:
            index.nprobe = int(self.info["nprobe"])

    @classmethod
    def build(
        cls, vectors: "np.ndarray | VectorFile", exact_max: int = 50_000, target_recall: float = 0.95, seed: int = 0
    ) -> "FaissVectorStore":
        """A new index holding `vectors` (unit float32 rows, in memory or in a build's VectorFile), its
        kind chosen by their number. Rows are added in blocks, so a VectorFile is never read whole."""
        import faiss

        rows = vectors if isinstance(vectors, VectorFile) else _ArrayRows(np.ascontiguousarray(vectors, dtype=np.float32))
        n, dim = len(rows), rows.dim
        if n <= exact_max:
            index = faiss.IndexFlatIP(dim)
            for block in rows.blocks():
                index.add(block)
            return cls(index)
        nlist = int(4 * np.sqrt(n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        index.train(rows.take(rng.choice(n, size=min(n, 32 * nlist), replace=False)))
        for block in rows.blocks():
            index.add(block)
        index.make_direct_map()  # lets `vectors(rows)` reconstruct (approximately: 8 bits a dimension)
        nprobe, recall = _calibrate_nprobe(index, rows, target_recall, rng)
        return cls(index, {"type": f"IVF{nlist},SQ8", "nprobe": nprobe, "recall@10": round(recall, 4)})

    @classmethod
    def load(cls, path: Path, info: dict[str, Any] | None = None) -> "FaissVectorStore":
        """Read an index written by `save`; `info` is what the manifest recorded about it."""
        import faiss

        return cls(faiss.read_index(str(path)), info)

    def save(self, path: Path) -> None:
        """Write the index to `path`."""
        import faiss

        faiss.write_index(self.index, str(path))

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self))
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self.index.reconstruct(int(r)) for r in rows])


def _calibrate_nprobe(index: Any, rows: "VectorFile | _ArrayRows", target: float, rng: np.random.Generator) -> tuple[int, float]:
    """Smallest nprobe (at least 32) whose recall@10 against exact search reaches `target`, on 200 stored
    vectors moved away from themselves a little further than a real question is from its passage (cosine ≈ 0.7)."""
    sample = rows.take(rng.choice(len(rows), size=min(200, len(rows)), replace=False))
    sigma = 1.0 / np.sqrt(rows.dim)
    queries = sample + rng.normal(0, sigma, sample.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = _exact_top(rows, queries, 10)
    recall = 0.0
    # a floor of 32 lists costs well under a millisecond and guards against easy calibration queries
    for nprobe in (32, 64, 128, 256, 512, 1024):
        index.nprobe = nprobe
        _, found = index.search(queries, 10)
        recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
        # a margin: on FacQA questions recall came out ~0.02 below this calibration's
        if recall >= min(0.99, target + 0.03):
            return nprobe, recall
    return index.nprobe, recall


def _exact_top(vectors: "np.ndarray | VectorFile | _ArrayRows", queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k rows by inner product, block by block so memory stays bounded."""
    import faiss

    rows = _ArrayRows(vectors) if isinstance(vectors, np.ndarray) else vectors
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    best_scores = np.full((len(queries), k), -np.inf, np.float32)
    best_rows = np.full((len(queries), k), -1, np.int64)
    at = 0
    for block in rows.blocks():
        scores, found = faiss.knn(queries, np.ascontiguousarray(block), min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
        cand_scores = np.concatenate([best_scores, scores], axis=1)
        cand_rows = np.concatenate([best_rows, found + at], axis=1)
        order = np.argsort(-cand_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(cand_scores, order, 1)
        best_rows = np.take_along_axis(cand_rows, order, 1)
        at += len(block)
    return best_rows


class VectorFile:
    """A build's float32 vectors, appended in row order to a scratch file and read back in blocks,
    so that no build holds every vector of the collection in memory."""

    BLOCK = 16_384  # 24 MB of 384-dimension vectors

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self._count = path, dim, 0
        self._fh = open(path, "w+b")

    def append(self, vectors: np.ndarray) -> None:
        """Add the vectors of the next rows."""
        self._fh.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        self._count += len(vectors)

    def __len__(self) -> int:
        return self._count

    def blocks(self) -> Iterator[np.ndarray]:
        """All rows, `BLOCK` at a time, in order."""
        self._fh.flush()
        for at in range(0, self._count, self.BLOCK):
            n = min(self.BLOCK, self._count - at)
            yield np.fromfile(self.path, np.float32, count=n * self.dim, offset=at * self.dim * 4).reshape(n, self.dim)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of `rows` (read one by one: a sample, not the collection)."""
        self._fh.flush()
        size = self.dim * 4
        out = np.empty((len(rows), self.dim), np.float32)
        for i, r in enumerate(rows):
            out[i] = np.frombuffer(os.pread(self._fh.fileno(), size, int(r) * size), np.float32)
        return out

    def delete(self) -> None:
        """Close and remove the file."""
        self._fh.close()
        self.path.unlink(missing_ok=True)


class _ArrayRows:
    """Vectors already in memory, seen through VectorFile's reading methods."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.dim = vectors, vectors.shape[1]

    def __len__(self) -> int:
        return len(self.vectors)

    def blocks(self) -> Iterator[np.ndarray]:
        for at in range(0, len(self.vectors), VectorFile.BLOCK):
            yield self.vectors[at : at + VectorFile.BLOCK]

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows]


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


class ChunkTable:
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
        _fsync(self.path)

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
            (doc.doc_id, doc.source, doc.title, doc.sha256, chunks, added_at, doc.text, doc.date, doc.url,
             json.dumps(list(doc.page_starts)) if doc.page_starts else None),
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
            found = self._db.execute(f"SELECT row, {_CHUNK_COLUMNS} FROM chunks WHERE row IN ({marks})", rows).fetchall()
        return {r[0]: Chunk(*r[1:]) for r in found}

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
        for row in _streamed(self._db.execute("SELECT doc_id, source, title, text, sha256, date, url, page_starts FROM documents ORDER BY rowid")):
            yield Document(*row[:7], page_starts=tuple(json.loads(row[7])) if row[7] else ())

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
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
        return [{k: v for k, v in zip(_FILE_COLUMNS, row) if v is not None or k not in ("date", "url")} for row in found]

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
            return self._db.execute("SELECT text, text_hash FROM chunks WHERE row >= ? AND row < ? ORDER BY row", (start, stop)).fetchall()

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        """Content hash → a row with that text, for those of `hashes` stored here."""
        found: dict[str, int] = {}
        with self._lock:
            for part, marks in _in_parts(hashes):
                found.update(self._db.execute(f"SELECT text_hash, row FROM chunks WHERE text_hash IN ({marks})", part))
        return found

    def count_new_texts(self, known: Sequence[tuple[Path, str, str]]) -> int:
        """How many distinct chunk texts have a hash found in none of `known`: (SQLite file, table, hash column)."""
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


# --- vectors of an unfinished build ------------------------------------------------------


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


# --- one version of the index ------------------------------------------------------------


@dataclass
class Snapshot:
    """One complete, loaded index version (its parts: the embedded store's, or a backend's with the
    same methods, e.g. qa/milvus_store.py)."""

    path: Path
    manifest: dict[str, Any]
    vectors: VectorStore
    keywords: KeywordIndex
    table: ChunkTable

    def close(self) -> None:
        """Release the database handle."""
        self.table.close()


def new_version_dir(index_dir: Path) -> Path:
    """A fresh, empty directory for a build, beside the served versions."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def write_snapshot_files(path: Path, manifest: dict[str, Any], vectors: FaissVectorStore) -> None:
    """Write the vector index beside the files already in `path` (chunk table, keyword index), sync
    every file of the version to disk, then write the manifest last (its presence marks a whole build)."""
    vectors.save(path / VECTORS)
    for file in path.rglob("*"):
        if file.is_file():
            _fsync(file)
    _write_atomic(path / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))


def publish(index_dir: Path, version: Path) -> None:
    """Make `version` the served index (atomic), then delete versions no longer served."""
    _write_atomic(index_dir / CURRENT, version.name + "\n")
    for old in index_dir.glob("v-*"):
        if old.is_dir() and old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)


def current_version(index_dir: Path) -> Path | None:
    """The served version directory, or None when nothing was built yet."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    return index_dir / pointer.read_text(encoding="utf-8").strip()


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the served version."""
    version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}: build one with `python -m qa index`")
    path = version / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["model"]["name"], int(manifest["model"]["dim"]), int(manifest["chunks"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} is missing or damaged ({exc}); rebuild with `python -m qa index --rebuild`") from None
    return manifest


def load_snapshot(index_dir: Path, model: str | None = None) -> Snapshot:
    """Load the served version, checking it is whole and (if `model` is given) built with that model."""
    manifest = read_manifest(index_dir)
    version = current_version(index_dir)
    assert version is not None
    fix = "rebuild with `python -m qa index --rebuild`"
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index in {index_dir} has format {manifest.get('format')}, this version of Tanya reads format "
            f"{FORMAT_VERSION}; {fix}"
        )
    if model is not None and manifest["model"]["name"] != model:
        raise IndexMismatch(
            f"the index in {index_dir} was built with model '{manifest['model']['name']}', "
            f"but the configured model is '{model}'; set QA_MODEL={manifest['model']['name']} "
            f"or {fix} to re-embed with '{model}'"
        )
    try:
        vectors = FaissVectorStore.load(version / VECTORS, manifest.get("vectors"))
    except Exception as exc:
        raise IndexCorrupt(f"{version / VECTORS} cannot be read ({exc}); {fix}") from None
    if vectors.dim != int(manifest["model"]["dim"]) or len(vectors) != int(manifest["chunks"]):
        raise IndexCorrupt(
            f"{version / VECTORS} holds {len(vectors)} vectors of dimension {vectors.dim}, the manifest says "
            f"{manifest['chunks']} of dimension {manifest['model']['dim']}; {fix}"
        )
    try:
        keywords = KeywordIndex.load(version / KEYWORD)
        table = ChunkTable(version / CHUNKS)
        count = table.count()
    except Exception as exc:
        raise IndexCorrupt(f"{version} has a damaged keyword index or chunk table ({exc}); {fix}") from None
    if count != len(vectors):
        table.close()
        raise IndexCorrupt(f"{version / CHUNKS} holds {count} chunks but {len(vectors)} vectors; {fix}")
    return Snapshot(version, manifest, vectors, keywords, table)


class IndexBackend(ABC):
    """Where built index versions are served from. A build is always staged in a local version
    directory (chunk table, keyword index, vectors) and then handed to `publish`."""

    shared = False  # several servers read and write it (then a build keeps articles it did not read)

    @abstractmethod
    def served(self) -> Path | None:
        """The name of the served version (changes when a build publishes), or None."""

    @abstractmethod
    def load(self, model: str | None = None) -> Snapshot:
        """The served version, checked (and built with `model`, if given)."""

    @abstractmethod
    def publish(self, version: Path, manifest: dict[str, Any], vectors: "VectorFile", exact_max: int) -> dict[str, Any]:
        """Make the staged `version` the served one, atomically; returns the manifest as written."""

    def previous_table(self) -> ChunkTable | None:
        """The served version's document records whatever its model (what a build added or changed)."""
        try:
            return self.load().table
        except IndexProblem:
            return None

    def size_bytes(self) -> int:
        return 0


class LocalBackend(IndexBackend):
    """The embedded store: versions under the index directory, FAISS + bm25s + SQLite."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)

    def served(self) -> Path | None:
        return current_version(self.index_dir)

    def load(self, model: str | None = None) -> Snapshot:
        return load_snapshot(self.index_dir, model)

    def publish(self, version: Path, manifest: dict[str, Any], vectors: "VectorFile", exact_max: int) -> dict[str, Any]:
        store = FaissVectorStore.build(vectors, exact_max=exact_max)
        manifest = {**manifest, "vectors": {**store.info, "metric": "inner_product"}}
        write_snapshot_files(version, manifest, store)
        publish(self.index_dir, version)
        return manifest

    def previous_table(self) -> ChunkTable | None:
        version = current_version(self.index_dir)
        if version is None or not (version / CHUNKS).is_file():
            return None
        table = ChunkTable(version / CHUNKS)
        try:
            table.document_record("")  # a table this version cannot read is no guide
            return table
        except sqlite3.Error:
            table.close()
            return None

    def size_bytes(self) -> int:
        version = current_version(self.index_dir)
        return sum(f.stat().st_size for f in version.rglob("*") if f.is_file()) if version else 0


def backend_for(settings: Any) -> IndexBackend:
    """The backend `settings.store` names: "local" (default) or "milvus" (QA_MILVUS_URI)."""
    if settings.store == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend.connect(settings.milvus_uri, settings.milvus_token, settings.milvus_collection)
    if settings.store not in ("local", ""):
        raise ValueError(f"QA_STORE={settings.store!r}: use local or milvus")
    return LocalBackend(Path(settings.index_dir))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
