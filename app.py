"""Tanya's server: the chat page (ask in Indonesian or English, get a cited answer, open the passages
it used, add articles, see the collection) and the OpenAI-compatible /v1 API (qa/api.py), on one port.

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index] [--allow-anonymous]

Who may do what comes from qa/users.py (users file, QA_AUTH); editing handlers check the caller's
role themselves. Builds the index from the seed articles first when none exists. Everything from the articles is
HTML-escaped before it is shown. This file only lays out the page and turns library errors into
messages; the work is done by `qa`.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from qa import QuestionError, Settings, Tanya  # noqa: E402
from qa.cli import EXPECTED_ERRORS  # noqa: E402
from qa.ingest import SUPPORTED_SUFFIXES  # noqa: E402
from qa.api import api_router  # noqa: E402
from qa.chats import Chats, browser_secret  # noqa: E402
from qa.page import (  # noqa: E402
    COLUMNS,
    CSS,
    EXAMPLES,
    JS,
    collection_facts,
    collection_rows,
    export_file,
    render_answer,
    render_article,
    render_report,
    render_sources,
)
from qa.records import Answer  # noqa: E402
from qa.users import EDITOR, Access, AccessRefused, UserStore  # noqa: E402

def build_page(tanya: Tanya, access: Access | None = None) -> gr.Blocks:
    """The Gradio page over one Tanya instance. Editing (add, import, rebuild) is shown to editors only
    and refused to anyone else by each handler, whatever the page shows."""
    access = access or Access(UserStore(tanya.settings.users_file), anonymous=EDITOR)

    def editor(request: gr.Request | None) -> bool:
        return access.role_of(getattr(request, "username", None)) == EDITOR

    def refused():
        return "**Refused:** only editors can change the index.", gr.update(), gr.update()

    def user_of(request: gr.Request | None) -> str | None:
        return getattr(request, "username", None)

    def showing(book: Chats, kept: dict):
        """The open chat as the page shows it: chat, sources, conversation, kept chats, list, export file."""
        chat = book.open or {"shown": [], "sources": "", "said": []}
        return (chat["shown"], chat["sources"], chat["said"], kept,
                gr.update(choices=book.choices(), value=book.current), export_file(book))

    def respond(question: str, history: list[dict], said: list[dict], written: bool, kept: dict, request: gr.Request):
        """One turn: `history` is the chat as shown (HTML), `said` the conversation as plain messages;
        the finished turn is kept in the browser (`kept`)."""
        history = list(history or [])
        said = list(said or [])
        history.append({"role": "user", "content": html.escape((question or "")[:500])})
        history.append({"role": "assistant", "content": "Searching…"})
        yield "", history, gr.update(), said, gr.update(), gr.update(), gr.update()
        try:
            messages = said + [{"role": "user", "content": question or ""}]
            answer = None
            for event in tanya.converse_stream(messages, llm=tanya.settings.llm if written else ""):
                if isinstance(event, Answer):
                    answer = event
                else:  # the written answer as it grows; its citations are checked when it is complete
                    history[-1]["content"] = html.escape(event) + " ▌"
                    yield "", history, gr.update(), said, gr.update(), gr.update(), gr.update()
            assert answer is not None
            history[-1]["content"] = render_answer(answer)
            sources = render_sources(answer, tanya)
            said = messages + [{"role": "assistant", "content": answer.reply}]
        except QuestionError as exc:
            history[-1]["content"] = f"Please ask again: {html.escape(str(exc))}."
            yield "", history, "", said, gr.update(), gr.update(), gr.update()
            return
        except EXPECTED_ERRORS as exc:
            history[-1]["content"] = f"Sorry, the index cannot answer right now: {html.escape(str(exc))}"
            yield "", history, "", said, gr.update(), gr.update(), gr.update()
            return
        book = Chats.of(kept, user_of(request))
        book.add_turn(question, answer, history, said, sources)
        yield ("", *showing(book, book.into(kept, user_of(request))))

    def restore(kept: dict, request: gr.Request):
        book = Chats.of(kept, user_of(request))
        if book.current is None and book.chats:
            book.select(book.chats[0]["id"])
        return showing(book, kept)

    def switch(chat_id: str, kept: dict, request: gr.Request):
        book = Chats.of(kept, user_of(request))
        book.select(chat_id)
        return showing(book, book.into(kept, user_of(request)))

    def new_chat(kept: dict, request: gr.Request):
        book = Chats.of(kept, user_of(request))
        book.new()
        return showing(book, book.into(kept, user_of(request)))

    def delete_chat(kept: dict, request: gr.Request):
        book = Chats.of(kept, user_of(request))
        book.delete()
        return showing(book, book.into(kept, user_of(request)))

    def update(make_report, progress: gr.Progress):
        def report_progress(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        try:
            report = make_report(report_progress)
            message = render_report(report)
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(str(exc))}"
        return message, collection_rows(tanya), collection_facts(tanya)

    def add_files(files, request: gr.Request, progress=gr.Progress()):
        if not editor(request):
            return refused()
        uploads = [(Path(f), Path(getattr(f, "orig_name", None) or f).name) for f in files or []]
        return update(lambda cb: tanya.add_files(uploads, progress=cb), progress)

    def add_folder(folder: str, request: gr.Request, progress=gr.Progress()):
        if not editor(request):
            return refused()
        return update(lambda cb: tanya.import_folder(folder, progress=cb), progress)

    def open_article(event: gr.SelectData, request: gr.Request):
        doc_id = str((event.row_value or [""])[-1])
        return doc_id, render_article(tanya, doc_id), gr.update(visible=editor(request)), gr.update(visible=False), ""

    def ask_remove(doc_id: str):
        record = next((f for f in tanya.files() if f["doc_id"] == doc_id), None)
        if record is None:
            return gr.update(visible=False), ""
        return gr.update(visible=True), f"Remove **{html.escape(record['title'])}** ({html.escape(record['source'])}) from the collection?"

    def remove_article(doc_id: str, query: str, request: gr.Request):
        hidden = gr.update(visible=False)
        if not editor(request):
            return "**Refused:** only editors can change the index.", gr.update(), gr.update(), gr.update(), hidden, hidden
        try:
            report = tanya.remove([doc_id], forget=True)
            message = f"**Removed** {html.escape(doc_id)}: {report.documents} articles, {report.chunks} passages left."
        except EXPECTED_ERRORS as exc:
            message = f"**Nothing changed:** {html.escape(str(exc))}"
        return message, collection_rows(tanya, query), collection_facts(tanya), "", hidden, hidden

    def rebuild(request: gr.Request, progress=gr.Progress()):
        if not editor(request):
            return refused()
        return update(lambda cb: tanya.index(rebuild=True, progress=cb), progress)

    with gr.Blocks(title="Tanya") as page:
        gr.Markdown("# Tanya\nAsk the articles in Indonesian or English; every answer cites the passage it comes from.")
        with gr.Tab("Chat"):
            said = gr.State([])
            kept = gr.BrowserState({}, storage_key="tanya-chats", secret=browser_secret(tanya.settings.index_dir, tanya.settings.chat_secret))
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Chat", height=460, buttons=["copy"], elem_id="chat")
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question… / Tanyakan sesuatu…", show_label=False, scale=5, elem_id="question")
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    with gr.Row():
                        written = gr.Checkbox(
                            value=bool(tanya.settings.llm), visible=bool(tanya.settings.llm), elem_id="written",
                            label=f"Written answer by {tanya.settings.llm} (citations checked)",
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
                f"Upload articles ({', '.join(SUPPORTED_SUFFIXES)}, up to {tanya.settings.max_file_mb:g} MB each). "
                "Only new or changed files are embedded; questions keep being answered while the index updates."
            )
            upload = gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Article files", elem_id="upload")
            add = gr.Button("Add to the index", variant="primary", elem_id="add")
            root = tanya.settings.import_root  # the library refuses folder import without it, whatever the page shows
            with gr.Row(visible=bool(root)):
                folder = gr.Textbox(label=f"…or a folder under {root} on the server", scale=4, elem_id="folder")
                add_dir = gr.Button("Add folder", scale=1, elem_id="add-folder")
            rebuild_button = gr.Button("Rebuild the index from scratch", variant="stop", size="sm", elem_id="rebuild")
            result = gr.Markdown(elem_id="add-result")
        with gr.Tab("Collection"):
            facts = gr.Markdown(collection_facts(tanya), elem_id="facts")
            search = gr.Textbox(placeholder="Search titles and files…", show_label=False, elem_id="collection-search")
            table = gr.Dataframe(collection_rows(tanya), headers=COLUMNS, interactive=False, elem_id="collection")
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

        shown = [chat, sources, said, kept, past, export]
        send.click(respond, [box, chat, said, written, kept], [box, *shown])
        box.submit(respond, [box, chat, said, written, kept], [box, *shown])
        past.input(switch, [past, kept], shown)
        new.click(new_chat, kept, shown)
        delete.click(delete_chat, kept, shown)
        page.load(restore, kept, shown)
        add.click(add_files, upload, [result, table, facts], concurrency_limit=1, concurrency_id="index")
        add_dir.click(add_folder, folder, [result, table, facts], concurrency_limit=1, concurrency_id="index")
        rebuild_button.click(rebuild, None, [result, table, facts], concurrency_limit=1, concurrency_id="index")
        search.change(lambda q: collection_rows(tanya, q), search, table)
        table.select(open_article, None, [opened, article, actions, confirm, removed_note])
        remove.click(ask_remove, opened, [confirm, confirm_text])
        no.click(lambda: gr.update(visible=False), None, confirm)
        yes.click(remove_article, [opened, search], [removed_note, table, facts, article, actions, confirm],
                  concurrency_limit=1, concurrency_id="index")
        page.load(lambda: (collection_rows(tanya), collection_facts(tanya)), None, [table, facts])
        def show_editing(request: gr.Request):
            return gr.update(visible=editor(request))

        page.load(show_editing, None, add_tab)
    return page


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, check who may use the server, make sure an index exists, serve the page and the API."""
    parser = argparse.ArgumentParser(description="Tanya chat page and OpenAI-compatible API")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--allow-anonymous", action="store_true",
                        help="let visitors who have not logged in ask (never edit), e.g. on a network with no users")
    args = parser.parse_args(argv)
    settings = Settings.from_env(host=args.host, port=args.port, index_dir=args.index_dir)
    tanya = Tanya(settings)
    try:
        access = Access.configure(settings.users_file, os.environ.get("QA_AUTH"), settings.host, args.allow_anonymous)
        if not tanya.has_index():
            print(f"No index in {settings.index_dir}: indexing {settings.seeds_dir} first …", flush=True)
            print(tanya.index().summary(), flush=True)
        tanya.warm_up()
    except (AccessRefused, *EXPECTED_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = FastAPI(title="Tanya", docs_url=None, redoc_url=None, openapi_url=None)
    server.include_router(api_router(tanya, access))
    server = gr.mount_gradio_app(
        server, build_page(tanya, access).queue(default_concurrency_limit=4), path="",
        auth=access.login if access.needs_login else None, css=CSS, head=JS, show_error=False,
        max_file_size=f"{settings.max_file_mb:g}mb",
    )
    print(f"Tanya on http://{settings.host}:{settings.port}/ (API: /v1/chat/completions)", flush=True)
    uvicorn.run(server, host=settings.host, port=settings.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
