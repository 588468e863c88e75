"""Extractive answers without a language model.

From the retrieved passages: pick the sentence that best supports an answer, then inside it the
short span the question asks for (a person, place, organisation, number, date …), scored by type
match and closeness to the question's words. When the best support is weak, abstain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from ..dates import parse_date, when_said
from ..linear import DATA, LinearModel
from ..records import Answer, Citation, Hit, Reading
from ..settings import Settings
from ..text import STOPWORDS, detect_language, sentence_spans, stem, terms
from .forms import SPAN, YESNO
from .question import DATE, ENTITY, NUMBER, OTHER, PERSON, PLACE, Question, names_found, overlap
from .yesno import YesNo

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


# --- sentences ----------------------------------------------------------------------------


@dataclass
class _Sentence:
    hit: Hit
    start: int  # offsets inside the chunk text
    end: int
    overlap: float
    score: float
    passage_overlap: float = 0.0
    names: float = 1.0
    rank: int = 0  # among all candidate sentences
    gap: float = 0.0  # how far below the best sentence's score

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def _dense_support(hit: Hit) -> float:
    # e5 cosine similarities crowd into 0.7-0.9; map that band onto 0-1
    return min(1.0, max(0.0, ((hit.dense or 0.0) - 0.72) / 0.16))


def _sentences(q: Question, hits: list[Hit], passages: int) -> list[_Sentence]:
    out = []
    for hit in hits[:passages]:
        passage_terms = set(terms(hit.chunk.text))
        passage_overlap = overlap(q, passage_terms)
        names = names_found(q, hit.chunk.text)
        for start, end in sentence_spans(hit.chunk.text):
            sentence_overlap = overlap(q, set(terms(hit.chunk.text[start:end])))
            score = 0.55 * sentence_overlap + 0.15 * passage_overlap + 0.3 * _dense_support(hit) - 0.03 * (hit.rank - 1)
            # a passage that never mentions the names or numbers the question is about does not answer it
            score *= 0.4 + 0.6 * names
            out.append(_Sentence(hit, start, end, sentence_overlap, score, passage_overlap, names))
    out.sort(key=lambda s: s.score, reverse=True)
    for rank, sent in enumerate(out, start=1):
        sent.rank = rank
        sent.gap = out[0].score - sent.score
    return out


# --- candidate spans and their features ----------------------------------------------------

_WORD = re.compile(r"\S+")
_ORDINAL = re.compile(
    r"\bke-?\d+\b|\bke(satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas)\b|\bpertama\b",
    re.IGNORECASE,
)
_SLASH_DATE = re.compile(r"^\d{1,2}/\d{1,2}(/\d{2,4})?$")
_DAY_NAMES = {
    "senin",
    "selasa",
    "rabu",
    "kamis",
    "jumat",
    "sabtu",
    "minggu",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
}
_PLACE_WORDS = set(
    """kota kabupaten provinsi desa kecamatan kelurahan pulau negara jalan jl gunung sungai pantai teluk
    selat laut danau kawasan daerah wilayah pelabuhan bandara city province island village district
    street mount river lake bay""".split()
)
_AGENT_CUES = {"oleh", "kata", "ujar", "ucap", "tutur", "menurut", "jelas", "by", "said"}
# what kind of span a head noun asks for: "situs apa" → a domain, "tahun berapa" → a year
_HEAD_KINDS = {
    **dict.fromkeys(("situs", "website", "site", "laman", "web", "portal"), ("domain",)),
    **dict.fromkeys(("tahun", "year"), ("year",)),
    **dict.fromkeys(("tanggal", "date"), ("date_slash", "date_month")),
    **dict.fromkeys(("hari", "day"), ("day", "date_slash")),
    **dict.fromkeys(("bulan", "month"), ("date_month",)),
    **dict.fromkeys(("urutan", "peringkat", "rank"), ("ordinal",)),
}
_TYPED_KINDS = {DATE: {"date_slash", "date_month", "year", "day"}, NUMBER: {"number", "ordinal"}}
_GENERIC = _PERSON_TITLES | _ORG_WORDS | _PLACE_WORDS | STOPWORDS


@dataclass
class SpanCandidate:
    """A possible answer span inside a sentence, with the features that score it."""

    sentence: _Sentence
    start: int  # offsets inside the sentence text
    end: int
    kind: str
    features: dict[str, float]
    score: float = 0.0

    @property
    def text(self) -> str:
        return self.sentence.text[self.start : self.end]


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


def _capital_runs(sentence: str, words: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Word-index ranges [i, j] of capitalised runs (connectors like 'dan', 'of' allowed inside)."""
    runs = []
    i = 0
    while i < len(words):
        if not _is_capitalised(words[i][2]):
            i += 1
            continue
        j = i
        while j + 1 < len(words):
            gap = sentence[words[j][1] : words[j + 1][0]]
            if any(p in gap for p in ',;:.!?"“”') and gap.strip() != "(":
                break
            nxt = words[j + 1][2]
            if _is_capitalised(nxt):
                j += 1
            elif nxt.lower() in _CONNECTORS and j + 2 < len(words) and _is_capitalised(words[j + 2][2]):
                j += 2
            else:
                break
        runs.append((i, j))
        i = j + 1
    return runs


