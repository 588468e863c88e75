"""The index on Milvus: Milvus Lite embedded (a file), a Milvus server, or a cluster — one client.

    QA_STORE=milvus QA_MILVUS_URI=/data/tanya.db            # Milvus Lite, in process
    QA_STORE=milvus QA_MILVUS_URI=http://milvus:19530       # a server or cluster (QA_MILVUS_TOKEN)

A build is staged locally as usual (chunk table, bm25s keyword index, vectors) and then copied into
five new collections named after the version, `{name}__{version}__chunks|docs|texts|terms|meta`;
only then does the alias `{name}` move to the new chunks collection, so a reader never sees half a
build and a build killed while copying leaves the alias where it was. The previous version is kept
(a reader may be in the middle of a question); older ones and half-copied ones are dropped at the
next publish. A loaded snapshot reads the collections of its own version by name, not the alias.

Keyword search is the same BM25 as the embedded store's, not Milvus's analyzer: each passage's
sparse vector holds the bm25s weights of its Sastrawi-stemmed terms (idf × saturated tf), and a
question's sparse vector is 1 for each of its terms, so the inner product Milvus computes is the
bm25s score. Term ids and document frequencies live in the `terms` collection.

Collections (a Milvus collection needs a vector field: the auxiliary ones carry a 2-d zero vector):
- chunks: row (primary key, the passage's row), chunk fields, text_hash, dense (FLOAT_VECTOR, IP), sparse
- docs: doc_id, the file record (source, title, sha256, chunks, added_at, date, url, page_starts), seq
- texts: an article's text in parts of ≤ 16,000 characters (VARCHAR holds 65,535 bytes)
- terms: term, id, df;  meta: the manifest
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .keywords import KeywordIndex
from ..dates import iso
from ..records import Chunk, Document
from .base import KeywordSearch, Passages
from .base import CHUNKS, FORMAT_VERSION, KEYWORD, IndexBackend, Snapshot, VectorStore
from ..errors import IndexCorrupt, IndexMismatch, IndexMissing, IndexProblem
from .chunks import ChunkTable
from ..errors import MilvusUnavailable
from ..errors import BuildInProgress, ConfigError, Unavailable

PART = 16_000  # characters of article text per row of `texts`
BATCH = 1000  # rows per insert
PAGE = 16_000  # rows per query (Milvus returns at most 16,384)
_KINDS = ("chunks", "docs", "texts", "terms", "meta")


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


def _literal(values: Sequence[Any]) -> str:
    """A list for a Milvus filter expression (strings JSON-quoted)."""
    return json.dumps([v if isinstance(v, str) else int(v) for v in values], ensure_ascii=False)


class MilvusBackend(IndexBackend):
    """Index versions as Milvus collections behind one alias."""

    shared = True

    def __init__(self, client: Any, name: str, uri: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,120}", name):
            raise ConfigError(f"QA_MILVUS_COLLECTION={name!r}: letters, digits and _ only, not starting with a digit")
        self.client, self.name, self.uri = client, name, uri
        self._lease_owner: str | None = None  # this process's build lease, while it holds one

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
        """Asked before every question: one round trip (describing the alias) when there is one."""
        from pymilvus.exceptions import MilvusException

        try:
            target = self.client.describe_alias(self.name)["collection_name"]
        except MilvusException:  # no such alias (nothing built yet), or Milvus is not answering
            if self.name not in self._read("list aliases", None, self.client.list_aliases).get("aliases", []):
                return None
            target = self._read(f"describe the alias '{self.name}'", None, self.client.describe_alias, self.name)["collection_name"]
        return Path(target.removesuffix("__chunks"))

    def load(self, model: str | None = None) -> Snapshot:
        served = self.served()
        if served is None:
            raise IndexMissing(f"no index in Milvus at {self.uri} (alias '{self.name}'): build one with `python -m qa index`")
        version = served.name
        rows = self._call("read the manifest", self.client.query, f"{version}__meta", filter='key == "manifest"', output_fields=["value"])
        if not rows:
            raise IndexCorrupt(f"the Milvus version {version} has no manifest; rebuild with `python -m qa index --rebuild`")
        manifest = json.loads(rows[0]["value"])
        fix = "rebuild with `python -m qa index --rebuild`"
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexMismatch(f"the index in Milvus has format {manifest.get('format')}, this Tanya reads {FORMAT_VERSION}; {fix}")
        if model is not None and manifest["model"]["name"] != model:
            raise IndexMismatch(
                f"the index in Milvus was built with model '{manifest['model']['name']}', but the configured model is "
                f"'{model}'; set QA_MODEL={manifest['model']['name']} or {fix}"
            )
        return Snapshot(served, manifest, MilvusVectors(self, version, int(manifest["model"]["dim"]), int(manifest["chunks"])),
                        MilvusKeywords(self, version, int(manifest["chunks"])), MilvusTable(self, version, manifest))

    # --- publishing a build ------------------------------------------------------------------

    def publish(self, version: Path, manifest: dict[str, Any], vectors: Any, exact_max: int) -> dict[str, Any]:
        """Copy the staged version into new collections, move the alias, drop versions older than the last."""
        from pymilvus import DataType

        stamp = self.name + "__" + re.sub(r"[^A-Za-z0-9]", "", version.name)
        manifest = {**manifest, "vectors": {"type": "milvus", "metric": "inner_product", "uri_kind": _uri_kind(self.uri)}}
        dim = int(manifest["model"]["dim"])
        for kind in _KINDS:  # a half-copied version of the same name (a retried build) is replaced
            if self._call("list collections", self.client.has_collection, f"{stamp}__{kind}"):
                self._call("drop a collection", self.client.drop_collection, f"{stamp}__{kind}")
        self._create(f"{stamp}__chunks", [
            ("row", DataType.INT64, {"is_primary": True}), ("chunk_id", DataType.VARCHAR, {"max_length": 1024}),
            ("doc_id", DataType.VARCHAR, {"max_length": 1024}), ("source", DataType.VARCHAR, {"max_length": 4096}),
            ("title", DataType.VARCHAR, {"max_length": 4096}), ("paragraph", DataType.INT64, {}),
            ("start", DataType.INT64, {}), ("end", DataType.INT64, {}), ("page", DataType.INT64, {}),
            ("text", DataType.VARCHAR, {"max_length": 65535}), ("text_hash", DataType.VARCHAR, {"max_length": 64}),
            ("dense", DataType.FLOAT_VECTOR, {"dim": dim}), ("sparse", DataType.SPARSE_FLOAT_VECTOR, {}),
        ], {"dense": ("FLAT" if manifest["chunks"] <= exact_max else "HNSW", "IP"), "sparse": ("SPARSE_INVERTED_INDEX", "IP")})
        self._create(f"{stamp}__docs", [
            ("doc_id", DataType.VARCHAR, {"is_primary": True, "max_length": 1024}), ("seq", DataType.INT64, {}),
            ("source", DataType.VARCHAR, {"max_length": 4096}), ("title", DataType.VARCHAR, {"max_length": 4096}),
            ("sha256", DataType.VARCHAR, {"max_length": 64}), ("chunks", DataType.INT64, {}),
            ("added_at", DataType.VARCHAR, {"max_length": 64}), ("date", DataType.VARCHAR, {"max_length": 64}),
            ("url", DataType.VARCHAR, {"max_length": 4096}), ("page_starts", DataType.VARCHAR, {"max_length": 65535}),
        ])
        self._create(f"{stamp}__texts", [
            ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 1100}), ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
            ("part", DataType.INT64, {}), ("text", DataType.VARCHAR, {"max_length": 65535}),
        ])
        self._create(f"{stamp}__terms", [
            ("term", DataType.VARCHAR, {"is_primary": True, "max_length": 1024}), ("id", DataType.INT64, {}), ("df", DataType.INT64, {}),
        ])
        self._create(f"{stamp}__meta", [
            ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 64}), ("value", DataType.VARCHAR, {"max_length": 65535}),
        ])
        self._copy(version, stamp, vectors)
        self._insert(f"{stamp}__meta", [{"key": "manifest", "value": json.dumps(manifest, ensure_ascii=False), "v": [0.0, 0.0]}])
        for kind in _KINDS:
            self._call("flush", self.client.flush, f"{stamp}__{kind}")
        self._wait_for_indexes(f"{stamp}__chunks")
        self.check_lease()
        previous = self.served()
        if previous is None:
            self._call("create the alias", self.client.create_alias, f"{stamp}__chunks", self.name)
        else:
            self._call("move the alias", self.client.alter_alias, f"{stamp}__chunks", self.name)
        self._drop_versions(keep={stamp, previous.name if previous else ""})
        return manifest

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

    def _create(self, name: str, fields: list[tuple[str, Any, dict]], indexes: dict[str, tuple[str, str]] | None = None) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        for field, kind, options in fields:
            schema.add_field(field, kind, **options)
        params = self.client.prepare_index_params()
        if not indexes:  # an auxiliary collection: Milvus wants a vector field
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            indexes = {"v": ("FLAT", "L2")}
        for field, (kind, metric) in indexes.items():
            params.add_index(field, index_type=kind, metric_type=metric)
        self._call(f"create {name}", self.client.create_collection, name, schema=schema, index_params=params)

    def _insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._call(f"insert into {name}", self.client.insert, name, rows)

    def _copy(self, version: Path, stamp: str, vectors: Any) -> None:
        """Chunks with their dense and sparse vectors, documents and their texts, terms."""
        table = ChunkTable(version / CHUNKS)
        try:
            keywords = KeywordIndex.load(version / KEYWORD)
            scores = keywords.bm25.scores
            data, indices, indptr = (np.asarray(scores[k]) for k in ("data", "indices", "indptr"))
            term_of = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))  # the column (term) of each entry
            order = np.argsort(indices, kind="stable")  # entries grouped by row
            row_starts = np.searchsorted(indices[order], np.arange(table.count() + 1))
            offset = 0
            for block in vectors.blocks():
                rows = list(range(offset, offset + len(block)))
                chunks = table.chunks(rows)
                hashes = [h for _, h in table.passages(rows[0], rows[-1] + 1)] if rows else []
                batch = []
                for r, vector in zip(rows, block):
                    c = chunks[r]
                    picked = order[row_starts[r]:row_starts[r + 1]]
                    batch.append({
                        "row": r, "chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source, "title": c.title,
                        "paragraph": c.paragraph, "start": c.start, "end": c.end, "page": -1 if c.page is None else c.page,
                        "text": c.text, "text_hash": hashes[r - offset], "dense": vector.tolist(),
                        "sparse": {int(t): float(w) for t, w in zip(term_of[picked], data[picked]) if w > 0} or {0: 0.0},
                    })
                    if len(batch) >= BATCH:
                        self._insert(f"{stamp}__chunks", batch)
                        batch = []
                self._insert(f"{stamp}__chunks", batch)
                offset += len(block)
            docs, texts = [], []
            for seq, (doc, record) in enumerate(zip(table.documents(), table.files())):
                docs.append({"doc_id": doc.doc_id, "seq": seq, "source": doc.source, "title": doc.title, "sha256": doc.sha256,
                             "chunks": int(record["chunks"]), "added_at": record["added_at"], "date": doc.date or "",
                             "url": doc.url or "", "page_starts": json.dumps(list(doc.page_starts)), "v": [0.0, 0.0]})
                for part in range(max(1, -(-len(doc.text) // PART))):
                    texts.append({"key": f"{doc.doc_id}#{part}", "doc_id": doc.doc_id, "part": part,
                                  "text": doc.text[part * PART:(part + 1) * PART], "v": [0.0, 0.0]})
                if len(docs) >= BATCH:
                    self._insert(f"{stamp}__docs", docs)
                    docs = []
                if len(texts) >= BATCH:
                    self._insert(f"{stamp}__texts", texts)
                    texts = []
            self._insert(f"{stamp}__docs", docs)
            self._insert(f"{stamp}__texts", texts)
            df = np.diff(indptr)
            vocab = keywords.bm25.vocab_dict
            terms = [{"term": t, "id": int(i), "df": int(df[i]) if i < len(df) else 0, "v": [0.0, 0.0]}
                     for t, i in vocab.items() if len(t.encode("utf-8")) <= 1024]
            for at in range(0, len(terms), BATCH):
                self._insert(f"{stamp}__terms", terms[at:at + BATCH])
        finally:
            table.close()

    # --- one builder at a time, across machines ---------------------------------------------------

    @contextmanager
    def builder_lease(self) -> Iterator[None]:
        """A lease kept in Milvus itself (`{alias}__lease`): a builder writes its name and an expiry, waits
        for the write to settle and reads it back; only the last writer finds its own name, so of two
        builders starting together one goes on and the other stops. A lease is renewed while its build
        runs and lapses LEASE_SECONDS after a builder dies (at once when it died on this machine); it is
        checked again before the alias moves."""
        me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        holder = self._lease_holder()
        if holder is not None and holder["owner"] != me and not _dead_here(holder["owner"]):
            raise self._busy(holder)
        self._write_lease(me)
        time.sleep(LEASE_SETTLE)
        holder = self._lease_holder()
        if holder is None or holder["owner"] != me:
            raise self._busy(holder)
        self._lease_owner = me
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                try:
                    self._write_lease(me)
                except MilvusUnavailable:
                    pass  # tried again at the next turn; the check before publishing decides

        renewer = threading.Thread(target=renew, daemon=True, name="tanya-lease")
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            self._lease_owner = None
            holder = self._lease_holder()
            if holder is not None and holder["owner"] == me:
                self._call("release the build lease", self.client.delete, self._lease, filter='key == "lease"')

    def check_lease(self) -> None:
        """Before the alias moves: this builder still holds the lease (else BuildInProgress, nothing published)."""
        owner = self._lease_owner
        holder = self._lease_holder()
        if owner is not None and (holder is None or holder["owner"] != owner):
            raise self._busy(holder)

    @property
    def _lease(self) -> str:
        return f"{self.name}__lease"

    def _lease_holder(self) -> dict[str, Any] | None:
        """The unexpired lease (owner, since, expires), or None."""
        if not self._call("look for the build lease", self.client.has_collection, self._lease):
            return None
        rows = self._read("read the build lease", self._lease, self.client.query, self._lease, filter='key == "lease"',
                          output_fields=["owner", "since", "expires"], consistency_level="Strong")
        return rows[0] if rows and float(rows[0]["expires"]) > time.time() else None

    def _write_lease(self, me: str) -> None:
        from pymilvus import DataType

        if not self._call("look for the build lease", self.client.has_collection, self._lease):
            try:
                self._create(self._lease, [("key", DataType.VARCHAR, {"is_primary": True, "max_length": 16}),
                                           ("owner", DataType.VARCHAR, {"max_length": 256}), ("since", DataType.DOUBLE, {}),
                                           ("expires", DataType.DOUBLE, {})])
            except MilvusUnavailable:
                if not self._call("look for the build lease", self.client.has_collection, self._lease):
                    raise  # (else another builder made it first)
        now = time.time()
        row = {"key": "lease", "owner": me, "since": now, "expires": now + LEASE_SECONDS, "v": [0.0, 0.0]}
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
        return self._read(f"query {collection}", collection, self.client.query, collection, filter=filter, output_fields=fields, **kwargs)

    def search(self, collection: str, data: list, field: str, limit: int) -> list[list[dict[str, Any]]]:
        params = {"ef": max(128, limit)} if field == "dense" else {}  # HNSW's search breadth (FLAT ignores it)
        return self._read(f"search {collection}", collection, self.client.search, collection, data=data, anns_field=field,
                          limit=limit, output_fields=["row"], search_params={"metric_type": "IP", "params": params})

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
        raise Unavailable("QA_STORE=milvus needs pymilvus (and milvus-lite for a file): run `make milvus` (or pip install -e '.[milvus]')") from None
    if _uri_kind(uri) == "lite":
        Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        uri = str(Path(uri).expanduser().resolve())
    for wait in (*RETRY_WAITS, None):  # a server that is starting, or that just refused a channel, gets a few tries
        try:
            client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            return MilvusBackend(client, name, uri)
        except MilvusException as exc:
            if wait is None or _uri_kind(uri) == "lite":
                raise MilvusUnavailable(f"cannot connect to Milvus at {uri}: {exc}") from None
            time.sleep(wait)
    raise AssertionError("unreachable")


def _uri_kind(uri: str) -> str:
    return "server" if uri.startswith(("http://", "https://", "tcp://", "grpc://")) else "lite"


class MilvusVectors(VectorStore):
    """Dense search and stored vectors of one version's chunks collection."""

    def __init__(self, backend: MilvusBackend, version: str, dim: int, count: int) -> None:
        self.backend, self.collection, self._dim, self._count = backend, f"{version}__chunks", dim, count

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, max(self._count, 1))
        results = self.backend.search(self.collection, np.asarray(queries, np.float32).tolist(), "dense", k)
        scores = np.full((len(results), k), -np.inf, np.float32)
        rows = np.full((len(results), k), -1, np.int64)
        for i, hits in enumerate(results):
            for j, hit in enumerate(hits[:k]):
                scores[i, j], rows[i, j] = hit["distance"], hit["entity"]["row"]
        return scores, rows

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        found = {r["row"]: r["dense"] for r in self.backend.query(self.collection, f"row in {_literal(rows)}", ["row", "dense"])}
        return np.asarray([found[r] for r in rows], np.float32).reshape(len(rows), self._dim)


