"""Extractive answers without a language model.

From the retrieved passages: pick the sentence that best supports an answer, then inside it the
short span the question asks for (a person, place, organisation, number, date …), scored by type
match and closeness to the question's words. When the best support is weak, abstain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .records import Answer, Citation, Hit
from .text import STOPWORDS, detect_language, query_concepts, sentence_spans, stem, terms, tokens

# --- the question --------------------------------------------------------------------------

PERSON, PLACE, DATE, NUMBER, ENTITY, OTHER = "person", "place", "date", "number", "entity", "other"

_QTYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (DATE, re.compile(r"\b(kapan|kapankah|bilamana|when|tahun berapa\w*|tanggal berapa\w*|bulan apa\w*|"
                      r"hari apa\w*|pukul berapa\w*|jam berapa\w*|what (year|date|day|month|time)|which (year|date|day|month))\b")),
    (NUMBER, re.compile(r"\b(berapa\w*|how (many|much|long|far|old|big|large|high)|what (number|percentage|amount))\b")),
    (PERSON, re.compile(r"\b(siapa\w*|who|whom|whose)\b")),
    (PLACE, re.compile(r"\b(di ?mana\w*|ke ?mana\w*|dari ?mana\w*|where|(kota|negara|provinsi|pulau|daerah|"
                       r"wilayah|kabupaten|desa|tempat|lokasi|benua|kawasan)( \w+)? mana\w*|which (city|country|province|island|place|region))\b")),
    (ENTITY, re.compile(r"\b(apa\w*|mana\w*|what|which)\b")),
]

_DATE_WORDS = (
    "januari februari maret april mei juni juli agustus september oktober november desember "
    "january february march may june july august october december jan feb mar apr jun jul agu aug sep "
    "okt oct nov des dec senin selasa rabu kamis jumat sabtu minggu monday tuesday wednesday thursday "
    "friday saturday sunday"
).split()
_DATE = re.compile(
    r"\b(\d{1,2}/\d{1,2}(/\d{2,4})?|\d{1,2}\s+(" + "|".join(_DATE_WORDS) + r")(\s+\d{4})?|"
    r"(" + "|".join(_DATE_WORDS) + r")(\s+\d{1,2},?)?(\s+\d{4})?|(tahun|year)\s+\d{4}|\d{4})\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas seratus seribu sejuta "
    "puluhan ratusan ribuan jutaan belasan one two three four five six seven eight nine ten eleven "
    "twelve hundred thousand million billion dozens hundreds thousands millions"
).split()
_SCALE = r"(\s+(ribu|juta|miliar|milyar|triliun|thousand|million|billion|trillion|persen|percent))?"
_NUMBER = re.compile(
    r"((rp|us\$|\$|usd|idr)\.?\s*)?(\d+(?:[.,]\d+)*|" + "|".join(_NUMBER_WORDS) + r")" + _SCALE + r"(\s*%)?",
    re.IGNORECASE,
)

_PERSON_TITLES = set(
    """presiden wakil menteri gubernur bupati walikota wali kota ketua direktur dirut kepala jenderal
    letjen mayjen brigjen kolonel kapolri kapolda kapolres panglima jaksa hakim dr drs ir prof profesor
    haji hj h sultan raja ratu pangeran perdana president minister governor mayor chairman director
    chief general king queen prince pm sekjen sekretaris duta besar dubes ceo pendiri juru bicara
    jubir pelatih kapten mr mrs ms sir pak bapak ibu""".split()
)
_ORG_WORDS = set(
    """badan kementerian departemen dinas lembaga komisi dewan majelis partai universitas institut
    sekolah fakultas rumah sakit bank pt tbk group holding corporation corp company inc ltd persatuan
    perhimpunan asosiasi organisasi yayasan kantor polda polres kejaksaan pengadilan mahkamah tentara
    angkatan ministry agency council party university institute committee association organization
    foundation""".split()
)
_DOMAIN = re.compile(r"\b[\w-]+(\.[\w-]+)*\.(com|net|org|id|co|gov|edu|io)\b", re.IGNORECASE)
_CONNECTORS = {"dan", "of", "the", "de", "van", "von", "der", "bin", "binti", "al", "el", "da", "la", "&", "y"}


@dataclass(frozen=True)
class Question:
    """What the extractor knows about a question."""

    text: str
    language: str
    qtype: str
    concepts: tuple[frozenset[str], ...]  # each content word as the stems that count as it
    terms: frozenset[str]  # all those stems
    words: frozenset[str]  # lowercased tokens (to keep question words out of answers)
    head: str | None  # the noun asked about ("berapa penumpang" → "penumpang")
    names: frozenset[str]  # lowercased names and numbers the question mentions ("apple", "2018")


def analyse(question: str) -> Question:
    """Language, expected answer type and content terms of a question."""
    lowered = question.lower()
    qtype = OTHER
    for kind, pattern in _QTYPE_PATTERNS:
        if pattern.search(lowered):
            qtype = kind
            break
    toks = tokens(question)
    head = None
    for i, tok in enumerate(toks):
        if tok.startswith("berapa") and i + 1 < len(toks) and toks[i + 1] not in STOPWORDS:
            head = toks[i + 1]
            head = head[:-3] if head.endswith("kah") else head
            break
        if tok in ("many", "much") and i + 1 < len(toks) and toks[i + 1] not in STOPWORDS:
            head = toks[i + 1]
            break
    language = detect_language(question)
    names = {
        w.strip(".,;:!?\"'()").lower()
        for i, w in enumerate(question.split())
        if i > 0 and (w[:1].isupper() or w[:1].isdigit())
    }
    names = {n for n in names if n and n not in STOPWORDS}
    concepts = tuple(query_concepts(question, language))
    return Question(
        question, language, qtype, concepts, frozenset().union(*concepts), frozenset(toks), head, frozenset(names)
    )


# --- sentences ----------------------------------------------------------------------------


@dataclass
class _Sentence:
    hit: Hit
    start: int  # offsets inside the chunk text
    end: int
    overlap: float
    score: float

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def _weight(concept: frozenset[str]) -> float:
    # longer and numeric words carry more information than short common ones
    term = max(concept, key=len)
    return 1.5 if term[:1].isdigit() else min(1.0, 0.4 + len(term) / 10)


def _overlap(q: Question, sentence_terms: set[str]) -> float:
    """Weighted share of the question's content words that the sentence mentions."""
    if not q.concepts:
        return 0.0
    total = sum(_weight(c) for c in q.concepts)
    return sum(_weight(c) for c in q.concepts if c & sentence_terms) / total