def _known(q: Question, word: str) -> bool:
    """A stopword, or a word the question already says (also as "Indonesia" in "Indonesian")."""
    w = word.lower()
    return w in STOPWORDS or w in q.words or (len(w) >= 4 and any(x.startswith(w) for x in q.words)) or stem(w) in q.terms


def _raw_candidates(q: Question, sentence: str, words: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(first word, last word, kind) of every span that could answer the question."""
    found: dict[tuple[int, int], str] = {}
    starts = {w[0]: i for i, w in enumerate(words)}
    ends = {w[1]: i for i, w in enumerate(words)}

    def add_chars(start: int, end: int, kind: str) -> None:
        i = next((starts[p] for p in range(start, end) if p in starts), None)
        j = next((ends[p] for p in range(end, start, -1) if p in ends), None)
        if i is not None and j is not None and i <= j:
            found.setdefault((i, j), kind)

    for m in _DATE.finditer(sentence):
        text = m.group()
        kind = (
            "date_slash"
            if _SLASH_DATE.match(text)
            else "year"
            if text.isdigit()
            else "day"
            if text.lower() in _DAY_NAMES
            else "date_month"
        )
        add_chars(*m.span(), kind)
    for m in _NUMBER.finditer(sentence):
        if m.group().strip() and not (m.group().isdigit() and len(m.group()) == 4):
            add_chars(*m.span(), "number")
    for m in _ORDINAL.finditer(sentence):
        add_chars(*m.span(), "ordinal")
    for m in _DOMAIN.finditer(sentence):
        add_chars(*m.span(), "domain")
    for i, j in _capital_runs(sentence, words):
        found.setdefault((i, j), "cap")
        for a in range(i, j + 1):  # parts of long runs: "Sumatera Utara Tengku Rizal Nurdin"
            for b in range(a, min(j, a + 3) + 1):
                if (a, b) != (i, j):
                    found.setdefault((a, b), "cap_part")
    if q.qtype in (ENTITY, OTHER, PLACE):
        for i in range(len(words)):
            for j in range(i, min(i + 3, len(words))):
                if not any(_is_capitalised(words[k][2]) for k in range(i, j + 1)):
                    found.setdefault((i, j), "lower")
    # numbers keep the unit after them ("84 penumpang")
    out = []
    for (i, j), kind in found.items():
        if kind == "number" and j + 1 < len(words) and words[j + 1][2].isalpha() and words[j + 1][2].lower() not in STOPWORDS:
            out.append((i, j + 1, "number"))
        out.append((i, j, kind))
    return out


def _candidates(q: Question, sent: _Sentence) -> list[SpanCandidate]:
    """All candidate spans of one sentence, trimmed of words the question already says, with features."""
    sentence = sent.text
    words = _words(sentence)
    anchors = [i for i, (_, _, w) in enumerate(words) if w.lower() not in STOPWORDS and stem(w.lower()) in q.terms]
    # a run of capitalised words counts as one unit when measuring distance ("Alibaba Group Holding, Jack Ma")
    units, unit = [], -1
    for i, (_, _, w) in enumerate(words):
        if not (i > 0 and _is_capitalised(w) and _is_capitalised(words[i - 1][2])):
            unit += 1
        units.append(unit)
    base = {
        "sent_overlap": sent.overlap,
        "passage_overlap": sent.passage_overlap,
        "dense": _dense_support(sent.hit),
        "inv_rank": 1.0 / sent.hit.rank if sent.hit.rank else 0.0,
        "names": sent.names,
        "sent_first": float(sent.start == 0),
        "sent_score": sent.score,
        "sent_top": float(sent.rank == 1),
        "sent_gap": sent.gap,
    }
    seen: set[tuple[int, int]] = set()
    out = []
    for i0, j0, kind in _raw_candidates(q, sentence, words):
        i, j = i0, j0
        keep_unit = kind == "number"
        while i <= j and _known(q, words[i][2]):
            i += 1
        while not keep_unit and j >= i and _known(q, words[j][2]):
            j -= 1
        if i > j or (i, j) in seen:
            continue
        seen.add((i, j))
        span_words = [w[2].lower() for w in words[i : j + 1]]
        if all(w in _GENERIC for w in span_words):
            continue  # "CEO", "Group", "Kota" alone name nothing
        start, end = words[i][0], words[j][1]
        if sentence[end : end + 1] == ")" and "(" in sentence[start:end]:
            end += 1
        f = dict(base)
        f["kind_" + kind] = 1.0
        f["trimmed"] = float((i, j) != (i0, j0))
        f[f"q_{q.qtype}_{kind}"] = 1.0
        if anchors:
            distance = min(abs(units[k] - units[a]) for a in anchors for k in range(i, j + 1))
            nearest = min(anchors, key=lambda a: min(abs(units[k] - units[a]) for k in range(i, j + 1)))
            f["prox"] = 1.0 / (1.0 + max(0, distance - 1))
            f["adjacent"] = float(distance <= 1)
            f["anchor_before"] = float(nearest < i)
            near = {stem(words[a][2].lower()) for a in anchors if abs(units[a] - units[i]) <= 5 or abs(units[a] - units[j]) <= 5}
            f["anchors_near"] = sum(bool(c & near) for c in q.concepts) / max(1, len(q.concepts))
        else:
            f["no_anchor"] = 1.0
        before = words[i - 1][2].lower() if i > 0 else ""
        f["agent_cue"] = float(before in _AGENT_CUES or (before.startswith("di") and len(before) > 5 and before not in STOPWORDS))
        f["title_before"] = float(before in _PERSON_TITLES)
        f["title_inside"] = float(any(w in _PERSON_TITLES for w in span_words))
        f["org_inside"] = float(any(w in _ORG_WORDS for w in span_words))
        f["place_inside"] = float(any(w in _PLACE_WORDS for w in span_words))
        f["place_before"] = float(before in _PLACE_WORDS or before in {"di", "ke", "dari", "in", "at"})
        if q.head:
            head = stem(q.head)
            f["head_kind"] = float(kind in _HEAD_KINDS.get(q.head, ()))
            f["head_inside"] = float(any(stem(w) == head for w in span_words))
            f["head_before"] = float(stem(before) == head) if before else 0.0
        f[f"len_{min(len(span_words), 4)}"] = 1.0
        f["sent_initial"] = float(i == 0)
        f["in_parens"] = float(sentence[max(0, start - 1) : start] == "(")
        f["comma_after"] = float(sentence[end : end + 1] == ",")
        f["comma_before"] = float(sentence[max(0, start - 2) : start].strip() == ",")
        f["quoted"] = float(sentence[max(0, start - 1) : start] in '"“')
        out.append(SpanCandidate(sent, start, end, kind, f))
    return out


@lru_cache(maxsize=1)
def answer_model() -> LinearModel:
    """The shipped span scorer, trained on FacQA train (`python -m qa train`)."""
    return LinearModel.load(DATA / "answer_model.json")


def candidates(q: Question, hits: list[Hit], passages: int = 3) -> list[SpanCandidate]:
    """SpanCandidate answers from the best sentences of the first `passages` hits (what training sees)."""
    return _from_sentences(q, _sentences(q, hits, passages))


def _from_sentences(q: Question, sentences: list[_Sentence], best: int = 6) -> list[SpanCandidate]:
    return [c for sent in sentences[:best] for c in _candidates(q, sent)]


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


def gives_kind(q: Question, text: str) -> bool:
    """Whether `text` holds the kind of answer the question asks for, in words the question does not
    use: a date for "when", a number for "how many", a name for "who"/"where" (other questions: True)."""
    words = [w for w in _words(text) if not _known(q, w[2])]
    novel = " ".join(w[2] for w in words)
    if q.qtype == DATE:
        return bool(_DATE.search(novel))
    if q.qtype == NUMBER:
        return any(ch.isdigit() for ch in novel) or bool(_NUMBER.search(novel))
    if q.qtype in (PERSON, PLACE):
        return any(_is_capitalised(w[2]) for w in words)
    return bool(words)


def abstain_message(language: str) -> str:
    """'Not in the articles' in the question's language."""
    return _TEMPLATES.get(language, _TEMPLATES["en"])["abstain"]


CONFIDENCE_FILE = DATA / "confidence.json"


class Confidence:
    """The probability that the reader's answer is right, from what its reading shows: a logistic model
    over a few features (its margin over "no answer", how far ahead of the other passages it is, the
    passage's retrieval rank, the best sentence's support, whether the span is the kind of thing asked
    for, the languages of question and passage). Fitted and calibrated on dev by `benchmarks/calibrate.py`
    (qa/data/confidence.json, with the threshold chosen there)."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.threshold = float(model.meta.get("threshold", 0.5))
        # a threshold of their own for questions answered with a sentence (yes/no, why/how), chosen on
        # their dev questions: their answers and their unanswerables are told apart differently
        self.sentence_threshold = float(model.meta.get("thresholds", {}).get("sentence", self.threshold))

    def threshold_for(self, q: Question) -> float:
        return self.threshold if q.form == SPAN else self.sentence_threshold

    @staticmethod
    @lru_cache(maxsize=1)
    def shipped() -> "Confidence | None":
        return Confidence(LinearModel.load(CONFIDENCE_FILE)) if CONFIDENCE_FILE.is_file() else None

    def probability(self, features: dict[str, float]) -> float:
        z = max(-30.0, min(30.0, self.model.score(features)))
        return 1.0 / (1.0 + math.exp(-z))


def reading_features(q: Question, best: Reading, readings: list[Reading], support: float) -> dict[str, float]:
    """What the decision to answer looks at (see Confidence)."""
    margin = max(-15.0, min(15.0, best.margin))
    others = [r.margin for r in readings if r is not best and r.end > r.start]
    passage = best.hit.chunk.text
    span = passage[best.start : best.end]
    typed = q.qtype in (DATE, NUMBER, PERSON, PLACE)
    return {
        "margin": margin,
        "margin_above": max(0.0, margin),
        "gap": max(0.0, min(15.0, best.margin - max(others))) if others else 0.0,
        "read_one": float(len(readings) == 1),
        "rank": float(min(best.hit.rank - 1, 4)),
        "support": float(support),
        "typed": float(typed),
        "typed_match": float(typed and gives_kind(q, span)),
        "english_question": float(q.language == "en"),
        "across_languages": float(detect_language(passage) != q.language),
        "span_words": min(len(span.split()), 20) / 20,
        "sentence": float(q.form != SPAN),  # answered with a sentence (yes/no, why/how): read differently
    }


@dataclass(frozen=True)
class ReaderPolicy:
    """How the reader's readings become the answer (chosen on dev, BENCHMARKS.md).

    The passage read is the one whose margin (span over "no answer") minus `rank_penalty` per rank
    below the first is highest. Whether to answer is one calibrated decision: the answer is given when
    `confidence`'s probability that it is right reaches `min_confidence` (its own dev-chosen threshold
    when negative). Without a confidence model the older rule holds: a margin of `min_margin`
    (`min_margin_en` for English questions), or `weak_margin` when the best sentence supports it."""

    rank_penalty: float
    min_margin: float
    weak_margin: float
    min_margin_en: float | None = None
    confidence: Confidence | None = None
    min_confidence: float = -1.0

    @classmethod
    def of(cls, settings: Settings) -> "ReaderPolicy":
        return cls(
            settings.reader_rank_penalty,
            settings.reader_min_margin,
            settings.reader_weak_margin,
            settings.reader_min_margin_en,
            Confidence.shipped() if settings.reader_confidence else None,
            settings.reader_min_confidence,
        )

    def decide(
        self, q: Question, best: Reading, readings: list[Reading], support: float, min_support: float
    ) -> tuple[bool, float | None]:
        """(answer it?, the probability it is right — None without a confidence model)."""
        if best.end <= best.start:
            return False, 0.0 if self.confidence else None
        if self.confidence is None:
            return best.margin >= self.threshold(q) or (support >= min_support and best.margin >= self.weak_margin), None
        p = self.confidence.probability(reading_features(q, best, readings, support))
        return p >= (self.min_confidence if self.min_confidence >= 0 else self.confidence.threshold_for(q)), p

    def threshold(self, q: Question) -> float:
        return self.min_margin_en if q.language == "en" and self.min_margin_en is not None else self.min_margin

    def preference(self, reading: Reading) -> float:
        """How much the reader prefers a passage: its margin, less `rank_penalty` per retrieval rank below the first."""
        return reading.margin - self.rank_penalty * (reading.hit.rank - 1)

    def reorder(self, hits: list[Hit], readings: list[Reading]) -> list[Hit]:
        """The hits with the ones the reader read put in its order of preference (the rest stay
        behind them), ranks renumbered: the reader is a cross-encoder, and the passage it answers
        from comes first (BENCHMARKS.md: "The reader as a reranker")."""
        read = [r.hit for r in sorted(readings, key=self.preference, reverse=True)]
        ids = {id(h) for h in read}
        ordered = read + [h for h in hits if id(h) not in ids]
        return [replace(h, rank=n) for n, h in enumerate(ordered, 1)]


def extract_answer(
    q: Question,
    hits: list[Hit],
    min_support: float = 0.35,
    passages: int = 3,
    model: LinearModel | None = None,
    readings: list[Reading] | None = None,
    policy: ReaderPolicy | None = None,
) -> Answer:
    """The extractive answer to `q` from `hits`, or an abstention when support is weak. With the
    reader's `readings` of the first hits, the span is the reader's; else the linear span scorer's."""
    question = q.text
    sentences = _sentences(q, hits, passages)
    support = sentences[0].score if sentences else 0.0
    if readings:
        return _read_answer(q, hits, sentences, readings, min_support, policy or ReaderPolicy.of(Settings()))
    if support < min_support:
        return Answer(question, q.language, "", abstain_message(q.language), abstained=True, hits=hits, support_score=support)

    model = model or answer_model()
    cands = _from_sentences(q, sentences)
    # a "when" or "how many" question is answered by a date or a number whenever one is on offer,
    # looking a little further down the passages for one if need be
    wanted = _TYPED_KINDS.get(q.qtype)
    if wanted and not any(c.kind in wanted for c in cands):
        wider = [x for x in _sentences(q, hits, passages + 2)[:12] if x.score >= min_support]
        cands += [c for sent in wider for c in _candidates(q, sent) if c.kind in wanted]
    if wanted and any(c.kind in wanted for c in cands):
        cands = [c for c in cands if c.kind in wanted]
    best: SpanCandidate | None = None
    for cand in cands:
        cand.score = model.score(cand.features)
        if best is None or cand.score > best.score:
            best = cand
    chosen = best.sentence if best else sentences[0]

    chunk = chosen.hit.chunk
    sentence_start, sentence_end = chunk.start + chosen.start, chunk.start + chosen.end
    short = best if best is not None and q.form == SPAN else None  # yes/no, why/how: the sentence
    text = short.text if short else chosen.text
    answer_span = (sentence_start + short.start, sentence_start + short.end) if short else (sentence_start, sentence_end)
    citations = [citation(1, chosen.hit, sentence_start, sentence_end, chosen.score)]
    if best:
        _also_cited(citations, text, sentences, min_support)
    return _answer(q, text, chosen.text, answer_span, citations, hits, support, show_support=bool(best))


