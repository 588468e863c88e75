"""The chat page (Gradio): ask in Indonesian or English and get a cited answer, open the passages it
used, rate it 👍 / 👎, keep chats, add articles (editors), see the collection and what readers
thought of its answers (editors). The page's words are Indonesian or English (qa/server/i18n.py).

Nothing a handler uses comes from the client unchecked: the chat as shown, the conversation and the
ids of its answers live in server-side state (the Chatbot is only ever an output); kept chats come
back from the browser only with the server's seal (qa/server/chats.py); a rating names an answer by
its place in this session's chat, never by an id the client sends. Which collections a handler
touches is checked in every handler (qa/server/visitors.py). Everything taken from an article is
rendered as text (qa/server/render.py).
"""

from __future__ import annotations

import html
import sys
from typing import Any

import gradio as gr

from ..ask.when import Dates
from ..errors import EXPECTED_ERRORS, QuestionError, public_message
from ..ingest.documents import SUPPORTED_SUFFIXES
from ..library import Library
from ..records import Answer, Citation
from ..settings import DEFAULT_COLLECTION
from .chats import Chats, answer_ids, chat_keys, messages_only
from .editing import Editing
from .feedback import MAX_COMMENT, REASONS, FeedbackError, FeedbackStore, FeedbackUnavailable, Given, Rating
from .i18n import LANGUAGES, Texts, Words, catalogue, chosen_language, texts
from .quality_view import DAYS, QualityView, list_columns, reason_choices
from .render import columns, examples, export_file, render_answer, render_sources, user_message
from .users import EDIT, READ, Access
from .visitors import Visitors

LIKED = {True: "Like", False: "Dislike"}


