"""Vectors of the embedded store: the FAISS index a version serves (exact up to `exact_max` passages,
IVF-SQ8 beyond), and the scratch file a build gathers vectors in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import VectorStore
from .scratch import VectorFile


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
            exact = faiss.IndexFlatIP(dim)
            for block in rows.blocks():
                exact.add(block)
            return cls(exact)
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
