"""The backend a setting names (the one place that knows them all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import IndexBackend
from .versions import LocalBackend


def backend_for(settings: Any) -> IndexBackend:
    """The backend `settings.store.kind` names: "local" (default) or "milvus" (QA_MILVUS_URI)."""
    if settings.store.kind == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend.connect(settings.store.milvus_uri, settings.store.milvus_token, settings.store.milvus_collection)
    if settings.store.kind not in ("local", ""):
        raise ConfigError(f"QA_STORE={settings.store.kind!r}: use local or milvus")
    return LocalBackend(Path(settings.store.index_dir))
