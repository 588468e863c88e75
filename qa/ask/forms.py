"""Which form of answer a question asks for: a short span ("Siapa …?", "Apakah nama …?"), yes or no
("Did Jack Ma accept?", "Apakah Jack Ma menerima …?", "Sudahkah …?"), or a reason or manner
("Mengapa …?", "How did …?"), answered with the sentence that says it.

Indonesian "Apakah …" is both "what" ("Apakah nama topan itu?" — thousands of FacQA and TyDi QA
questions) and "whether" ("Apakah kaktus hidup di gurun?"). Clear cases are ruled ("Apakah Jack Ma …",
"Apakah sudah …"); the rest are told apart by a small logistic model over the words that follow
(qa/data/apakah.json), fitted on *train* questions of both kinds (`python -m qa train
data/train/sentence-facqa-train.jsonl --forms data/train/sentence-wiki-train.jsonl
../shared/data/facqa-id/questions-train.jsonl …`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..linear import DATA, LinearModel, sigmoid
from ..text import tokens

SPAN, YESNO, REASON = "span", "yesno", "reason"
APAKAH_FILE = DATA / "apakah.json"

_YESNO_EN = re.compile(r"^(did|does|do|is|are|was|were|has|have|had|can|could|will|would|should|isn't|wasn't|didn't|doesn't)\b")
# "Apakah Jack Ma …", "Apakah dia …", "Apakah sudah …" ask whether
_YESNO_ID = re.compile(r"^apakah\s+(?=[A-Z]|(dia|ia|mereka|beliau|ada|benar|sudah|telah|pernah|masih|bisa|dapat|akan)\b)")
# "Sudahkah …", "Masih adakah …", "Benarkah …"
_KAH = re.compile(
    r"^((masih|sudah|apa) )?(adakah|benarkah|betulkah|sudahkah|bisakah|pernahkah|masihkah|akankah|haruskah|perlukah"
    r"|bolehkah|dapatkah|mampukah|tepatkah|mungkinkah|bukankah|jadikah)\b"
)
APAKAH_START = re.compile(r"^apakah\b")
_REASON = re.compile(
    r"^(mengapa|kenapa|why|how come|bagaimana(kah)?( cara)?|apa (sebab|alasan)nya|"
    r"how(?! (many|much|long|far|old|big|large|high|heavy|tall|deep|wide|fast|often)\b))\b"
)
_WHY = re.compile(r"^(mengapa|kenapa|why|how come|apa (sebab|alasan)(nya)?|(untuk )?alasan apa|sebab apa)\b")
# a question may open with who says it, where or when: "According to Roy, …", "Menurut Elang, …", "Dalam ilmu
# ekonomi, …", "After Krum died, did …?", "Setelah Perang Dunia II, apakah …?"
_LEAD = re.compile(
    r"^(according to|menurut|dalam|di|pada|in|on|at|for|untuk|bagi|selain|besides|apart from|before|after|when|while"
    r"|since|until|if|as|during|once|although|though|despite|sebelum|sesudah|setelah|sejak|ketika|saat|sewaktu|selama"
    r"|jika|kalau|bila|apabila|meskipun|walaupun)\b[^,?]{0,80},\s*",
    re.I,
)


def _readings(question: str) -> tuple[str, str]:
    """The question as asked, and without a leading clause ("According to Roy, …", "After Krum died, …")."""
    stripped = question.strip()
    return stripped, _LEAD.sub("", stripped, count=1) or stripped


def form_of(question: str) -> str:
    """SPAN, YESNO or REASON."""
    for text in _readings(question):
        lower = text.lower()
        if _YESNO_EN.match(lower) or _KAH.match(lower) or _YESNO_ID.match(text[:1].lower() + text[1:]):
            return YESNO
        if _REASON.match(lower):
            return REASON
        if APAKAH_START.match(lower):
            model = apakah_model()
            if model is None:
                return SPAN
            return YESNO if sigmoid(model.score(apakah_features(text))) >= float(model.meta.get("threshold", 0.5)) else SPAN
    return SPAN


def asks_why(question: str) -> bool:
    """Whether the question asks for a reason ("Mengapa …?", "According to Roy, why …?"), not a manner."""
    return any(_WHY.match(text.lower()) for text in _readings(question))


@lru_cache(maxsize=1)
def apakah_model() -> LinearModel | None:
    return LinearModel.load(APAKAH_FILE) if APAKAH_FILE.is_file() else None


_VERB = re.compile(r"^(me|di|ber|ke)\w{3,}$")
_ASPECT = frozenset(
    "sudah telah masih akan harus selalu boleh bisa dapat pernah sedang belum tidak tak juga memang hanya sering perlu mampu".split()
)
_TER = re.compile(r"^ter\w{3,}$")  # a superlative ("terbesar": what is the largest) or a passive


def apakah_features(question: str) -> dict[str, float]:
    """What tells "Apakah …" = whether from "Apakah …" = what: the first words after it, whether a verb
    follows, how long the question is."""
    words = tokens(question)[1:]  # after "apakah"
    out = {f"w1={w}": 1.0 for w in words[:1]} | {f"w2={w}": 1.0 for w in words[1:2]} | {f"w3={w}": 1.0 for w in words[2:3]}
    out["verb_in_4"] = float(any(_VERB.match(w) for w in words[1:5]))
    out["verb_anywhere"] = float(any(_VERB.match(w) for w in words))
    out["aspect_in_4"] = float(any(w in _ASPECT for w in words[:4]))
    out["aspect_anywhere"] = float(any(w in _ASPECT for w in words))
    out["ter_word"] = float(any(_TER.match(w) for w in words))
    out["yang_next"] = float(words[:1] == ["yang"])
    out["short"] = float(len(words) <= 4)
    out["question_mark"] = float(question.rstrip().endswith("?"))
    return out