def _also_cited(citations: list[Citation], text: str, sentences: list[_Sentence], min_support: float) -> None:
    """Another passage whose sentence states the same answer is cited too (up to 3 citations)."""
    for s in sentences:
        if len(citations) >= 3:
            break
        if s.hit.chunk.chunk_id not in {c.chunk_id for c in citations} and text in s.text and s.score >= min_support:
            citations.append(citation(len(citations) + 1, s.hit, s.hit.chunk.start + s.start, s.hit.chunk.start + s.end, s.score))


def _answer(
    q: Question,
    text: str,
    sentence: str,
    span: tuple[int, int],
    citations: list[Citation],
    hits: list[Hit],
    support: float,
    show_support: bool = True,
) -> Answer:
    t = _TEMPLATES.get(q.language, _TEMPLATES["en"])
    markers = "][".join(str(c.n) for c in citations)
    verdict = None
    if q.form == SPAN:
        # "kemarin" means the day before its article's: say which day
        meant = when_said(text, parse_date(citations[0].date), q.language) if citations else None
        reply = t["answer"].format(answer=f"{text} ({meant})" if meant else text, n=markers)
        if show_support and text != sentence:
            reply += "\n" + t["support"].format(sentence=sentence, n=1)
    else:  # yes/no, why/how: the sentence, said to be the article's, in which language, and a yes/no label
        labels = YesNo.shipped() if q.form == YESNO else None
        verdict = labels.verdict(q, text) if labels else None
        reply = sentence_reply(q.language, text, verdict.label if verdict else "", markers)
    return Answer(
        question=q.text,
        language=q.language,
        text=text,
        reply=reply,
        abstained=False,
        support=sentence,
        span=span,
        citations=citations,
        hits=hits,
        support_score=support,
        label=verdict.label if verdict else "",
    )


