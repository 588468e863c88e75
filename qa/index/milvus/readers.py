"""What a question reads from one published version on Milvus: its dense vectors, its BM25 terms and
its passage and article records, each as the view of a generation sees them; the rows a search
brought back are kept for the next reads of the same question (`Found`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np

from ...dates import iso
from ...records import Chunk, Document, FileRecord
from ..base import HashSource, KeywordSearch, Passages, VectorStore
from .connection import Connection
from .rows import View, literal

PAGE = 16_000  # rows per query (Milvus returns at most 16,384)

_CHUNK_FIELDS = ["row", "chunk_id", "doc_id", "source", "title", "paragraph", "start", "end", "text", "page", "date"]
_FOUND_FIELDS = [*_CHUNK_FIELDS, "dense"]


class Found:
    """The passage rows a snapshot's searches returned (fields and vector), so that the passages and
    vectors a question needs next cost no further round trip; bounded, and only ever for one version's
    rows, which never change."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def keep(self, hits: list[dict[str, Any]]) -> None:
        with self._lock:
            if len(self.rows) > self.LIMIT:
                self.rows.clear()
            for hit in hits:
                self.rows[int(hit["entity"]["row"])] = hit["entity"]

    def take(self, rows: Sequence[int]) -> tuple[dict[int, dict[str, Any]], list[int]]:
        """The rows known here, and those that are not."""
        with self._lock:
            known = {r: self.rows[r] for r in rows if r in self.rows}
        return known, [r for r in rows if r not in known]


class MilvusVectors(VectorStore):
    """Dense search and stored vectors of one version's chunks collection, as `view` sees it."""

    def __init__(self, milvus: Connection, version: str, dim: int, count: int, view: View, found: Found) -> None:
        self.milvus, self.collection, self._dim, self._count, self.view = milvus, f"{version}__chunks", dim, count, view
        self.found = found

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, max(self._count, 1))
        results = self.milvus.search(
            self.collection, np.asarray(queries, np.float32).tolist(), "dense", k, self.view.where(), _FOUND_FIELDS
        )
        for hits in results:
            self.found.keep(hits)
        scores = np.full((len(results), k), -np.inf, np.float32)
        rows = np.full((len(results), k), -1, np.int64)
        for i, hits in enumerate(results):
            for j, hit in enumerate(hits[:k]):
                scores[i, j], rows[i, j] = hit["distance"], hit["entity"]["row"]
        return scores, rows

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        known, missing = self.found.take(rows)
        found = {r: e["dense"] for r, e in known.items()}
        if missing:
            found.update(
                {r["row"]: r["dense"] for r in self.milvus.query(self.collection, f"row in {literal(missing)}", ["row", "dense"])}
            )
        return np.asarray([found[r] for r in rows], np.float32).reshape(len(rows), self._dim)