class MilvusKeywords(KeywordSearch):
    """BM25 over the stored sparse vectors; term ids and document frequencies from `terms`."""

    def __init__(self, backend: MilvusBackend, version: str, num_docs: int) -> None:
        self.backend, self.version, self.num_docs = backend, version, num_docs
        self._terms: dict[str, tuple[int, int] | None] = {}
        self._lock = threading.Lock()

    def _lookup(self, terms: Sequence[str]) -> dict[str, tuple[int, int] | None]:
        with self._lock:
            missing = [t for t in dict.fromkeys(terms) if t not in self._terms]
        if missing:
            found = {r["term"]: (int(r["id"]), int(r["df"]))
                     for r in self.backend.query(f"{self.version}__terms", f"term in {_literal(missing)}", ["term", "id", "df"])}
            with self._lock:
                if len(self._terms) > 200_000:
                    self._terms.clear()
                self._terms.update({t: found.get(t) for t in missing})
        with self._lock:
            return {t: self._terms.get(t) for t in terms}

    def idf(self, term: str) -> float:
        found = self._lookup([term])[term]
        df = found[1] if found else 0
        return float(np.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def search(self, query_terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = {v[0] for v in self._lookup(query_terms).values() if v is not None}
        if not ids:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        hits = self.backend.search(f"{self.version}__chunks", [{i: 1.0 for i in sorted(ids)}], "sparse", min(k, max(self.num_docs, 1)))[0]
        hits = [h for h in hits if h["distance"] > 0]
        return np.asarray([h["distance"] for h in hits], np.float32), np.asarray([h["entity"]["row"] for h in hits], np.int64)


_CHUNK_FIELDS = ["row", "chunk_id", "doc_id", "source", "title", "paragraph", "start", "end", "text", "page"]
_DOC_FIELDS = ["doc_id", "seq", "source", "title", "sha256", "chunks", "added_at", "date", "url", "page_starts"]


class MilvusTable(Passages):
    """The chunk and document records of one version (what `ChunkTable` gives for the embedded store)."""

    path = None  # not a file

    def __init__(self, backend: MilvusBackend, version: str, manifest: dict[str, Any]) -> None:
        self.backend, self.version, self.manifest = backend, version, manifest
        self._dates: dict[str, str | None] = {}  # doc_id → its date (a version never changes)

    def close(self) -> None:
        pass

    def count(self) -> int:
        return int(self.manifest["chunks"])

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        rows = [int(r) for r in rows]
        if not rows:
            return {}
        found = self.backend.query(f"{self.version}__chunks", f"row in {_literal(rows)}", _CHUNK_FIELDS)
        dates = self._doc_dates([r["doc_id"] for r in found])
        return {r["row"]: Chunk(r["chunk_id"], r["doc_id"], r["source"], r["title"], r["paragraph"], r["start"], r["end"],
                                r["text"], None if r["page"] < 0 else r["page"], dates.get(r["doc_id"])) for r in found}

    def _doc_dates(self, doc_ids: Sequence[str]) -> dict[str, str | None]:
        """The publication dates of these documents (asked of Milvus once per document per version)."""
        wanted = [d for d in dict.fromkeys(doc_ids) if d not in self._dates]
        if wanted:
            if len(self._dates) > 100_000:
                self._dates.clear()
            found = self.backend.query(f"{self.version}__docs", f"doc_id in {_literal(wanted)}", ["doc_id", "date"])
            self._dates.update({r["doc_id"]: iso(r["date"]) for r in found})
            self._dates.update({d: None for d in wanted if d not in self._dates})
        return {d: self._dates.get(d) for d in doc_ids}

    def rows_dated(self, since: str | None, until: str | None) -> list[int]:
        # dates are stored as YYYY-MM-DD (older builds: maybe with a time after it, which sorts before "~")
        clauses = ['date != ""'] + [f"date >= {json.dumps(since)}"] * bool(since) + [f"date <= {json.dumps(f'{until}~')}"] * bool(until)
        docs = [r["doc_id"] for r in self.backend.query(f"{self.version}__docs", " and ".join(clauses), ["doc_id"])]
        rows: list[int] = []
        for at in range(0, len(docs), 1000):
            part = docs[at : at + 1000]
            rows += [r["row"] for r in self.backend.query(f"{self.version}__chunks", f"doc_id in {_literal(part)}", ["row"])]
        return sorted(rows)

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for at in range(0, len(hashes), 1000):
            part = list(hashes[at:at + 1000])
            for r in self.backend.query(f"{self.version}__chunks", f"text_hash in {_literal(part)}", ["row", "text_hash"]):
                found.setdefault(r["text_hash"], r["row"])
        return found

    def _docs(self) -> Iterator[dict[str, Any]]:
        """Document records in indexing order, a page at a time."""
        start = 0
        while True:
            where = f"seq >= {start} and seq < {start + PAGE}"
            page = sorted(self.backend.query(f"{self.version}__docs", where, _DOC_FIELDS), key=lambda r: r["seq"])
            yield from page
            start += PAGE
            if start >= int(self.manifest["documents"]):
                return

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
        parts = self.backend.query(f"{self.version}__texts", f"doc_id == {json.dumps(doc_id)}", ["part", "text"])
        return "".join(p["text"] for p in sorted(parts, key=lambda p: p["part"])) if parts else None

    def documents(self) -> Iterator[Document]:
        """Every article with its text, in indexing order (texts fetched for 200 articles at a time)."""
        records = self._docs()
        while page := [r for _, r in zip(range(200), records)]:
            parts: dict[str, list[tuple[int, str]]] = {}
            for p in self.backend.query(f"{self.version}__texts", f"doc_id in {_literal([r['doc_id'] for r in page])}",
                                        ["doc_id", "part", "text"], limit=PAGE):
                parts.setdefault(p["doc_id"], []).append((p["part"], p["text"]))
            for r in page:
                text = "".join(t for _, t in sorted(parts.get(r["doc_id"], [])))
                yield Document(r["doc_id"], r["source"], r["title"], text, r["sha256"], r["date"] or None, r["url"] or None,
                               page_starts=tuple(json.loads(r["page_starts"] or "[]")))

    def _one(self, doc_id: str) -> dict[str, Any] | None:
        found = self.backend.query(f"{self.version}__docs", f"doc_id == {json.dumps(doc_id)}", _DOC_FIELDS)
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
