"""Which sentence answers a yes/no, why or how question: the candidates (every sentence of the passages
read) and the model that chooses among them — the sentence chooser (qa/ask/chooser_model.py) when its
weights are shipped and torch is installed; without it the sentence holding the reader's span answers
(qa/ask/answer.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from ..linear import DATA
from ..records import Hit, Reading
from ..text import sentence_spans
from .forms import asks_why
from .question import Question

CHOOSER_DIR = DATA / "sentence-chooser"


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage: `start`..`end` are offsets in its chunk's text."""

    hit: Hit
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


@dataclass(frozen=True)
class Choice:
    """The sentence chosen, and the probability that it answers the question."""

    candidate: Candidate
    probability: float


def candidates(hits: list[Hit], passages: int) -> list[Candidate]:
    """Every sentence of the first `passages` hits, in their order."""
    return [Candidate(h, a, b) for h in hits[:passages] for a, b in sentence_spans(h.chunk.text)]


class Chooser(Protocol):
    """Gives each candidate sentence the probability that it answers the question, and says how that is
    weighed with the reader's span and the passage's rank (chosen on dev: qa/data/sentence-chooser/meta.json)."""

    min_probability: float  # below it, no sentence answers: "not in the articles"
    reader_weight: float  # added to a sentence's log-odds when it holds the reader's span in its passage
    rank_penalty: float  # taken from them for each retrieval rank below the first

    def probabilities(self, q: Question, sentences: list[str]) -> list[float]: ...


def log_odds(p: float) -> float:
    """ln(p / (1 - p)), p kept off 0 and 1."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def choose(model: Chooser, q: Question, hits: list[Hit], passages: int, readings: Sequence[Reading] = ()) -> Choice | None:
    """The sentence of the first `passages` hits most likely to answer `q` (None when they hold none):
    the chooser's log-odds, more when the sentence holds the reader's span in that passage (`readings`),
    less for each rank down; its probability is that score's."""
    found = candidates(hits, passages)
    if not found:
        return None
    probabilities = model.probabilities(q, [c.text for c in found])
    spans = {id(r.hit): (r.start, r.end) for r in readings if r.end > r.start}

    def score(k: int) -> float:
        c = found[k]
        a, b = spans.get(id(c.hit), (0, 0))
        holds = a < b and a < c.end and c.start < b
        return log_odds(probabilities[k]) + model.reader_weight * holds - model.rank_penalty * (c.hit.rank - 1)

    best = max(range(len(found)), key=score)
    return Choice(found[best], 1 / (1 + math.exp(-max(-30.0, min(30.0, score(best))))))


# a sentence that opens by pointing back at the one before it: "Akibatnya, sekolah-sekolah ditutup",
# "Isu-isu ini menyebabkan …", "As such, it is …" — its reason is in the sentence before
_POINTS_BACK = re.compile(
    r"^(akibatnya|karenanya|oleh karenanya|(oleh )?(karena|sebab) (itu|ini|hal (itu|ini|tersebut))|maka|dengan demikian"
    r"|sehingga|untuk itu|itulah sebabnya|itu sebabnya|inilah sebabnya"
    r"|therefore|thus(?! far)|hence|consequently|as a result|as a consequence|as such|for (this|that|these|those) reasons?"
    r"|because of (this|that)|(this|that) is why|(this|that) (led|caused|made|meant)"
    r"|(hal|isu|isu-isu|peristiwa|kejadian|keadaan|kondisi|situasi|faktor|langkah|kebijakan) (ini|itu|tersebut)"
    r" (menyebabkan|mengakibatkan|membuat|memicu))\b",
    re.IGNORECASE,
)


def with_reason(q: Question, chosen: Candidate) -> Candidate:
    """A why-question's chosen sentence that points back at the sentence before it ("Akibatnya, …",
    "Therefore …") is answered with both: the reason is the one before. Other choices stay as they are."""
    if not asks_why(q.text) or not _POINTS_BACK.match(chosen.text.lstrip("\"'“ ")):
        return chosen
    before = [a for a, b in sentence_spans(chosen.hit.chunk.text) if b <= chosen.start]
    return Candidate(chosen.hit, before[-1], chosen.end) if before else chosen


@lru_cache(maxsize=1)
def chooser() -> Chooser | None:
    """The sentence chooser (loaded once per process), or None when it is not shipped or torch is missing."""
    if not (CHOOSER_DIR / "meta.json").is_file():
        return None
    try:
        from .chooser_model import SentenceChooser  # needs torch
    except ImportError:
        return None
    return SentenceChooser(CHOOSER_DIR)
