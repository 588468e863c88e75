"""Find the passages for a question: dense (FAISS), keyword (BM25), or hybrid.

Hybrid: both searches look `candidates` deep, their rankings are fused (weighted reciprocal rank),
and the best `rerank_depth` are reordered by a learned linear reranker over features of each
passage (dense and BM25 scores and ranks, how much of the question it covers, whether it names
what the question names). The reranker is trained on FacQA train (`python -m qa train`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

import numpy as np

from ..dates import Period
from ..errors import ConfigError
from ..index.base import Snapshot
from ..index.embedding import Embedder
from ..linear import DATA, LinearModel
from ..records import Chunk, Hit
from ..settings import Settings
from ..text import sentence_spans, terms
from .question import Question, as_question, names_found, overlap

MODES = ("hybrid", "dense", "bm25")
# a date filter's passages up to this many are scored exactly from their stored vectors (fetched per
# question: 5,000 vectors are 7.5 MB); beyond, a deeper search is filtered
EXACT_WINDOW = 5_000
# keyword searches sent to a remote store while the question is embedded (Snapshot.remote)
_SEARCHES = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tanya-keyword")


@lru_cache(maxsize=1)
def rerank_model() -> LinearModel | None:
    """The shipped passage reranker, or None (plain fusion) when none was trained."""
    path = DATA / "rerank_model.json"
    return LinearModel.load(path) if path.is_file() else None


@dataclass
class PassageCandidate:
    """A passage found by either search, before the final ordering."""

    row: int
    chunk: Chunk
    fused: float
    dense: float
    keyword: float
    features: dict[str, float]


class Searcher(Protocol):
    """What a question is searched with: one collection's Retriever, or several joined (`Joined`)."""

    def search(self, question: Question | str, k: int | None = None, mode: str | None = None) -> list[Hit]: ...

    def passage_vectors(self, hits: list[Hit]) -> np.ndarray: ...