def _dense_support(hit: Hit) -> float:
    # e5 cosine similarities crowd into 0.7-0.9; map that band onto 0-1
    return min(1.0, max(0.0, ((hit.dense or 0.0) - 0.72) / 0.16))


def _names_found(q: Question, text: str) -> float:
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


def _sentences(q: Question, hits: list[Hit], passages: int) -> list[_Sentence]:
    out = []
    for hit in hits[:passages]:
        passage_terms = set(terms(hit.chunk.text))
        passage_overlap = _overlap(q, passage_terms)
        names = _names_found(q, hit.chunk.text)
        for start, end in sentence_spans(hit.chunk.text):
            overlap = _overlap(q, set(terms(hit.chunk.text[start:end])))
            score = 0.55 * overlap + 0.15 * passage_overlap + 0.3 * _dense_support(hit) - 0.03 * (hit.rank - 1)
            # a passage that never mentions the names or numbers the question is about does not answer it
            score *= 0.4 + 0.6 * names
            out.append(_Sentence(hit, start, end, overlap, score))
    out.sort(key=lambda s: s.score, reverse=True)
    return out


# --- spans ----------------------------------------------------------------------------------

_WORD = re.compile(r"\S+")


@dataclass
class _Span:
    start: int  # offsets inside the sentence
    end: int
    text: str
    score: float


