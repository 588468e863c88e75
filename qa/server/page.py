"""The chat page (Gradio): ask in Indonesian or English and get a cited answer, open the passages it
used, keep chats, add articles (editors), see the collection.

Nothing a handler uses comes from the client unchecked: the chat as shown and the conversation live in
server-side state (the Chatbot is only ever an output); kept chats come back from the browser only
with the server's seal (qa/server/chats.py); files reach `add_files` only if this login session
uploaded them (qa/server/gate.py) and they lie in Gradio's upload folder; every editing handler checks
the caller's role itself. Everything taken from an article is rendered as text (qa/server/render.py).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import EXPECTED_ERRORS, QuestionError
from ..ingest.documents import SUPPORTED_SUFFIXES, inside
from ..pipeline import Tanya
from ..records import Answer
from .chats import Chats, chat_keys, messages_only
from .render import (
    COLUMNS,
    EXAMPLES,
    collection_facts,
    collection_rows,
    export_file,
    render_answer,
    render_article,
    render_removal,
    render_report,
    render_sources,
    user_message,
)
from .users import EDITOR, Access

REFUSED = "**Refused:** only editors can change the index."


class Page:
    """The page's handlers over one Tanya, as methods; `build()` lays the page out and wires them."""

    def __init__(self, tanya: Tanya, access: Access) -> None:
        self.tanya = tanya
        self.access = access
        self.storage_secret, self.seal = chat_keys(tanya.settings.index_dir, tanya.settings.chat_secret)

    # -- who is asking ----------------------------------------------------------------------------
    @staticmethod
    def user_of(request: gr.Request | None) -> str | None:
        return getattr(request, "username", None)

    def is_editor(self, request: gr.Request | None) -> bool:
        return self.access.role_of(self.user_of(request)) == EDITOR

    # -- chat -------------------------------------------------------------------------------------
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

    def respond(self, question: str, shown: list[dict], said: list[dict], written: bool, kept: Any, request: gr.Request):
        """One turn. `shown` (the chat as shown) and `said` (the conversation as plain messages) are
        server-side state; the finished turn is kept in the browser, sealed."""
        question = question if isinstance(question, str) else ""
        shown = messages_only(shown)
        said = messages_only(said)
        shown.append({"role": "user", "content": user_message(question[:500])})
        shown.append({"role": "assistant", "content": "Searching…"})
        keep = gr.update()
        yield "", shown, shown, gr.update(), said, keep, keep, keep
        try:
            messages = said + [{"role": "user", "content": question}]
            answer = None
            for event in self.tanya.converse_stream(messages, llm=self.tanya.settings.llm if written else ""):
                if isinstance(event, Answer):
                    answer = event
                else:  # the written answer as it grows; its citations are checked when it is complete
                    shown[-1]["content"] = html.escape(event) + " ▌"
                    yield "", shown, shown, keep, said, keep, keep, keep
            assert answer is not None
            shown[-1]["content"] = render_answer(answer)
            sources = render_sources(answer, self.tanya)
            said = messages + [{"role": "assistant", "content": answer.reply}]
        except QuestionError as exc:
            shown[-1]["content"] = f"Please ask again: {html.escape(str(exc))}."
            yield "", shown, shown, "", said, keep, keep, keep
            return
        except EXPECTED_ERRORS as exc:
            shown[-1]["content"] = f"Sorry, the index cannot answer right now: {html.escape(str(exc))}"
            yield "", shown, shown, "", said, keep, keep, keep
            return
        user = self.user_of(request)
        book = Chats.of(kept, user, self.seal)
        book.add_turn(question, answer, shown, said, sources)
        yield ("", *self.showing(book, kept, user))

    def restore(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.open_latest)

    def _changed(self, kept: Any, request: gr.Request, change) -> tuple:
        user = self.user_of(request)
        book = Chats.of(kept, user, self.seal)
        change(book)
        return self.showing(book, kept, user)

    def switch(self, chat_id: str, kept: Any, request: gr.Request):
        return self._changed(kept, request, lambda book: book.select(chat_id if isinstance(chat_id, str) else ""))

    def new_chat(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.new)

    def delete_chat(self, kept: Any, request: gr.Request):
        return self._changed(kept, request, Chats.delete)

    # -- editing ----------------------------------------------------------------------------------
    def _update(self, make_report, progress: gr.Progress):
        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        try:
            message = render_report(make_report(report_progress))
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(str(exc))}"
        return message, collection_rows(self.tanya), collection_facts(self.tanya)

    def add_files(self, files: list | None, request: gr.Request, progress=gr.Progress()):
        """Index uploaded files. The gate lets through only files this session uploaded; here each must
        also be a regular file in Gradio's upload folder (never a path the client chose)."""
        if not self.is_editor(request):
            return REFUSED, gr.update(), gr.update()
        uploads = []
        cache = Path(gr.utils.get_upload_folder()).resolve()
        for f in files or []:
            path = Path(str(f))
            if path.is_symlink() or not inside(path.resolve(), cache) or not path.is_file():
                return "**Refused:** a file was not uploaded through this page.", gr.update(), gr.update()
            uploads.append((path, Path(str(getattr(f, "orig_name", None) or path.name)).name))
        return self._update(lambda cb: self.tanya.add_files(uploads, progress=cb), progress)

    def add_folder(self, folder: str, request: gr.Request, progress=gr.Progress()):
        if not self.is_editor(request):
            return REFUSED, gr.update(), gr.update()
        return self._update(lambda cb: self.tanya.import_folder(str(folder or ""), progress=cb), progress)

    def rebuild(self, request: gr.Request, progress=gr.Progress()):
        if not self.is_editor(request):
            return REFUSED, gr.update(), gr.update()
        return self._update(lambda cb: self.tanya.index(rebuild=True, progress=cb), progress)

    # -- the collection ---------------------------------------------------------------------------
    def open_article(self, event: gr.SelectData, request: gr.Request):
        row = event.row_value if isinstance(event.row_value, list) else [""]
        doc_id = str((row or [""])[-1])
        return (
            doc_id,
            render_article(self.tanya, doc_id),
            gr.update(visible=self.is_editor(request)),
            gr.update(visible=False),
            "",
        )

    def ask_remove(self, doc_id: str):
        record = next((f for f in self.tanya.files() if f["doc_id"] == doc_id), None)
        if record is None:
            return gr.update(visible=False), ""
        return gr.update(visible=True), render_removal(record)

    def remove_article(self, doc_id: str, query: str, request: gr.Request):
        hidden = gr.update(visible=False)
        if not self.is_editor(request):
            return REFUSED, gr.update(), gr.update(), gr.update(), hidden, hidden
        try:
            report = self.tanya.remove([doc_id], forget=True)
            message = f"**Removed** {html.escape(doc_id)}: {report.documents} articles, {report.chunks} passages left."
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(str(exc))}"
        return message, collection_rows(self.tanya, str(query or "")), collection_facts(self.tanya), "", hidden, hidden

    def search(self, query: str):
        return collection_rows(self.tanya, str(query or ""))

    def collection(self):
        return collection_rows(self.tanya), collection_facts(self.tanya)

    def show_editing(self, request: gr.Request):
        return gr.update(visible=self.is_editor(request))

    # -- layout -----------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        settings = self.tanya.settings
        with gr.Blocks(title="Tanya") as page:
            gr.Markdown("# Tanya\nAsk the articles in Indonesian or English; every answer cites the passage it comes from.")
            with gr.Tab("Chat"):
                shown = gr.State([])
                said = gr.State([])
                kept = gr.BrowserState({}, storage_key="tanya-chats", secret=self.storage_secret)
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(label="Chat", height=460, buttons=["copy"], elem_id="chat")
                        with gr.Row():
                            box = gr.Textbox(
                                placeholder="Ask a question… / Tanyakan sesuatu…", show_label=False, scale=5, elem_id="question"
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
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
                rebuild_button = gr.Button("Rebuild the index from scratch", variant="stop", size="sm", elem_id="rebuild")
                result = gr.Markdown(elem_id="add-result")
            with gr.Tab("Collection"):
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
            send.click(self.respond, [box, shown, said, written, kept], [box, *shown_outputs])
            box.submit(self.respond, [box, shown, said, written, kept], [box, *shown_outputs])
            past.input(self.switch, [past, kept], shown_outputs)
            new.click(self.new_chat, kept, shown_outputs)
            delete.click(self.delete_chat, kept, shown_outputs)
            page.load(self.restore, kept, shown_outputs)
            add.click(self.add_files, upload, [result, table, facts], concurrency_limit=1, concurrency_id="index")
            add_dir.click(self.add_folder, folder, [result, table, facts], concurrency_limit=1, concurrency_id="index")
            rebuild_button.click(self.rebuild, None, [result, table, facts], concurrency_limit=1, concurrency_id="index")
            search.change(self.search, search, table)
            table.select(self.open_article, None, [opened, article, actions, confirm, removed_note])
            remove.click(self.ask_remove, opened, [confirm, confirm_text])
            no.click(lambda: gr.update(visible=False), None, confirm)
            yes.click(
                self.remove_article,
                [opened, search],
                [removed_note, table, facts, article, actions, confirm],
                concurrency_limit=1,
                concurrency_id="index",
            )
            page.load(self.collection, None, [table, facts])
            page.load(self.show_editing, None, add_tab)
        return page
