"""Tanya: the library's front door. Loads the served index, answers questions, (re)builds the index.

    from qa import Tanya
    tanya = Tanya()                     # Settings.from_env()
    tanya.index(["seeds"])              # build or update
    answer = tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from .answer import extract_answer
from .embedding import Embedder, get_embedder
from .indexing import BuildReport, Progress, build_index
from .records import Answer
from .retrieval import Retriever
from .settings import Settings
from .store import Snapshot, current_version, load_snapshot
from .text import stem


class QuestionError(ValueError):
    """The question cannot be asked as it is (empty, too long …); the message says why."""


class Tanya:
    """Question answering over one index directory."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._retriever: Retriever | None = None

    @property
    def embedder(self) -> Embedder:
        """The configured embedding model (loaded once per process)."""
        return get_embedder(self.settings.model)

    def retriever(self) -> Retriever:
        """A retriever over the served index, reloaded when a build has published a new version."""
        with self._lock:
            served = current_version(Path(self.settings.index_dir))
            if self._snapshot is None or served != self._snapshot.path:
                snapshot = load_snapshot(Path(self.settings.index_dir), self.settings.model)
                # the old snapshot is left to the garbage collector: a query may still be using it
                self._snapshot = snapshot
                self._retriever = Retriever(snapshot, self.embedder, self.settings)
            assert self._retriever is not None
            return self._retriever

    def warm_up(self) -> None:
        """Load the index, the model and the stemmer now rather than on the first question."""
        self.retriever()
        stem("menawari")

    @property
    def manifest(self) -> dict:
        """The manifest of the served index."""
        return self.retriever().snapshot.manifest

    def ask(self, question: str, k: int | None = None, retriever: str | None = None) -> Answer:
        """Answer one question from the served index, with citations, or abstain."""
        question = check_question(question, self.settings.max_question_chars)
        started = time.perf_counter()
        hits = self.retriever().search(question, k=k, mode=retriever)
        retrieved = time.perf_counter()
        answer = extract_answer(question, hits, self.settings.min_support)
        done = time.perf_counter()
        answer.timings_ms = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        return answer

    def index(self, paths: Iterable[Path | str] | None = None, rebuild: bool = False, progress: Progress | None = None) -> BuildReport:
        """Build or update the index from article files (default: the seeds folder)."""
        paths = [Path(p) for p in (paths or [self.settings.seeds_dir])]
        return build_index(paths, self.settings, rebuild=rebuild, progress=progress, embedder=self.embedder)

    def has_index(self) -> bool:
        """Whether an index has been built in the configured directory."""
        return current_version(Path(self.settings.index_dir)) is not None


def check_question(question: str, max_chars: int) -> str:
    """The question stripped, or QuestionError for an empty or over-long one."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is too long ({len(question):,} characters; the limit is {max_chars:,}, QA_MAX_QUESTION_CHARS)"
        )
    question = " ".join(question.split())
    if not question:
        raise QuestionError("the question is empty")
    return question
