"""The chat page's layout: every component, its words in the page's language (qa/server/i18n.py), and
which handler of `Page` (qa/server/page.py) each event calls. Laid out once, the same for every
visitor: it names no collection and no server path; what a visitor may see is filled in on load.
"""

from __future__ import annotations

import gradio as gr

from ..ingest.documents import SUPPORTED_SUFFIXES
from .feedback import MAX_COMMENT
from .i18n import LANGUAGES, Word, catalogue, texts
from .page import Page
from .quality_view import DAYS, list_columns, reason_choices
from .render import columns, examples


def build_page(page: Page) -> gr.Blocks:
    """The page's Blocks, wired to `page`'s handlers."""
    settings = page.library.settings
    words = page.words
    en = texts("en")
    with gr.Blocks(title="Tanya") as blocks:
        lang = gr.State("en")
        stored_lang = gr.BrowserState("", storage_key="tanya-language", secret=page.storage_secret)
        with gr.Row():
            words.make(gr.Markdown, value=Word(lambda tr: f"# Tanya\n{tr('page.intro')}"))
            # the switch names each language in itself, under a label in both
            switch = gr.Radio(
                [(catalogue(code)["language.name"], code) for code in LANGUAGES],
                value="en",
                label=en("language.switch"),
                elem_id="language",
                scale=0,
                min_width=260,
            )
        with words.make(gr.Tab, label=Word("tab.chat"), elem_id="chat-tab"):
            shown = gr.State([])
            said = gr.State([])
            ids = gr.State({})
            rated = gr.State("")
            kept = gr.BrowserState({}, storage_key="tanya-chats", secret=page.storage_secret)
            # the page's layout (sent to every visitor) names no collection: each picker is filled for
            # its caller on load, and any value that comes back is checked by the handler, not by Gradio
            asking = words.make(
                gr.Dropdown,
                choices=[],
                value=[],
                multiselect=True,
                allow_custom_value=True,
                visible=False,
                label=Word("chat.collections"),
                elem_id="asking",
            )
            with gr.Row():
                with gr.Column(scale=3):
                    chat = words.make(
                        gr.Chatbot,
                        label=Word("chat.label"),
                        height=460,
                        buttons=["copy"],
                        elem_id="chat",
                        feedback_options=("Like", "Dislike"),
                    )
                    with gr.Group(visible=False, elem_id="feedback-form") as form:
                        words.make(gr.Markdown, value=Word(lambda tr: f"**{tr('feedback.title')}**"))
                        reason = words.make(
                            gr.Radio, choices=Word(reason_choices), label=Word("feedback.reason"), elem_id="feedback-reason"
                        )
                        comment = words.make(
                            gr.Textbox,
                            label=Word("feedback.comment"),
                            placeholder=Word("feedback.comment_placeholder"),
                            lines=2,
                            max_length=MAX_COMMENT,
                            elem_id="feedback-comment",
                        )
                        send_reason = words.make(gr.Button, value=Word("feedback.send"), size="sm", elem_id="feedback-send")
                    note = gr.Markdown(elem_id="feedback-note")
                    with gr.Row():
                        box = words.make(
                            gr.Textbox,
                            label=Word("chat.question_label"),
                            placeholder=Word("chat.placeholder"),
                            show_label=False,
                            scale=5,
                            elem_id="question",
                        )
                        send = words.make(gr.Button, value=Word("chat.ask"), variant="primary", scale=1, elem_id="ask")
                    with words.make(gr.Accordion, label=Word("chat.dates"), open=False, elem_id="dates"):
                        with gr.Row():
                            since = words.make(
                                gr.Textbox, label=Word("chat.since"), placeholder=Word("chat.date_format"), elem_id="since"
                            )
                            until = words.make(
                                gr.Textbox, label=Word("chat.until"), placeholder=Word("chat.date_format"), elem_id="until"
                            )
                    with gr.Row():
                        written = words.make(
                            gr.Checkbox,
                            value=bool(settings.llm.model),
                            visible=bool(settings.llm.model),
                            elem_id="written",
                            label=Word(lambda tr: tr("chat.written", model=settings.llm.model)),
                        )
                    with gr.Row():
                        past = words.make(
                            gr.Dropdown, choices=[], value=None, label=Word("chat.kept"), scale=4, elem_id="past-chats"
                        )
                        new = words.make(gr.Button, value=Word("chat.new"), size="sm", scale=1, elem_id="new-chat")
                        delete = words.make(gr.Button, value=Word("chat.delete"), size="sm", scale=1, elem_id="delete-chat")
                        export = words.make(
                            gr.DownloadButton, label=Word("chat.export"), value=None, size="sm", scale=1, elem_id="export"
                        )
                    example_list = words.make(
                        gr.Dataset,
                        components=[box],
                        samples=Word(examples),
                        label=Word("chat.examples"),
                        type="values",
                        elem_id="examples",
                    )
                with gr.Column(scale=2):
                    words.make(gr.Markdown, value=Word(lambda tr: f"### {tr('chat.sources')}"))
                    sources = gr.HTML(elem_id="sources")
        with words.make(gr.Tab, label=Word("tab.add"), visible=False, elem_id="add-tab") as add_tab:
            mb = f"{settings.ingest.max_file_mb:g}"
            intro = lambda tr: tr("add.intro", suffixes=", ".join(SUPPORTED_SUFFIXES), mb=mb)  # noqa: E731
            words.make(gr.Markdown, value=Word(intro))
            target = words.make(
                gr.Dropdown, choices=[], allow_custom_value=True, visible=False, label=Word("add.target"), elem_id="target"
            )
            upload = words.make(
                gr.File, file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label=Word("add.files"), elem_id="upload"
            )
            add = words.make(gr.Button, value=Word("add.add"), variant="primary", elem_id="add")
            # the library refuses folder import without a root, whatever the page shows; the root's
            # path is not shown (the page's layout is visible to every reader)
            with gr.Row(visible=bool(settings.ingest.import_root)):
                folder = words.make(gr.Textbox, label=Word("add.folder"), scale=4, elem_id="folder")
                add_dir = words.make(gr.Button, value=Word("add.add_folder"), scale=1, elem_id="add-folder")
            with words.make(gr.Accordion, label=Word("add.sources"), open=False, elem_id="sources-box"):
                source_box = words.make(gr.Textbox, label=Word("add.source"), elem_id="source")
                with gr.Row():
                    add_source = words.make(gr.Button, value=Word("add.add_source"), size="sm", elem_id="add-source")
                    remove_source = words.make(gr.Button, value=Word("add.remove_source"), size="sm", elem_id="remove-source")
                    fetch_now = words.make(
                        gr.Button, value=Word("add.fetch"), size="sm", variant="primary", elem_id="fetch-sources"
                    )
                feeds = gr.Markdown(elem_id="feeds")
            rebuild_button = words.make(gr.Button, value=Word("add.rebuild"), variant="stop", size="sm", elem_id="rebuild")
            result = gr.Markdown(elem_id="add-result")
        with words.make(gr.Tab, label=Word("tab.collection"), elem_id="collection-tab"):
            browsing = words.make(
                gr.Dropdown,
                choices=[],
                allow_custom_value=True,
                visible=False,
                label=Word("collection.label"),
                elem_id="browsing",
            )
            facts = gr.Markdown(elem_id="facts")
            search = words.make(
                gr.Textbox,
                label=Word("collection.search_label"),
                placeholder=Word("collection.search"),
                show_label=False,
                elem_id="collection-search",
            )
            table = gr.Dataframe(headers=columns(en), interactive=False, elem_id="collection")
            words.make(gr.Markdown, value=Word("collection.click"))
            opened = gr.State("")
            with gr.Row(visible=False, elem_id="article-actions") as actions:
                remove = words.make(gr.Button, value=Word("collection.remove"), variant="stop", size="sm", elem_id="remove")
            with gr.Row(visible=False, elem_id="confirm-remove") as confirm:
                confirm_text = gr.Markdown(elem_id="confirm-text")
                yes = words.make(gr.Button, value=Word("collection.remove_yes"), variant="stop", size="sm", elem_id="remove-yes")
                no = words.make(gr.Button, value=Word("collection.remove_no"), size="sm", elem_id="remove-no")
            removed_note = gr.Markdown(elem_id="remove-result")
            article = gr.HTML(elem_id="article")
        with words.make(gr.Tab, label=Word("tab.quality"), visible=False, elem_id="quality-tab") as quality_tab:
            words.make(gr.Markdown, value=Word("quality.intro"))
            with gr.Row():
                judged = words.make(
                    gr.Dropdown,
                    choices=[],
                    allow_custom_value=True,
                    visible=False,
                    label=Word("quality.collection"),
                    elem_id="judged",
                )
                days = words.make(gr.Radio, choices=list(DAYS), value=30, label=Word("quality.days"), elem_id="quality-days")
                refresh = words.make(gr.Button, value=Word("quality.refresh"), size="sm", elem_id="quality-refresh")
            summary = gr.Markdown(elem_id="quality-summary")
            with gr.Row():
                per_day = words.make(
                    gr.BarPlot,
                    x="day",
                    y="count",
                    color="what",
                    label=Word("quality.per_day"),
                    color_title=Word("quality.what"),
                    elem_id="quality-days-plot",
                    x_title=Word("quality.day"),
                    y_title=Word("quality.count"),
                )
                reasons_plot = words.make(
                    gr.BarPlot,
                    x="reason",
                    y="count",
                    label=Word("quality.reasons"),
                    elem_id="quality-reasons-plot",
                    x_title=Word("quality.reason"),
                    y_title=Word("quality.count"),
                )
            with gr.Row():
                reason_filter = words.make(
                    gr.Dropdown,
                    choices=Word(lambda tr: reason_choices(tr, any_reason=True)),
                    value="",
                    label=Word("quality.reason"),
                    elem_id="quality-reason",
                )
                quality_search = words.make(
                    gr.Textbox,
                    label=Word("quality.search_label"),
                    placeholder=Word("quality.search"),
                    show_label=False,
                    elem_id="quality-search",
                )
            words.make(gr.Markdown, value=Word(lambda tr: f"### {tr('quality.list')}"))
            disliked = words.make(gr.Dataframe, headers=Word(list_columns), interactive=False, wrap=True, elem_id="quality-list")
            quality_export = words.make(
                gr.DownloadButton, label=Word("quality.export"), value=None, size="sm", elem_id="quality-export"
            )

        # -- wiring ----------------------------------------------------------------------------
        labelled = words.components()
        ed = page.editing
        shown_outputs = [chat, shown, sources, said, kept, past, export, ids, form, note]
        turn = [box, shown, said, ids, written, kept, asking, since, until, lang]
        # Progress is shown on one or two components per event (`show_progress_on`): Gradio's page keeps a
        # loading status for every output an event ever had and, on every later event, copies the state of
        # each (of a tab, its whole subtree). With progress on all outputs of the events that relabel the
        # page, every answer took ~40 ms longer in the browser (BENCHMARKS.md, *Feedback on every answer*).
        busy = [chat, sources]
        send.click(page.respond, turn, [box, *shown_outputs], show_progress_on=busy)
        box.submit(page.respond, turn, [box, *shown_outputs], show_progress_on=busy)
        example_list.click(lambda sample: sample[0] if isinstance(sample, list) and sample else "", example_list, box)
        chat.like(page.like, [ids, lang], [rated, form, note], show_progress_on=note)
        send_reason.click(page.explain, [rated, reason, comment, lang], [form, note, comment], show_progress_on=note)
        past.input(page.switch, [past, kept, lang], shown_outputs, show_progress_on=busy)
        new.click(page.new_chat, [kept, lang], shown_outputs, show_progress_on=busy)
        delete.click(page.delete_chat, [kept, lang], shown_outputs, show_progress_on=busy)
        updated = [result, table, facts, browsing]
        add.click(
            ed.add_files, [upload, target, lang], updated, show_progress_on=result, concurrency_limit=1, concurrency_id="index"
        )
        add_dir.click(
            ed.add_folder, [folder, target, lang], updated, show_progress_on=result, concurrency_limit=1, concurrency_id="index"
        )
        rebuild_button.click(
            ed.rebuild, [target, lang], updated, show_progress_on=result, concurrency_limit=1, concurrency_id="index"
        )
        add_source.click(ed.add_source, [source_box, target, lang], [result, feeds])
        remove_source.click(ed.remove_source, [source_box, target, lang], [result, feeds])
        fetch_now.click(
            ed.fetch_sources,
            [target, lang],
            [*updated, feeds],
            show_progress_on=result,
            concurrency_limit=1,
            concurrency_id="index",
        )
        target.input(ed.source_list, [target, lang], feeds)
        search.change(ed.search, [search, browsing, lang], table)
        browse_outputs = [table, facts, opened, article, actions]
        browsing.input(ed.collection, [browsing, lang], browse_outputs, show_progress_on=table)
        table.select(
            ed.open_article, [browsing, lang], [opened, article, actions, confirm, removed_note], show_progress_on=article
        )
        remove.click(ed.ask_remove, [opened, browsing, lang], [confirm, confirm_text], show_progress_on=confirm_text)
        no.click(lambda: gr.update(visible=False), None, confirm, show_progress_on=confirm_text)
        yes.click(
            ed.remove_article,
            [opened, search, browsing, lang],
            [removed_note, table, facts, article, actions, confirm],
            show_progress_on=removed_note,
            concurrency_limit=1,
            concurrency_id="index",
        )
        quality_inputs = [judged, days, reason_filter, quality_search, lang]
        quality_outputs = [summary, per_day, reasons_plot, disliked, quality_export]
        for trigger in (refresh.click, judged.input, days.input, reason_filter.input, quality_search.submit):
            trigger(page.quality.show, quality_inputs, quality_outputs, show_progress_on=summary)
        switch_words = switch.input(page.switch_language, switch, [lang, stored_lang, *labelled], show_progress_on=switch)
        # the page's words and the kept chat in one first step: a question asked while the rest loads is
        # not overwritten by a chat restored after it
        opened_page = blocks.load(
            page.open_page, [stored_lang, kept], [lang, switch, *labelled, *shown_outputs], show_progress_on=chat
        ).then(page.choices, None, [asking, browsing, target, add_tab, judged, quality_tab], show_progress_on=asking)
        for event in (switch_words, opened_page):  # then the views that hold words of their own
            event.then(ed.collection, [browsing, lang], browse_outputs, show_progress_on=table).then(
                ed.source_list, [target, lang], feeds
            ).then(page.quality.show, quality_inputs, quality_outputs, show_progress_on=summary)
    return blocks