class Page:
    """The page's handlers over a library of collections; `build()` lays the page out and wires them."""

    def __init__(self, library: Library, access: Access, feedback: FeedbackStore) -> None:
        self.library = library
        self.visitors = Visitors(library, access)
        self.editing = Editing(self.visitors)
        self.feedback = feedback
        self.quality = QualityView(self.visitors, feedback)
        self.storage_secret, self.seal = chat_keys(library.settings.index_dir, library.settings.chat_secret)
        self.words = Words()

    # -- the page's language ----------------------------------------------------------------------
    def language(self, stored: Any, request: gr.Request):
        """On load: the language kept by the switch, else the browser's; every fixed word in it."""
        lang = chosen_language(stored, request.headers.get("accept-language") if request else None)
        return (lang, gr.update(value=lang), *self.words.updates(texts(lang)))

    def open_page(self, stored: Any, kept: Any, request: gr.Request):
        """On load: the page's language and words (`language`), then the kept chat (`restore`)."""
        first = self.language(stored, request)
        return (*first, *self.restore(kept, first[0], request))

    def switch_language(self, chosen: Any):
        """The switch flipped: the page in that language, kept in the browser for the next visit."""
        lang = chosen if chosen in LANGUAGES else "en"
        return (lang, lang, *self.words.updates(texts(lang)))

    # -- who may see what ---------------------------------------------------------------------------
    def choices(self, request: gr.Request):
        """The collection pickers, filled for this caller: asking (readable), browsing (readable), editing
        and the quality view (editable)."""
        readable, editable = self.visitors.allowed(request, READ), self.visitors.allowed(request, EDIT)
        first = Visitors.first(readable)
        edit_first = Visitors.first(editable)
        return (
            gr.update(choices=readable, value=first, visible=len(readable) > 1),
            gr.update(choices=readable, value=first[0] if first else None, visible=len(readable) > 1),
            gr.update(choices=editable, value=editable[0] if editable else None, visible=len(editable) > 1),
            gr.update(visible=bool(editable)),
            gr.update(choices=editable, value=edit_first[0] if edit_first else None, visible=len(editable) > 1),
            gr.update(visible=bool(editable)),
        )

    # -- chat -------------------------------------------------------------------------------------
    def book(self, kept: Any, request: gr.Request | None) -> Chats:
        """The caller's kept chats, those drawing on a collection they may no longer read hidden."""
        return Chats.of(kept, self.visitors.user_of(request), self.seal).only(self.visitors.readable(request))

    def showing(self, book: Chats, kept: Any, user: str | None, tr: Texts):
        """The open chat as the page shows it: chat (with its answers' ratings), shown (state), sources,
        conversation, kept chats (sealed again: nothing the browser sent is echoed), list, export file,
        the answers' ids (state), the 👎 form hidden, no note."""
        chat = book.open or {"shown": [], "sources": "", "said": []}
        shown = messages_only(chat["shown"])
        ids = answer_ids(book.open)
        return (
            gr.update(value=shown, feedback_value=self.ratings(shown, ids, user)),
            shown,
            chat["sources"],
            messages_only(chat["said"]),
            book.into(kept, user, self.seal),
            gr.update(choices=book.choices(), value=book.current),
            export_file(book, tr),
            ids,
            gr.update(visible=False),
            "",
        )

    def ratings(self, shown: list[dict], ids: dict[str, str], user: str | None) -> list[str | None]:
        """What the chat's thumbs show: each assistant message's rating, as kept in the store."""
        out: list[str | None] = []
        for i, message in enumerate(shown):
            if message["role"] != "assistant":
                continue
            rating = None
            if str(i) in ids:
                try:
                    rated = self.feedback.rating(ids[str(i)], user or "").rating
                    rating = LIKED[rated.rating == "up"] if rated else None
                except FeedbackError:
                    rating = None
            out.append(rating)
        return out

    def respond(
        self,
        question: str,
        shown: list[dict],
        said: list[dict],
        ids: dict[str, str],
        written: bool,
        kept: Any,
        asking: Any,
        since: Any,
        until: Any,
        lang: Any,
        request: gr.Request,
    ):
        """One turn over the chosen collections (those the caller may read), only over articles published
        `since`..`until` when given. `shown` (the chat as shown), `said` (the conversation as plain
        messages) and `ids` (the answers' ids) are server-side state; the finished turn is recorded for
        rating and kept in the browser, sealed."""
        tr = texts(lang)
        question = question if isinstance(question, str) else ""
        names = self.visitors.chosen(asking, request) or self.visitors.allowed(request, READ)[:1]
        shown = messages_only(shown)
        said = messages_only(said)
        ids = dict(ids) if isinstance(ids, dict) else {}
        shown.append({"role": "user", "content": user_message(question[:500])})
        shown.append({"role": "assistant", "content": tr("chat.searching")})
        keep = gr.update()
        hidden = gr.update(visible=False)

        def stop(message: str):
            shown[-1]["content"] = message
            return "", shown, shown, "", said, keep, keep, keep, ids, hidden, ""

        yield "", shown, shown, gr.update(), said, keep, keep, keep, ids, hidden, ""
        if not names:
            yield stop(tr("chat.no_collection"))
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
                    yield "", shown, shown, keep, said, keep, keep, keep, ids, hidden, ""
            assert answer is not None
            shown[-1]["content"] = render_answer(answer)
            sources = render_sources(answer, self.article_text(request), tr)
            user = self.visitors.user_of(request)
            answer_id = self.record(user, answer, said, names)
            said = messages + [{"role": "assistant", "content": answer.reply}]
        except QuestionError as exc:
            yield stop(tr("chat.ask_again", reason=html.escape(str(exc))))
            return
        except EXPECTED_ERRORS as exc:
            print(f"respond: {exc}", file=sys.stderr, flush=True)
            yield stop(tr("chat.unavailable", reason=html.escape(public_message(exc))))
            return
        book = self.book(kept, request)
        book.add_turn(question, answer, shown, said, sources, names, answer_id, tr)
        yield ("", *self.showing(book, kept, user, tr))

    def record(self, user: str | None, answer: Answer, said: list[dict], names: list[str]) -> str | None:
        """Keep an answer for its reader's rating; None when the store cannot take it (the answer is
        shown all the same, and rating it says it cannot be saved)."""
        try:
            versions = self.library.versions(names)
            return self.feedback.record(Given(user or "", answer, said, names, versions, via="page"))
        except FeedbackUnavailable as exc:
            print(f"feedback: {exc}", file=sys.stderr, flush=True)
            return None

    def article_text(self, request: gr.Request | None):
        """The whole text of a cited article, looked up in its collection if the caller may read it."""
        readable = self.visitors.readable(request)

        def text(citation: Citation) -> str | None:
            name = citation.collection or DEFAULT_COLLECTION
            return self.library.get(name).document_text(citation.doc_id) if readable(name) else None

        return text

    def restore(self, kept: Any, lang: Any, request: gr.Request):
        return self._changed(kept, lang, request, Chats.open_latest)

    def _changed(self, kept: Any, lang: Any, request: gr.Request, change) -> tuple:
        book = self.book(kept, request)
        change(book)
        return self.showing(book, kept, self.visitors.user_of(request), texts(lang))

    def switch(self, chat_id: str, kept: Any, lang: Any, request: gr.Request):
        return self._changed(kept, lang, request, lambda book: book.select(chat_id if isinstance(chat_id, str) else ""))

    def new_chat(self, kept: Any, lang: Any, request: gr.Request):
        return self._changed(kept, lang, request, Chats.new)

    def delete_chat(self, kept: Any, lang: Any, request: gr.Request):
        return self._changed(kept, lang, request, Chats.delete)

    # -- ratings ------------------------------------------------------------------------------------
    def like(self, ids: Any, lang: Any, event: gr.LikeData, request: gr.Request):
        """👍, 👎 or a withdrawn thumb on an answer of this session's chat (named by its place: the id
        comes from server-side state). A 👎 opens the form for its reason and a comment."""
        tr = texts(lang)
        hidden = gr.update(visible=False)
        index = event.index if isinstance(event.index, int) else -1
        answer_id = ids.get(str(index)) if isinstance(ids, dict) else None
        if not answer_id:
            return "", hidden, tr("feedback.not_rateable")
        liked = event.liked
        rating = Rating("up") if liked is True else Rating("down") if liked is False else None
        try:
            self.feedback.rate(answer_id, self.visitors.user_of(request) or "", rating)
        except FeedbackError as exc:
            print(f"feedback: {exc}", file=sys.stderr, flush=True)
            return "", hidden, tr("feedback.not_saved")
        if rating is None:
            return "", hidden, tr("feedback.withdrawn")
        if rating.rating == "up":
            return "", hidden, tr("feedback.saved_up")
        return answer_id, gr.update(visible=True), tr("feedback.saved_down")

    def explain(self, answer_id: Any, reason: Any, comment: Any, lang: Any, request: gr.Request):
        """The reason (and comment) of the 👎 just given."""
        tr = texts(lang)
        comment = comment if isinstance(comment, str) else ""
        if len(comment) > MAX_COMMENT:
            return gr.update(), tr("feedback.too_long", limit=f"{MAX_COMMENT:,}"), gr.update()
        reason = reason if isinstance(reason, str) and reason in REASONS else ""
        if not isinstance(answer_id, str) or not answer_id:
            return gr.update(visible=False), tr("feedback.not_rateable"), ""
        try:
            self.feedback.rate(answer_id, self.visitors.user_of(request) or "", Rating("down", reason, comment))
        except FeedbackError as exc:
            print(f"feedback: {exc}", file=sys.stderr, flush=True)
            return gr.update(), tr("feedback.not_saved"), gr.update()
        said = tr(f"feedback.reason.{reason or 'unspecified'}")
        return gr.update(visible=False), tr("feedback.saved_reason", reason=said), ""

    # -- layout -----------------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        settings = self.library.settings
        words = self.words
        en = texts("en")
        with gr.Blocks(title="Tanya") as page:
            lang = gr.State("en")
            stored_lang = gr.BrowserState("", storage_key="tanya-language", secret=self.storage_secret)
            with gr.Row():
                words(gr.Markdown(f"# Tanya\n{en('page.intro')}"), value=lambda tr: f"# Tanya\n{tr('page.intro')}")
                # the switch names each language in itself, under a label in both
                switch = gr.Radio(
                    [(catalogue(code)["language.name"], code) for code in LANGUAGES],
                    value="en",
                    label=en("language.switch"),
                    elem_id="language",
                    scale=0,
                    min_width=260,
                )
            with words(gr.Tab(en("tab.chat"), elem_id="chat-tab"), label="tab.chat"):
                shown = gr.State([])
                said = gr.State([])
                ids = gr.State({})
                rated = gr.State("")
                kept = gr.BrowserState({}, storage_key="tanya-chats", secret=self.storage_secret)
                # the page's layout (sent to every visitor) names no collection: each picker is filled for
                # its caller on load, and any value that comes back is checked by the handler, not by Gradio
                asking = words(
                    gr.Dropdown(
                        choices=[],
                        value=[],
                        multiselect=True,
                        allow_custom_value=True,
                        visible=False,
                        label=en("chat.collections"),
                        elem_id="asking",
                    ),
                    label="chat.collections",
                )
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = words(
                            gr.Chatbot(
                                label=en("chat.label"),
                                height=460,
                                buttons=["copy"],
                                elem_id="chat",
                                feedback_options=("Like", "Dislike"),
                            ),
                            label="chat.label",
                        )
                        with gr.Group(visible=False, elem_id="feedback-form") as form:
                            words(gr.Markdown(f"**{en('feedback.title')}**"), value=lambda tr: f"**{tr('feedback.title')}**")
                            reason = words(
                                gr.Radio(reason_choices(en), label=en("feedback.reason"), elem_id="feedback-reason"),
                                label="feedback.reason",
                                choices=reason_choices,
                            )
                            comment = words(
                                gr.Textbox(
                                    label=en("feedback.comment"),
                                    placeholder=en("feedback.comment_placeholder"),
                                    lines=2,
                                    max_length=MAX_COMMENT,
                                    elem_id="feedback-comment",
                                ),
                                label="feedback.comment",
                                placeholder="feedback.comment_placeholder",
                            )
                            send_reason = words(
                                gr.Button(en("feedback.send"), size="sm", elem_id="feedback-send"), value="feedback.send"
                            )
                        note = gr.Markdown(elem_id="feedback-note")
                        with gr.Row():
                            box = words(
                                gr.Textbox(
                                    label=en("chat.question_label"),
                                    placeholder=en("chat.placeholder"),
                                    show_label=False,
                                    scale=5,
                                    elem_id="question",
                                ),
                                label="chat.question_label",
                                placeholder="chat.placeholder",
                            )
                            send = words(gr.Button(en("chat.ask"), variant="primary", scale=1, elem_id="ask"), value="chat.ask")
                        with words(gr.Accordion(en("chat.dates"), open=False, elem_id="dates"), label="chat.dates"):
                            with gr.Row():
                                since = words(
                                    gr.Textbox(label=en("chat.since"), placeholder=en("chat.date_format"), elem_id="since"),
                                    label="chat.since",
                                    placeholder="chat.date_format",
                                )
                                until = words(
                                    gr.Textbox(label=en("chat.until"), placeholder=en("chat.date_format"), elem_id="until"),
                                    label="chat.until",
                                    placeholder="chat.date_format",
                                )
                        with gr.Row():
                            written = words(
                                gr.Checkbox(
                                    value=bool(settings.llm),
                                    visible=bool(settings.llm),
                                    elem_id="written",
                                    label=en("chat.written", model=settings.llm),
                                ),
                                label=lambda tr: tr("chat.written", model=settings.llm),
                            )
                        with gr.Row():
                            past = words(
                                gr.Dropdown(choices=[], value=None, label=en("chat.kept"), scale=4, elem_id="past-chats"),
                                label="chat.kept",
                            )
                            new = words(gr.Button(en("chat.new"), size="sm", scale=1, elem_id="new-chat"), value="chat.new")
                            delete = words(
                                gr.Button(en("chat.delete"), size="sm", scale=1, elem_id="delete-chat"), value="chat.delete"
                            )
                            export = words(
                                gr.DownloadButton(en("chat.export"), value=None, size="sm", scale=1, elem_id="export"),
                                label="chat.export",
                            )
                        example_list = words(
                            gr.Dataset(
                                components=[box],
                                samples=examples(en),
                                label=en("chat.examples"),
                                type="values",
                                elem_id="examples",
                            ),
                            label="chat.examples",
                            samples=examples,
                        )
                    with gr.Column(scale=2):
                        words(gr.Markdown(f"### {en('chat.sources')}"), value=lambda tr: f"### {tr('chat.sources')}")
                        sources = gr.HTML(elem_id="sources")
            with words(gr.Tab(en("tab.add"), visible=False, elem_id="add-tab"), label="tab.add") as add_tab:
                mb = f"{settings.max_file_mb:g}"
                intro = lambda tr: tr("add.intro", suffixes=", ".join(SUPPORTED_SUFFIXES), mb=mb)  # noqa: E731
                words(gr.Markdown(intro(en)), value=intro)
                target = words(
                    gr.Dropdown(choices=[], allow_custom_value=True, visible=False, label=en("add.target"), elem_id="target"),
                    label="add.target",
                )
                upload = words(
                    gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label=en("add.files"), elem_id="upload"),
                    label="add.files",
                )
                add = words(gr.Button(en("add.add"), variant="primary", elem_id="add"), value="add.add")
                # the library refuses folder import without a root, whatever the page shows; the root's
                # path is not shown (the page's layout is visible to every reader)
                with gr.Row(visible=bool(settings.import_root)):
                    folder = words(gr.Textbox(label=en("add.folder"), scale=4, elem_id="folder"), label="add.folder")
                    add_dir = words(gr.Button(en("add.add_folder"), scale=1, elem_id="add-folder"), value="add.add_folder")
                with words(gr.Accordion(en("add.sources"), open=False, elem_id="sources-box"), label="add.sources"):
                    source_box = words(gr.Textbox(label=en("add.source"), elem_id="source"), label="add.source")
                    with gr.Row():
                        add_source = words(
                            gr.Button(en("add.add_source"), size="sm", elem_id="add-source"), value="add.add_source"
                        )
                        remove_source = words(
                            gr.Button(en("add.remove_source"), size="sm", elem_id="remove-source"), value="add.remove_source"
                        )
                        fetch_now = words(
                            gr.Button(en("add.fetch"), size="sm", variant="primary", elem_id="fetch-sources"), value="add.fetch"
                        )
                    feeds = gr.Markdown(elem_id="feeds")
                rebuild_button = words(
                    gr.Button(en("add.rebuild"), variant="stop", size="sm", elem_id="rebuild"), value="add.rebuild"
                )
                result = gr.Markdown(elem_id="add-result")
            with words(gr.Tab(en("tab.collection"), elem_id="collection-tab"), label="tab.collection"):
                browsing = words(
                    gr.Dropdown(
                        choices=[], allow_custom_value=True, visible=False, label=en("collection.label"), elem_id="browsing"
                    ),
                    label="collection.label",
                )
                facts = gr.Markdown(elem_id="facts")
                search = words(
                    gr.Textbox(
                        label=en("collection.search_label"),
                        placeholder=en("collection.search"),
                        show_label=False,
                        elem_id="collection-search",
                    ),
                    label="collection.search_label",
                    placeholder="collection.search",
                )
                table = gr.Dataframe(headers=columns(en), interactive=False, elem_id="collection")
                words(gr.Markdown(en("collection.click")), value="collection.click")
                opened = gr.State("")
                with gr.Row(visible=False, elem_id="article-actions") as actions:
                    remove = words(
                        gr.Button(en("collection.remove"), variant="stop", size="sm", elem_id="remove"), value="collection.remove"
                    )
                with gr.Row(visible=False, elem_id="confirm-remove") as confirm:
                    confirm_text = gr.Markdown(elem_id="confirm-text")
                    yes = words(
                        gr.Button(en("collection.remove_yes"), variant="stop", size="sm", elem_id="remove-yes"),
                        value="collection.remove_yes",
                    )
                    no = words(
                        gr.Button(en("collection.remove_no"), size="sm", elem_id="remove-no"), value="collection.remove_no"
                    )
                removed_note = gr.Markdown(elem_id="remove-result")
                article = gr.HTML(elem_id="article")
            with words(gr.Tab(en("tab.quality"), visible=False, elem_id="quality-tab"), label="tab.quality") as quality_tab:
                words(gr.Markdown(en("quality.intro")), value="quality.intro")
                with gr.Row():
                    judged = words(
                        gr.Dropdown(
                            choices=[], allow_custom_value=True, visible=False, label=en("quality.collection"), elem_id="judged"
                        ),
                        label="quality.collection",
                    )
                    days = words(
                        gr.Radio(list(DAYS), value=30, label=en("quality.days"), elem_id="quality-days"), label="quality.days"
                    )
                    refresh = words(
                        gr.Button(en("quality.refresh"), size="sm", elem_id="quality-refresh"), value="quality.refresh"
                    )
                summary = gr.Markdown(elem_id="quality-summary")
                with gr.Row():
                    per_day = words(
                        gr.BarPlot(
                            x="day",
                            y="count",
                            color="what",
                            label=en("quality.per_day"),
                            color_title=en("quality.what"),
                            elem_id="quality-days-plot",
                        ),
                        label="quality.per_day",
                        x_title="quality.day",
                        y_title="quality.count",
                        color_title="quality.what",
                    )
                    reasons_plot = words(
                        gr.BarPlot(x="reason", y="count", label=en("quality.reasons"), elem_id="quality-reasons-plot"),
                        label="quality.reasons",
                        x_title="quality.reason",
                        y_title="quality.count",
                    )
                with gr.Row():
                    reason_filter = words(
                        gr.Dropdown(
                            reason_choices(en, any_reason=True), value="", label=en("quality.reason"), elem_id="quality-reason"
                        ),
                        label="quality.reason",
                        choices=lambda tr: reason_choices(tr, any_reason=True),
                    )
                    quality_search = words(
                        gr.Textbox(
                            label=en("quality.search_label"),
                            placeholder=en("quality.search"),
                            show_label=False,
                            elem_id="quality-search",
                        ),
                        label="quality.search_label",
                        placeholder="quality.search",
                    )
                words(gr.Markdown(f"### {en('quality.list')}"), value=lambda tr: f"### {tr('quality.list')}")
                disliked = words(
                    gr.Dataframe(headers=list_columns(en), interactive=False, wrap=True, elem_id="quality-list"),
                    headers=list_columns,
                )
                quality_export = words(
                    gr.DownloadButton(en("quality.export"), value=None, size="sm", elem_id="quality-export"),
                    label="quality.export",
                )

            # -- wiring ----------------------------------------------------------------------------
            labelled = words.components()
            ed = self.editing
            shown_outputs = [chat, shown, sources, said, kept, past, export, ids, form, note]
            turn = [box, shown, said, ids, written, kept, asking, since, until, lang]
            send.click(self.respond, turn, [box, *shown_outputs])
            box.submit(self.respond, turn, [box, *shown_outputs])
            example_list.click(lambda sample: sample[0] if isinstance(sample, list) and sample else "", example_list, box)
            chat.like(self.like, [ids, lang], [rated, form, note])
            send_reason.click(self.explain, [rated, reason, comment, lang], [form, note, comment])
            past.input(self.switch, [past, kept, lang], shown_outputs)
            new.click(self.new_chat, [kept, lang], shown_outputs)
            delete.click(self.delete_chat, [kept, lang], shown_outputs)
            updated = [result, table, facts, browsing]
            add.click(ed.add_files, [upload, target, lang], updated, concurrency_limit=1, concurrency_id="index")
            add_dir.click(ed.add_folder, [folder, target, lang], updated, concurrency_limit=1, concurrency_id="index")
            rebuild_button.click(ed.rebuild, [target, lang], updated, concurrency_limit=1, concurrency_id="index")
            add_source.click(ed.add_source, [source_box, target, lang], [result, feeds])
            remove_source.click(ed.remove_source, [source_box, target, lang], [result, feeds])
            fetch_now.click(ed.fetch_sources, [target, lang], [*updated, feeds], concurrency_limit=1, concurrency_id="index")
            target.input(ed.source_list, [target, lang], feeds)
            search.change(ed.search, [search, browsing, lang], table)
            browse_outputs = [table, facts, opened, article, actions]
            browsing.input(ed.collection, [browsing, lang], browse_outputs)
            table.select(ed.open_article, [browsing, lang], [opened, article, actions, confirm, removed_note])
            remove.click(ed.ask_remove, [opened, browsing, lang], [confirm, confirm_text])
            no.click(lambda: gr.update(visible=False), None, confirm)
            yes.click(
                ed.remove_article,
                [opened, search, browsing, lang],
                [removed_note, table, facts, article, actions, confirm],
                concurrency_limit=1,
                concurrency_id="index",
            )
            quality_inputs = [judged, days, reason_filter, quality_search, lang]
            quality_outputs = [summary, per_day, reasons_plot, disliked, quality_export]
            for trigger in (refresh.click, judged.input, days.input, reason_filter.input, quality_search.submit):
                trigger(self.quality.show, quality_inputs, quality_outputs)
            switch.input(self.switch_language, switch, [lang, stored_lang, *labelled]).then(
                ed.collection, [browsing, lang], browse_outputs
            ).then(ed.source_list, [target, lang], feeds).then(self.quality.show, quality_inputs, quality_outputs)
            # the page's words and the kept chat in one first step: a question asked while the rest loads is
            # not overwritten by a chat restored after it
            page.load(self.open_page, [stored_lang, kept], [lang, switch, *labelled, *shown_outputs]).then(
                self.choices, None, [asking, browsing, target, add_tab, judged, quality_tab]
            ).then(ed.collection, [browsing, lang], browse_outputs).then(ed.source_list, [target, lang], feeds).then(
                self.quality.show, quality_inputs, quality_outputs
            )
        return page