def _words(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, word) with surrounding punctuation trimmed off."""
    out = []
    for m in _WORD.finditer(sentence):
        word = m.group()
        lead = len(word) - len(word.lstrip("\"'“‘([{"))
        core = word.strip("\"'“”‘’()[]{},.;:!?")
        if not core:
            continue
        start = m.start() + lead
        out.append((start, start + len(core), core))
    return out


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper() or (word[:1].isdigit() and any(ch.isalpha() for ch in word))


def _entity_spans(sentence: str) -> list[tuple[int, int, list[str]]]:
    """Runs of capitalised words (with connectors like 'dan', 'of' inside)."""
    words = _words(sentence)
    spans = []
    i = 0
    while i < len(words):
        if not _is_capitalised(words[i][2]):
            i += 1
            continue
        j = i
        while j + 1 < len(words):
            gap = sentence[words[j][1] : words[j + 1][0]]
            if any(p in gap for p in ",;:.!?\"“”") and not gap.strip() == "(":
                break
            nxt = words[j + 1][2]
            if _is_capitalised(nxt):
                j += 1
            elif nxt.lower() in _CONNECTORS and j + 2 < len(words) and _is_capitalised(words[j + 2][2]):
                j += 2
            else:
                break
        # a closing abbreviation in brackets belongs to the name: "Badan Tenaga Atom Internasional (IAEA)"
        end = words[j][1]
        if sentence[end : end + 1] == ")" and "(" in sentence[words[i][0] : end]:
            end += 1
        spans.append((words[i][0], end, [w[2] for w in words[i : j + 1]]))
        i = j + 1
    return spans


def _pattern_spans(sentence: str, pattern: re.Pattern[str]) -> list[tuple[int, int, list[str]]]:
    out = []
    for m in pattern.finditer(sentence):
        if m.group().strip():
            start, end = m.span()
            out.append((start, end, m.group().split()))
    return out


def _extend_unit(sentence: str, start: int, end: int, head: str | None) -> int:
    """Extend a number with the unit word after it: "84" → "84 penumpang"."""
    m = re.match(r"\s+([^\W\d_]+)", sentence[end:])
    if m and (head is None or stem(m.group(1).lower()) == stem(head) or m.group(1).lower() not in STOPWORDS):
        word = m.group(1).lower()
        if word not in STOPWORDS and (head is None or stem(word) == stem(head) or len(word) > 2):
            return end + m.end()
    return end


def _candidates(q: Question, sentence: str) -> list[tuple[int, int, float]]:
    """(start, end, type score) of the spans in a sentence that could answer the question."""
    cands: list[tuple[int, int, float]] = []
    if q.qtype == DATE:
        cands += [(s, e, 1.0) for s, e, _ in _pattern_spans(sentence, _DATE)]
    elif q.qtype == NUMBER:
        for s, e, _ in _pattern_spans(sentence, _NUMBER):
            if _DATE.fullmatch(sentence[s:e]) and len(sentence[s:e]) == 4 and q.head not in ("tahun", "year"):
                continue  # a bare year is rarely the count asked for
            e2 = _extend_unit(sentence, s, e, q.head)
            unit = sentence[e:e2].strip().lower()
            bonus = 0.6 if q.head and unit and stem(unit) == stem(q.head) else 0.0
            cands.append((s, e2, 0.7 + bonus))
    for s, e, _ in _pattern_spans(sentence, _DOMAIN):
        cands.append((s, e, 0.6))
    for s, e, words in _entity_spans(sentence):
        lowered = [w.lower() for w in words]
        score = 0.5
        if all(w in _PERSON_TITLES for w in lowered):
            continue  # "CEO", "Presiden" alone name nobody
        if q.qtype == PERSON:
            org = any(w in _ORG_WORDS for w in lowered)
            score += 0.4 * (not org and any(w in _PERSON_TITLES for w in lowered)) + 0.2 * (len(words) >= 2) - 0.8 * org
        elif q.qtype in (PLACE, ENTITY):
            score += 0.2
        elif q.qtype in (DATE, NUMBER):
            score -= 0.4
        cands.append((s, e, score))
    return cands


def _known(q: Question, word: str) -> bool:
    """A stopword, or a word the question already says (also as "Indonesia" in "Indonesian")."""
    w = word.lower()
    return (
        w in STOPWORDS
        or w in q.words
        or (len(w) >= 4 and any(x.startswith(w) for x in q.words))
        or stem(w) in q.terms
    )


def _trim_question_words(q: Question, sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop words the question already says from the span's edges; None when nothing new is left."""
    words = [w for w in _words(sentence) if w[0] >= start and w[1] <= end]
    while words and _known(q, words[0][2]):
        words.pop(0)
    # a number keeps its unit even when the question names it ("berapa kementerian" → "10 kementerian")
    while q.qtype != NUMBER and words and _known(q, words[-1][2]):
        words.pop()
    if not words or all(w[2].lower() in _PERSON_TITLES for w in words):
        return None
    end2 = end if end > words[-1][1] and sentence[end - 1] == ")" and "(" in sentence[words[0][0] : end] else words[-1][1]
    return words[0][0], end2


