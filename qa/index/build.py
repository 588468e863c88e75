"""Build an index version from article files: ingest → chunk → embed → store → publish.

A build streams: each file is read, chunked, and written to the new version's chunk table and to
the keyword index's run files before the next is read; vectors then go, a window of rows at a
time, to a scratch file from which FAISS is filled in blocks. Its memory therefore does not grow
with the collection's text (what does grow: the FAISS index itself, the vocabulary, 4 bytes a
passage, and the names in the report).

Embeddings of chunks whose text is already in the served index (same model) are reused, so a
re-index after adding one file embeds only that file's chunks; vectors embedded by a build that
was interrupted are kept in a cache and resumed.
"""

from __future__ import annotations

import errno
import fcntl
import shutil
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import BuildInProgress, IndexProblem, MachineError, NothingToIndex, TanyaError
from ..ingest.chunking import chunk_document
from ..ingest.documents import iter_documents, iter_files
from ..records import BuildReport, Document, Progress, Skipped
from ..settings import Settings
from ..text import terms
from .base import CHUNKS, FORMAT_VERSION, KEYWORD, IndexBackend, Snapshot
from .chunks import ChunkTable, text_hash
from .embed_cache import EmbeddingCache
from .embedding import Embedder, bulk_embedder, embedder_for
from .keywords import KeywordIndexWriter
from .scratch import VectorFile
from .versions import current_version, new_version_dir

# Bump when tokenising/stemming changes: the keyword index must then be rebuilt.
ANALYZER = "id-sastrawi-v1"


@contextmanager
def build_lock(settings: Settings, backend: IndexBackend) -> Iterator[None]:
    """Hold the index's build lock: an OS file lock on the index folder (a killed build never leaves it
    stale), and the store's own lease when several machines build into it (Milvus)."""
    index_dir = Path(settings.store.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(f"another build of {index_dir} is running; try again when it has finished") from None
        try:
            with backend.builder_lease():
                yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_index(
    paths: Iterable[Path],
    settings: Settings,
    backend: IndexBackend,
    rebuild: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    keep_missing: bool = False,
    excluded: Collection[str] = (),
    watched: Collection[Path] = (),
) -> BuildReport:
    """Index the articles under `paths` into `backend` (staged under `settings.store.index_dir`) and switch to
    the new version.

    Articles of the served index whose files are gone are removed, unless `keep_missing` (then only
    those whose file was in one of the `watched` folders and is gone); files whose doc_id is in
    `excluded` are skipped."""
    paths = list(paths)
    with _machine_errors(settings), build_lock(settings, backend):
        if not rebuild:  # a store that updates in place writes only what changed (Milvus)
            report = backend.update_in_place(paths, settings, embedder or embedder_for(settings), excluded, progress)
            if report is not None:
                return report
        return _build(paths, settings, backend, rebuild, progress, embedder, keep_missing, excluded, watched)


def _build(
    paths: list[Path],
    settings: Settings,
    backend: IndexBackend,
    rebuild: bool,
    progress: Progress | None,
    embedder: Embedder | None,
    keep_missing: bool,
    excluded: Collection[str],
    watched: Collection[Path],
) -> BuildReport:
    """A whole new version (what `build_index` does when the store cannot update in place)."""
    with _Build(settings, backend, rebuild, progress, embedder) as build:
        build.add_files(paths, excluded)
        read, dropped = build.report.documents, 0
        if keep_missing:
            dropped = build.keep_previous(gone=_gone_under(watched))
        if not read and not dropped:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in build.report.skipped[:5]) or "no files found"
            raise NothingToIndex(f"nothing to index ({reasons}); the current index is unchanged")
        if not build.report.documents:
            raise NothingToIndex("this would leave the index empty; the current index is unchanged")
        return build.finish()


def _gone_under(folders: Collection[Path]) -> Callable[[Document], bool] | None:
    """Whether an article came from a file in one of these folders that is no longer there (its source
    reads "<folder name>/<path in it>")."""
    named = {f.name: f for f in (Path(p) for p in folders) if f.is_dir()}
    if not named:
        return None

    def gone(doc: Document) -> bool:
        folder, _, rel = doc.source.partition("/")
        return folder in named and bool(rel) and not (named[folder] / rel).exists()

    return gone


_MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


