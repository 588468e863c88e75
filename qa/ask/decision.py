"""Whether to answer: the calibrated probability that the reader's answer is right (`Confidence`,
qa/data/confidence.json, fitted by qa/training/confidence.py), the features it reads, and the reader's
policy: which passage it answers from, and the threshold for the question's kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from ..linear import DATA, LinearModel
from ..records import Hit, Reading
from ..settings import Settings
from ..text import detect_language
from .forms import SPAN
from .question import DATE, NUMBER, PERSON, PLACE, Question
from .spans import gives_kind

CONFIDENCE_FILE = DATA / "confidence.json"


class Confidence:
    """The probability that the reader's answer is right, from what its reading shows: a logistic model
    over a few features (its margin over "no answer", how far ahead of the other passages it is, the
    passage's retrieval rank, the best sentence's support, whether the span is the kind of thing asked
    for, the languages of question and passage). Fitted and calibrated on dev by `python -m qa train … --confidence`
    (qa/training/confidence.py; qa/data/confidence.json, with the threshold chosen there)."""

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
            settings.reader.rank_penalty,
            settings.reader.min_margin,
            settings.reader.weak_margin,
            settings.reader.min_margin_en,
            Confidence.shipped() if settings.reader.confidence else None,
            settings.reader.min_confidence,
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
