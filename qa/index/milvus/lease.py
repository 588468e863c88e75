"""One builder at a time, across machines: a lease kept in Milvus itself (`{alias}__lease`)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import BuildInProgress, MilvusUnavailable
from .connection import Connection

LEASE_SECONDS = 120.0  # a build lease lapses this long after its builder stops renewing it
LEASE_SETTLE = 1.0  # seconds between writing the lease and reading it back (the last writer wins)


class BuildLease:
    """A builder writes its name and an expiry, waits for the write to settle and reads it back; only the
    last writer finds its own name, so of two builders starting together one goes on and the other
    stops. A lease is renewed while its build runs and lapses LEASE_SECONDS after a builder dies (at once
    when it died on this machine); it is checked again before the alias moves."""

    def __init__(self, milvus: Connection, collection: str) -> None:
        self.milvus, self.collection = milvus, collection
        self._owner: str | None = None  # this process's lease, while it holds one
        self._after_unfinished = True  # whether the build before this process's lease may have left rows behind

    @contextmanager
    def hold(self) -> Iterator[None]:
        """The lease for this process while the block runs (else BuildInProgress, nothing done)."""
        me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        left = self._row()  # a lease left behind: its build died or failed (a finished one deletes it)
        holder = left if left is not None and float(left["expires"]) > time.time() else None
        if holder is not None and holder["owner"] != me and not _dead_here(holder["owner"]):
            raise _busy(holder)
        self._write(me)
        time.sleep(LEASE_SETTLE)
        holder = self._holder()
        if holder is None or holder["owner"] != me:
            raise _busy(holder)
        self._owner, self._after_unfinished = me, left is not None
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                try:
                    self._write(me)
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
            self._owner, self._after_unfinished = None, True
            self._release(me, finished)

    def check(self) -> None:
        """Before the alias moves: this builder still holds the lease (else BuildInProgress, nothing published)."""
        owner = self._owner
        holder = self._holder()
        if owner is not None and (holder is None or holder["owner"] != owner):
            raise _busy(holder)

    @property
    def after_unfinished(self) -> bool:
        """Whether an update under this process's lease must first roll back what an earlier build wrote
        and did not publish: a finished build deletes its lease; one that died or failed leaves it (lapsed
        or lapsing). True when no lease is held here (nothing known)."""
        return self._after_unfinished

    def drop(self) -> None:
        if self.milvus.has(self.collection):
            self.milvus.call("drop the build lease", self.milvus.client.drop_collection, self.collection)

    def _release(self, me: str, finished: bool) -> None:
        """A finished build deletes its lease; an unfinished one leaves it, lapsed at once, for the next
        builder to see that it must settle first (when Milvus is what failed, the lease lapses by itself)."""
        try:
            holder = self._holder()
            if holder is None or holder["owner"] != me:
                return
            if finished:
                self.milvus.call("release the build lease", self.milvus.client.delete, self.collection, filter='key == "lease"')
            else:
                self._write(me, expires=0.0)
        except MilvusUnavailable:
            if finished:
                raise

    def _row(self) -> dict[str, Any] | None:
        """The lease row (owner, since, expires), lapsed or not, or None."""
        if not self.milvus.has(self.collection):
            return None
        rows = self.milvus.read(
            "read the build lease",
            self.collection,
            self.milvus.client.query,
            self.collection,
            filter='key == "lease"',
            output_fields=["owner", "since", "expires"],
            consistency_level="Strong",
        )
        return rows[0] if rows else None

    def _holder(self) -> dict[str, Any] | None:
        """The unexpired lease, or None."""
        row = self._row()
        return row if row is not None and float(row["expires"]) > time.time() else None

    def _write(self, me: str, expires: float | None = None) -> None:
        from pymilvus import DataType

        if not self.milvus.has(self.collection):
            try:
                self.milvus.create(
                    self.collection,
                    [
                        ("key", DataType.VARCHAR, {"is_primary": True, "max_length": 16}),
                        ("owner", DataType.VARCHAR, {"max_length": 256}),
                        ("since", DataType.DOUBLE, {}),
                        ("expires", DataType.DOUBLE, {}),
                    ],
                )
            except MilvusUnavailable:
                if not self.milvus.has(self.collection):
                    raise  # (else another builder made it first)
        now = time.time()
        row = {
            "key": "lease",
            "owner": me,
            "since": now,
            "expires": now + LEASE_SECONDS if expires is None else expires,
            "v": [0.0, 0.0],
        }
        self.milvus.call("write the build lease", self.milvus.client.upsert, self.collection, [row])
        self.milvus.call("flush the build lease", self.milvus.client.flush, self.collection)


def _busy(holder: dict[str, Any] | None) -> BuildInProgress:
    since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"]))) if holder else "just now"
    who = holder["owner"].rsplit(":", 1)[0] if holder else "another builder"
    return BuildInProgress(
        f"another build is updating this index in Milvus ({who}, since {since}); nothing was changed. "
        "Run the command again when it has finished."
    )


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
