"""Train the two learned scorers from questions with known answers (FacQA train).

- the passage reranker: for each question, the hybrid candidates and which of them is gold;
- the answer-span scorer: for each question, the candidate spans and their token F1 with the gold answer.

Both are linear models fitted listwise (`qa.linear.fit`) and saved as JSON under qa/data/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .answer import candidates
from .evaluation import is_gold, token_f1
from .linear import DATA, Group, LinearModel, fit
from .pipeline import Tanya
from .question import analyse
from .records import Hit

Progress = Callable[[int, int], None]


def collect_passages(tanya: Tanya, questions: list[dict[str, Any]], progress: Progress | None = None) -> list[Group]:
    """Per answerable question: the hybrid candidates' features and which of them are gold."""
    retriever = tanya.retriever()
    groups = []
    for record in _answerable(questions, progress):
        cands = retriever.candidates(record["question"])
        groups.append(([c.features for c in cands], np.array([float(is_gold(Hit(c.chunk, c.fused), record)) for c in cands])))
    return groups


def collect_spans(tanya: Tanya, questions: list[dict[str, Any]], progress: Progress | None = None) -> list[Group]:
    """Per answerable question: the candidate spans' features and their F1 against the gold answers."""
    retriever = tanya.retriever()
    groups = []
    for record in _answerable(questions, progress):
        hits = retriever.search(record["question"], k=max(10, tanya.settings.top_k))
        spans = candidates(analyse(record["question"]), hits)
        if spans:
            golds = [str(a) for a in record["answers"]]
            groups.append(([c.features for c in spans], np.array([token_f1(c.text, golds) for c in spans])))
    return groups


def _answerable(questions: list[dict[str, Any]], progress: Progress | None) -> Iterator[dict[str, Any]]:
    for n, record in enumerate(questions, start=1):
        if record.get("answers"):
            yield record
        if progress:
            progress(n, len(questions))


def train_reranker(tanya: Tanya, questions: list[dict[str, Any]], source: str, progress: Progress | None = None) -> LinearModel:
    """Fit and save the passage reranker only."""
    reranker = fit(collect_passages(tanya, questions, progress))
    reranker.save(DATA / "rerank_model.json", trained_on=source, questions=len(questions))
    tanya.retriever().reranker = reranker
    return reranker


def train(tanya: Tanya, questions: list[dict[str, Any]], source: str, progress: Progress | None = None) -> dict[str, LinearModel]:
    """Fit and save both models; the answer model is fitted on the new reranker's passages."""
    reranker = train_reranker(tanya, questions, source, progress)
    answerer = fit(collect_spans(tanya, questions, progress))
    answerer.save(DATA / "answer_model.json", trained_on=source, questions=len(questions))
    return {"rerank": reranker, "answer": answerer}
