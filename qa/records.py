"""Typed records that carry the chain a citation needs.

Document → Chunk (knows its document and character offsets) → Hit (chunk + scores)
→ Answer (text, span, citations built from chunk ids).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict


@dataclass(frozen=True)
class Document:
    """One article as read from disk, text normalised, paragraphs kept (blank-line separated)."""

    doc_id: str
    source: str
    title: str
    text: str
    sha256: str
    date: str | None = None
    url: str | None = None
    page_starts: tuple[int, ...] = ()  # PDF: offset in `text` where page n+1 starts

    def page_at(self, offset: int) -> int | None:
        """The (1-based) page an offset falls on, for documents that have pages."""
        if not self.page_starts:
            return None
        return bisect.bisect_right(self.page_starts, offset) or 1


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `start`/`end` are character offsets into `Document.text`."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    paragraph: int
    start: int
    end: int
    text: str
    page: int | None = None
    date: str | None = None  # its article's publication date (YYYY-MM-DD), when known


@dataclass
class Hit:
    """A retrieved chunk with the scores that ranked it (higher is better for each)."""

    chunk: Chunk
    score: float
    dense: float | None = None
    keyword: float | None = None
    rank: int = 0
    row: int = -1  # the passage's row in the vector store (-1: unknown)
    collection: str = ""  # the collection it was found in (qa/library.py)


@dataclass
class Reading:
    """What the reader found in one hit: its best span (character offsets in the passage text; empty when
    the passage could not be read) and the model's scores for that span and for "no answer here"."""

    hit: Hit
    start: int
    end: int
    score: float
    null: float

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def margin(self) -> float:
        """How much more the reader believes the span than "no answer" (comparable across passages)."""
        return self.score - self.null


@dataclass(frozen=True)
class Citation:
    """A cited passage: `n` is the marker number, start/end the supporting sentence inside the document."""

    n: int
    chunk_id: str
    doc_id: str
    source: str
    title: str
    paragraph: int
    text: str
    start: int
    end: int
    score: float
    passage_start: int = 0  # where `text` starts in the document, so start - passage_start is inside it
    page: int | None = None  # for PDFs
    collection: str = ""  # the collection the article is in (qa/library.py)
    date: str | None = None  # the article's publication date (YYYY-MM-DD), when known

    @property
    def sentence(self) -> tuple[int, int]:
        """The supporting sentence's offsets inside the passage text."""
        return self.start - self.passage_start, self.end - self.passage_start

    def to_json(self) -> dict[str, Any]:
        """The citation as every output gives it (`ask --json`, the API, the feedback store): where the
        passage is, the passage (`passage`, also as `text`), the sentence it supports (`quote`) and
        that sentence's offsets in the article (`start`, `end`)."""
        s, e = self.sentence
        return {
            "n": self.n,
            "collection": self.collection,
            "doc_id": self.doc_id,
            "date": self.date,
            "source": self.source,
            "title": self.title,
            "paragraph": self.paragraph,
            "page": self.page,
            "quote": self.text[s:e],
            "passage": self.text,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


@dataclass
class Statement:
    """One sentence of a written (generated) answer and what the citation check made of its markers.

    Marker numbers are 1-based positions in `Answer.hits` (the passages the model was shown)."""

    text: str  # the sentence without its markers
    cited: tuple[int, ...]  # the markers the model wrote
    citations: tuple[int, ...] = ()  # the markers that stand after the check
    supported: bool = False
    corrected: bool = False  # the model's marker was replaced by a passage that supports the sentence
    support: dict[int, float] = field(default_factory=dict)  # P(passage supports sentence), by marker

    def to_json(self) -> dict[str, Any]:
        """The statement as `ask --json` shows it."""
        return {
            "text": self.text,
            "cited": list(self.cited),
            "citations": list(self.citations),
            "supported": self.supported,
            "corrected": self.corrected,
            "support": {str(k): round(v, 3) for k, v in self.support.items()},
        }


@dataclass
class Answer:
    """What the user gets: a short answer, the supporting sentence, its citations, or an abstention."""

    question: str
    language: str
    text: str
    reply: str
    abstained: bool
    support: str = ""
    span: tuple[int, int] | None = None  # answer span in document offsets of citations[0]
    support_score: float = 0.0  # how well the best sentence matches the question; below min_support we abstain
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"  # or "generative"
    notice: str = ""  # e.g. why a written answer fell back to the extractive one
    statements: list[Statement] = field(default_factory=list)  # generative mode: the checked sentences
    citation_quality: dict[str, float] = field(default_factory=dict)  # ALCE precision/recall before/after the check
    raw_reply: str = ""  # generative mode: the model's reply as written, before the check
    reader_margin: float | None = None  # the reader's certainty (span over "no answer") in the passage it chose
    confidence: float | None = None  # the calibrated probability that the answer is right (qa/answer.py Confidence)
    asked: str = ""  # the question as the user wrote it, when `question` is how it was understood in a conversation
    label: str = ""  # a yes/no question's answer when the label model is sure of it: yes, no or uncertain

    def to_json(self) -> dict[str, Any]:
        """The `ask --json` object."""
        return {
            "question": self.asked or self.question,
            "understood_as": self.question,
            "language": self.language,
            "answer": self.text,
            "reply": self.reply,
            "abstained": self.abstained,
            "label": self.label or None,
            "support": self.support,
            "span": list(self.span) if self.span else None,
            "support_score": round(self.support_score, 4),
            "reader_margin": None if self.reader_margin is None else round(self.reader_margin, 3),
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "citations": [c.to_json() for c in self.citations],
            "passages": [
                {
                    "collection": h.collection,
                    "doc_id": h.chunk.doc_id,
                    "date": h.chunk.date,
                    "source": h.chunk.source,
                    "paragraph": h.chunk.paragraph,
                    "text": h.chunk.text,
                    "score": round(h.score, 4),
                }
                for h in self.hits
            ],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "mode": self.mode,
            "notice": self.notice,
            "statements": [st.to_json() for st in self.statements],
            "raw_reply": self.raw_reply,
            "citation_quality": {k: round(v, 3) for k, v in self.citation_quality.items()},
        }


@dataclass
class Skipped:
    """A file that was not indexed, and why."""

    path: str
    reason: str


class FileRecord(TypedDict):
    """An indexed article as a collection lists it."""

    doc_id: str
    source: str  # the file (or URL) it came from
    title: str
    sha256: str  # of its text: a changed file is indexed again
    chunks: int  # its passages
    added_at: str  # when it first came in (ISO 8601)
    date: NotRequired[str]  # when it was published (YYYY-MM-DD), when known
    url: NotRequired[str]  # where it was fetched from, for an article from the web


Progress = Callable[[str, int, int], None]  # what a build tells as it goes: (stage, done, total)


@dataclass
class BuildReport:
    """What a build did."""

    index_dir: Path
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0  # of `seconds`, the time spent in the embedding model
    resumed: int = 0  # of `reused`, vectors kept from an interrupted build

    def summary(self) -> str:
        """One line for people."""
        parts = [
            f"{self.documents} files, {self.chunks} chunks in {self.seconds:.1f} s",
            f"added {len(self.added)}, updated {len(self.updated)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)}",
            f"embedded {self.embedded}, reused {self.reused}"
            + (f" ({self.resumed} from an interrupted build)" if self.resumed else ""),
        ]
        return "; ".join(parts)
