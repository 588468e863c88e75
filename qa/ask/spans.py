"""Short answers inside sentences: the passages' best sentences for a question, and in them the spans
of the kind it asks for (a person, place, organisation, number, date …), each with the features the
span scorer (qa/data/answer_model.json) weighs; `gives_kind` says whether a text holds that kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..linear import DATA, LinearModel
from ..records import Hit
from ..text import STOPWORDS, sentence_spans, stem, terms
from .question import DATE, ENTITY, NUMBER, OTHER, PERSON, PLACE, Question, names_found, overlap

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
class Sentence:
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


def best_sentences(q: Question, hits: list[Hit], passages: int) -> list[Sentence]:
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
            out.append(Sentence(hit, start, end, sentence_overlap, score, passage_overlap, names))
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
TYPED_KINDS = {DATE: {"date_slash", "date_month", "year", "day"}, NUMBER: {"number", "ordinal"}}
_GENERIC = _PERSON_TITLES | _ORG_WORDS | _PLACE_WORDS | STOPWORDS


@dataclass
class SpanCandidate:
    """A possible answer span inside a sentence, with the features that score it."""

    sentence: Sentence
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


def sentence_candidates(q: Question, sent: Sentence) -> list[SpanCandidate]:
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
    return from_sentences(q, best_sentences(q, hits, passages))


def from_sentences(q: Question, sentences: list[Sentence], best: int = 6) -> list[SpanCandidate]:
    return [c for sent in sentences[:best] for c in sentence_candidates(q, sent)]


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
