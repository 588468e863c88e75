"""Build an index version from article files: ingest → chunk → embed → store → publish.

Embeddings of chunks whose text is already in the served index (same model) are reused, so a
re-index after adding one file embeds only that file's chunks.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .chunking import chunk_document
from .embedding import Embedder, get_embedder
from .ingest import read_documents
from .records import Chunk, Document, Skipped
from .settings import Settings
from .store import (
    CHUNKS,
    EmbeddingCache,
    FORMAT_VERSION,
    ChunkTable,
    FaissVectorStore,
    IndexProblem,
    KeywordIndex,
    load_snapshot,
    new_version_dir,
    publish,
    read_manifest,
    write_snapshot_files,
)
from .text import terms

# Bump when tokenising/stemming changes: the keyword index must then be rebuilt.
ANALYZER = "id-sastrawi-v1"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class NothingToIndex(ValueError):
    """No readable article among the files given; the served index is left as it was."""


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


class BuildInProgress(RuntimeError):
    """Another build of the same index is running."""


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock; an OS file lock, so a killed build never leaves it stale."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(f"another build of {index_dir} is running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_index(
    paths: Iterable[Path],
    settings: Settings,
    rebuild: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    keep_missing: bool = False,
) -> BuildReport:
    """Index the articles under `paths` into `settings.index_dir` and switch to the new version.

    Articles of the served index whose files are gone are removed, unless `keep_missing`."""
    notify = progress or (lambda stage, done, total: None)
    with build_lock(Path(settings.index_dir)):
        notify("reading", 0, 1)
        ingested = read_documents(list(paths), settings.max_file_mb)
        docs, skipped = _unique(ingested.documents)
        if not docs:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in ingested.skipped[:5]) or "no files found"
            raise NothingToIndex(f"nothing to index ({reasons}); the current index is unchanged")
        if keep_missing:
            present = {d.doc_id for d in docs}
            docs += [d for d in stored_documents(Path(settings.index_dir)) if d.doc_id not in present]
        notify("reading", 1, 1)
        return _build(docs, ingested.skipped + skipped, settings, rebuild, notify, embedder)


def remove_documents(doc_ids: Iterable[str], settings: Settings, embedder: Embedder | None = None) -> BuildReport:
    """A new index version without these articles (nothing is re-embedded)."""
    wanted = set(doc_ids)
    with build_lock(Path(settings.index_dir)):
        docs = stored_documents(Path(settings.index_dir))
        unknown = wanted - {d.doc_id for d in docs}
        if unknown:
            raise NothingToIndex(f"not in the index: {', '.join(sorted(unknown))} (see `python -m qa list`)")
        kept = [d for d in docs if d.doc_id not in wanted]
        if not kept:
            raise NothingToIndex("removing these would leave the index empty; the current index is unchanged")
        return _build(kept, [], settings, False, lambda *_: None, embedder)


def stored_documents(index_dir: Path) -> list[Document]:
    """The articles of the served index, as stored in it (no file is read)."""
    try:
        snapshot = load_snapshot(index_dir)
    except IndexProblem:
        return []
    try:
        return snapshot.table.documents()
    finally:
        snapshot.close()


def _unique(docs: list[Document]) -> tuple[list[Document], list[Skipped]]:
    """The same content under two names is indexed once; the copy is reported."""
    first: dict[str, Document] = {}
    kept, duplicates = [], []
    for doc in docs:
        if doc.sha256 in first:
            duplicates.append(Skipped(doc.source, f"duplicate of {first[doc.sha256].source} (same content)"))
        else:
            first[doc.sha256] = doc
            kept.append(doc)
    return kept, duplicates


def _build(
    docs: list[Document], skipped: list[Skipped], settings: Settings, rebuild: bool, notify: Progress, embedder: Embedder | None
) -> BuildReport:
    started = time.perf_counter()
    index_dir = Path(settings.index_dir)
    report = BuildReport(index_dir=index_dir, skipped=skipped)

    embedder = embedder or get_embedder(settings.model)
    chunks_by_doc = [chunk_document(d, settings.chunk_size, settings.chunk_overlap) for d in docs]
    chunks = [c for cs in chunks_by_doc for c in cs]
    hashes = [_text_hash(c.text) for c in chunks]

    previous = _previous_files(index_dir)
    _compare(report, previous, {d.doc_id: d.sha256 for d in docs})
    vectors, cache = _embed(chunks, hashes, embedder, index_dir, rebuild, settings.embed_batch_size, report, notify)

    notify("writing", 0, 1)
    version = new_version_dir(index_dir)
    try:
        table = ChunkTable.create(version / CHUNKS)
        table.add_chunks(range(len(chunks)), chunks, hashes)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        files = []
        for doc, doc_chunks in zip(docs, chunks_by_doc):
            added_at = previous.get(doc.doc_id, {}).get("added_at", now)
            table.add_document(doc, len(doc_chunks), added_at)
            files.append(
                {
                    "doc_id": doc.doc_id,
                    "source": doc.source,
                    "title": doc.title,
                    "sha256": doc.sha256,
                    "chunks": len(doc_chunks),
                    "added_at": added_at,
                    **({"date": doc.date} if doc.date else {}),
                    **({"url": doc.url} if doc.url else {}),
                }
            )
        table.commit()
        table.close()
        report.documents, report.chunks = len(docs), len(chunks)
        report.seconds = time.perf_counter() - started
        manifest = {
            "format": FORMAT_VERSION,
            "model": {"name": embedder.name, "dim": embedder.dim, "backend": type(embedder).__name__},
            "chunking": settings.chunking(),
            "keyword": {"type": "bm25s", "analyzer": ANALYZER},

            "documents": len(docs),
            "chunks": len(chunks),
            "files": files,
            "built_at": now,
            "build_seconds": round(report.seconds, 2),
            "embedded": report.embedded,
            "reused": report.reused,
        }
        # one big structure at a time: the vectors go into FAISS and are let go before the chunk
        # texts become BM25 terms and are let go in turn (this lowered the peak of a 1M build)
        store = FaissVectorStore.build(vectors, exact_max=settings.exact_max)
        del vectors
        corpus_terms = [terms(c.text) for c in chunks]
        del chunks, chunks_by_doc
        keywords = KeywordIndex.build(corpus_terms)
        del corpus_terms
        manifest["vectors"] = {**store.info, "metric": "inner_product"}
        write_snapshot_files(version, manifest, store, keywords)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    publish(index_dir, version)
    cache.clear()
    notify("writing", 1, 1)
    return report


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _previous_files(index_dir: Path) -> dict[str, dict]:
    try:
        return {f["doc_id"]: f for f in read_manifest(index_dir).get("files", [])}
    except IndexProblem:
        return {}


def _compare(report: BuildReport, previous: dict[str, dict], current: dict[str, str]) -> None:
    for doc_id, sha in current.items():
        if doc_id not in previous:
            report.added.append(doc_id)
        elif previous[doc_id].get("sha256") != sha:
            report.updated.append(doc_id)
        else:
            report.unchanged.append(doc_id)
    report.removed = [d for d in previous if d not in current]


def _embed(
    chunks: list[Chunk],
    hashes: list[str],
    embedder: Embedder,
    index_dir: Path,
    rebuild: bool,
    batch: int,
    report: BuildReport,
    notify: Progress,
) -> tuple[np.ndarray, EmbeddingCache]:
    """Vectors for all chunks: reused from the served index where the text is the same, or from the
    cache of a build that was interrupted, else embedded (and cached batch by batch)."""
    vectors = np.zeros((len(chunks), embedder.dim), np.float32)
    todo = list(range(len(chunks)))
    cache = EmbeddingCache(index_dir, embedder.name, embedder.dim, fresh=rebuild)
    if not rebuild:
        try:
            old = load_snapshot(index_dir, embedder.name)
        except IndexProblem:
            old = None
        if old is not None:
            known = old.table.rows_by_hash()
            reuse = [(i, known[h]) for i, h in enumerate(hashes) if h in known]
            if reuse:
                vectors[[i for i, _ in reuse]] = old.vectors.vectors([r for _, r in reuse])
            old.close()
            reused = {i for i, _ in reuse}
            todo = [i for i in todo if i not in reused]
        cached = cache.get([hashes[i] for i in todo])
        for i in todo:
            if hashes[i] in cached:
                vectors[i] = cached[hashes[i]]
        report.resumed = sum(hashes[i] in cached for i in todo)
        todo = [i for i in todo if hashes[i] not in cached]
    report.reused = len(chunks) - len(todo)
    notify("embedding", 0, len(todo))
    started = time.perf_counter()
    for at in range(0, len(todo), batch):
        rows = todo[at : at + batch]
        vectors[rows] = embedder.embed_passages([chunks[i].text for i in rows])
        cache.put([hashes[i] for i in rows], vectors[rows])
        notify("embedding", min(at + batch, len(todo)), len(todo))
    report.embedded = len(todo)
    report.embed_seconds = time.perf_counter() - started
    return vectors, cache
