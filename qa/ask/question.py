"""Understanding a question: its language, the kind of answer it wants, its content words and names.

Shared by retrieval (reranking features) and answering (span types, support).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import STOPWORDS, concept_terms, detect_language, query_concepts, stem, terms, tokens
from .forms import SPAN, form_of
from .when import Dates, TimeAsked, time_asked

# --- answer types --------------------------------------------------------------------------

PERSON, PLACE, DATE, NUMBER, ENTITY, OTHER = "person", "place", "date", "number", "entity", "other"

_QTYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        DATE,
        re.compile(
            r"\b(kapan|kapankah|bilamana|when|tahun berapa\w*|tanggal berapa\w*|bulan apa\w*|"
            r"hari apa\w*|pukul berapa\w*|jam berapa\w*|what (year|date|day|month|time)|which (year|date|day|month))\b"
        ),
    ),
    (
        NUMBER,
        re.compile(
            r"\b(berapa\w*|how (many|much|long|far|old|big|large|high|heavy|tall|deep|wide|fast|often)|what (number|percentage|amount))\b"
        ),
    ),
    (PERSON, re.compile(r"\b(siapa\w*|who|whom|whose)\b")),
    (
        PLACE,
        re.compile(
            r"\b(di ?mana\w*|ke ?mana\w*|dari ?mana\w*|where|(kota|negara|provinsi|pulau|daerah|"
            r"wilayah|kabupaten|desa|tempat|lokasi|benua|kawasan)( \w+)? mana\w*|which (city|country|province|island|place|region))\b"
        ),
    ),
    (ENTITY, re.compile(r"\b(apa\w*|mana\w*|what|which)\b")),
]

# Questions whose answer is not a short span: yes/no ("Did Jack Ma accept at once?") and why/how
# ("Mengapa Jack Ma bingung?"); they are answered with the supporting sentence (qa/ask/forms.py).


@dataclass(frozen=True)
class Question:
    """A question analysed once; this record travels down retrieval, reading, answering and checking."""

    text: str
    language: str
    qtype: str
    concepts: tuple[frozenset[str], ...]  # each content word as the stems that count as it
    terms: frozenset[str]  # all those stems
    words: frozenset[str]  # lowercased tokens (to keep question words out of answers)
    head: str | None  # the noun asked about ("berapa penumpang" → "penumpang")
    names: frozenset[str]  # lowercased names and numbers the question mentions ("apple", "2018")
    keywords: tuple[str, ...] = ()  # BM25 search terms (an English question's include their Indonesian translations)
    asked: frozenset[str] = frozenset()  # its stems and lowercased words: what an answer must add to
    form: str = SPAN  # span, yesno or reason
    time: TimeAsked | None = None  # the time it names, the user's date filter (qa/ask/when.py)


def analyse(question: str, dates: Dates | None = None) -> Question:
    """Language, expected answer type and content terms of a question (and the time it names, with
    the user's date filter and asking day in `dates`)."""
    # "WHO" (the organisation) is not "who"
    lowered = " ".join(w for w in question.split() if not (w.isupper() and len(w) > 1)).lower()
    qtype = OTHER
    for kind, pattern in _QTYPE_PATTERNS:
        if pattern.search(lowered):
            qtype = kind
            break
    toks = tokens(question)
    head = _head_noun(toks)
    language = detect_language(question)
    names = {
        w.strip(".,;:!?\"'()").lower() for i, w in enumerate(question.split()) if i > 0 and (w[:1].isupper() or w[:1].isdigit())
    }
    names = {n for n in names if n and n not in STOPWORDS}
    concepts = tuple(query_concepts(question, language))
    keywords = tuple(concept_terms(concepts))
    form = form_of(question)
    return Question(
        question,
        language,
        qtype,
        concepts,
        frozenset().union(*concepts),
        frozenset(toks),
        head,
        frozenset(names),
        keywords,
        frozenset(terms(question)) | frozenset(toks),
        form,
        time_asked(question, dates),
    )


def as_question(question: "Question | str", dates: Dates | None = None) -> Question:
    """The analysed record (a string is analysed here, at the library's edge)."""
    return question if isinstance(question, Question) else analyse(question, dates)


_TIME_NOUNS = {"tahun", "tanggal", "bulan", "hari", "pukul", "jam", "nomor", "abad"}
_ASKING = {"apa", "apakah", "mana", "manakah", "berapa", "berapakah", "which", "what"}


def _head_noun(toks: list[str]) -> str | None:
    """The noun a question asks about: "berapa penumpang", "kota manakah", "apa nama lembaga", "which city"."""

    def content(word: str) -> str | None:
        word = word[:-3] if word.endswith("kah") and len(word) > 5 else word
        return None if word in STOPWORDS or word in _ASKING else word

    for i, tok in enumerate(toks):
        if tok in _ASKING or tok.startswith("berapa"):
            after = toks[i + 1] if i + 1 < len(toks) else ""
            if after == "nama" and i + 2 < len(toks):
                after = toks[i + 2]
            if tok.startswith("berapa") and i > 0 and toks[i - 1] in _TIME_NOUNS:
                return toks[i - 1]
            if tok.startswith("berapa") or tok in ("which", "what"):
                if after and content(after):
                    return content(after)
            if i > 0 and content(toks[i - 1]) and tok not in ("which", "what"):
                return content(toks[i - 1])
            if after and content(after):
                return content(after)
    return None


def _weight(concept: frozenset[str]) -> float:
    # longer and numeric words carry more information than short common ones
    term = max(concept, key=len)
    return 1.5 if term[:1].isdigit() else min(1.0, 0.4 + len(term) / 10)


def overlap(q: Question, sentence_terms: set[str]) -> float:
    """Weighted share of the question's content words that the sentence mentions."""
    if not q.concepts:
        return 0.0
    total = sum(_weight(c) for c in q.concepts)
    return sum(_weight(c) for c in q.concepts if c & sentence_terms) / total


def names_found(q: Question, text: str) -> float:
    """Share of the question's names and numbers that the text mentions (1.0 when it has none)."""
    if not q.names:
        return 1.0
    words = set(tokens(text))
    stems = {stem(w) for w in words}

    def mentioned(name: str) -> bool:
        if any(w == name or (len(name) >= 5 and w.startswith(name[:-1])) for w in words):
            return True
        # an English word the glossary translates ("Minister" → "menteri")
        return q.language == "en" and any(c & stems for c in query_concepts(name, "en"))

    return sum(mentioned(n) for n in q.names) / len(q.names)
