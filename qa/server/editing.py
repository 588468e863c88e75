"""The page's handlers for editors and browsers of a collection: add uploaded files or a folder,
rebuild, keep feeds and article addresses current, browse the collection, open and remove an article.

Files reach `add_files` only if this login session uploaded them (qa/server/gate.py) and they lie in
Gradio's upload folder. Every handler checks the caller's right on the collection it names
(qa/server/visitors.py); everything taken from an article is rendered as text (qa/server/render.py).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import EXPECTED_ERRORS, public_message
from ..ingest.documents import inside
from ..pipeline import Tanya
from .chats import markdown_text
from .i18n import texts
from .render import article_record, collection_facts, collection_rows, render_article, render_feeds, render_removal, render_report
from .users import EDIT
from .visitors import Visitors


class Editing:
    """Adding, fetching and removing articles, and browsing a collection, for the page."""

    def __init__(self, visitors: Visitors) -> None:
        self.visitors = visitors

    def _update(self, tanya: Tanya, make_report, progress: gr.Progress, lang: Any):
        tr = texts(lang)

        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        try:
            message = render_report(make_report(report_progress), tr)
        except EXPECTED_ERRORS as exc:
            message = tr("add.nothing_changed", reason=html.escape(public_message(exc)))
        return message, collection_rows(tanya, tr=tr), collection_facts(tanya, tr), gr.update(value=tanya.name)

    def add_files(self, files: list | None, target: Any, lang: Any, request: gr.Request, progress=gr.Progress()):
        """Index uploaded files into a collection the caller may edit. The gate lets through only files
        this session uploaded; here each must also be a regular file in Gradio's upload folder (never a
        path the client chose)."""
        tr = texts(lang)
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return tr("add.refused"), gr.update(), gr.update(), gr.update()
        uploads = []
        cache = Path(gr.utils.get_upload_folder()).resolve()
        for f in files or []:
            path = Path(str(f))
            if path.is_symlink() or not inside(path.resolve(), cache) or not path.is_file():
                return tr("add.not_uploaded"), gr.update(), gr.update(), gr.update()
            uploads.append((path, Path(str(getattr(f, "orig_name", None) or path.name)).name))
        return self._update(tanya, lambda cb: tanya.articles.add_files(uploads, progress=cb), progress, lang)

    def add_folder(self, folder: str, target: Any, lang: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return texts(lang)("add.refused"), gr.update(), gr.update(), gr.update()
        return self._update(tanya, lambda cb: tanya.articles.import_folder(str(folder or ""), progress=cb), progress, lang)

    def rebuild(self, target: Any, lang: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return texts(lang)("add.refused"), gr.update(), gr.update(), gr.update()
        return self._update(tanya, lambda cb: tanya.articles.index(rebuild=True, progress=cb), progress, lang)

    # -- sources kept current (feeds and article URLs; folders only from the command line) ----------
    def source_list(self, target: Any, lang: Any, request: gr.Request):
        tanya = self.visitors.member(target, request, EDIT)
        return render_feeds(tanya.articles.sources().all(), texts(lang)) if tanya is not None else ""

    def add_source(self, source: str, target: Any, lang: Any, request: gr.Request):
        """Remember a feed or article URL for a collection the caller may edit (a folder on the server is
        the operator's to add, from the command line: the page takes web addresses only)."""
        tr = texts(lang)
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return tr("add.refused"), gr.update()
        given = str(source or "").strip()
        if not given.lower().startswith(("http://", "https://")):
            return tr("add.web_only"), gr.update()
        try:
            tanya.articles.web().fetcher_check(given)
            tanya.articles.sources().add(given)
        except EXPECTED_ERRORS as exc:
            return tr("add.nothing_changed", reason=html.escape(public_message(exc))), gr.update()
        return tr("add.source_added", source=markdown_text(given)), render_feeds(tanya.articles.sources().all(), tr)

    def remove_source(self, source: str, target: Any, lang: Any, request: gr.Request):
        tr = texts(lang)
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return tr("add.refused"), gr.update()
        try:
            tanya.articles.sources().remove(str(source or "").strip())
        except EXPECTED_ERRORS as exc:
            return tr("add.nothing_changed", reason=html.escape(public_message(exc))), gr.update()
        return tr("add.source_removed"), render_feeds(tanya.articles.sources().all(), tr)

    def fetch_sources(self, target: Any, lang: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.visitors.member(target, request, EDIT)
        if tanya is None:
            return texts(lang)("add.refused"), gr.update(), gr.update(), gr.update(), gr.update()
        urls = [s["source"] for s in tanya.articles.sources().all() if s["kind"] == "url"]
        watcher = tanya.articles.watcher(every=0, log=lambda line: None)
        message, rows, facts, browsing = self._update(tanya, lambda cb: watcher.update_now(urls), progress, lang)
        return message, rows, facts, browsing, render_feeds(tanya.articles.sources().all(), texts(lang))

    # -- the collection ---------------------------------------------------------------------------
    def open_article(self, browsing: Any, lang: Any, event: gr.SelectData, request: gr.Request):
        """The article whose row was clicked, from the collection being browsed, if the caller may read it
        (only the row's doc id is read from the client, and looked up in that collection)."""
        row = event.row_value if isinstance(event.row_value, list) else [""]
        doc_id = str((row or [""])[-1])
        tanya = self.visitors.member(browsing, request)
        return (
            doc_id,
            render_article(tanya, doc_id, texts(lang)),
            gr.update(visible=self.visitors.member(browsing, request, EDIT) is not None),
            gr.update(visible=False),
            "",
        )

    def ask_remove(self, doc_id: str, browsing: Any, lang: Any, request: gr.Request):
        record = article_record(self.visitors.member(browsing, request, EDIT), str(doc_id or ""))
        if record is None:
            return gr.update(visible=False), ""
        return gr.update(visible=True), render_removal(record, texts(lang))

    def remove_article(self, doc_id: str, query: str, browsing: Any, lang: Any, request: gr.Request):
        tr = texts(lang)
        hidden = gr.update(visible=False)
        tanya = self.visitors.member(browsing, request, EDIT)
        if tanya is None:
            return tr("add.refused"), gr.update(), gr.update(), gr.update(), hidden, hidden
        try:
            report = tanya.articles.remove([str(doc_id or "")], forget=True)
            message = tr("collection.removed", doc=html.escape(str(doc_id)), documents=report.documents, chunks=report.chunks)
        except EXPECTED_ERRORS as exc:
            message = tr("add.nothing_changed", reason=html.escape(public_message(exc)))
        return message, collection_rows(tanya, str(query or ""), tr), collection_facts(tanya, tr), "", hidden, hidden

    def search(self, query: str, browsing: Any, lang: Any, request: gr.Request):
        return collection_rows(self.visitors.member(browsing, request), str(query or ""), texts(lang))

    def collection(self, browsing: Any, lang: Any, request: gr.Request):
        tr = texts(lang)
        tanya = self.visitors.member(browsing, request)
        return collection_rows(tanya, tr=tr), collection_facts(tanya, tr), "", "", gr.update(visible=False)
