"""The chat page (Gradio): ask in Indonesian or English and get a cited answer, open the passages it
used, keep chats, add articles (editors), see the collection.

Nothing a handler uses comes from the client unchecked: the chat as shown and the conversation live in
server-side state (the Chatbot is only ever an output); kept chats come back from the browser only
with the server's seal (qa/server/chats.py); files reach `add_files` only if this login session
uploaded them (qa/server/gate.py) and they lie in Gradio's upload folder. Which collections a handler
touches is chosen in the page but checked in every handler (`Access.may`): a collection the caller may
not read is treated as one that does not exist, and editing wants the edit right on the collection.
Everything taken from an article is rendered as text (qa/server/render.py).
"""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from ..ask.when import Dates
from ..errors import EXPECTED_ERRORS, QuestionError, public_message
from ..ingest.documents import SUPPORTED_SUFFIXES, inside
from ..library import Library
from ..pipeline import Tanya
from ..records import Answer, Citation
from ..settings import DEFAULT_COLLECTION
from .chats import Chats, chat_keys, markdown_text, messages_only
from .render import (
    COLUMNS,
    EXAMPLES,
    article_record,
    collection_facts,
    collection_rows,
    export_file,
    render_answer,
    render_article,
    render_feeds,
    render_removal,
    render_report,
    render_sources,
    user_message,
)
from .users import EDIT, READ, Access

REFUSED = "**Refused:** you may not change that collection."
NOTHING_TO_ASK = "There is no collection you may read: ask whoever runs this server for access."


