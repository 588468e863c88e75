"""Index versions as Milvus collections behind one alias: which version is served, publishing a build
(copied in, then the alias moves), the generations updates publish (qa/index/milvus/update.py), and
dropping what no reader needs. The design: qa/index/milvus/__init__.py and docs/milvus.md."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import ConfigError, IndexCorrupt, IndexMismatch, IndexMissing
from ...records import BuildReport, Progress
from ...settings import Settings
from ...text import terms
from ..base import CHUNKS, FORMAT_VERSION, IndexBackend, Snapshot
from ..chunks import ChunkTable
from ..embedding import Embedder
from ..scratch import VectorFile
from .connection import Connection, uri_kind
from .lease import BuildLease
from .readers import Found, MilvusKeywords, MilvusTable, MilvusVectors
from .rows import BATCH, LAYOUT, DocRecord, View, Vocabulary, chunk_row, doc_row, literal, ranged_rows, text_rows
from .update import update_in_place

_KINDS = ("chunks", "docs", "texts", "terms")  # a version's data; its published generations are `g{N}`
SERVED_LAYOUTS = (2, 3)  # layouts a question can read (a layout-2 index is served; its next update is a full build)
_GEN = re.compile(r"^(.*)__g(\d+)$")
WAIT_ROWS = 10_000  # an update that writes this many passages waits for Milvus to index them (a small one is searched whole)


class MilvusBackend(IndexBackend):
    """Index versions as Milvus collections behind one alias (`name`)."""

    shared = True

    def __init__(self, milvus: Connection, name: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,120}", name):
            raise ConfigError(f"QA_MILVUS_COLLECTION={name!r}: letters, digits and _ only, not starting with a digit")
        self.milvus, self.name = milvus, name
        self.lease = BuildLease(milvus, f"{name}__lease")

    @classmethod
    def connect(cls, uri: str, token: str = "", name: str = "tanya") -> MilvusBackend:
        """The backend of alias `name` at `uri` (one client per URI, token and name in a process)."""
        return _connected(uri, token, name)

    # --- which version is served -------------------------------------------------------------

    def served(self) -> Path | None:
        """Asked before every question: one round trip (describing the alias) when there is one. The name
        is the published generation's (`{name}__{version}__g{N}`): it changes with every update."""
        from pymilvus.exceptions import MilvusException

        try:
            target = self.milvus.client.describe_alias(self.name)["collection_name"]
        except MilvusException:  # no such alias (nothing built yet), or Milvus is not answering
            if self.name not in self.milvus.read("list aliases", None, self.milvus.client.list_aliases).get("aliases", []):
                return None
            target = self.milvus.read(f"describe the alias '{self.name}'", None, self.milvus.client.describe_alias, self.name)[
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
        rows = self.milvus.read(
            "read the manifest",
            served.name,
            self.milvus.client.query,
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
            raise IndexMissing(
                f"no index in Milvus at {self.milvus.uri} (alias '{self.name}'): build one with `python -m qa index`"
            )
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
            MilvusVectors(self.milvus, version, int(manifest["model"]["dim"]), chunks, view, found),
            MilvusKeywords(self.milvus, version, chunks, view, found, int(state.get("next_term", 0))),
            MilvusTable(self.milvus, version, manifest, view, found),
            remote=True,
        )

    # --- publishing a build ------------------------------------------------------------------

    def publish(self, version: Path, manifest: dict[str, Any], vectors: VectorFile, exact_max: int) -> dict[str, Any]:
        """Copy the staged version into new collections, move the alias, drop versions older than the last."""
        stamp = self.name + "__" + re.sub(r"[^A-Za-z0-9]", "", version.name)
        manifest = {
            **manifest,
            "vectors": {"type": "milvus", "metric": "inner_product", "uri_kind": uri_kind(self.milvus.uri), "layout": LAYOUT},
        }
        for name in self.milvus.call("list collections", self.milvus.client.list_collections):  # a half-copied retry is replaced
            if name.startswith(stamp + "__"):
                self.milvus.call("drop a collection", self.milvus.client.drop_collection, name)
        self.create_version(stamp, int(manifest["model"]["dim"]), exact=manifest["chunks"] <= exact_max)
        rows, seq, vocabulary = self._copy(version, stamp, vectors)
        manifest["keyword"] = {**manifest.get("keyword", {}), "type": "bm25-split", "avgdl": vocabulary.avgdl}
        for kind in _KINDS:
            self.milvus.call("flush", self.milvus.client.flush, f"{stamp}__{kind}")
        self.milvus.wait_for_indexes(f"{stamp}__chunks")
        self.switch(
            stamp, 0, manifest, {"gen": 0, "superseded": [], "next_row": rows, "next_seq": seq, "next_term": vocabulary.next_id}
        )
        return manifest

    def create_version(self, stamp: str, dim: int, exact: bool) -> None:
        """The four data collections of a new version."""
        from pymilvus import DataType

        self.milvus.create(
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
        self.milvus.create(
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
        self.milvus.create(
            f"{stamp}__texts",
            [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 1200}),
                ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
                ("gen", DataType.INT64, {}),
                ("part", DataType.INT64, {}),
                ("text", DataType.VARCHAR, {"max_length": 65535}),
            ],
        )
        self.milvus.create(
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
        if self.milvus.call("list collections", self.milvus.client.has_collection, record):
            self.milvus.call("drop a collection", self.milvus.client.drop_collection, record)
        self.milvus.create(
            record,
            [
                ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 64}),
                ("value", DataType.VARCHAR, {"max_length": 65535}),
            ],
        )
        manifest = {**manifest, "next_seq": state["next_seq"]}
        self.milvus.insert(
            record,
            [
                {"key": "manifest", "value": json.dumps(manifest, ensure_ascii=False), "v": [0.0, 0.0]},
                {"key": "state", "value": json.dumps(state), "v": [0.0, 0.0]},
            ],
        )
        self.milvus.call("flush", self.milvus.client.flush, record)
        self.lease.check()
        previous = self.served()
        if previous is None:
            self.milvus.call("create the alias", self.milvus.client.create_alias, record, self.name)
        else:
            self.milvus.call("move the alias", self.milvus.client.alter_alias, record, self.name)
        before = _GEN.match(previous.name) if previous is not None else None
        versions = {stamp, before[1] if before else ""}
        records = {record, previous.name if previous is not None else ""}
        prefix = self.name + "__"
        for name in self.milvus.call("list collections", self.milvus.client.list_collections):
            if name.startswith(prefix) and name != self.lease.collection:
                owner = name.rsplit("__", 1)[0]
                if owner not in versions or (_GEN.match(name) and name not in records):
                    self.milvus.call(f"drop {name}", self.milvus.client.drop_collection, name)

    def _copy(self, version: Path, stamp: str, vectors: VectorFile) -> tuple[int, int, Vocabulary]:
        """Chunks with their dense and sparse vectors, documents and their texts, the terms (all of
        generation 0); returns (rows, documents, the vocabulary written)."""
        table = ChunkTable(version / CHUNKS)
        try:
            total = table.count()
            lengths = sum(len(terms(text)) for at in range(0, total, 4096) for text, _ in table.passages(at, at + 4096))
            vocabulary = Vocabulary(None, stamp, 0, lengths / max(total, 1))  # a new version: every term is new
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
            self.add_df(stamp, vocabulary)
            return offset, seq, vocabulary
        finally:
            table.close()

    # --- updates in place (update.py) -------------------------------------------------------------

    def update_in_place(
        self,
        paths: Iterable[Path],
        settings: Settings,
        embedder: Embedder,
        excluded: Collection[str] = (),
        progress: Progress | None = None,
        remove: Collection[str] | None = None,
    ) -> BuildReport | None:
        return update_in_place(self, settings, paths, embedder, excluded, progress, remove)

    def settle(self, stamp: str, view: View, roll_back: bool = True, rows: Collection[int] | None = None) -> None:
        """Delete the rows readers of `view` no longer see: those of an unpublished (killed or failed)
        update (unless `roll_back` is False: there are none — the builder just published `view`), and
        the older rows of the articles the published generation superseded (their passages by key when
        their `rows` are known: a delete by filter scans the collection)."""
        for kind in ("chunks", "docs", "texts"):
            if roll_back:
                self.milvus.call(
                    "roll back an unfinished update", self.milvus.client.delete, f"{stamp}__{kind}", filter=f"gen > {view.gen}"
                )
            if kind == "chunks" and rows is not None:
                if rows:
                    self.milvus.call("delete superseded rows", self.milvus.client.delete, f"{stamp}__{kind}", ids=sorted(rows))
            elif view.superseded:
                where = f"doc_id in {literal(list(view.superseded))} and gen < {view.gen}"
                self.milvus.call("delete superseded rows", self.milvus.client.delete, f"{stamp}__{kind}", filter=where)

    def doc_records(self, stamp: str, view: View, doc_ids: Sequence[str]) -> dict[str, DocRecord]:
        """doc_id → its record, for those of `doc_ids` the view holds."""
        found: dict[str, DocRecord] = {}
        for at in range(0, len(doc_ids), BATCH):
            where = view.where(f"doc_id in {literal(list(doc_ids[at : at + BATCH]))}")
            rows = self.milvus.query(f"{stamp}__docs", where, ["doc_id", "sha256", "added_at", "rows"])
            found.update({r["doc_id"]: DocRecord(r["sha256"], r["added_at"], ranged_rows(r["rows"])) for r in rows})
        return found

    def passage_texts(self, stamp: str, rows: Sequence[int]) -> dict[int, str]:
        """row → text of these passages (by key: no scan)."""
        texts: dict[int, str] = {}
        for at in range(0, len(rows), BATCH):
            part = [int(r) for r in rows[at : at + BATCH]]
            texts.update(
                {
                    int(r["row"]): r["text"]
                    for r in self.milvus.query(f"{stamp}__chunks", f"row in {literal(part)}", ["row", "text"])
                }
            )
        return texts

    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for at in range(0, len(rows), BATCH):
            self.milvus.insert(collection, rows[at : at + BATCH])

    def written(self, stamp: str, rows: int) -> None:
        """After an update wrote `rows` passages: until they are indexed, when they are many (WAIT_ROWS;
        a few are searched whole at no cost worth waiting for: Milvus asks ~50 ms per index at 100k
        passages to say so). Not flushed: Milvus keeps inserted rows in its log (they survive the server
        killed, tested) and searches them at once; a flush per update would seal a small segment."""
        if rows >= WAIT_ROWS:
            self.milvus.wait_for_indexes(f"{stamp}__chunks")

    def add_df(self, stamp: str, vocabulary: Vocabulary) -> None:
        """Write the document-frequency changes a vocabulary counted (new terms with their ids; a term
        whose count reaches 0 goes)."""
        changed = [t for t, d in vocabulary.df.items() if d or t in vocabulary.new]
        for at in range(0, len(changed), BATCH):
            part = changed[at : at + BATCH]
            now = {
                r["term"]: int(r["df"]) for r in self.milvus.query(f"{stamp}__terms", f"term in {literal(part)}", ["term", "df"])
            }
            counts = {t: now.get(t, 0) + vocabulary.df.get(t, 0) for t in part}
            gone = [t for t, n in counts.items() if n <= 0 and t in now]
            if gone:
                self.milvus.call("update terms", self.milvus.client.delete, f"{stamp}__terms", filter=f"term in {literal(gone)}")
            kept = [{"term": t, "id": vocabulary.ids[t], "df": n, "v": [0.0, 0.0]} for t, n in counts.items() if n > 0]
            if kept:
                self.milvus.call("update terms", self.milvus.client.upsert, f"{stamp}__terms", kept)

    def neighbours(self) -> list[str]:
        prefix = self.name + "_"
        aliases = self.milvus.call("list aliases", self.milvus.client.list_aliases).get("aliases", [])
        return sorted(a[len(prefix) :] for a in aliases if a.startswith(prefix) and not a.startswith(self.name + "__"))

    def drop(self) -> None:
        if self.served() is not None:
            self.milvus.call("drop the alias", self.milvus.client.drop_alias, self.name)
        self._drop_versions(set())
        self.lease.drop()

    def _drop_versions(self, keep: set[str]) -> None:
        prefix = self.name + "__"
        for name in self.milvus.call("list collections", self.milvus.client.list_collections):
            if name.startswith(prefix) and name != self.lease.collection and name.rsplit("__", 1)[0] not in keep:
                self.milvus.call(f"drop {name}", self.milvus.client.drop_collection, name)

    def versions(self) -> list[str]:
        """The versions that have collections (the served one, the previous one, any half-copied one)."""
        prefix = self.name + "__"
        names = self.milvus.call("list collections", self.milvus.client.list_collections)
        return sorted({n.rsplit("__", 1)[0] for n in names if n.startswith(prefix) and n != self.lease.collection})

    # --- one builder at a time, across machines ---------------------------------------------------

    def builder_lease(self) -> AbstractContextManager[None]:
        return self.lease.hold()

    @property
    def after_unfinished(self) -> bool:
        """Whether an update must first roll back what an earlier build wrote and did not publish."""
        return self.lease.after_unfinished


@lru_cache(maxsize=4)
def _connected(uri: str, token: str, name: str) -> MilvusBackend:
    return MilvusBackend(Connection.open(uri, token), name)
