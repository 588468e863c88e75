"""The one settings object (qa/settings.py): every field documented, every QA_* variable read through it."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import ROOT

from qa.errors import ConfigError
from qa.settings import Settings

DOCS = ROOT / "docs" / "configuration.md"


def test_every_setting_is_documented_with_its_variable() -> None:
    documented = DOCS.read_text(encoding="utf-8")
    missing = [f"QA_{f.name.upper()}" for f in fields(Settings) if f"QA_{f.name.upper()}" not in documented]
    assert missing == []


def test_no_qa_variable_is_read_around_the_settings() -> None:
    """`os.environ` / `os.getenv` with a `QA_` name appears only in qa/settings.py."""
    readers = []
    for path in sorted((ROOT / "qa").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "qa":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"QA_[A-Z_]+", node.value):
                source = ast.get_source_segment(path.read_text(encoding="utf-8"), node) or ""
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno} {source}")
    assert readers == []


def test_variables_are_read_typed_and_bad_values_named() -> None:
    env = {"QA_TOP_K": "7", "QA_AUTH": "ed:secret", "QA_CACHE_DIR": "/tmp/c", "QA_TIME_PREFERENCE": "0"}
    settings = Settings.from_env(env)
    assert (settings.top_k, settings.auth, settings.cache_dir, settings.time_preference) == (7, "ed:secret", "/tmp/c", False)
    with pytest.raises(ConfigError, match="QA_TOP_K='seven'"):
        Settings.from_env({"QA_TOP_K": "seven"})


def test_the_cache_folder_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from qa.index.encoder import cache_root

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
