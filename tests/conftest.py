"""Shared fixtures: real model, real FAISS index over the real seed article, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from qa import Settings, Tanya  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ID = "000_3a3f117793ab0552"


def settings_for(index_dir: Path, **overrides) -> Settings:
    """Settings that ignore the caller's QA_* environment, for a throwaway index."""
    return Settings.from_env(env={}, index_dir=index_dir, seeds_dir=SEEDS, **overrides)


@pytest.fixture(scope="session")
def seed_tanya(tmp_path_factory: pytest.TempPathFactory) -> Tanya:
    """Tanya over an index of the seed article, built once per test session."""
    tanya = Tanya(settings_for(tmp_path_factory.mktemp("seed") / "index"))
    tanya.index()
    return tanya


def write(path: Path, content: str | bytes) -> Path:
    """Write a fixture file (text as UTF-8), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path