def _best_span(q: Question, sentence: str) -> _Span | None:
    sent_words = _words(sentence)
    anchors = [
        i for i, (_, _, w) in enumerate(sent_words) if stem(w.lower()) in q.terms and w.lower() not in STOPWORDS
    ]
    # a run of capitalised words counts as one unit when measuring distance ("Alibaba Group Holding, Jack Ma")
    units, unit = [], -1
    for i, (_, _, w) in enumerate(sent_words):
        if not (i > 0 and _is_capitalised(w) and _is_capitalised(sent_words[i - 1][2])):
            unit += 1
        units.append(unit)
    best: _Span | None = None
    for start, end, type_score in _candidates(q, sentence):
        trimmed = _trim_question_words(q, sentence, start, end)
        if trimmed is None:
            continue
        start, end = trimmed
        inside = [i for i, w in enumerate(sent_words) if w[0] >= start and w[1] <= end]
        if not inside:
            continue
        if anchors:
            distance = min(min(abs(units[i] - units[a]) for a in anchors) for i in inside)
            proximity = 1.0 / (1.0 + 0.35 * max(0, distance - 1))
        else:
            proximity = 0.3
        # Indonesian agents follow passive verbs and "oleh"; speakers follow "kata"/"ujar"
        before = sent_words[inside[0] - 1][2].lower() if inside[0] > 0 else ""
        agent = 0.25 if q.qtype == PERSON and (before in {"oleh", "kata", "ujar", "ucap", "menurut", "by"} or (before.startswith("di") and len(before) > 5)) else 0.0
        first_word = 0.15 if inside[0] == 0 and q.qtype not in (NUMBER, DATE) else 0.0
        score = type_score + proximity + agent - first_word
        if best is None or score > best.score:
            best = _Span(start, end, sentence[start:end], score)
    return best


# --- the answer -----------------------------------------------------------------------------

_TEMPLATES = {
    "en": {
        "answer": "{answer} [{n}]",
        "support": "Supporting sentence: “{sentence}” [{n}]",
        "abstain": "I could not find the answer to that in the articles.",
    },
    "id": {
        "answer": "{answer} [{n}]",
        "support": "Kalimat pendukung: “{sentence}” [{n}]",
        "abstain": "Jawabannya tidak ditemukan dalam artikel.",
    },
}


def abstain_message(language: str) -> str:
    """'Not in the articles' in the question's language."""
    return _TEMPLATES.get(language, _TEMPLATES["en"])["abstain"]


def extract_answer(question: str, hits: list[Hit], min_support: float = 0.35, passages: int = 3) -> Answer:
    """The extractive answer to `question` from `hits`, or an abstention when support is weak."""
    q = analyse(question)
    sentences = _sentences(q, hits, passages)
    if not sentences or sentences[0].score < min_support:
        return Answer(question, q.language, "", abstain_message(q.language), abstained=True, hits=hits)

    # the best span over the best few sentences, weighted by how well each sentence matches
    chosen, span = sentences[0], None
    if q.qtype != OTHER:
        best_total = float("-inf")
        for s in sentences[:4]:
            candidate = _best_span(q, s.text)
            if candidate is not None and candidate.score + 2.0 * s.score > best_total:
                best_total, chosen, span = candidate.score + 2.0 * s.score, s, candidate

    chunk = chosen.hit.chunk
    sentence_start, sentence_end = chunk.start + chosen.start, chunk.start + chosen.end
    text = span.text if span else chosen.text
    answer_span = (sentence_start + span.start, sentence_start + span.end) if span else (sentence_start, sentence_end)
    citations = [_citation(1, chosen.hit, sentence_start, sentence_end, chosen.score)]
    # another passage whose sentence states the same answer is cited too
    for s in sentences[1:]:
        if len(citations) >= 3:
            break
        if s.hit.chunk.chunk_id not in {c.chunk_id for c in citations} and span and span.text in s.text and s.score >= min_support:
            citations.append(_citation(len(citations) + 1, s.hit, s.hit.chunk.start + s.start, s.hit.chunk.start + s.end, s.score))
    t = _TEMPLATES.get(q.language, _TEMPLATES["en"])
    markers = "][".join(str(c.n) for c in citations)
    reply = t["answer"].format(answer=text, n=markers)
    if span:
        reply += "\n" + t["support"].format(sentence=chosen.text, n=1)
    return Answer(
        question=question,
        language=q.language,
        text=text,
        reply=reply,
        abstained=False,
        support=chosen.text,
        span=answer_span,
        citations=citations,
        hits=hits,
    )


def _citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    c = hit.chunk
    return Citation(n, c.chunk_id, c.doc_id, c.source, c.title, c.paragraph, c.text, start, end, score, c.start)
