"""The backend a setting names (the one place that knows them all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import IndexBackend
from .versions import LocalBackend


def backend_for(settings: Any) -> IndexBackend:
    """The backend `settings.store` names: "local" (default) or "milvus" (QA_MILVUS_URI)."""
    if settings.store == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend.connect(settings.milvus_uri, settings.milvus_token, settings.milvus_collection)
    if settings.store not in ("local", ""):
        raise ConfigError(f"QA_STORE={settings.store!r}: use local or milvus")
    return LocalBackend(Path(settings.index_dir))
