"""The page's words in Indonesian and English: one catalogue per language (qa/server/locales/*.json),
the same keys in each.

    tr = texts("id")                  # a language's catalogue ("en" for anything but Indonesian)
    tr("chat.ask")                    # "Tanya"
    tr("report.updated", seconds=…)   # placeholders filled
    language_of("id-ID,id;q=0.9,en")  # "id": the browser's first language that Tanya speaks, else "en"

The language of a visitor's page: the one they chose with the page's switch (kept in their browser),
else their browser's (`Accept-Language`). Words that come from Gradio's own widgets (an upload area,
a copy button, the login form) follow the browser through Gradio's own translations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LANGUAGES = ("en", "id")
DEFAULT_LANGUAGE = "en"
LOCALES = Path(__file__).with_name("locales")


@cache
def catalogue(language: str) -> dict[str, str]:
    """Every key's text in `language` (one of LANGUAGES)."""
    return json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))


class Texts:
    """A catalogue bound to one language, called with a key (and its placeholders)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.words = catalogue(self.language)

    def __call__(self, key: str, **values: object) -> str:
        text = self.words[key]  # a missing key is a bug: tests/server/test_i18n.py checks both catalogues
        return text.format(**values) if values else text


def texts(language: object) -> Texts:
    """The catalogue of `language` ("en" for anything Tanya does not speak, or a value that is not a
    language at all: what comes from a browser is not trusted to be one)."""
    return _texts(language if isinstance(language, str) and language in LANGUAGES else DEFAULT_LANGUAGE)


@cache
def _texts(language: str) -> Texts:
    return Texts(language)


def language_of(accept_language: str | None) -> str:
    """The page language for an `Accept-Language` header: the first listed (by weight) that Tanya
    speaks; English when none is."""
    ranked = []
    for i, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, i, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def chosen_language(stored: object, accept_language: str | None) -> str:
    """The language a page is shown in: the one kept by the switch (when it is one), else the browser's."""
    return stored if isinstance(stored, str) and stored in LANGUAGES else language_of(accept_language)


def gradio_translations() -> dict[str, dict[str, str]]:
    """For Gradio's own i18n (`gr.I18n`): the words of its widgets its catalogues lack, from the keys
    `gradio.*` of ours (Gradio picks them by the browser's language)."""
    return {lang: {k[7:]: v for k, v in catalogue(lang).items() if k.startswith("gradio.")} for lang in LANGUAGES}


@dataclass(frozen=True)
class Word:
    """A component property shown in the page's language: a catalogue key, or a function of the
    catalogue (for words inside Markdown, lists of choices …)."""

    key: str | Callable[[Texts], Any]

    def __call__(self, tr: Texts) -> Any:
        return self.key(tr) if callable(self.key) else tr(self.key)


class Words:
    """The fixed words of a page's layout: which property of which component shows which key. The
    layout is built once, in English; `updates` gives each component its words in a visitor's
    language (on load, and when the switch is flipped)."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, dict[str, Word]]] = []
        self.english = texts(DEFAULT_LANGUAGE)

    def make(self, kind: Callable[..., T], **props: Any) -> T:
        """A component of `kind` whose `Word` properties are its words: built with them in English and
        registered to be relabelled."""
        said = {p: v for p, v in props.items() if isinstance(v, Word)}
        component = kind(**{p: v(self.english) if isinstance(v, Word) else v for p, v in props.items()})
        self.entries.append((component, said))
        return component

    def components(self) -> list[Any]:
        return [c for c, _ in self.entries]

    def updates(self, tr: Texts) -> list[dict[str, Any]]:
        import gradio as gr

        return [gr.update(**{p: word(tr) for p, word in props.items()}) for _, props in self.entries]
