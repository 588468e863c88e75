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
from ..library import Library
from ..records import Answer, Citation
from ..settings import DEFAULT_COLLECTION
from .chats import Chats, answer_ids, chat_keys, messages_only
from .editing import Editing
from .feedback import MAX_COMMENT, REASONS, FeedbackError, FeedbackStore, FeedbackUnavailable, Given, Rating
from .i18n import LANGUAGES, Texts, Words, chosen_language, texts
from .quality_view import QualityView
from .render import export_file, render_answer, render_sources, user_message
from .users import EDIT, READ, Access
from .visitors import Visitors

LIKED = {True: "Like", False: "Dislike"}


class Page:
    """The page's handlers over a library of collections (qa/server/layout.py lays the page out and
    wires its events to them)."""

    def __init__(self, library: Library, access: Access, feedback: FeedbackStore) -> None:
        self.library = library
        self.visitors = Visitors(library, access)
        self.editing = Editing(self.visitors)
        self.feedback = feedback
        self.quality = QualityView(self.visitors, feedback)
        self.storage_secret, self.seal = chat_keys(library.settings.store.index_dir, library.settings.server.chat_secret)
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
            for event in asker.converse_stream(messages, llm=settings.llm.model if written else "", dates=dates):
                if isinstance(event, Answer):
                    answer = event
                else:  # the written answer as it grows; its citations are checked when it is complete
                    shown[-1]["content"] = html.escape(event) + " ▌"
                    yield "", shown, shown, keep, said, keep, keep, keep, ids, keep, keep
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
        shown_now = self.showing(book, kept, user, tr)
        # the same chat goes on: its thumbs stay as the reader left them, and the 👎 form was closed when asked
        yield ("", shown, *shown_now[1:-2], keep, keep)

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
            return self.library.get(name).articles.document_text(citation.doc_id) if readable(name) else None

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