_SENTENCE_REPLY = {
    "en": {"yes": "Yes.", "no": "No.", "uncertain": "Not certain.", "says": "The article says", "other": " (in Indonesian)"},
    "id": {
        "yes": "Ya.",
        "no": "Tidak.",
        "uncertain": "Belum pasti.",
        "says": "Artikel menyebutkan",
        "other": " (dalam bahasa Inggris)",
    },
}


def sentence_reply(language: str, sentence: str, label: str, markers: str) -> str:
    """The reply to a yes/no or why/how question: its label if one is given ("Yes." / "Ya."), then the
    sentence quoted as the article's, saying so when it is in the other language: "Yes. The article
    says (in Indonesian): “Jack Ma kemungkinan akan menerima tawaran itu.” [1]". Never an
    untranslated sentence passed off as an answer in the question's language."""
    t = _SENTENCE_REPLY.get(language, _SENTENCE_REPLY["en"])
    other = t["other"] if detect_language(sentence) != language else ""
    lead = f"{t[label]} " if label else ""
    return f"{lead}{t['says']}{other}: “{sentence}” [{markers}]"


_UNIT = re.compile(r"\s([^\W\d_][\w-]*)")


def _with_unit(text: str, end: int) -> int:
    """A number keeps the word after it ("10" → "10 kementerian", "49,07" → "49,07 detik")."""
    m = _UNIT.match(text, end)
    if end and text[end - 1].isdigit() and m and m.group(1).lower() not in STOPWORDS:
        return m.end()
    return end


