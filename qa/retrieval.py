"""Find the passages for a question: dense (FAISS), keyword (BM25), or both fused (weighted RRF)."""

from __future__ import annotations

import numpy as np

from .embedding import Embedder
from .records import Hit
from .settings import Settings
from .store import Snapshot
from .text import query_terms

MODES = ("hybrid", "dense", "bm25")


class Retriever:
    """Searches one index snapshot with one embedder."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings

    def search(self, question: str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        """The `k` best passages for `question`, best first, each with its dense and keyword scores."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retriever
        if mode not in MODES:
            raise ValueError(f"unknown retriever '{mode}' (choose from {', '.join(MODES)})")
        depth = max(self.settings.candidates, k)
        query_vec = self.embedder.embed_queries([question])
        dense: dict[int, float] = {}
        keyword: dict[int, float] = {}
        if mode in ("hybrid", "dense"):
            scores, rows = self.snapshot.vectors.search(query_vec, depth)
            dense = {int(r): float(s) for r, s in zip(rows[0], scores[0]) if r >= 0}
        if mode in ("hybrid", "bm25"):
            scores, rows = self.snapshot.keywords.search(query_terms(question), depth)
            keyword = {int(r): float(s) for r, s in zip(rows, scores)}

        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = dict(keyword)
        else:
            fused = self._fuse(dense, keyword)
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        missing = [r for r in ranked if r not in dense]
        if missing:  # every hit carries its cosine similarity, used later to judge support
            sims = self.snapshot.vectors.vectors(missing) @ query_vec[0]
            dense.update({r: float(s) for r, s in zip(missing, sims)})
        chunks = self.snapshot.table.chunks(ranked)
        return [
            Hit(chunk=chunks[r], score=fused[r], dense=dense.get(r), keyword=keyword.get(r, 0.0), rank=i + 1)
            for i, r in enumerate(ranked)
            if r in chunks
        ]

    def _fuse(self, dense: dict[int, float], keyword: dict[int, float]) -> dict[int, float]:
        """Weighted reciprocal-rank fusion."""
        s = self.settings
        fused: dict[int, float] = {}
        for weight, scores in ((s.dense_weight, dense), (s.keyword_weight, keyword)):
            order = sorted(scores, key=scores.__getitem__, reverse=True)
            for rank, row in enumerate(order, start=1):
                fused[row] = fused.get(row, 0.0) + weight / (s.rrf_k + rank)
        return fused


def query_vector(embedder: Embedder, question: str) -> np.ndarray:
    """The unit vector of one question."""
    return embedder.embed_queries([question])[0]
