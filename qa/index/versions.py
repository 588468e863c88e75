"""The embedded store's versions on disk: a build writes a fresh version folder, `publish` switches
CURRENT to it atomically, `load_snapshot` loads and checks the served one.

Layout of an index directory::

    index/
      CURRENT                 name of the version being served (replaced atomically)
      v-<time>-<rand>/
        manifest.json         model, dimension, chunking, vector index type, counts, build time
        vectors.faiss         FAISS inner-product index over unit vectors (row i = chunk row i)
        chunks.sqlite         chunk records and documents (hash, date added, text); nothing here is ever unpickled
        keyword/              bm25s sparse matrices (.npy, loaded memory-mapped) and vocabulary (.json)

A half-written build is never served.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import IndexCorrupt, IndexMismatch, IndexMissing
from ..files import write_atomic
from .base import (
    CHUNKS,
    CURRENT,
    FORMAT_VERSION,
    KEYWORD,
    MANIFEST,
    VECTORS,
    IndexBackend,
    Passages,
    Snapshot,
    fsync_file,
)
from .chunks import ChunkTable
from .keywords import KeywordIndex
from .scratch import VectorFile
from .vectors import FaissVectorStore


def new_version_dir(index_dir: Path) -> Path:
    """A fresh, empty directory for a build, beside the served versions."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def write_snapshot_files(path: Path, manifest: dict[str, Any], vectors: FaissVectorStore) -> None:
    """Write the vector index beside the files already in `path` (chunk table, keyword index), sync
    every file of the version to disk, then write the manifest last (its presence marks a whole build)."""
    vectors.save(path / VECTORS)
    for file in path.rglob("*"):
        if file.is_file():
            fsync_file(file)
    write_atomic(path / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))


def publish(index_dir: Path, version: Path) -> None:
    """Make `version` the served index (atomic), then delete versions no longer served."""
    write_atomic(index_dir / CURRENT, version.name + "\n")
    for old in index_dir.glob("v-*"):
        if old.is_dir() and old.name != version.name:
            shutil.rmtree(old, ignore_errors=True)


def current_version(index_dir: Path) -> Path | None:
    """The served version directory, or None when nothing was built yet."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    return index_dir / pointer.read_text(encoding="utf-8").strip()


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the served version."""
    version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}: build one with `python -m qa index`")
    path = version / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["model"]["name"], int(manifest["model"]["dim"]), int(manifest["chunks"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} is missing or damaged ({exc}); rebuild with `python -m qa index --rebuild`") from None
    return manifest


def load_snapshot(index_dir: Path, model: str | None = None) -> Snapshot:
    """Load the served version, checking it is whole and (if `model` is given) built with that model."""
    manifest = read_manifest(index_dir)
    version = current_version(index_dir)
    assert version is not None
    fix = "rebuild with `python -m qa index --rebuild`"
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index in {index_dir} has format {manifest.get('format')}, this version of Tanya reads format "
            f"{FORMAT_VERSION}; {fix}"
        )
    if model is not None and manifest["model"]["name"] != model:
        raise IndexMismatch(
            f"the index in {index_dir} was built with model '{manifest['model']['name']}', "
            f"but the configured model is '{model}'; set QA_MODEL={manifest['model']['name']} "
            f"or {fix} to re-embed with '{model}'"
        )
    try:
        vectors = FaissVectorStore.load(version / VECTORS, manifest.get("vectors"))
    except Exception as exc:
        raise IndexCorrupt(f"{version / VECTORS} cannot be read ({exc}); {fix}") from None
    if vectors.dim != int(manifest["model"]["dim"]) or len(vectors) != int(manifest["chunks"]):
        raise IndexCorrupt(
            f"{version / VECTORS} holds {len(vectors)} vectors of dimension {vectors.dim}, the manifest says "
            f"{manifest['chunks']} of dimension {manifest['model']['dim']}; {fix}"
        )
    try:
        keywords = KeywordIndex.load(version / KEYWORD)
        table = ChunkTable(version / CHUNKS)
        count = table.count()
    except Exception as exc:
        raise IndexCorrupt(f"{version} has a damaged keyword index or chunk table ({exc}); {fix}") from None
    if count != len(vectors):
        table.close()
        raise IndexCorrupt(f"{version / CHUNKS} holds {count} chunks but {len(vectors)} vectors; {fix}")
    return Snapshot(version, manifest, vectors, keywords, table)


class LocalBackend(IndexBackend):
    """The embedded store: versions under the index directory, FAISS + bm25s + SQLite."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)

    def served(self) -> Path | None:
        return current_version(self.index_dir)

    def load(self, model: str | None = None) -> Snapshot:
        return load_snapshot(self.index_dir, model)

    def publish(self, version: Path, manifest: dict[str, Any], vectors: VectorFile, exact_max: int) -> dict[str, Any]:
        store = FaissVectorStore.build(vectors, exact_max=exact_max)
        manifest = {**manifest, "vectors": {**store.info, "metric": "inner_product"}}
        write_snapshot_files(version, manifest, store)
        publish(self.index_dir, version)
        return manifest

    def previous_table(self) -> Passages | None:
        version = current_version(self.index_dir)
        if version is None or not (version / CHUNKS).is_file():
            return None
        table = ChunkTable(version / CHUNKS)
        try:
            table.document_record("")  # a table this version cannot read is no guide
            return table
        except sqlite3.Error:
            table.close()
            return None

    def drop(self) -> None:
        (self.index_dir / CURRENT).unlink(missing_ok=True)  # nothing is served from here any more
        for version in self.index_dir.glob("v-*"):
            shutil.rmtree(version, ignore_errors=True)

    def size_bytes(self) -> int:
        version = current_version(self.index_dir)
        return sum(f.stat().st_size for f in version.rglob("*") if f.is_file()) if version else 0