class Retriever:
    """Searches one index snapshot with one embedder."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings, reranker: LinearModel | None = None) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker if reranker is not None else rerank_model()

    def use_reranker(self, reranker: LinearModel | None) -> None:
        """Rerank with this model from now on (None: plain fusion), e.g. one just trained."""
        self.reranker = reranker

    def passage_vectors(self, hits: list[Hit]) -> np.ndarray:
        """The stored vectors of the hits' passages (unit length), in the hits' order."""
        return self.snapshot.vectors.vectors([h.row for h in hits])

    def search(
        self, question: Question | str, k: int | None = None, mode: str | None = None, query_vec: np.ndarray | None = None
    ) -> list[Hit]:
        """The `k` best passages for `question`, best first, each with its dense and keyword scores
        (`query_vec`: the question already embedded, when several collections are searched)."""
        question = as_question(question)
        k = k or self.settings.retrieval.top_k
        mode = mode or self.settings.retrieval.mode
        cands = self.candidates(question, mode, query_vec)
        if mode == "hybrid" and self.reranker is not None:
            for c in cands:
                c.fused = self.reranker.score(c.features)
            cands.sort(key=lambda c: c.fused, reverse=True)
        return [
            Hit(chunk=c.chunk, score=c.fused, dense=c.dense, keyword=c.keyword, rank=i + 1, row=c.row)
            for i, c in enumerate(cands[:k])
        ]

    def candidates(
        self, question: Question | str, mode: str = "hybrid", query_vec: np.ndarray | None = None
    ) -> list[PassageCandidate]:
        """Passages from the searches `mode` uses, ordered by fused rank, with reranking features."""
        question = as_question(question)
        if mode not in MODES:
            raise ConfigError(f"unknown retriever '{mode}' (choose from {', '.join(MODES)})")
        s = self.settings.retrieval
        depth = max(s.candidates, s.top_k)
        window = question.time.window if question.time else None
        allowed = None if window is None else self._rows_in(window)
        dense: dict[int, float] = {}
        keyword: dict[int, float] = {}
        sent = None
        if mode == "hybrid" and self.snapshot.remote:  # on its way while the question is embedded and searched
            sent = _SEARCHES.submit(self._keyword, list(question.keywords), depth, allowed)
        if query_vec is None:
            query_vec = self.embedder.embed_queries([question.text])
        if mode in ("hybrid", "dense"):
            dense = self._dense(query_vec, depth, allowed)
        if sent is not None:
            keyword = sent.result()
        elif mode in ("hybrid", "bm25"):
            keyword = self._keyword(list(question.keywords), depth, allowed)

        dense_rank = _ranks(dense)
        keyword_rank = _ranks(keyword)
        if mode == "dense":
            fused = dict(dense)
        elif mode == "bm25":
            fused = dict(keyword)
        else:
            fused = {}
            for weight, ranks in ((s.dense_weight, dense_rank), (s.keyword_weight, keyword_rank)):
                for row, rank in ranks.items():
                    fused[row] = fused.get(row, 0.0) + weight / (s.rrf_k + rank)
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        ranked = ranked[: max(s.rerank_depth, s.top_k)] if mode == "hybrid" else ranked[: max(s.top_k, 10)]
        missing = [r for r in ranked if r not in dense]
        if missing:  # every passage carries its cosine similarity, used to judge support
            sims = self.snapshot.vectors.vectors(missing) @ query_vec[0]
            dense.update({r: float(v) for r, v in zip(missing, sims)})
        chunks = self.snapshot.table.chunks(ranked)
        q = question if mode == "hybrid" else None
        idf = [max(self.snapshot.keywords.idf(t) for t in c) for c in q.concepts] if q else []
        top_keyword = max(keyword.values(), default=0.0) or 1.0
        top_dense = max(dense.values(), default=0.0)
        out = []
        for row in ranked:
            if row not in chunks:
                continue
            features = (
                passage_features(
                    q,
                    idf,
                    chunks[row].text,
                    dense[row],
                    dense[row] - top_dense,
                    dense_rank.get(row),
                    keyword.get(row, 0.0) / top_keyword,
                    keyword_rank.get(row),
                    fused[row] * s.rrf_k,
                )
                if q is not None
                else {}
            )
            out.append(PassageCandidate(row, chunks[row], fused[row], dense[row], keyword.get(row, 0.0), features))
        return out

    def _rows_in(self, window: Period) -> np.ndarray:
        """The rows of passages from articles published in `window` (sorted)."""
        return np.asarray(self.snapshot.table.rows_dated(*window.bounds()), np.int64)

    def _dense(self, query_vec: np.ndarray, depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        """The `depth` passages nearest the question (among `allowed` rows, when given: exactly, by their
        stored vectors, up to EXACT_WINDOW of them; beyond, from a deeper search)."""
        if allowed is not None and len(allowed) <= EXACT_WINDOW:
            if not len(allowed):
                return {}
            sims = self.snapshot.vectors.vectors(allowed.tolist()) @ query_vec[0]
            top = np.argsort(-sims)[:depth]
            return {int(allowed[i]): float(sims[i]) for i in top}
        scores, rows = self.snapshot.vectors.search(query_vec, _deeper(depth, allowed, self.snapshot.table.count()))
        found = {int(r): float(v) for r, v in zip(rows[0], scores[0]) if r >= 0}
        return _only(found, allowed, depth)

    def _keyword(self, query_terms: list[str], depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        """The `depth` best BM25 passages (among `allowed` rows, when given: from a search deep enough to
        hold them)."""
        if allowed is not None and not len(allowed):
            return {}
        scores, rows = self.snapshot.keywords.search(query_terms, _deeper(depth, allowed, self.snapshot.table.count()))
        return _only({int(r): float(v) for r, v in zip(rows, scores)}, allowed, depth)


def _deeper(depth: int, allowed: np.ndarray | None, total: int) -> int:
    """How deep to search so that `depth` of the `allowed` rows are likely among the results."""
    if allowed is None:
        return depth
    return int(min(total, max(depth, depth * 2 * total / max(len(allowed), 1)), 20_000))


def _only(found: dict[int, float], allowed: np.ndarray | None, depth: int) -> dict[int, float]:
    if allowed is None:
        return found
    keep = set(allowed.tolist())
    return dict(list((r, v) for r, v in found.items() if r in keep)[:depth])


def _ranks(scores: dict[int, float]) -> dict[int, int]:
    return {row: i for i, row in enumerate(sorted(scores, key=scores.__getitem__, reverse=True), start=1)}


def passage_features(
    q: Question,
    idf: list[float],
    text: str,
    dense: float,
    dense_gap: float,
    dense_rank: int | None,
    keyword: float,
    keyword_rank: int | None,
    fused: float,
) -> dict[str, float]:
    """What the reranker looks at for one passage (`idf` weighs each of the question's concepts)."""
    sequence = terms(text)
    passage_terms = set(sequence)
    matched = [bool(c & passage_terms) for c in q.concepts]
    total_idf = sum(idf) or 1.0
    best_sentence = max((overlap(q, set(terms(text[a:b]))) for a, b in sentence_spans(text)), default=0.0)
    english = q.language == "en"
    return {
        "dense": dense,
        "dense_gap": dense_gap,
        "dense_rr": 1.0 / dense_rank if dense_rank else 0.0,
        "keyword": keyword,
        "keyword_rr": 1.0 / keyword_rank if keyword_rank else 0.0,
        "fused": fused,
        "coverage": overlap(q, passage_terms),
        "idf_coverage": sum(w for w, m in zip(idf, matched) if m) / total_idf,
        "missing_idf": sum(w for w, m in zip(idf, matched) if not m) / 10.0,
        "best_sentence": best_sentence,
        "names": names_found(q, text),
        "proximity": _proximity(q, sequence),
        "en_dense": dense if english else 0.0,
        "en_keyword": keyword if english else 0.0,
    }


def _proximity(q: Question, sequence: list[str]) -> float:
    """How tightly the matched question concepts sit together: matched / shortest window holding them all."""
    wanted = [c for c in q.concepts if c & set(sequence)]
    if len(wanted) < 2:
        return float(len(wanted))
    which = [next((i for i, c in enumerate(wanted) if t in c), -1) for t in sequence]
    counts = [0] * len(wanted)
    have, best, left = 0, len(sequence), 0
    for right, concept in enumerate(which):
        if concept < 0:
            continue
        counts[concept] += 1
        have += counts[concept] == 1
        while have == len(wanted):
            best = min(best, right - left + 1)
            c = which[left]
            if c >= 0:
                counts[c] -= 1
                have -= counts[c] == 0
            left += 1
    return len(wanted) / best


class Joined:
    """Several collections searched as one: each collection's best passages, merged by their scores (the
    same reranker scores every collection's candidates, so they are comparable), each hit marked with
    the collection it came from."""

    def __init__(self, members: dict[str, Retriever]) -> None:
        self.members = members

    def search(self, question: Question | str, k: int | None = None, mode: str | None = None) -> list[Hit]:
        question = as_question(question)
        first = next(iter(self.members.values()))
        vec = first.embedder.embed_queries([question.text])  # once: every collection has the same model
        hits = []
        for name, retriever in self.members.items():
            for hit in retriever.search(question, k=k, mode=mode, query_vec=vec):
                hit.collection = name
                hits.append(hit)
        k = k or first.settings.retrieval.top_k
        hits.sort(key=lambda h: h.score, reverse=True)
        return [replace(h, rank=n) for n, h in enumerate(hits[:k], 1)]

    def passage_vectors(self, hits: list[Hit]) -> np.ndarray:
        rows = [self.members[h.collection].passage_vectors([h])[0] for h in hits]
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)
