"""The one settings object (qa/settings.py): every field described with its variable, every QA_* variable read through it."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import ROOT

from qa.cli import main
from qa.errors import ConfigError
from qa.index.encoder import cache_root
from qa.settings import Settings

DOCS = ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- settings tables: begin -->", "<!-- settings tables: end -->"

# The variables as users' deployments, the docs and the tests know them: renaming one breaks them.
VARIABLES = """
QA_INDEX_DIR QA_SEEDS_DIR QA_UPLOAD_DIR QA_CACHE_DIR QA_MODEL QA_EMBED_BATCH_SIZE QA_BULK_EMBED
QA_BULK_WORKERS QA_EMBED_URL QA_EMBED_KEY QA_EMBED_MODEL QA_EMBED_PREFIX QA_EMBED_TIMEOUT QA_CHUNK_SIZE
QA_CHUNK_OVERLAP QA_STORE QA_MILVUS_URI QA_MILVUS_TOKEN QA_MILVUS_COLLECTION QA_TOP_K QA_RETRIEVER
QA_EXACT_MAX QA_CANDIDATES QA_RERANK_DEPTH QA_RRF_K QA_TIME_PREFERENCE QA_TIME_POOL QA_TIME_MARGIN
QA_DENSE_WEIGHT QA_KEYWORD_WEIGHT QA_MIN_SUPPORT QA_READER QA_READER_PASSAGES QA_READER_SURE_MARGIN
QA_READER_RANK_PENALTY QA_READER_MIN_MARGIN QA_READER_WEAK_MARGIN QA_READER_MIN_MARGIN_EN
QA_READER_CONFIDENCE QA_READER_MIN_CONFIDENCE QA_READER_CHOOSER QA_READER_THREADS QA_READER_BATCH_MS QA_LLM QA_LLM_URL
QA_LLM_KEY QA_LLM_TIMEOUT QA_LLM_MAX_TOKENS QA_LLM_THREADS QA_LLM_PASSAGES QA_LLM_MODE QA_UNSUPPORTED
QA_MAX_QUESTION_CHARS QA_MAX_FILE_MB QA_MAX_UPLOAD_FILES QA_MAX_UPLOAD_MB QA_USERS_FILE QA_AUTH
QA_FEEDBACK_FILE QA_MAX_REQUEST_MB QA_CHAT_SECRET QA_IMPORT_ROOT QA_FETCH_TIMEOUT QA_ALLOW_PRIVATE_URLS
QA_WATCH QA_HOST QA_PORT QA_ALLOWED_HOSTS QA_TRUSTED_PROXIES
""".split()
SECRETS = {"QA_EMBED_KEY", "QA_MILVUS_TOKEN", "QA_LLM_KEY", "QA_AUTH", "QA_CHAT_SECRET"}


def test_every_field_declares_its_own_variable_and_a_description() -> None:
    declared = []
    for section in fields(Settings):
        for f in fields(getattr(Settings(), section.name)):
            declared.append(f.metadata.get("env", ""))
            help = f.metadata.get("help", "")
            assert isinstance(help, str) and help.strip() and "\n" not in help, f"{section.name}.{f.name} has no one-line help"
            assert re.fullmatch(r"QA_[A-Z0-9_]+", declared[-1]), f"{section.name}.{f.name} declares no QA_* variable"
    assert len(declared) == len(set(declared)) == len(VARIABLES) == 69
    assert set(declared) == set(VARIABLES)


def test_the_documented_tables_are_the_generated_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/configuration.md holds what `python -m qa settings --markdown` prints, between its markers."""
    assert main(["settings", "--markdown"]) == 0
    generated = capsys.readouterr().out.strip()
    documented = DOCS.read_text(encoding="utf-8")
    assert documented.count(BEGIN) == documented.count(END) == 1
    assert documented.split(BEGIN)[1].split(END)[0].strip() == generated
    assert [v for v in VARIABLES if f"`{v}`" not in generated] == []


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
    env = {"QA_TOP_K": "7", "QA_AUTH": "ed:secret", "QA_CACHE_DIR": "/tmp/c", "QA_TIME_PREFERENCE": "0", "QA_READER": ""}
    settings = Settings.from_env(env)
    assert (settings.retrieval.top_k, settings.server.auth, settings.embedding.cache_dir) == (7, "ed:secret", "/tmp/c")
    assert settings.retrieval.time_preference is False and settings.reader.kind == "e5"  # empty = unset
    assert Settings.from_env({"QA_USERS_FILE": "u.json"}).server.users_file == Path("u.json")
    with pytest.raises(ConfigError, match="QA_TOP_K='seven'"):
        Settings.from_env({"QA_TOP_K": "seven"})
    with pytest.raises(ConfigError, match="QA_LLM_TIMEOUT='soon'"):
        Settings.from_env({"QA_LLM_TIMEOUT": "soon"})


def test_flat_names_reach_their_sections(tmp_path: Path) -> None:
    """Overrides and changed copies are named like the variables without QA_; an unknown name is refused."""
    settings = Settings.from_env({"QA_TOP_K": "7"}, top_k=3, index_dir=tmp_path, reader="", llm="ollama:x", port=None)
    assert (settings.retrieval.top_k, settings.store.index_dir, settings.reader.kind, settings.llm.model) == (
        3,
        tmp_path,
        "",
        "ollama:x",
    )
    assert settings.server.port == 7860  # None keeps the value
    changed = settings.with_values(reader_passages=1, llm_url="http://x/v1", store="milvus")
    assert (changed.reader.passages, changed.llm.url, changed.store.kind) == (1, "http://x/v1", "milvus")
    assert changed.store.index_dir == tmp_path and settings.reader.passages == 3  # the rest kept, the original unchanged
    with pytest.raises(TypeError, match="topk"):
        settings.with_values(topk=3)
    with pytest.raises(TypeError, match="passages"):
        Settings.from_env({}, passages=3)  # a field's name inside its section is not a setting's name
    assert Settings().with_values(chunk_size=800).chunking() == {"chunk_size": 800, "chunk_overlap": 200}


def test_the_settings_command_lists_every_variable_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in SECRETS:
        monkeypatch.setenv(name, f"hush-{name.lower()}")
    monkeypatch.setenv("QA_TOP_K", "9")
    rows = Settings.from_env().describe()
    assert len(rows) == 69 and {r.variable for r in rows} == set(VARIABLES) and all(r.help for r in rows)
    assert {r.variable: r.value for r in rows if r.variable in SECRETS} == dict.fromkeys(SECRETS, "***")
    assert [r.value for r in Settings().describe() if r.variable in SECRETS] == [""] * len(SECRETS)  # unset: nothing to hide
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "hush" not in out and out.count("=***") == len(SECRETS)
    assert "QA_TOP_K=9  [settings.retrieval.top_k]" in out
    assert [v for v in VARIABLES if not re.search(rf"^  {v}[= ]", out, re.M)] == []


def test_the_cache_folder_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