@contextmanager
def _machine_errors(settings: Settings) -> Iterator[None]:
    """What the machine does to a build (a full disk, a file-size limit, a folder we may not write)
    becomes a MachineError saying what happened, what is still served, and that running again resumes."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        text = str(exc).lower()
        errno_ = getattr(exc, "errno", None)
        if isinstance(exc, TanyaError) or not (
            errno_ in _MACHINE_ERRNOS or "disk is full" in text or "disk i/o" in text or "readonly" in text
        ):
            raise
        served = current_version(Path(settings.store.index_dir))
        still = f"the served index ({served.name}) is unchanged" if served else "no index is served yet"
        raise MachineError(
            f"the build stopped because the machine refused to write ({exc}); {still}. Free some space (or fix the "
            f"folder's permissions) and run the same command again: it resumes, keeping the passages already embedded."
        ) from exc


def remove_documents(
    doc_ids: Iterable[str], settings: Settings, backend: IndexBackend, embedder: Embedder | None = None
) -> BuildReport:
    """A new index version without these articles (nothing is re-embedded)."""
    wanted = set(doc_ids)
    with _machine_errors(settings), build_lock(settings, backend):
        report = backend.update_in_place([], settings, embedder or embedder_for(settings), remove=wanted)
        if report is not None:
            return report
        return _removed(wanted, settings, backend, embedder)


def _removed(wanted: set[str], settings: Settings, backend: IndexBackend, embedder: Embedder | None) -> BuildReport:
    with _Build(settings, backend, False, None, embedder) as build:
        unknown = sorted(d for d in wanted if build.previous is None or not build.previous.has_document(d))
        if unknown:
            raise NothingToIndex(f"not in the index: {', '.join(unknown)} (see `python -m qa list`)")
        build.keep_previous(except_ids=wanted)
        if not build.report.documents:
            raise NothingToIndex("removing these would leave the index empty; the current index is unchanged")
        return build.finish()


class _Build:
    """One build in progress: a new version directory filled document by document, then embedded,
    indexed and published by `finish`. Used as a context manager: on any failure the half-written
    version is deleted and the served one is untouched."""

    WINDOW = 4096  # rows whose vectors are gathered at a time
    BULK_MIN = 1000  # new passages from which QA_BULK_EMBED=torch starts its worker processes
    KEYWORD_BUFFER = 2_000_000  # term occurrences held before the keyword writer spills a run to disk

    def __init__(
        self, settings: Settings, backend: IndexBackend, rebuild: bool, progress: Progress | None, embedder: Embedder | None
    ) -> None:
        self.started = time.perf_counter()
        self.settings, self.rebuild = settings, rebuild
        self.notify: Progress = progress or (lambda stage, done, total: None)
        self.index_dir = Path(settings.store.index_dir)
        self.report = BuildReport(index_dir=self.index_dir)
        self.given = embedder or embedder_for(settings)
        self.embedder = bulk_embedder(settings, self.given)  # passages only; the same vectors
        self.embedded_by = self.given
        self.now = datetime.now(UTC).isoformat(timespec="seconds")
        # the served version: its vectors are reused (same model, not a rebuild); its document
        # records say what was added, changed or removed, and when each article first came in
        self.backend = backend
        self.old: Snapshot | None = None
        if not rebuild:
            try:
                self.old = self.backend.load(self.embedder.name)
            except IndexProblem:
                pass
        self.previous = self.old.table if self.old else self.backend.previous_table()
        self.version = new_version_dir(self.index_dir)
        self.table = ChunkTable.create(self.version / CHUNKS)
        self.keywords = KeywordIndexWriter(self.version / "keyword.runs", self.KEYWORD_BUFFER)
        self.rows = 0

    def __enter__(self) -> "_Build":
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if self.embedder is not self.given:
            self.embedder.close()
        if self.previous is not None:
            self.previous.close()
        if kind is not None:
            self.table.close()
            shutil.rmtree(self.version, ignore_errors=True)

    def add_files(self, paths: list[Path], excluded: Collection[str] = ()) -> None:
        """Read, chunk and store every article under `paths` (but `excluded` doc_ids), one file at a time."""
        total = sum(1 for _ in iter_files(paths))
        self.notify("reading", 0, total)
        files = 0
        last = None
        for item in iter_documents(paths, self.settings.ingest.max_file_mb, taken=self.table.has_document, excluded=excluded):
            if isinstance(item, Skipped):
                self.report.skipped.append(item)
            else:
                self.add(item)
            source = item.path if isinstance(item, Skipped) else item.source
            if source != last:  # a JSON file may hold many articles
                files, last = files + 1, source
                if files % 100 == 0:
                    self.notify("reading", files, total)
        self.notify("reading", total, total)

    def keep_previous(self, except_ids: Collection[str] = (), gone: Callable[[Document], bool] | None = None) -> int:
        """Carry over the served index's articles that this build has not read (nor been told to drop,
        nor whose file is `gone`); returns how many were gone."""
        if self.previous is None:
            return 0
        dropped = 0
        for doc in self.previous.documents():
            if doc.doc_id in except_ids or self.table.has_document(doc.doc_id):
                continue
            if gone is not None and gone(doc):
                dropped += 1
            else:
                self.add(doc, dedupe=False)
        return dropped

    def add(self, doc: Document, dedupe: bool = True) -> None:
        """Chunk one article and store its chunks (text, offsets, keyword terms) under the next rows."""
        if dedupe and (first := self.table.source_with_sha(doc.sha256)):
            self.report.skipped.append(Skipped(doc.source, f"duplicate of {first} (same content)"))
            return
        chunks = chunk_document(doc, self.settings.embedding.chunk_size, self.settings.embedding.chunk_overlap)
        record = self.previous.document_record(doc.doc_id) if self.previous is not None else None
        if record is None:
            self.report.added.append(doc.doc_id)
        else:
            (self.report.unchanged if record[0] == doc.sha256 else self.report.updated).append(doc.doc_id)
        self.table.add_document(doc, len(chunks), record[1] if record else self.now)
        self.table.add_chunks(range(self.rows, self.rows + len(chunks)), chunks, [text_hash(c.text) for c in chunks])
        for chunk in chunks:
            self.keywords.add(terms(chunk.text))
        self.rows += len(chunks)
        self.report.documents += 1

    def finish(self) -> BuildReport:
        """Embed, build the vector and keyword indexes, write the manifest and publish the version."""
        report = self.report
        report.chunks = self.rows
        if self.previous is not None:
            report.removed = [d for d in self.previous.doc_ids() if not self.table.has_document(d)]
        self.table.commit()
        cache = EmbeddingCache(self.index_dir, self.embedder.name, self.embedder.dim, fresh=self.rebuild)
        vectors = self._vectors(cache)
        self.table.seal()

        self.notify("writing", 0, 1)
        self.keywords.finish(self.version / KEYWORD)
        report.seconds = time.perf_counter() - self.started
        manifest = {
            "format": FORMAT_VERSION,
            "model": {"name": self.embedder.name, "dim": self.embedder.dim, "backend": type(self.embedded_by).__name__},
            "chunking": self.settings.chunking(),
            "keyword": {"type": "bm25s", "analyzer": ANALYZER},
            "documents": report.documents,
            "chunks": report.chunks,
            "built_at": self.now,
            "build_seconds": round(report.seconds, 2),
            "embedded": report.embedded,
            "reused": report.reused,
        }
        try:
            self.backend.publish(self.version, manifest, vectors, self.settings.retrieval.exact_max)
        finally:
            vectors.delete()
        if self.backend.shared:  # the version was copied into the shared store; the staging folder goes
            shutil.rmtree(self.version, ignore_errors=True)
        cache.clear()
        report.seconds = time.perf_counter() - self.started
        self.notify("writing", 1, 1)
        return report

    def _vectors(self, cache: EmbeddingCache) -> VectorFile:
        """A vector for every row, in row order, into a scratch file: reused from the served index where
        the text is the same, resumed from the cache of an interrupted build, else embedded (and cached)."""
        known = [cache.hash_source()]
        old = self.old.table.hash_source() if self.old is not None else None
        if old is not None:
            known.append(old)
        total = self.table.count_new_texts(known)
        self.notify("embedding", 0, total)
        # a pool of worker processes takes ~15 s to start: worth it for a big build only
        embedder = self.embedder if total >= self.BULK_MIN else self.given
        self.embedded_by = embedder
        out = VectorFile(self.version / "vectors.f32", self.embedder.dim)
        embed_seconds = 0.0
        for start in range(0, self.rows, self.WINDOW):
            texts, hashes = zip(*self.table.passages(start, start + self.WINDOW))
            window = np.zeros((len(hashes), self.embedder.dim), np.float32)
            todo = list(range(len(hashes)))
            if self.old is not None:
                found = self.old.table.rows_for_hashes(hashes)
                reuse = [i for i in todo if hashes[i] in found]
                if reuse:
                    window[reuse] = self.old.vectors.vectors([found[hashes[i]] for i in reuse])
                todo = [i for i in todo if hashes[i] not in found]
            for earlier in (True, False):  # first what an interrupted build left, then this build's own
                cached = cache.get([hashes[i] for i in todo], earlier_only=earlier)
                for i in todo:
                    if hashes[i] in cached:
                        window[i] = cached[hashes[i]]
                if earlier:
                    self.report.resumed += sum(hashes[i] in cached for i in todo)
                todo = [i for i in todo if hashes[i] not in cached]
            # a text twice in this window is embedded once
            first: dict[str, int] = {}
            for i in todo:
                first.setdefault(hashes[i], i)
            new = list(first.values())
            t = time.perf_counter()
            size, flight = self.settings.embedding.batch_size, embedder.in_flight
            batches = [new[at : at + size] for at in range(0, len(new), size)]
            for r in range(0, len(batches), flight):  # `in_flight` batches at a time, each cached when back
                group = batches[r : r + flight]
                for batch, vectors in zip(group, embedder.embed_passage_batches([[texts[i] for i in b] for b in group])):
                    window[batch] = vectors
                    cache.put([hashes[i] for i in batch], vectors)
                    self.report.embedded += len(batch)
                    self.notify("embedding", self.report.embedded, total)
            embed_seconds += time.perf_counter() - t
            for i in todo:
                window[i] = window[first[hashes[i]]]
            out.append(window)
        self.report.reused = self.rows - self.report.embedded
        self.report.embed_seconds = embed_seconds
        self.notify("embedding", total, total)
        return out
