"""Updates on Milvus that cost what changed (the design: docs/milvus.md, "Updates").

An update reads the files it is given, asks Milvus which of their articles it holds and with what
content hash, and chunks and embeds only the new and changed ones. Their rows go into the served
version's collections marked with the next generation, invisible to readers (who see generations up
to the published one); then the generation's record names it and the articles it supersedes (changed
or removed), and the alias moves to that record: the switch. The superseded articles' older rows are
then deleted, and the terms' document frequencies adjusted. A killed update leaves the published
generation as it was; the next update first deletes what the killed one wrote beyond it (or finishes
deleting what the published one superseded). Nothing Milvus holds is copied or staged on the builder,
and the vectors of unchanged passages are never read.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ...errors import IndexMismatch, NothingToIndex
from ...ingest.chunking import chunk_document
from ...ingest.documents import iter_documents
from ...records import BuildReport, Document, Progress, Skipped
from ...settings import Settings
from ..chunks import text_hash
from ..embedding import Embedder
from .connection import Connection
from .rows import LAYOUT, DocRecord, View, Vocabulary, chunk_row, doc_row, text_rows


class Generations(Protocol):
    """What an update needs of the backend (qa/index/milvus/backend.py): the published generation, the
    rows it holds, writing the next one and switching to it."""

    milvus: Connection

    @property
    def after_unfinished(self) -> bool: ...

    def published(self) -> tuple[str, dict[str, Any], View, dict[str, Any]] | None: ...

    def settle(self, stamp: str, view: View, roll_back: bool = True, rows: Collection[int] | None = None) -> None: ...

    def doc_records(self, stamp: str, view: View, doc_ids: Sequence[str]) -> dict[str, DocRecord]: ...

    def passage_texts(self, stamp: str, rows: Sequence[int]) -> dict[int, str]: ...

    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None: ...

    def written(self, stamp: str, rows: int) -> None: ...

    def switch(self, stamp: str, gen: int, manifest: dict[str, Any], state: dict[str, Any]) -> None: ...

    def add_df(self, stamp: str, vocabulary: Vocabulary) -> None: ...


READ_BATCH = 200  # articles looked up in Milvus at a time


def update_in_place(
    backend: Generations,
    settings: Settings,
    paths: Iterable[Path],
    embedder: Embedder,
    excluded: Collection[str] = (),
    progress: Progress | None = None,
    remove: Collection[str] | None = None,
) -> BuildReport | None:
    """Add and replace the articles under `paths` (or take out the `remove` doc_ids) as one new generation;
    None when the served index cannot be updated in place (none yet, another model or chunking, an
    older layout): then a full build is needed."""

    started = time.perf_counter()
    notify = progress or (lambda stage, done, total: None)
    try:
        published = backend.published()
    except IndexMismatch:
        return None
    if published is None:
        return None
    stamp, manifest, view, state = published
    if manifest["model"]["name"] != embedder.name or manifest.get("chunking") != settings.chunking():
        return None
    if manifest.get("vectors", {}).get("layout") != LAYOUT:  # served, but its docs rows do not name their passages
        raise IndexMismatch(
            f"the index in Milvus was written by an older Tanya (layout {manifest.get('vectors', {}).get('layout')}); it is still "
            "served, but to update it in place rebuild it once with `python -m qa index --rebuild` from the articles' files "
            "(articles that only Milvus holds, uploaded through other app servers, must be indexed again)"
        )

    if backend.after_unfinished:  # what a killed or failed update left: rows beyond the published generation, superseded rows
        backend.settle(stamp, view)
    report = BuildReport(index_dir=Path(settings.store.index_dir))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    fresh: list[tuple[Document, str]] = []  # new or changed articles, with when each first came in
    superseded: set[str] = set()
    old_rows: list[int] = []  # the passages of the articles superseded (changed or removed)
    if remove is not None:
        known = backend.doc_records(stamp, view, list(remove))
        unknown = sorted(set(remove) - set(known))
        if unknown:
            raise NothingToIndex(f"not in the index: {', '.join(unknown)} (see `python -m qa list`)")
        superseded = set(remove)
        old_rows = [r for record in known.values() for r in record.rows]
        report.removed = sorted(remove)
    else:
        read = 0
        batch: list[Document] = []

        def look_up(docs: list[Document]) -> None:
            known = backend.doc_records(stamp, view, [d.doc_id for d in docs])
            for doc in docs:
                record = known.get(doc.doc_id)
                if record is None:
                    report.added.append(doc.doc_id)
                elif record.sha256 == doc.sha256:
                    report.unchanged.append(doc.doc_id)
                    continue
                else:
                    report.updated.append(doc.doc_id)
                    superseded.add(doc.doc_id)
                    old_rows.extend(record.rows)
                fresh.append((doc, record.added_at if record else now))

        for item in iter_documents(list(paths), settings.ingest.max_file_mb, excluded=excluded):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            read += 1
            batch.append(item)
            if len(batch) >= READ_BATCH:
                look_up(batch)
                batch = []
        look_up(batch)
        if not read:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in report.skipped[:5]) or "no files found"
            raise NothingToIndex(f"nothing to index ({reasons}); the current index is unchanged")
    documents = int(manifest["documents"]) + len(report.added) - len(report.removed)
    if not fresh and not superseded:
        report.documents, report.chunks = documents, int(manifest["chunks"])
        report.reused, report.seconds = report.chunks, time.perf_counter() - started
        return report
    if documents <= 0:
        raise NothingToIndex("removing these would leave the index empty; the current index is unchanged")

    gen = view.gen + 1
    vocabulary = Vocabulary(backend.milvus, stamp, int(state["next_term"]), float(manifest["keyword"]["avgdl"]))
    added_rows = _write(backend, stamp, gen, fresh, state, embedder, settings, report, notify, vocabulary)
    gone = backend.passage_texts(stamp, old_rows)
    chunks = int(manifest["chunks"]) + added_rows - len(gone)
    report.documents, report.chunks = documents, chunks
    report.reused = chunks - report.embedded
    report.seconds = time.perf_counter() - started
    new_manifest = {
        **manifest,
        "documents": documents,
        "chunks": chunks,
        "built_at": now,
        "build_seconds": round(report.seconds, 2),
        "embedded": report.embedded,
        "reused": report.reused,
    }
    next_state = {
        "gen": gen,
        "superseded": sorted(superseded),
        "next_row": state["next_row"] + added_rows,
        "next_seq": state["next_seq"] + len(fresh),
        "next_term": vocabulary.next_id,
    }
    notify("writing", 0, 1)
    backend.switch(stamp, gen, new_manifest, next_state)
    for text in gone.values():  # the superseded passages no longer count
        vocabulary.weights(text, sign=-1)
    backend.add_df(stamp, vocabulary)
    backend.settle(stamp, View(gen, tuple(sorted(superseded))), roll_back=False, rows=gone)  # under the lease: nothing beyond gen
    report.seconds = time.perf_counter() - started
    notify("writing", 1, 1)
    return report


def _write(
    backend: Generations,
    stamp: str,
    gen: int,
    fresh: list[tuple[Document, str]],
    state: dict[str, Any],
    embedder: Embedder,
    settings: Settings,
    report: BuildReport,
    notify: Progress,
    vocabulary: Vocabulary,
) -> int:
    """The fresh articles' rows (passages embedded here), as generation `gen`, indexed (their
    terms counted in `vocabulary`); returns how many passages were written."""

    row, seq = int(state["next_row"]), int(state["next_seq"])
    pending: list[tuple[Any, str, str | None]] = []  # (chunk, text hash, date), embedded a batch at a time
    docs: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    total = 0

    def embed_pending() -> None:
        nonlocal row, total
        t = time.perf_counter()
        vectors = embedder.embed_passages([c.text for c, _, _ in pending])
        report.embed_seconds += time.perf_counter() - t
        rows = [
            chunk_row(row + i, gen, c, h, v, vocabulary.weights(c.text), d)
            for i, ((c, h, d), v) in enumerate(zip(pending, vectors))
        ]
        backend.insert(f"{stamp}__chunks", rows)
        row += len(pending)
        total += len(pending)
        report.embedded += len(pending)
        notify("embedding", report.embedded, 0)
        pending.clear()

    for doc, added_at in fresh:
        chunks = chunk_document(doc, settings.embedding.chunk_size, settings.embedding.chunk_overlap)
        first = row + len(pending)  # the rows the pending passages will take, in order
        pending += [(c, text_hash(c.text), doc.date) for c in chunks]
        docs.append(doc_row(doc, gen, seq, range(first, first + len(chunks)), added_at))
        texts += text_rows(doc, gen)
        seq += 1
        if len(pending) >= settings.embedding.batch_size:
            embed_pending()
    if pending:
        embed_pending()
    backend.insert(f"{stamp}__docs", docs)
    backend.insert(f"{stamp}__texts", texts)
    backend.written(stamp, total)
    return total
