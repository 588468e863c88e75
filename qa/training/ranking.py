"""Train the two learned scorers from questions with known answers (FacQA train).

- the passage reranker: for each question, the hybrid candidates and which of them is gold;
- the answer-span scorer: for each question, the candidate spans and their token F1 with the gold answer.

Both are linear models fitted listwise (`qa.linear.fit`) and saved as JSON under qa/data/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..ask.citation_check import SUPPORT_MODEL, declarative, support_features, support_model, support_probability
from ..ask.question import analyse
from ..ask.spans import candidates
from ..linear import DATA, Group, LinearModel, fit, fit_binary
from ..pipeline import Tanya
from ..records import Hit
from .evaluation import is_gold, normalise_answer, token_f1

Progress = Callable[[int, int], None]


def collect_passages(tanya: Tanya, questions: list[dict[str, Any]], progress: Progress | None = None) -> list[Group]:
    """Per answerable question: the hybrid candidates' features and which of them are gold."""
    retriever = tanya.retriever()
    groups = []
    for record in _answerable(questions, progress):
        cands = retriever.candidates(analyse(record["question"]))
        groups.append(([c.features for c in cands], np.array([float(is_gold(Hit(c.chunk, c.fused), record)) for c in cands])))
    return groups


def collect_spans(tanya: Tanya, questions: list[dict[str, Any]], progress: Progress | None = None) -> list[Group]:
    """Per answerable question: the candidate spans' features and their F1 against the gold answers."""
    retriever = tanya.retriever()
    groups = []
    for record in _answerable(questions, progress):
        q = analyse(record["question"])
        hits = retriever.search(q, k=max(10, tanya.settings.retrieval.top_k))
        spans = candidates(q, hits)
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
    tanya.retriever().use_reranker(reranker)
    return reranker


def train(tanya: Tanya, questions: list[dict[str, Any]], source: str, progress: Progress | None = None) -> dict[str, LinearModel]:
    """Fit and save both models; the answer model is fitted on the new reranker's passages."""
    reranker = train_reranker(tanya, questions, source, progress)
    answerer = fit(collect_spans(tanya, questions, progress))
    answerer.save(DATA / "answer_model.json", trained_on=source, questions=len(questions))
    return {"rerank": reranker, "answer": answerer}


# --- the citation check's support model -----------------------------------------------------


def collect_support(
    tanya: Tanya, questions: list[dict[str, Any]], progress: Progress | None = None
) -> tuple[list[dict[str, float]], np.ndarray]:
    """(sentence, passage) pairs labelled supported or not, with their features.

    Per answerable question, the statement made of question + gold answer is supported by each of
    the top 5 passages that contains the answer and not by the others; the same statement with another
    question's answer (a wrong name or number) is not supported by the passages holding the true one."""
    retriever = tanya.retriever()
    answerable = list(_answerable(questions, progress))
    rows, labels = [], []
    for i, record in enumerate(answerable):
        q = analyse(record["question"])
        hits = retriever.search(q, k=5)
        answer = str(record["answers"][0])
        wrong = str(answerable[(i * 7 + 3) % len(answerable)]["answers"][0])
        claims = [declarative(q.text, answer), declarative(q.text, wrong)]
        cosines = tanya.similarities(claims, hits)
        for j, hit in enumerate(hits):
            holds = normalise_answer(answer) in normalise_answer(hit.chunk.text)
            rows.append(support_features(claims[0], hit.chunk.text, float(cosines[0, j]), q))
            labels.append(float(holds))
            if holds and normalise_answer(wrong) not in normalise_answer(hit.chunk.text):
                rows.append(support_features(claims[1], hit.chunk.text, float(cosines[1, j]), q))
                labels.append(0.0)
    return rows, np.array(labels)


def train_support(
    tanya: Tanya, train_questions: list[dict[str, Any]], dev_questions: list[dict[str, Any]], source: str, precision: float = 0.9
) -> LinearModel:
    """Fit the support model on train, and on dev pick the lowest threshold whose precision reaches `precision`."""
    rows, labels = collect_support(tanya, train_questions)
    model = fit_binary(rows, labels)
    dev_rows, dev_labels = collect_support(tanya, dev_questions)
    probs = np.array([support_probability(f, model) for f in dev_rows])
    threshold, stats = 0.5, {}
    for t in np.arange(0.05, 0.96, 0.01):
        chosen = probs >= t
        if chosen.sum() == 0:
            break
        p = float(dev_labels[chosen].mean())
        r = float(chosen[dev_labels == 1].mean())
        if p >= precision:
            threshold, stats = round(float(t), 2), {"dev_precision": round(p, 3), "dev_recall": round(r, 3)}
            break
    model.meta.update(threshold=threshold, pairs=len(labels), dev_pairs=len(dev_labels), **stats)
    model.save(SUPPORT_MODEL, trained_on=source)
    support_model.cache_clear()
    return model
