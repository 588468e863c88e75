"""A build's vectors on disk, before any store holds them: what a build hands a backend to publish."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class VectorFile:
    """A build's float32 vectors, appended in row order to a scratch file and read back in blocks,
    so that no build holds every vector of the collection in memory."""

    BLOCK = 16_384  # 24 MB of 384-dimension vectors

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self._count = path, dim, 0
        self._fh = open(path, "w+b")

    def append(self, vectors: np.ndarray) -> None:
        """Add the vectors of the next rows."""
        self._fh.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        self._count += len(vectors)

    def __len__(self) -> int:
        return self._count

    def blocks(self) -> Iterator[np.ndarray]:
        """All rows, `BLOCK` at a time, in order."""
        self._fh.flush()
        for at in range(0, self._count, self.BLOCK):
            n = min(self.BLOCK, self._count - at)
            yield np.fromfile(self.path, np.float32, count=n * self.dim, offset=at * self.dim * 4).reshape(n, self.dim)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of `rows` (read one by one: a sample, not the collection)."""
        self._fh.flush()
        size = self.dim * 4
        out = np.empty((len(rows), self.dim), np.float32)
        for i, r in enumerate(rows):
            out[i] = np.frombuffer(os.pread(self._fh.fileno(), size, int(r) * size), np.float32)
        return out

    def delete(self) -> None:
        """Close and remove the file."""
        self._fh.close()
        self.path.unlink(missing_ok=True)