class MilvusKeywords(KeywordSearch):
    """BM25 as the inner product of each passage's saturated term frequencies and the question's terms'
    idf, from the document frequencies in `terms` (current after every update)."""

    WHOLE = 200_000  # a vocabulary up to this many terms is read whole on the first question (no lookup per question)

    def __init__(self, milvus: Connection, version: str, num_docs: int, view: View, found: Found, terms_made: int) -> None:
        self.milvus, self.version, self.num_docs, self.view, self.found = milvus, version, num_docs, view, found
        self._terms: dict[str, tuple[int, int] | None] = {}
        self._lock = threading.Lock()
        self._whole = 0 < terms_made <= self.WHOLE
        self._terms_made = terms_made
        self._complete = False  # every term of the version is in `_terms`

    def _read_whole(self) -> None:
        """Every term of the version (ids are below `terms_made`), a page of ids at a time."""
        read: dict[str, tuple[int, int] | None] = {}
        for start in range(0, self._terms_made, PAGE):
            rows = self.milvus.query(
                f"{self.version}__terms", f"id >= {start} and id < {start + PAGE}", ["term", "id", "df"], limit=PAGE
            )
            read.update({r["term"]: (int(r["id"]), int(r["df"])) for r in rows})
        with self._lock:
            self._terms.update(read)
            self._complete = True

    def _lookup(self, wanted: Sequence[str]) -> dict[str, tuple[int, int] | None]:
        if self._whole and not self._complete:
            self._read_whole()
        if self._complete:
            with self._lock:
                return {t: self._terms.get(t) for t in wanted}
        with self._lock:
            missing = [t for t in dict.fromkeys(wanted) if t not in self._terms]
        if missing:
            found = {
                r["term"]: (int(r["id"]), int(r["df"]))
                for r in self.milvus.query(f"{self.version}__terms", f"term in {literal(missing)}", ["term", "id", "df"])
            }
            with self._lock:
                if len(self._terms) > self.WHOLE:
                    self._terms.clear()
                self._terms.update({t: found.get(t) for t in missing})
        with self._lock:
            return {t: self._terms.get(t) for t in wanted}

    def _idf(self, df: int) -> float:
        return float(np.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def idf(self, term: str) -> float:
        found = self._lookup([term])[term]
        return self._idf(found[1] if found else 0)

    def search(self, query_terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        known = {v[0]: self._idf(v[1]) for v in self._lookup(query_terms).values() if v is not None}
        if not known:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = {i: known[i] for i in sorted(known)}
        hits = self.milvus.search(
            f"{self.version}__chunks", [query], "sparse", min(k, max(self.num_docs, 1)), self.view.where(), _FOUND_FIELDS
        )[0]
        hits = [h for h in hits if h["distance"] > 0]
        self.found.keep(hits)
        return np.asarray([h["distance"] for h in hits], np.float32), np.asarray([h["entity"]["row"] for h in hits], np.int64)


_DOC_FIELDS = ["doc_id", "seq", "source", "title", "sha256", "chunks", "added_at", "date", "url", "page_starts"]


class MilvusTable(Passages):
    """The chunk and document records of one version (what `ChunkTable` gives for the embedded store)."""

    path = None  # not a file

    def __init__(self, milvus: Connection, version: str, manifest: dict[str, Any], view: View, found: Found) -> None:
        self.milvus, self.version, self.manifest, self.view, self.found = milvus, version, manifest, view, found

    def close(self) -> None:
        pass

    def count(self) -> int:
        return int(self.manifest["chunks"])

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return {}
        known, missing = self.found.take(rows)
        found = list(known.values())
        if missing:
            found += self.milvus.query(f"{self.version}__chunks", f"row in {literal(missing)}", _CHUNK_FIELDS)
        return {
            r["row"]: Chunk(
                r["chunk_id"],
                r["doc_id"],
                r["source"],
                r["title"],
                r["paragraph"],
                r["start"],
                r["end"],
                r["text"],
                None if r["page"] < 0 else r["page"],
                iso(r["date"]) if r["date"] else None,
            )
            for r in found
        }

    def rows_dated(self, since: str | None, until: str | None) -> list[int]:
        # dates are stored as YYYY-MM-DD (older builds: maybe with a time after it, which sorts before "~")
        clauses = (
            ['date != ""'] + [f"date >= {json.dumps(since)}"] * bool(since) + [f"date <= {json.dumps(f'{until}~')}"] * bool(until)
        )
        docs = [
            r["doc_id"] for r in self.milvus.query(f"{self.version}__docs", self.view.where(" and ".join(clauses)), ["doc_id"])
        ]
        rows: list[int] = []
        for at in range(0, len(docs), 1000):
            part = docs[at : at + 1000]
            rows += [
                r["row"]
                for r in self.milvus.query(f"{self.version}__chunks", self.view.where(f"doc_id in {literal(part)}"), ["row"])
            ]
        return sorted(rows)

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for at in range(0, len(hashes), 1000):
            part = list(hashes[at : at + 1000])
            for r in self.milvus.query(
                f"{self.version}__chunks", self.view.where(f"text_hash in {literal(part)}"), ["row", "text_hash"]
            ):
                found.setdefault(r["text_hash"], r["row"])
        return found

    def _docs(self) -> Iterator[dict[str, Any]]:
        """Document records in indexing order, a page at a time."""
        start, end = 0, int(self.manifest.get("next_seq", self.manifest["documents"]))
        while start < end:
            where = self.view.where(f"seq >= {start} and seq < {start + PAGE}")
            yield from sorted(self.milvus.query(f"{self.version}__docs", where, _DOC_FIELDS), key=lambda r: r["seq"])
            start += PAGE

    def _record(self, r: dict[str, Any]) -> FileRecord:
        out = {k: r[k] for k in ("doc_id", "source", "title", "sha256", "chunks", "added_at")}
        out.update({k: r[k] for k in ("date", "url") if r[k]})
        return cast(FileRecord, out)

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[FileRecord]:
        records = [self._record(r) for r in self._docs()]
        if query:
            records = [r for r in records if query.lower() in f"{r['title']} {r['source']}".lower()]
        if newest_first:
            records = [r for _, r in sorted(enumerate(records), key=lambda p: (p[1]["added_at"], p[0]), reverse=True)]
        return records[:limit] if limit is not None else records

    def document_text(self, doc_id: str) -> str | None:
        parts = self.milvus.query(f"{self.version}__texts", self.view.where(f"doc_id == {json.dumps(doc_id)}"), ["part", "text"])
        return "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"])) if parts else None

    def documents(self) -> Iterator[Document]:
        """Every article with its text, in indexing order (texts fetched for 200 articles at a time)."""
        records = self._docs()
        while page := [r for _, r in zip(range(200), records)]:
            parts: dict[str, list[tuple[int, str]]] = {}
            for p in self.milvus.query(
                f"{self.version}__texts",
                self.view.where(f"doc_id in {literal([r['doc_id'] for r in page])}"),
                ["doc_id", "part", "text"],
                limit=PAGE,
            ):
                parts.setdefault(p["doc_id"], []).append((p["part"], p["text"]))
            for r in page:
                text = "".join(t for _, t in sorted(parts.get(r["doc_id"], [])))
                yield Document(
                    r["doc_id"],
                    r["source"],
                    r["title"],
                    text,
                    r["sha256"],
                    r["date"] or None,
                    r["url"] or None,
                    page_starts=tuple(json.loads(r["page_starts"] or "[]")),
                )

    def _one(self, doc_id: str) -> dict[str, Any] | None:
        found = self.milvus.query(f"{self.version}__docs", self.view.where(f"doc_id == {json.dumps(doc_id)}"), _DOC_FIELDS)
        return found[0] if found else None

    def has_document(self, doc_id: str) -> bool:
        return self._one(doc_id) is not None

    def document_record(self, doc_id: str) -> tuple[str, str] | None:
        r = self._one(doc_id)
        return (r["sha256"], r["added_at"]) if r else None

    def doc_ids(self) -> Iterator[str]:
        for r in self._docs():
            yield r["doc_id"]

    def hash_source(self) -> HashSource | None:
        return None  # the hashes live in Milvus, not in a file SQLite can read
