"""Language-aware text helpers shared by chunking, keyword search and answering.

Sentence splitting with offsets, tokenising, Indonesian stemming (PySastrawi, cached),
stopwords for Indonesian and English, and question-language detection.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

# --- normalisation -----------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise(text: str) -> str:
    """NFC, unify newlines, drop control characters, collapse spaces; one paragraph per blank-line block.

    A line is its own paragraph (news files put one paragraph on a line), except in hard-wrapped
    text (blank lines between blocks of short lines), where the lines of a block are joined.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    filled = sorted(len(line) for line in lines if line)
    has_blank_between = "" in "\n".join(lines).strip("\n").split("\n")
    hard_wrapped = bool(filled) and has_blank_between and filled[len(filled) // 2] < 100
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        if current and (not line or not hard_wrapped):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


# --- sentences ---------------------------------------------------------------------------

_ABBREVIATIONS = {
    "dr",
    "drs",
    "dra",
    "prof",
    "ir",
    "h",
    "hj",
    "st",
    "mr",
    "mrs",
    "ms",
    "jr",
    "sr",
    "no",
    "nomor",
    "rp",
    "dll",
    "dsb",
    "dkk",
    "tbk",
    "kec",
    "kab",
    "jl",
    "jln",
    "sp",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "u.s",
    "a.n",
    "s.h",
    "s.e",
    "m.si",
    "mt",
    "kh",
    "gen",
    "let",
    "kol",
    "mayjen",
    "brigjen",
    "kompol",
    "kapt",
    "lt",
    "sdr",
    "bpk",
    "ny",
    "tn",
    "inc",
    "ltd",
    "co",
    "corp",
    "pt",
    "cv",
    "km",
    "kg",
    # English titles, ranks and degrees ("Union Maj. Gen. Sherman", "Sault Ste. Marie", "a Ph.D. in")
    "ste",
    "maj",
    "col",
    "capt",
    "sgt",
    "adm",
    "rev",
    "gov",
    "sen",
    "ph.d",
    "m.d",
    "b.sc",
    "m.sc",
    "ca",
    "approx",
    "al",
    "fig",
    "vol",
    "dept",
}
# a sentence ends at . ! or ? (with any closing quotes and brackets, and Wikipedia's reference marks
# after them: "gurun.[5]", "1990s.[note 1]", '…plughole."[10]') before a space and a capital or a digit
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?:\[[^\[\]\n]{1,20}\][\"'”’)]*)*(?=\s+[\"'“‘(\[]?[A-Z0-9À-Ý])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text` (abbreviations and initials do not end one)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        word = re.search(r"([\w.]+)[.!?]*$", text[start : m.start() + 1])
        token = word.group(1).lower().rstrip(".") if word else ""
        if text[m.start()] == "." and (token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())):
            continue
        end = m.end()
        if text[start:end].strip():
            spans.append(_strip_span(text, start, end))
        start = end
    if text[start:].strip():
        spans.append(_strip_span(text, start, len(text)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# --- tokens ------------------------------------------------------------------------------

# a number (Indonesian thousands dots and decimal commas kept together) or a run of letters
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")

STOPWORDS_ID = frozenset(
    """yang dan di ke dari ini itu dengan untuk pada adalah dalam tidak akan oleh sebagai juga atau
    karena telah sudah ada apa siapa kapan dimana mana berapa bagaimana mengapa kenapa apakah
    siapakah manakah berapakah kapankah dimanakah bilakah bila bilamana tersebut para se nya
    kah lah pun saja masih sedang bahwa namun tetapi tapi serta maupun hingga sampai agar supaya
    kami kita mereka dia ia saya aku anda kamu beliau sang si sebuah seorang satu bagi antara
    lebih sangat paling hanya bisa dapat harus boleh belum pernah sempat lalu kemudian setelah
    sebelum saat ketika sejak selama jika kalau maka yaitu yakni merupakan menjadi jadi demikian
    begitu sini sana situ apakah adakah nama disebut menurut sementara meski meskipun selain
    kini sekarang tak tanpa pula ialah bahkan terhadap tentang melalui oleh""".split()
)
STOPWORDS_EN = frozenset(
    """a an the and or but of in on at to for from by with about as into through during before after
    is are was were be been being am do does did has have had having it its this that these those
    what who whom whose which when where why how many much there their they them he she his her him
    i you we our your my me us not no yes can could will would shall should may might must than then
    so such also just very too only own same other some any each few more most all both either neither
    name called named""".split()
)
STOPWORDS = STOPWORDS_ID | STOPWORDS_EN


def tokens(text: str) -> list[str]:
    """Lowercased word and number tokens; `1.000` → `1000`, `-nya` kept with its word."""
    out = []
    for tok in _TOKEN.findall(text.lower()):
        if tok[0].isdigit():
            out.append(tok.replace(".", "") if _THOUSANDS.match(tok) else tok)
        else:
            out.append(tok)
    return out


@lru_cache(maxsize=1)
def _stemmer():
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=500_000)
def stem(token: str) -> str:
    """Indonesian stem of one lowercased token (numbers and short tokens unchanged)."""
    if len(token) <= 3 or not token.isalpha():
        return token
    return _stemmer().stem(token) or token


def terms(text: str) -> list[str]:
    """Keyword-search terms: tokens without stopwords, stemmed."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


# --- language ----------------------------------------------------------------------------

_EN_MARKERS = frozenset(
    """the of and is are was were who what when where which why how many much did does do in on
    at to for from by with that this has have had offered role""".split()
)
_ID_MARKERS = frozenset(
    """yang dan di ke dari ini itu dengan untuk pada adalah dalam siapa apa kapan mana berapa
    bagaimana mengapa apakah siapakah berapakah tidak akan oleh sebagai menjadi tahun""".split()
)


def detect_language(text: str) -> str:
    """'en' or 'id', from function words; ties go to Indonesian (the collection's main language)."""
    toks = tokens(text)
    en = sum(t in _EN_MARKERS for t in toks)
    idn = sum(t in _ID_MARKERS or t.endswith("kah") for t in toks)
    return "en" if en > idn else "id"


# Function words of the languages readers most often try instead (a question in one of them is refused
# with a message rather than answered with a guess): none is an English or Indonesian marker.
_OTHER_MARKERS = {
    "French": frozenset(
        """qui que quoi quel quelle quels quelles est sont était le la les de des du une un à au aux pour avec dans
        où comment pourquoi combien quand lui leur été ont avait""".split()
    ),
    "Spanish": frozenset(
        """quién quiénes qué cuál cuáles cuándo dónde cómo por qué el los las de del una un es fue son era le a
        al con para según cuántos cuántas""".split()
    ),
    "German": frozenset(
        """wer wen wem wessen was wann wo warum wie welche welcher welches der die das den dem des ist sind
        war hat haben und nicht ein eine einen mit für von zu als""".split()
    ),
    "Portuguese": frozenset(
        """quem qual quais quando onde como porque por que o os a as de do da dos das um uma é foi são era ao
        com para pelo pela""".split()
    ),
}
_OTHER_LEAST = 3  # markers of another language a question needs to be taken for it


def _in_names(words: list[str]) -> set[int]:
    """Which of a question's words belong to a name or a title: capitalised words after the first, and
    up to two lowercase words between two of them ("Le Voyage dans la Lune", "Gone with the Wind")."""
    capitals = [i for i, w in enumerate(words) if i > 0 and w[:1].isupper()]
    named = set(capitals)
    for a, b in zip(capitals, capitals[1:]):
        if 1 < b - a <= 3:
            named.update(range(a + 1, b))
    return named


def other_language(text: str) -> str | None:
    """The language a question is in when it is clearly neither Indonesian nor English (at least
    _OTHER_LEAST of its function words, more than of Indonesian and English together), else None: a
    question that only names something in another language ("de la", "le", a title such as "Le Voyage
    dans la Lune") is Tanya's to answer."""
    words = _TOKEN.findall(text)
    toks = [w.lower() for w in words]
    ours = sum(t in _EN_MARKERS or t in _ID_MARKERS or t.endswith("kah") for t in toks)
    if ours:  # a question in our languages may name a film or a book in another: its words are not asked in it
        named = _in_names(words)
        toks = [t for i, t in enumerate(toks) if i not in named]
    counts = {name: sum(t in markers for t in toks) for name, markers in _OTHER_MARKERS.items()}
    name, most = max(counts.items(), key=lambda item: item[1])
    return name if most >= _OTHER_LEAST and most > ours else None


# --- English questions over Indonesian articles ---------------------------------------------

_GLOSSARY_FILE = Path(__file__).with_name("data") / "glossary_en_id.txt"


@lru_cache(maxsize=1)
def _glossary() -> dict[str, tuple[str, ...]]:
    entries: dict[str, tuple[str, ...]] = {}
    for line in _GLOSSARY_FILE.read_text(encoding="utf-8").splitlines():
        if ":" in line and not line.startswith("#"):
            english, indonesian = line.split(":", 1)
            entries[english.strip()] = tuple(dict.fromkeys(stem(w) for w in tokens(indonesian)))
    return entries


def _english_bases(word: str) -> list[str]:
    """The word and its likely base forms (offered → offer, ministries → ministry)."""
    bases = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            bases.append(word[: -len(suffix)] + repl)
    return bases


def query_concepts(question: str, language: str | None = None) -> list[frozenset[str]]:
    """The question's content words, each as the set of terms that count as it being mentioned:
    its stem and, for an English question, the Indonesian stems it translates to."""
    english = (language or detect_language(question)) == "en"
    glossary = _glossary() if english else {}
    concepts: dict[str, set[str]] = {}
    for tok in tokens(question):
        if tok in STOPWORDS:
            continue
        alternatives = concepts.setdefault(tok, {stem(tok)})
        for base in _english_bases(tok) if english else ():
            if base in glossary:
                alternatives.update(glossary[base])
                break
    return [frozenset(a) for a in concepts.values()]


def query_terms(question: str, language: str | None = None) -> list[str]:
    """Search terms of a question; an English one also gets the Indonesian words it translates to."""
    return concept_terms(query_concepts(question, language))


def concept_terms(concepts: Iterable[frozenset[str]]) -> list[str]:
    """The search terms of a question's concepts, each once, in order."""
    return list(dict.fromkeys(t for concept in concepts for t in sorted(concept)))
