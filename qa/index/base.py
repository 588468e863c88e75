"""What every index backend is made of, and its errors: the vector store, the keyword search and
the passage table a question reads (Protocols that the embedded store and Milvus both satisfy), one
loaded version of them (Snapshot), and where versions are served from (IndexBackend).

The embedded store's parts live beside this file: `vectors.py` (FAISS), `chunks.py` (SQLite),
`keywords.py` (bm25s), `versions.py` (the version folders, publishing, loading); Milvus's in `milvus.py`;
`factory.py` picks one.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from ..errors import IndexProblem
from ..records import BuildReport, Chunk, Document, FileRecord, Progress
from ..settings import Settings
from .embedding import Embedder
from .scratch import VectorFile

FORMAT_VERSION = 2
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.sqlite"
KEYWORD = "keyword"


class VectorStore(Protocol):
    """Nearest-neighbour search over unit vectors; row ids are 0..n-1 in insertion order: the embedded
    store's FaissVectorStore, Milvus's MilvusVectors."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of stored vectors."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each of shape (len(queries), k); missing results have row -1."""

    @abstractmethod
    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of `rows`."""


@runtime_checkable
class KeywordSearch(Protocol):
    """BM25 over the passages' stemmed terms: the embedded store's KeywordIndex, Milvus's MilvusKeywords."""

    def idf(self, term: str) -> float: ...

    def search(self, query_terms: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each of shape (1, k); missing results have row -1."""
        ...


class HashSource(NamedTuple):
    """Where passage-text hashes can be read by SQLite: a file, its table and the hash column."""

    file: Path
    table: str
    column: str


class PassageReads(Protocol):
    """What a question reads of a version's passages (qa/ask/retrieval.py)."""

    def count(self) -> int: ...

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]: ...

    def rows_dated(self, since: str | None, until: str | None) -> list[int]:
        """The rows of passages whose article was published in since..until (YYYY-MM-DD, inclusive;
        None: open), in row order; undated articles are in no range."""
        ...


class Catalogue(Protocol):
    """What a collection shows of its articles (the page's Collection tab, `qa list`)."""

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[FileRecord]: ...

    def document_text(self, doc_id: str) -> str | None: ...


class BuildReads(Protocol):
    """What a build reads of the served version: its articles, which are unchanged, and the passages
    whose vectors it can reuse (qa/index/build.py)."""

    def documents(self) -> Iterator[Document]: ...

    def has_document(self, doc_id: str) -> bool: ...

    def document_record(self, doc_id: str) -> tuple[str, str] | None:
        """(sha256, added_at) of an article, or None."""
        ...

    def doc_ids(self) -> Iterator[str]: ...

    def rows_for_hashes(self, hashes: Sequence[str]) -> dict[str, int]: ...

    def hash_source(self) -> HashSource | None:
        """Where this version's passage-text hashes can be read by SQLite, or None (not in a file)."""
        ...


@runtime_checkable
class Passages(PassageReads, Catalogue, BuildReads, Protocol):
    """The passages and articles of one version, for all three kinds of caller: the embedded store's
    ChunkTable (SQLite), Milvus's MilvusTable."""

    def close(self) -> None: ...


# --- one version of the index ------------------------------------------------------------


@dataclass
class Snapshot:
    """One complete, loaded index version (its parts: the embedded store's, or a backend's with the
    same methods, e.g. qa/index/milvus/backend.py)."""

    path: Path
    manifest: dict[str, Any]
    vectors: VectorStore
    keywords: KeywordSearch
    table: Passages
    # its searches are round trips to a server (Milvus): the retriever sends the keyword search while
    # it embeds the question and searches the vectors, instead of one after the other
    remote: bool = False

    def close(self) -> None:
        """Release the database handle."""
        self.table.close()


class IndexBackend(Protocol):
    """Where built index versions are served from: the embedded store's LocalBackend, Milvus's
    MilvusBackend. A build is always staged in a local version directory (chunk table, keyword index,
    vectors) and then handed to `publish`. (Like every interface of the index, a Protocol that its
    implementations subclass, to say so and to inherit the defaults below.)"""

    shared: bool = False  # several servers read and write it (then a build keeps articles it did not read)

    @abstractmethod
    def served(self) -> Path | None:
        """The name of the served version (changes when a build publishes), or None."""

    @abstractmethod
    def load(self, model: str | None = None) -> Snapshot:
        """The served version, checked (and built with `model`, if given)."""

    @abstractmethod
    def publish(self, version: Path, manifest: dict[str, Any], vectors: VectorFile, exact_max: int) -> dict[str, Any]:
        """Make the staged `version` the served one, atomically; returns the manifest as written."""

    def previous_table(self) -> Passages | None:
        """The served version's document records whatever its model (what a build added or changed)."""
        try:
            return self.load().table
        except IndexProblem:
            return None

    def size_bytes(self) -> int:
        return 0

    def update_in_place(
        self,
        paths: Iterable[Path],
        settings: Settings,
        embedder: Embedder,
        excluded: Collection[str] = (),
        progress: Progress | None = None,
        remove: Collection[str] | None = None,
    ) -> BuildReport | None:
        """Add and replace the articles under `paths` (or take out `remove`) writing only what changed, or
        None when this store cannot (the embedded store: a version is a folder, built whole; Milvus
        before its first build): then a full build is made. Called under the build lock."""
        return None

    def builder_lease(self) -> AbstractContextManager[None]:
        """Held while a build reads the served version and publishes a new one: a store that several
        machines build into makes the second builder stop (BuildInProgress) instead of publishing over
        the first. The embedded store needs none (its folder's file lock does it)."""
        return nullcontext()

    def neighbours(self) -> list[str]:
        """The names of the other collections the same store serves beside this one, when the store is
        shared by several servers (each collection `NAME` of the default one `base` is served as
        `base_NAME`); [] for a store that lives in one index folder (the folder lists them)."""
        return []

    @abstractmethod
    def drop(self) -> None:
        """Delete every version this backend holds (a collection being removed)."""


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