class Page:
    """The page's handlers over a library of collections, as methods; `build()` lays the page out and wires them."""

    def __init__(self, library: Library, access: Access) -> None:
        self.library = library
        self.access = access
        self.storage_secret, self.seal = chat_keys(library.settings.index_dir, library.settings.chat_secret)

    # -- who is asking, and what they may touch ------------------------------------------------------
    @staticmethod
    def user_of(request: gr.Request | None) -> str | None:
        return getattr(request, "username", None)

    def allowed(self, request: gr.Request | None, right: str) -> list[str]:
        """The collections the caller may read (or edit), `default` first."""
        return self.access.allowed(self.user_of(request), right, self.library.names())

    def chosen(self, names: Any, request: gr.Request | None, right: str = READ) -> list[str]:
        """Of the collection names the page sent (one or a list), those that exist and the caller may
        read (or edit); the rest are dropped as if they did not exist."""
        names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
        mine = set(self.allowed(request, right))
        return [n for n in dict.fromkeys(names) if isinstance(n, str) and n in mine]

    def member(self, name: Any, request: gr.Request | None, right: str = READ) -> Tanya | None:
        """One collection, if it exists and the caller may read (or edit) it; else None."""
        names = self.chosen(name, request, right)
        return self.library.get(names[0]) if names else None

    def readable(self, request: gr.Request | None):
        """Whether the caller may read a collection now (for kept chats and sources)."""
        user = self.user_of(request)
        return lambda name: self.library.exists(name) and self.access.may(user, READ, name)

    def choices(self, request: gr.Request):
        """The collection pickers, filled for this caller: asking (readable), browsing (readable), editing (editable)."""
        readable, editable = self.allowed(request, READ), self.allowed(request, EDIT)
        first = [DEFAULT_COLLECTION] if DEFAULT_COLLECTION in readable else readable[:1]
        return (
            gr.update(choices=readable, value=first, visible=len(readable) > 1),
            gr.update(choices=readable, value=first[0] if first else None, visible=len(readable) > 1),
            gr.update(choices=editable, value=editable[0] if editable else None, visible=len(editable) > 1),
            gr.update(visible=bool(editable)),
        )

    # -- chat -------------------------------------------------------------------------------------
    def book(self, kept: Any, request: gr.Request | None) -> Chats:
        """The caller's kept chats, those drawing on a collection they may no longer read hidden."""
        return Chats.of(kept, self.user_of(request), self.seal).only(self.readable(request))

    def showing(self, book: Chats, kept: Any, user: str | None):
        """The open chat as the page shows it: chat, shown (state), sources, conversation, kept chats
        (sealed again: nothing the browser sent is echoed), list, export file."""
        chat = book.open or {"shown": [], "sources": "", "said": []}
        shown = messages_only(chat["shown"])
        return (
            shown,
            shown,
            chat["sources"],
            messages_only(chat["said"]),
            book.into(kept, user, self.seal),
            gr.update(choices=book.choices(), value=book.current),
            export_file(book),
        )

    def respond(
        self,
        question: str,
        shown: list[dict],
        said: list[dict],
        written: bool,
        kept: Any,
        asking: Any,
        since: Any,
        until: Any,
        request: gr.Request,
    ):
        """One turn over the chosen collections (those the caller may read), only over articles published
        `since`..`until` when given. `shown` (the chat as shown) and `said` (the conversation as plain
        messages) are server-side state; the finished turn is kept in the browser, sealed."""
        question = question if isinstance(question, str) else ""
        names = self.chosen(asking, request) or self.allowed(request, READ)[:1]
        shown = messages_only(shown)
        said = messages_only(said)
        shown.append({"role": "user", "content": user_message(question[:500])})
        shown.append({"role": "assistant", "content": "Searching…"})
        keep = gr.update()
        yield "", shown, shown, gr.update(), said, keep, keep, keep
        if not names:
            shown[-1]["content"] = NOTHING_TO_ASK
            yield "", shown, shown, "", said, keep, keep, keep
            return
        settings = self.library.settings
        try:
            messages = said + [{"role": "user", "content": question}]
            dates = Dates.of(*(value if isinstance(value, str) else "" for value in (since, until)))
            answer = None
            asker = self.library.asker(names)
            for event in asker.converse_stream(messages, llm=settings.llm if written else "", dates=dates):
                if isinstance(event, Answer):
                    answer = event
                else:  # the written answer as it grows; its citations are checked when it is complete
                    shown[-1]["content"] = html.escape(event) + " ▌"
                    yield "", shown, shown, keep, said, keep, keep, keep
            assert answer is not None
            shown[-1]["content"] = render_answer(answer)
            sources = render_sources(answer, self.article_text(request))
            said = messages + [{"role": "assistant", "content": answer.reply}]
        except QuestionError as exc:
            shown[-1]["content"] = f"Please ask again: {html.escape(str(exc))}."
            yield "", shown, shown, "", said, keep, keep, keep
            return
        except EXPECTED_ERRORS as exc:
            print(f"respond: {exc}", file=sys.stderr, flush=True)
            shown[-1]["content"] = f"Sorry, the index cannot answer right now: {html.escape(public_message(exc))}"
            yield "", shown, shown, "", said, keep, keep, keep
            return
        book = self.book(kept, request)
        book.add_turn(question, answer, shown, said, sources, names)
        yield ("", *self.showing(book, kept, self.user_of(request)))

    def article_text(self, request: gr.Request | None):
        """The whole text of a cited article, looked up in its collection if the caller may read it."""
        readable = self.readable(request)

        def text(citation: Citation) -> str | None:
            name = citation.collection or DEFAULT_COLLECTION
            return self.library.get(name).document_text(citation.doc_id) if readable(name) else None

        return text

    def restore(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.open_latest)

    def _changed(self, kept: Any, request: gr.Request, change) -> tuple:
        book = self.book(kept, request)
        change(book)
        return self.showing(book, kept, self.user_of(request))

    def switch(self, chat_id: str, kept: Any, request: gr.Request):
        return self._changed(kept, request, lambda book: book.select(chat_id if isinstance(chat_id, str) else ""))

    def new_chat(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.new)

    def delete_chat(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.delete)

    # -- editing ----------------------------------------------------------------------------------
    def _update(self, tanya: Tanya, make_report, progress: gr.Progress):
        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        try:
            message = render_report(make_report(report_progress))
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(public_message(exc))}"
        return message, collection_rows(tanya), collection_facts(tanya), gr.update(value=tanya.name)

    def add_files(self, files: list | None, target: Any, request: gr.Request, progress=gr.Progress()):
        """Index uploaded files into a collection the caller may edit. The gate lets through only files
        this session uploaded; here each must also be a regular file in Gradio's upload folder (never a
        path the client chose)."""
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update(), gr.update(), gr.update()
        uploads = []
        cache = Path(gr.utils.get_upload_folder()).resolve()
        for f in files or []:
            path = Path(str(f))
            if path.is_symlink() or not inside(path.resolve(), cache) or not path.is_file():
                return "**Refused:** a file was not uploaded through this page.", gr.update(), gr.update(), gr.update()
            uploads.append((path, Path(str(getattr(f, "orig_name", None) or path.name)).name))
        return self._update(tanya, lambda cb: tanya.add_files(uploads, progress=cb), progress)

    def add_folder(self, folder: str, target: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update(), gr.update(), gr.update()
        return self._update(tanya, lambda cb: tanya.import_folder(str(folder or ""), progress=cb), progress)

    def rebuild(self, target: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update(), gr.update(), gr.update()
        return self._update(tanya, lambda cb: tanya.index(rebuild=True, progress=cb), progress)

    # -- sources kept current (feeds and article URLs; folders only from the command line) ----------
    def source_list(self, target: Any, request: gr.Request):
        tanya = self.member(target, request, EDIT)
        return render_feeds(tanya.sources().all()) if tanya is not None else ""

    def add_source(self, source: str, target: Any, request: gr.Request):
        """Remember a feed or article URL for a collection the caller may edit (a folder on the server is
        the operator's to add, from the command line: the page takes web addresses only)."""
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update()
        given = str(source or "").strip()
        if not given.lower().startswith(("http://", "https://")):
            return "**Nothing changed:** a source added here is a feed or article address (http or https).", gr.update()
        try:
            tanya.web().fetcher_check(given)
            tanya.sources().add(given)
        except EXPECTED_ERRORS as exc:
            return f"**Nothing changed:** {html.escape(public_message(exc))}", gr.update()
        return f"**Added** {markdown_text(given)}; *Fetch now* reads it (or the server's watcher, QA_WATCH).", render_feeds(
            tanya.sources().all()
        )

    def remove_source(self, source: str, target: Any, request: gr.Request):
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update()
        try:
            tanya.sources().remove(str(source or "").strip())
        except EXPECTED_ERRORS as exc:
            return f"**Nothing changed:** {html.escape(public_message(exc))}", gr.update()
        return "**Removed** the source (its articles stay indexed).", render_feeds(tanya.sources().all())

    def fetch_sources(self, target: Any, request: gr.Request, progress=gr.Progress()):
        tanya = self.member(target, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update(), gr.update(), gr.update(), gr.update()
        urls = [s["source"] for s in tanya.sources().all() if s["kind"] == "url"]
        watcher = tanya.watcher(every=0, log=lambda line: None)
        message, rows, facts, browsing = self._update(tanya, lambda cb: watcher.update_now(urls), progress)
        return message, rows, facts, browsing, render_feeds(tanya.sources().all())

    # -- the collection ---------------------------------------------------------------------------
    def open_article(self, browsing: Any, event: gr.SelectData, request: gr.Request):
        """The article whose row was clicked, from the collection being browsed, if the caller may read it
        (only the row's doc id is read from the client, and looked up in that collection)."""
        row = event.row_value if isinstance(event.row_value, list) else [""]
        doc_id = str((row or [""])[-1])
        tanya = self.member(browsing, request)
        return (
            doc_id,
            render_article(tanya, doc_id),
            gr.update(visible=self.member(browsing, request, EDIT) is not None),
            gr.update(visible=False),
            "",
        )

    def ask_remove(self, doc_id: str, browsing: Any, request: gr.Request):
        record = article_record(self.member(browsing, request, EDIT), str(doc_id or ""))
        if record is None:
            return gr.update(visible=False), ""
        return gr.update(visible=True), render_removal(record)

    def remove_article(self, doc_id: str, query: str, browsing: Any, request: gr.Request):
        hidden = gr.update(visible=False)
        tanya = self.member(browsing, request, EDIT)
        if tanya is None:
            return REFUSED, gr.update(), gr.update(), gr.update(), hidden, hidden
        try:
            report = tanya.remove([str(doc_id or "")], forget=True)
            message = f"**Removed** {html.escape(str(doc_id))}: {report.documents} articles, {report.chunks} passages left."
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(public_message(exc))}"
        return message, collection_rows(tanya, str(query or "")), collection_facts(tanya), "", hidden, hidden

    def search(self, query: str, browsing: Any, request: gr.Request):
        return collection_rows(self.member(browsing, request), str(query or ""))

    def collection(self, browsing: Any, request: gr.Request):
        tanya = self.member(browsing, request)
        return collection_rows(tanya), collection_facts(tanya), "", "", gr.update(visible=False)

    # -- layout -----------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        settings = self.library.settings
        with gr.Blocks(title="Tanya") as page:
            gr.Markdown("# Tanya\nAsk the articles in Indonesian or English; every answer cites the passage it comes from.")
            with gr.Tab("Chat"):
                shown = gr.State([])
                said = gr.State([])
                kept = gr.BrowserState({}, storage_key="tanya-chats", secret=self.storage_secret)
                # the page's layout (sent to every visitor) names no collection: each picker is filled for
                # its caller on load, and any value that comes back is checked by the handler, not by Gradio
                asking = gr.Dropdown(
                    choices=[],
                    value=[],
                    multiselect=True,
                    allow_custom_value=True,
                    visible=False,
                    label="Ask in the collections",
                    elem_id="asking",
                )
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(label="Chat", height=460, buttons=["copy"], elem_id="chat")
                        with gr.Row():
                            box = gr.Textbox(
                                placeholder="Ask a question… / Tanyakan sesuatu…", show_label=False, scale=5, elem_id="question"
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                        with gr.Accordion("Only articles published…", open=False, elem_id="dates"):
                            with gr.Row():
                                since = gr.Textbox(label="since", placeholder="YYYY-MM-DD", elem_id="since")
                                until = gr.Textbox(label="until", placeholder="YYYY-MM-DD", elem_id="until")
                        with gr.Row():
                            written = gr.Checkbox(
                                value=bool(settings.llm),
                                visible=bool(settings.llm),
                                elem_id="written",
                                label=f"Written answer by {settings.llm} (citations checked)",
                            )
                        with gr.Row():
                            past = gr.Dropdown(choices=[], value=None, label="Kept chats", scale=4, elem_id="past-chats")
                            new = gr.Button("New chat", size="sm", scale=1, elem_id="new-chat")
                            delete = gr.Button("Delete chat", size="sm", scale=1, elem_id="delete-chat")
                            export = gr.DownloadButton("Export (Markdown)", value=None, size="sm", scale=1, elem_id="export")
                        gr.Examples(EXAMPLES, inputs=box)
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        sources = gr.HTML(elem_id="sources")
            with gr.Tab("Add articles", visible=False, elem_id="add-tab") as add_tab:
                gr.Markdown(
                    f"Upload articles ({', '.join(SUPPORTED_SUFFIXES)}, up to {settings.max_file_mb:g} MB each). "
                    "Only new or changed files are embedded; questions keep being answered while the index updates."
                )
                target = gr.Dropdown(
                    choices=[], allow_custom_value=True, visible=False, label="Into the collection", elem_id="target"
                )
                upload = gr.File(
                    file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Article files", elem_id="upload"
                )
                add = gr.Button("Add to the index", variant="primary", elem_id="add")
                # the library refuses folder import without a root, whatever the page shows; the root's
                # path is not shown (the page's layout is visible to every reader)
                with gr.Row(visible=bool(settings.import_root)):
                    folder = gr.Textbox(
                        label="…or a folder under the server's import folder (QA_IMPORT_ROOT)", scale=4, elem_id="folder"
                    )
                    add_dir = gr.Button("Add folder", scale=1, elem_id="add-folder")
                with gr.Accordion("Sources kept current (feeds and article addresses)", open=False, elem_id="sources-box"):
                    source_box = gr.Textbox(label="Feed, sitemap or article address (http/https)", elem_id="source")
                    with gr.Row():
                        add_source = gr.Button("Add source", size="sm", elem_id="add-source")
                        remove_source = gr.Button("Remove source", size="sm", elem_id="remove-source")
                        fetch_now = gr.Button("Fetch now", size="sm", variant="primary", elem_id="fetch-sources")
                    feeds = gr.Markdown(elem_id="feeds")
                rebuild_button = gr.Button("Rebuild the index from scratch", variant="stop", size="sm", elem_id="rebuild")
                result = gr.Markdown(elem_id="add-result")
            with gr.Tab("Collection"):
                browsing = gr.Dropdown(choices=[], allow_custom_value=True, visible=False, label="Collection", elem_id="browsing")
                facts = gr.Markdown(elem_id="facts")
                search = gr.Textbox(placeholder="Search titles and files…", show_label=False, elem_id="collection-search")
                table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="collection")
                gr.Markdown("Click an article to read it whole.")
                opened = gr.State("")
                with gr.Row(visible=False, elem_id="article-actions") as actions:
                    remove = gr.Button("Remove this article from the collection…", variant="stop", size="sm", elem_id="remove")
                with gr.Row(visible=False, elem_id="confirm-remove") as confirm:
                    confirm_text = gr.Markdown(elem_id="confirm-text")
                    yes = gr.Button("Yes, remove it", variant="stop", size="sm", elem_id="remove-yes")
                    no = gr.Button("Cancel", size="sm", elem_id="remove-no")
                removed_note = gr.Markdown(elem_id="remove-result")
                article = gr.HTML(elem_id="article")

            shown_outputs = [chat, shown, sources, said, kept, past, export]
            turn = [box, shown, said, written, kept, asking, since, until]
            send.click(self.respond, turn, [box, *shown_outputs])
            box.submit(self.respond, turn, [box, *shown_outputs])
            past.input(self.switch, [past, kept], shown_outputs)
            new.click(self.new_chat, kept, shown_outputs)
            delete.click(self.delete_chat, kept, shown_outputs)
            page.load(self.restore, kept, shown_outputs)
            updated = [result, table, facts, browsing]
            add.click(self.add_files, [upload, target], updated, concurrency_limit=1, concurrency_id="index")
            add_dir.click(self.add_folder, [folder, target], updated, concurrency_limit=1, concurrency_id="index")
            rebuild_button.click(self.rebuild, target, updated, concurrency_limit=1, concurrency_id="index")
            add_source.click(self.add_source, [source_box, target], [result, feeds])
            remove_source.click(self.remove_source, [source_box, target], [result, feeds])
            fetch_now.click(self.fetch_sources, target, [*updated, feeds], concurrency_limit=1, concurrency_id="index")
            target.input(self.source_list, target, feeds)
            search.change(self.search, [search, browsing], table)
            browsing.input(self.collection, browsing, [table, facts, opened, article, actions])
            table.select(self.open_article, browsing, [opened, article, actions, confirm, removed_note])
            remove.click(self.ask_remove, [opened, browsing], [confirm, confirm_text])
            no.click(lambda: gr.update(visible=False), None, confirm)
            yes.click(
                self.remove_article,
                [opened, search, browsing],
                [removed_note, table, facts, article, actions, confirm],
                concurrency_limit=1,
                concurrency_id="index",
            )
            page.load(self.choices, None, [asking, browsing, target, add_tab]).then(
                self.collection, browsing, [table, facts, opened, article, actions]
            ).then(self.source_list, target, feeds)
        return page
