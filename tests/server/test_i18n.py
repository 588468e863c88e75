"""The page's two catalogues (qa/server/i18n.py, qa/server/locales/*.json): the same keys, every key
the code names present, placeholders alike; and the language a browser gets."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qa.server.feedback import REASONS
from qa.server.i18n import LANGUAGES, catalogue, chosen_language, gradio_translations, language_of, texts

SERVER = Path(__file__).resolve().parents[2] / "qa" / "server"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{([a-z_]+)\}", text))


def test_both_catalogues_have_every_key_with_the_same_placeholders() -> None:
    en, id_ = catalogue("en"), catalogue("id")
    assert set(en) == set(id_)
    for key in en:
        assert en[key].strip() and id_[key].strip(), key
        assert _placeholders(en[key]) == _placeholders(id_[key]), key
    # Indonesian is Indonesian: beyond names, marks and a few shared words, its entries differ from English
    same = [k for k in en if en[k] == id_[k] and re.search(r"[a-z]{4}", en[k])]
    assert set(same) <= {"chat.export", "language.switch", "language.name", "quality.up", "quality.down"}, same


def test_every_key_the_server_code_names_is_in_the_catalogue() -> None:
    namespaces = {key.split(".")[0] for key in catalogue("en")}
    named = set()
    for path in SERVER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"[a-z]+\.[a-z_0-9.]+", node.value) and node.value.split(".")[0] in namespaces:
                    named.add(node.value)
    assert len(named) > 100
    not_keys = {"chat.completion", "chat.completion.chunk", "feedback.sqlite3"}  # the API's objects, a file name
    missing = sorted(k for k in named - not_keys if k not in catalogue("en") and not k.endswith("."))
    assert missing == []
    for reason in (*REASONS, "unspecified"):  # keys the code builds from a reason
        assert f"feedback.reason.{reason}" in catalogue("en")


@pytest.mark.parametrize(
    "header,language",
    [
        ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "id"),
        ("id", "id"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,id;q=0.5", "id"),  # the first language Tanya speaks
        ("fr-FR,fr;q=0.9", "en"),
        ("en;q=0.2,id;q=0.9", "id"),  # by weight, not by order
        ("", "en"),
        (None, "en"),
        ("id;q=abc,en", "en"),
        ("x" * 10_000, "en"),
    ],
)
def test_the_browsers_language_is_the_first_tanya_speaks(header: str | None, language: str) -> None:
    assert language_of(header) == language


def test_a_kept_choice_wins_only_when_it_is_a_language() -> None:
    assert chosen_language("id", "en-US") == "id" and chosen_language("en", "id-ID") == "en"
    for forged in ("", "fr", ["id"], {"id": 1}, None, "id<script>"):
        assert chosen_language(forged, "id-ID") == "id"
    assert texts(["id"]).language == "en" and texts("id")("chat.ask") == "Tanya"
    assert texts("en")("report.skipped", name="a.txt", reason="empty") == "Skipped a.txt: empty"


def test_gradio_gets_the_words_its_own_catalogues_lack() -> None:
    given = gradio_translations()
    assert set(given) == set(LANGUAGES) and given["id"]["chatbot.copy_message"] == "Salin pesan"
