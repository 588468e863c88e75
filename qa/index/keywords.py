"""Keyword search: BM25 over chunk terms, stored as bm25s's sparse matrices and loaded memory-mapped.

`KeywordIndexWriter` builds that index one chunk at a time in bounded memory (term occurrences go
to sorted run files on disk and are merged term range by term range), giving the same scores as
`bm25s.BM25().index(...)` without ever holding the tokenised collection.
"""

from __future__ import annotations

import json
import math
import shutil
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from .base import KeywordSearch

# bm25s's defaults ("lucene" BM25), which the retrieval reranker was trained on
K1, B = 1.5, 0.75
_FILES = {"data": "data.csc.index.npy", "indices": "indices.csc.index.npy", "indptr": "indptr.csc.index.npy"}


class KeywordIndex(KeywordSearch):
    """BM25 over pre-tokenised chunk terms (bm25s sparse matrices)."""

    def __init__(self, bm25: Any) -> None:
        self.bm25 = bm25

    @classmethod
    def load(cls, path: Path) -> "KeywordIndex":
        """Read an index written by `KeywordIndexWriter`; the matrices are memory-mapped."""
        import bm25s

        return cls(bm25s.BM25.load(str(path), mmap=True))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (BM25's); an unknown term gets the highest."""
        n = int(self.bm25.scores["num_docs"])
        column = self.bm25.vocab_dict.get(term)
        indptr = self.bm25.scores["indptr"]
        df = int(indptr[column + 1] - indptr[column]) if column is not None and column + 1 < len(indptr) else 0
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def search(self, query_terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the best `k` chunks with a positive score, best first."""
        if not query_terms:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = self.bm25.get_scores(query_terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top], top


class KeywordIndexWriter:
    """Builds a `KeywordIndex` on disk from one chunk's terms at a time.

    Memory: the vocabulary, 4 bytes per chunk (its length) and one buffer of `buffer` term
    occurrences; everything else waits in run files under `scratch` until `finish`."""

    def __init__(self, scratch: Path, buffer: int = 2_000_000) -> None:
        self.scratch = scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.buffer = buffer
        self.vocab: dict[str, int] = {}
        self._lengths = array("i")  # terms per chunk, chunk row = position
        self._pending = array("i")  # term ids of the chunks since the last spill, in row order
        self._pending_from = 0  # row of the first chunk in _pending
        self._df = np.zeros(0, np.int64)
        self._runs: list[Path] = []

    def add(self, chunk_terms: list[str]) -> None:
        """The terms of the next chunk row."""
        vocab = self.vocab
        self._pending.extend([vocab.setdefault(t, len(vocab)) for t in chunk_terms])
        self._lengths.append(len(chunk_terms))
        if len(self._pending) >= self.buffer:
            self._spill()

    def __len__(self) -> int:
        return len(self._lengths)

    def _spill(self) -> None:
        """Write the pending occurrences as one run: (term, row, tf) sorted by term then row."""
        rows_count = len(self._lengths) - self._pending_from
        if not rows_count:
            return
        terms = np.frombuffer(self._pending, np.int32).astype(np.int64)
        rows = np.repeat(np.arange(rows_count, dtype=np.int64), np.frombuffer(self._lengths, np.int32)[self._pending_from :])
        pairs, tf = np.unique(terms * rows_count + rows, return_counts=True)
        run_terms = pairs // rows_count
        counts = np.bincount(run_terms, minlength=len(self.vocab))
        if len(self._df) < len(counts):
            self._df = np.concatenate([self._df, np.zeros(len(counts) - len(self._df), np.int64)])
        self._df[: len(counts)] += counts
        run = self.scratch / f"run{len(self._runs)}"
        run.mkdir()
        np.save(run / "indptr.npy", np.concatenate([[0], np.cumsum(counts)]))
        np.save(run / "rows.npy", (pairs % rows_count + self._pending_from).astype(np.int32))
        np.save(run / "tf.npy", tf.astype(np.float32))
        self._runs.append(run)
        self._pending = array("i")
        self._pending_from = len(self._lengths)

    def finish(self, path: Path) -> None:
        """Write the index into directory `path` (bm25s's layout) and delete the run files."""
        self._spill()
        path.mkdir(parents=True, exist_ok=True)
        n = len(self._lengths)
        vocab_size = len(self.vocab)
        df = np.concatenate([self._df, np.zeros(vocab_size - len(self._df), np.int64)])
        # float32 idf from float64 logs, and float64 term-frequency parts: bm25s's arithmetic
        idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) for d in df], dtype=np.float32)
        lengths = np.frombuffer(self._lengths, np.int32)
        avg = lengths.mean() if n else 0.0
        norm = K1 * ((1 - B) + B * lengths / avg) if n and avg else np.full(n, K1 * (1 - B))
        indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
        nnz = int(indptr[-1])
        with (
            _NpyWriter(path / _FILES["data"], np.float32, nnz) as data,
            _NpyWriter(path / _FILES["indices"], np.int32, nnz) as indices,
        ):
            for t0, t1 in _term_blocks(indptr, self.buffer):
                terms, rows, tf = self._read_terms(t0, t1)
                order = np.argsort(terms, kind="stable")  # runs are in row order, so rows stay ascending
                terms, rows, tf = terms[order], rows[order], tf[order].astype(np.float64)
                data.write((idf[terms].astype(np.float64) * (tf / (norm[rows] + tf))).astype(np.float32))
                indices.write(rows.astype(np.int32))
        np.save(path / _FILES["indptr"], indptr)
        (path / "vocab.index.json").write_text(json.dumps({**self.vocab, "": vocab_size}, ensure_ascii=False), encoding="utf-8")
        (path / "params.index.json").write_text(json.dumps(_params(n)), encoding="utf-8")
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _read_terms(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (term, row, tf) with term in [t0, t1), from all runs, in run order."""
        parts = []
        for run in self._runs:
            run_indptr = np.load(run / "indptr.npy", mmap_mode="r")
            last = len(run_indptr) - 1
            a, b = (int(run_indptr[min(t, last)]) for t in (t0, t1))
            if a == b:
                continue
            # mapped only while copying the slice: the pages do not accumulate in this process's memory
            rows = np.array(np.load(run / "rows.npy", mmap_mode="r")[a:b])
            tf = np.array(np.load(run / "tf.npy", mmap_mode="r")[a:b])
            counts = np.diff(np.asarray(run_indptr[t0 : min(t1, last) + 1]))
            parts.append((np.repeat(np.arange(t0, t0 + len(counts)), counts), rows, tf))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[return-value]


def _term_blocks(indptr: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive term ranges holding about `size` occurrences each (a range has at least one term)."""
    blocks, t0, vocab_size = [], 0, len(indptr) - 1
    while t0 < vocab_size:
        t1 = int(np.searchsorted(indptr, indptr[t0] + size, side="right")) - 1
        t1 = min(max(t1, t0 + 1), vocab_size)
        blocks.append((t0, t1))
        t0 = t1
    return blocks


def _params(num_docs: int) -> dict[str, Any]:
    import bm25s

    return {
        "k1": K1,
        "b": B,
        "delta": 0.5,
        "method": "lucene",
        "idf_method": "lucene",
        "dtype": "float32",
        "int_dtype": "int32",
        "num_docs": num_docs,
        "version": bm25s.__version__,
        "backend": "numpy",
    }


class _NpyWriter:
    """A one-dimensional .npy file of known length written block by block (never held whole)."""

    def __init__(self, path: Path, dtype: type, length: int) -> None:
        self._fh = open(path, "wb")
        self._dtype, self._length, self._written = np.dtype(dtype), length, 0
        np.lib.format.write_array_header_1_0(
            self._fh, {"descr": np.lib.format.dtype_to_descr(self._dtype), "fortran_order": False, "shape": (length,)}
        )

    def write(self, block: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(block, dtype=self._dtype).tobytes())
        self._written += len(block)

    def __enter__(self) -> "_NpyWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()
        if exc[0] is None and self._written != self._length:
            raise RuntimeError(f"{self._fh.name}: wrote {self._written} of {self._length} values")
