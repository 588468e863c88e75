"""Yes, no or not certain: the label a yes/no question gets from the sentence that answers it.

A small multinomial logistic model (qa/linear.py, one candidate per label, listwise) over what the
question and the sentence show: negations and words of doubt on either side, the question's names,
numbers and content words the sentence does not mention, opposite words (naik/turun, rise/fall).
Trained on the yes/no questions of `data/train/sentence-*.jsonl` (`python -m qa train
data/train/sentence-facqa-train.jsonl --yesno data/train/sentence-wiki-train.jsonl`); its weights and
the probability below which no label is given are in qa/data/yesno.json. Below that probability the
answer is the sentence alone: a label that may be wrong is worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..linear import DATA, LinearModel
from ..text import terms, tokens
from .question import Question, names_found, overlap

LABELS = ("yes", "no", "uncertain")
YESNO_FILE = DATA / "yesno.json"

NEGATIONS = frozenset(
    "tidak tak bukan belum tanpa jangan gagal batal menolak membantah dibantah ditolak dibatalkan urung "
    "not no never without neither nor failed denied refused rejected cancelled canceled none nobody".split()
)
DOUBT = frozenset(
    "kemungkinan mungkin diperkirakan diduga rencananya berencana akan dipertimbangkan konon jika apabila "
    "seandainya belum masih isu kabarnya diharapkan direncanakan sementara "
    "may might could likely possibly perhaps reportedly expected planned plans unclear unknown disputed "
    "uncertain whether if would allegedly considering consider proposed rumoured rumored".split()
)
_OPPOSITES = [  # words of one side, words of the other
    ("naik meningkat bertambah menguat melonjak", "turun menurun berkurang melemah merosot anjlok"),
    ("menang memenangkan juara", "kalah"),
    ("setuju menerima diterima", "menolak ditolak"),
    ("hidup selamat", "meninggal tewas wafat"),
    ("lulus berhasil sukses", "gagal"),
    ("sebelum", "sesudah setelah"),
    (
        "rise rose risen rising increase increased grew grow higher up",
        "fall fell fallen falling decrease decreased declined drop dropped lower down",
    ),
    ("win won winning", "lose lost losing defeated"),
    ("accept accepted agree agreed", "reject rejected refuse refused"),
    ("alive survived", "died dead killed"),
    ("before", "after"),
    ("more larger bigger", "less fewer smaller"),
]
OPPOSITE_SIDES = [(frozenset(a.split()), frozenset(b.split())) for a, b in _OPPOSITES]
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def features(q: Question, sentence: str) -> dict[str, float]:
    """What the question and its answer sentence show about the label."""
    q_words, s_words = set(tokens(q.text)), set(tokens(sentence))
    q_numbers = set(_NUMBER.findall(q.text))
    s_numbers = set(_NUMBER.findall(sentence))
    neg_q, neg_s = len(q_words & NEGATIONS), len(s_words & NEGATIONS)
    return {
        "neg_sentence": float(min(neg_s, 3)),
        "neg_question": float(min(neg_q, 2)),
        "neg_one_side": float((neg_s > 0) != (neg_q > 0)),
        "doubt_sentence": float(min(len(s_words & DOUBT), 3)),
        "doubt_question": float(min(len(q_words & DOUBT), 2)),
        "numbers_missing": float(len(q_numbers - s_numbers) > 0) if q_numbers else 0.0,
        "names_missing": 1.0 - names_found(q, sentence),
        "overlap": overlap(q, set(terms(sentence))),
        "opposite": float(any((q_words & a and s_words & b) or (q_words & b and s_words & a) for a, b in OPPOSITE_SIDES)),
        "english_question": float(q.language == "en"),
    }


def candidate_rows(values: dict[str, float]) -> list[dict[str, float]]:
    """One row per label (the listwise model's candidates): each feature, and a bias, under its label's
    name; "yes" is the reference, with no features of its own."""
    return [{} if label == "yes" else {f"{label}:{k}": v for k, v in {**values, "bias": 1.0}.items()} for label in LABELS]


@dataclass(frozen=True)
class Verdict:
    label: str  # yes, no or uncertain
    probability: float


def most_likely(probs: dict[str, float], min_probability: float) -> Verdict | None:
    """The most likely label, if its probability reaches `min_probability`; else None."""
    label = max(probs, key=probs.__getitem__)
    return Verdict(label, probs[label]) if probs[label] >= min_probability else None


class YesNo:
    """The trained label model, and the probability below which it gives no label."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.min_probability = float(model.meta.get("min_probability", 1.0))

    @staticmethod
    @lru_cache(maxsize=1)
    def shipped() -> "YesNo | None":
        return YesNo(LinearModel.load(YESNO_FILE)) if YESNO_FILE.is_file() else None

    def probabilities(self, q: Question, sentence: str) -> dict[str, float]:
        scores = np.array([self.model.score(row) for row in candidate_rows(features(q, sentence))])
        p = np.exp(scores - scores.max())
        return dict(zip(LABELS, (p / p.sum()).tolist(), strict=True))

    def verdict(self, q: Question, sentence: str) -> Verdict | None:
        """The label, if the model is sure enough of it; else None (say only what the sentence says)."""
        return most_likely(self.probabilities(q, sentence), self.min_probability)
