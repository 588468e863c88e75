"""What a Milvus row holds: the row layouts of passages, articles, article texts and the vocabulary,
and the filter of a published generation (`View`). Read and written by the backend
(backend.py) and by updates in place (update.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ...records import Chunk, Document
from ...text import terms
from ..keywords import K1, B
from .connection import Connection

PART = 16_000  # characters of article text per row of `texts`
BATCH = 1000  # rows per insert
LAYOUT = 3  # docs rows name their passages' rows (2: rows carry their generation, our split BM25; 1: copied whole)


def literal(values: Sequence[Any]) -> str:
    """A list for a Milvus filter expression (strings JSON-quoted)."""
    return json.dumps([v if isinstance(v, str) else int(v) for v in values], ensure_ascii=False)


@dataclass(frozen=True)
class View:
    """The rows of a version a reader sees: those of generations up to `gen`, but not the older rows of
    the articles that generation `superseded` (changed or removed; deleted soon after the switch)."""

    gen: int = 0
    superseded: tuple[str, ...] = ()

    def where(self, extra: str = "") -> str:
        """A filter expression for rows with `gen` and `doc_id` fields (and `extra`)."""
        clauses = [f"gen <= {self.gen}"]
        if self.superseded:
            clauses.append(f"not (doc_id in {literal(list(self.superseded))} and gen < {self.gen})")
        if extra:
            clauses.append(f"({extra})")
        return " and ".join(clauses)


def saturated(passage_terms: Sequence[str], avgdl: float) -> dict[str, float]:
    """Each term's saturated frequency in a passage (bm25s's Lucene tf part, without the idf)."""
    counts: dict[str, int] = {}
    for t in passage_terms:
        counts[t] = counts.get(t, 0) + 1
    norm = K1 * (1 - B + B * len(passage_terms) / max(avgdl, 1e-9))
    return {t: tf / (tf + norm) for t, tf in counts.items()}


def chunk_row(
    row: int, gen: int, c: Chunk, text_hash: str, vector: Any, weights: dict[int, float], date: str | None
) -> dict[str, Any]:
    """A passage's row in `chunks` (`weights`: term id → saturated frequency; `date`: its article's)."""
    return {
        "row": row,
        "gen": gen,
        "chunk_id": c.chunk_id,
        "doc_id": c.doc_id,
        "source": c.source,
        "title": c.title,
        "paragraph": c.paragraph,
        "start": c.start,
        "end": c.end,
        "page": -1 if c.page is None else c.page,
        "text": c.text,
        "text_hash": text_hash,
        "date": date or "",
        "dense": np.asarray(vector, np.float32).tolist(),
        "sparse": weights or {0: 0.0},
    }


def doc_row(doc: Document, gen: int, seq: int, rows: Sequence[int], added_at: str) -> dict[str, Any]:
    """An article's row in `docs` (`rows`: its passages')."""
    return {
        "key": f"{doc.doc_id}#{gen}",
        "doc_id": doc.doc_id,
        "gen": gen,
        "seq": seq,
        "source": doc.source,
        "title": doc.title,
        "sha256": doc.sha256,
        "chunks": len(rows),
        "added_at": added_at,
        "date": doc.date or "",
        "url": doc.url or "",
        "page_starts": json.dumps(list(doc.page_starts)),
        "rows": row_ranges(rows),
        "v": [0.0, 0.0],
    }


def row_ranges(rows: Sequence[int]) -> str:
    """Rows as ranges, "40-52,97-99" (end excluded): an article's passages are mostly one range."""
    parts: list[str] = []
    start = end = None
    for r in sorted(rows):
        if r != end:
            if start is not None:
                parts.append(f"{start}-{end}")
            start = r
        end = r + 1
    if start is not None:
        parts.append(f"{start}-{end}")
    return ",".join(parts)


def ranged_rows(text: str) -> list[int]:
    """The rows `row_ranges` wrote."""
    return [r for part in text.split(",") if part for a, b in [part.split("-")] for r in range(int(a), int(b))]


class DocRecord(NamedTuple):
    """What an update needs of an article Milvus holds."""

    sha256: str
    added_at: str
    rows: list[int]


def text_rows(doc: Document, gen: int) -> list[dict[str, Any]]:
    """An article's text in `texts`, in parts of PART characters."""
    return [
        {
            "key": f"{doc.doc_id}#{gen}#{part}",
            "doc_id": doc.doc_id,
            "gen": gen,
            "part": part,
            "text": doc.text[part * PART : (part + 1) * PART],
            "v": [0.0, 0.0],
        }
        for part in range(max(1, -(-len(doc.text) // PART)))
    ]


class Vocabulary:
    """Term ids and document-frequency changes while rows are written: known ids from `terms`, new terms
    numbered from `next_id` (`milvus` None: a new version, whose every term is new)."""

    def __init__(self, milvus: Connection | None, stamp: str, next_id: int, avgdl: float) -> None:
        self.milvus, self.stamp, self.next_id, self.avgdl = milvus, stamp, next_id, avgdl
        self.ids: dict[str, int] = {}
        self.new: set[str] = set()
        self.df: dict[str, int] = {}

    def weights(self, text: str, sign: int = 1) -> dict[int, float]:
        """A passage's sparse vector (term ids looked up or made); its terms counted in `df` (`sign` −1: a
        passage going)."""
        passage_terms = [t for t in terms(text) if len(t.encode("utf-8")) <= 1024]
        tfs = saturated(passage_terms, self.avgdl)
        self._known(list(tfs))
        for t in tfs:
            self.df[t] = self.df.get(t, 0) + sign
        return {self.ids[t]: w for t, w in tfs.items()}

    def _known(self, wanted: list[str]) -> None:
        missing = [t for t in wanted if t not in self.ids]
        if not missing:
            return
        for at in range(0, len(missing), BATCH):
            part = missing[at : at + BATCH]
            rows = self.milvus.query(f"{self.stamp}__terms", f"term in {literal(part)}", ["term", "id"]) if self.milvus else []
            self.ids.update({r["term"]: int(r["id"]) for r in rows})
        for t in missing:
            if t not in self.ids:
                self.ids[t], self.next_id = self.next_id, self.next_id + 1
                self.new.add(t)
