"""The page's layout and wiring (qa/server/layout.py), built for real and read as Gradio serves it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from conftest import settings_for

from qa.library import Library
from qa.server.feedback import FeedbackStore
from qa.server.layout import build_page
from qa.server.page import Page
from qa.server.users import Access

MOST_PROGRESS_TARGETS = 3


def test_every_event_shows_its_progress_on_a_few_components_and_never_on_a_layout(tmp_path: Path) -> None:
    """Gradio's page keeps a loading status for every component an event ever showed progress on, and
    copies the state of each (a tab or column: its whole subtree) on every later event: an event that
    shows progress on many outputs (the ~170 the page's words are relabelled on) slows every answer.
    (`show_progress="hidden"` does not change that: the status is kept, only not drawn.)"""
    library = Library(settings_for(tmp_path / "index"))
    access = Access.configure(tmp_path / "users.json", None, "127.0.0.1", allow_anonymous=False)
    blocks = build_page(Page(library, access, FeedbackStore(tmp_path / "feedback.sqlite3")))
    layouts = (gr.Tab, gr.Column, gr.Row, gr.Accordion, gr.Group, gr.Tabs)
    checked = 0
    for fn in blocks.fns.values():
        targets = fn.show_progress_on or fn.outputs
        if not targets:
            continue
        names = [f"{type(t).__name__}#{t.elem_id or t._id}" for t in targets]
        assert len(targets) <= MOST_PROGRESS_TARGETS, f"{fn.name} shows progress on {len(targets)} components: {names}"
        assert not any(isinstance(t, layouts) for t in targets), f"{fn.name} shows progress on a layout: {names}"
        checked += 1
    assert checked > 20
