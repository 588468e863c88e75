"""Does a passage support a sentence? The citation check of written answers.

A language model writes sentences with `[n]` markers; the project, not the model, decides which
markers stand. For each (sentence, passage) pair a small logistic model (qa/data/support_model.json,
calibrated on FacQA dev with `python -m qa train --support`) turns three kinds of evidence into
P(supported):

- content words: the weighted share of the sentence's content words the passage mentions
  (English words also count through their Indonesian translations);
- names and numbers: the share of the sentence's names and numbers the passage mentions;
- meaning: the embedding similarity of the sentence (as a query) and the passage.

A marker stands when its passage supports the sentence; otherwise the sentence gets the retrieved
passage that supports it best, if any does; otherwise it is unsupported (marked, or dropped).
Citation precision and recall are reported per answer in the ALCE sense, with this model standing in
for ALCE's NLI judge.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..linear import DATA, LinearModel, sigmoid
from ..records import Hit, Statement
from ..text import STOPWORDS, sentence_spans, stem, terms, tokens
from .question import Question, analyse, as_question, overlap

SUPPORT_MODEL = DATA / "support_model.json"
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_NAME = re.compile(r"\b(\d[\d.,:/]*\d|\d|[A-Z][\w'’-]*)")


def similarity_feature(cosine: float) -> float:
    """An e5 cosine mapped onto 0-1 (its values crowd into 0.7-0.9)."""
    return min(1.0, max(0.0, (cosine - 0.72) / 0.16))


def claim_names(sentence: str) -> set[str]:
    """The names and numbers a sentence states, lowercased ("Joko Widodo", "2018" → {"joko", "widodo", "2018"})."""
    out = set()
    for m in _NAME.finditer(sentence):
        word = m.group().lower().strip(".,:/")
        if word and word not in STOPWORDS:
            out.add(word.replace(".", "") if word[0].isdigit() and re.fullmatch(r"\d{1,3}(\.\d{3})+", word) else word)
    return out


_WH = re.compile(
    r"\b(siapa(kah)?|apa(kah)?|kapan(kah)?|berapa(kah)?|di ?mana(kah)?|ke ?mana(kah)?|dari ?mana(kah)?|mana(kah)?|"
    r"bagaimana|mengapa|who|whom|what|when|where|which|how (many|much|long|far|old)|how)\b",
    re.IGNORECASE,
)


def declarative(question: str, answer: str) -> str:
    """A statement made from a question and a short answer: the question word replaced by the answer
    ("Siapa yang menawari Jack Ma …?" + "Jokowi" → "Jokowi yang menawari Jack Ma …."). Crude, but
    it carries what a full sentence would: the question's words and the answer's names."""
    body = question.strip().rstrip("?").strip()
    answer = answer.strip().rstrip(".")
    replaced, n = _WH.subn(lambda _: answer, body, count=1)
    return (replaced if n else f"{body} {answer}") + "."


def claim_of(statement: str, q: Question | None) -> str:
    """What a statement claims: a bare answer ("10 suku.") means the question answered by it."""
    return declarative(q.text, statement) if q is not None and len(tokens(statement)) <= 5 else statement


def support_features(sentence: str, passage: str, cosine: float, q: Question | None = None) -> dict[str, float]:
    """The evidence that `passage` supports `sentence`, as named features. With the `question`, the
    words the sentence adds to it (its answer) are weighed on their own: they are what needs support,
    in the passage and in the passage sentence closest to the claim."""
    claim = analyse(sentence)
    passage_terms = set(terms(passage))
    scored = [(overlap(claim, set(terms(passage[a:b]))), a, b) for a, b in sentence_spans(passage)] or [(0.0, 0, 0)]
    best_sentence, a, b = max(scored)
    closest_terms = set(terms(passage[a:b]))
    names = claim_names(sentence)
    words = set(tokens(passage))
    stems = {stem(w) for w in words}
    found = [n for n in names if n in words or stem(n) in stems or (len(n) >= 5 and any(w.startswith(n[:-1]) for w in words))]
    numbers = [n for n in names if n[0].isdigit()]
    asked = q.asked if q is not None else frozenset()
    novel = [c for c in claim.concepts if not c & asked]
    novel_names = [n for n in names if n not in asked and stem(n) not in asked]
    return {
        "novel": sum(bool(c & passage_terms) for c in novel) / len(novel) if novel else 1.0,
        "novel_closest": sum(bool(c & closest_terms) for c in novel) / len(novel) if novel else 1.0,
        "novel_names": sum(n in found for n in novel_names) / len(novel_names) if novel_names else 1.0,
        "novel_none": float(not novel),
        "content": overlap(claim, passage_terms),
        "content_sentence": best_sentence,
        "names": len(found) / len(names) if names else 1.0,
        "names_missing": float(len(names) - len(found)),
        "numbers_missing": float(sum(n not in found for n in numbers)),
        "similarity": similarity_feature(cosine),
        "few_words": float(len(claim.concepts) < 3),
    }


@lru_cache(maxsize=1)
def support_model() -> LinearModel:
    """The shipped support model; its `threshold` is the P(supported) a citation needs."""
    return LinearModel.load(SUPPORT_MODEL)


def support_probability(features: dict[str, float], model: LinearModel | None = None) -> float:
    """P(the passage supports the sentence) from `support_features`."""
    return sigmoid((model or support_model()).score(features))


# --- written answers: sentences and markers --------------------------------------------------


def split_statements(text: str, passages: int) -> list[Statement]:
    """The sentences of a written answer, each with the markers the model put after it.

    Markers standing alone or opening a sentence ("… advisor. [1] He …") belong to the sentence
    before; markers that name no shown passage are dropped."""
    statements: list[Statement] = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        lead = re.match(r"(\s*\[\d+(?:\s*[,;]\s*\d+)*\])+", sentence)
        if lead and statements:
            prev = statements[-1]
            statements[-1] = Statement(prev.text, prev.cited + _markers(lead.group(), passages))
            sentence = sentence[lead.end() :]
        cited = _markers(sentence, passages)
        plain = " ".join(_MARKER.sub("", sentence).split())
        if plain.strip(" .,;:!?-"):
            statements.append(Statement(plain, cited))
        elif cited and statements:
            prev = statements[-1]
            statements[-1] = Statement(prev.text, prev.cited + cited)
    return statements


def _markers(text: str, passages: int) -> tuple[int, ...]:
    found = [int(n) for m in _MARKER.finditer(text) for n in re.split(r"\s*[,;]\s*", m.group(1))]
    return tuple(dict.fromkeys(n for n in found if 1 <= n <= passages))


# --- the check --------------------------------------------------------------------------------


Similarities = Callable[[list[str], list[Hit]], np.ndarray]


def support_table(
    statements: list[Statement],
    hits: list[Hit],
    question: Question | str,
    similarities: Similarities,
    model: LinearModel | None = None,
) -> list[dict[int, float]]:
    """P(supported) of every (statement, shown passage) pair, by marker number (1-based).
    `similarities(sentences, hits)` gives the embedding cosines (`Tanya.similarities`)."""
    question = as_question(question)
    claims = [claim_of(st.text, question) for st in statements]
    cosines = similarities(claims, hits)
    return [
        {
            j + 1: support_probability(support_features(claim, hit.chunk.text, float(cosines[i, j]), question), model)
            for j, hit in enumerate(hits)
        }
        for i, claim in enumerate(claims)
    ]


def check_statements(
    statements: list[Statement], table: list[dict[int, float]], threshold: float | None = None
) -> list[Statement]:
    """Each statement with the markers that stand: the model's where their passage supports it,
    else the passage that supports it best (corrected), else none (unsupported)."""
    threshold = support_model().meta.get("threshold", 0.5) if threshold is None else threshold
    out = []
    for st, support in zip(statements, table):
        kept = tuple(n for n in st.cited if support.get(n, 0.0) >= threshold)
        corrected = False
        if not kept and support:
            best = max(support, key=support.__getitem__)
            if support[best] >= threshold:
                kept, corrected = (best,), True
        out.append(Statement(st.text, st.cited, kept, bool(kept), corrected, support))
    return out


def citation_quality(statements: list[Statement], markers: str, threshold: float | None = None) -> dict[str, float]:
    """ALCE citation recall and precision of one answer, for the markers in `markers` ("cited" or "citations").

    recall: share of statements whose cited passages support them (here: one of them does);
    precision: share of citations that support their statement (a citation that does not support on
    its own is not needed when the statement is supported by another, and does not help when it is not)."""
    threshold = support_model().meta.get("threshold", 0.5) if threshold is None else threshold
    if not statements:
        return {"recall": 0.0, "precision": 0.0}
    supported = 0
    good = total = 0
    for st in statements:
        cited = getattr(st, markers)
        ok = [st.support.get(n, 0.0) >= threshold for n in cited]
        supported += any(ok)
        good += sum(ok)
        total += len(cited)
    return {"recall": supported / len(statements), "precision": good / total if total else 0.0}


def adds_information(statement: str, q: Question) -> bool:
    """Whether a statement says something the question does not ("Jack Ma." to "Who offered Jack Ma
    …?" only echoes it): an echo may be "supported" by any passage that repeats the question."""
    return any(not c & q.asked for c in analyse(statement).concepts)


def best_sentence(statement: str, passage: str) -> tuple[int, int]:
    """The passage sentence that shares most with `statement` (offsets inside the passage), to highlight."""
    claim = analyse(statement)
    spans = sentence_spans(passage) or [(0, len(passage))]
    return max(spans, key=lambda s: (overlap(claim, set(terms(passage[s[0] : s[1]]))), -s[0]))
