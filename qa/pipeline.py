"""Tanya: the library's front door. Loads the served index, answers questions, (re)builds the index.

    from qa import Tanya
    tanya = Tanya()                     # Settings.from_env()
    tanya.index(["seeds"])              # build or update
    answer = tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from .answer import extract_answer
from .embedding import Embedder, get_embedder
from .indexing import BuildReport, NothingToIndex, Progress, build_index, remove_documents
from .ingest import SUPPORTED_SUFFIXES
from .records import Answer, Skipped
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

    def collection(self) -> list[Path]:
        """The folders that make up the collection: the seed articles and the uploaded ones."""
        folders = [Path(self.settings.seeds_dir)]
        if Path(self.settings.upload_dir).is_dir():
            folders.append(Path(self.settings.upload_dir))
        return folders

    def index(
        self,
        paths: Iterable[Path | str] | None = None,
        rebuild: bool = False,
        progress: Progress | None = None,
        keep_missing: bool = False,
    ) -> BuildReport:
        """Build or update the index from article files (default: the collection folders)."""
        paths = [Path(p) for p in (paths or self.collection())]
        return build_index(
            paths, self.settings, rebuild=rebuild, progress=progress, embedder=self.embedder, keep_missing=keep_missing
        )

    def remove(self, doc_ids: Iterable[str]) -> BuildReport:
        """Take articles out of the index (their files, if still in a collection folder, come back on `index`)."""
        return remove_documents(doc_ids, self.settings, embedder=self.embedder)

    def add_files(self, files: Iterable[tuple[Path, str]], progress: Progress | None = None) -> BuildReport:
        """Copy uploaded files (path, original name) into the upload folder and update the index.

        Files of a type we do not read, or over the size limit, are skipped with the reason. If the
        update fails, the copied files are taken back out and the served index is unchanged."""
        upload_dir = Path(self.settings.upload_dir)
        upload_dir.mkdir(parents=True, exist_ok=True)
        placed: list[tuple[Path, Path | None]] = []  # (file in the upload folder, backup of what it replaced)
        refused: list[Skipped] = []
        try:
            for path, name in files:
                clean = safe_name(name)
                reason = _upload_problem(Path(path), clean, self.settings.max_file_mb)
                if reason:
                    refused.append(Skipped(name, reason))
                    continue
                target = upload_dir / clean
                backup = None
                if target.exists():
                    backup = target.with_name(f".{clean}.bak")
                    os.replace(target, backup)
                shutil.copyfile(path, target)
                placed.append((target, backup))
            if not placed:
                raise NothingToIndex("; ".join(f"{s.path}: {s.reason}" for s in refused) or "no files given")
            report = self.index(progress=progress)
        except BaseException:
            for target, backup in placed:
                target.unlink(missing_ok=True)
                if backup is not None:
                    os.replace(backup, target)
            raise
        for _, backup in placed:
            if backup is not None:
                backup.unlink(missing_ok=True)
        report.skipped = refused + report.skipped
        return report

    def document_text(self, doc_id: str) -> str | None:
        """The whole normalised text of an indexed article (citation offsets point into it)."""
        return self.retriever().snapshot.table.document_text(doc_id)

    def index_size_bytes(self) -> int:
        """Size on disk of the served index version."""
        version = self.retriever().snapshot.path
        return sum(f.stat().st_size for f in version.rglob("*") if f.is_file())

    def has_index(self) -> bool:
        """Whether an index has been built in the configured directory."""
        return current_version(Path(self.settings.index_dir)) is not None


def safe_name(name: str) -> str:
    """A file name safe to create in the upload folder: no folders, no leading dots, plain characters."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return base[:120] or "upload.txt"


def _upload_problem(path: Path, name: str, max_file_mb: float) -> str | None:
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type '{Path(name).suffix or '(none)'}' (allowed: {', '.join(SUPPORTED_SUFFIXES)})"
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read the upload: {exc.strerror or exc}"
    if size > max_file_mb * 1024 * 1024:
        return f"too large ({size / 1048576:.1f} MB; limit {max_file_mb:g} MB)"
    return None


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