def _read_answer(
    q: Question, hits: list[Hit], sentences: list[_Sentence], readings: list[Reading], min_support: float, policy: ReaderPolicy
) -> Answer:
    """The answer the reader found: its most certain passage (rank counts a little), the span it chose
    there, or for yes/no and why/how questions the sentence holding that span. `sentences` are the
    extractor's scored sentences (their best is the support that backs a weak margin)."""
    support = sentences[0].score if sentences else 0.0
    best = max(readings, key=policy.preference)
    answered, confidence = policy.decide(q, best, readings, support, min_support)
    hits = policy.reorder(hits, readings)
    if not answered:
        answer = Answer(q.text, q.language, "", abstain_message(q.language), abstained=True, hits=hits, support_score=support)
        answer.reader_margin, answer.confidence = best.margin, confidence
        return answer
    chunk = best.hit.chunk
    # the sentence holding the span (or the sentences, if the span runs over a sentence end)
    spans = [(s, e) for s, e in sentence_spans(chunk.text) if s < best.end and best.start < e] or [(0, len(chunk.text))]
    a, b = spans[0][0], spans[-1][1]
    sentence = chunk.text[a:b]
    span = (best.start, best.end) if q.form == SPAN else (a, b)  # yes/no, why/how: the sentence
    if q.form == SPAN and q.qtype == NUMBER:
        span = (span[0], _with_unit(chunk.text, span[1]))
    text = chunk.text[span[0] : span[1]]
    citations = [citation(1, best.hit, chunk.start + a, chunk.start + b, best.margin)]
    _also_cited(citations, text, sentences, min_support)
    answer = _answer(q, text, sentence, (chunk.start + span[0], chunk.start + span[1]), citations, hits, support)
    answer.reader_margin, answer.confidence = best.margin, confidence
    return answer


def citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    """Citation [n] of a hit's passage, its supporting sentence at start..end (document offsets)."""
    c = hit.chunk
    return Citation(
        n,
        c.chunk_id,
        c.doc_id,
        c.source,
        c.title,
        c.paragraph,
        c.text,
        start,
        end,
        score,
        c.start,
        c.page,
        hit.collection,
        c.date,
    )
