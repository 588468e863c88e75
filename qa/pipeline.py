"""Tanya: the library's front door. Loads the served index, answers questions, (re)builds the index.

from qa import Tanya
tanya = Tanya()                     # Settings.from_env()
tanya.articles.index(["seeds"])     # build or update
answer = tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, TypedDict, Unpack

import numpy as np

from .ask.answer import abstain_message, extract_answer
from .ask.choosing import chooser
from .ask.citation_check import declarative, support_features, support_probability, support_table
from .ask.conversation import parse_messages, understand
from .ask.decision import ReaderPolicy
from .ask.forms import SPAN
from .ask.generation import STOP, checked_answer, prompt, proposed_answer, span_prompt
from .ask.llm import chat_model, passages_for, stream
from .ask.question import Question, analyse
from .ask.reader import Reader, get_reader
from .ask.retrieval import Retriever, Searcher
from .ask.when import Dates, prefer_time
from .errors import LLMUnavailable, QuestionError, UnsupportedLanguage
from .index.base import IndexBackend, Snapshot
from .index.collection import Collection
from .index.embedding import Embedder, embedder_for
from .index.factory import backend_for
from .records import Answer, Hit, Statement
from .settings import DEFAULT_COLLECTION, Settings
from .text import other_language, stem


class AskOptions(TypedDict, total=False):
    """How a question is asked (`Asker.ask(question, **options)`); each left out takes the settings'."""

    k: int | None  # passages searched (default settings.retrieval.top_k)
    retriever: str | None  # "hybrid", "dense" or "bm25"
    llm: str | None  # a chat model writes the answer ("" = extract it)
    dates: Dates | None  # only articles published since/until, and the day "tahun lalu" is seen from


class Asker(ABC):
    """Answers questions from what `searcher()` finds: one collection (Tanya) or several (JoinedAsker,
    qa/library.py). `name` is the collection (or "a+b") its passages are marked with."""

    def __init__(self, settings: Settings | None = None, name: str = DEFAULT_COLLECTION) -> None:
        self.settings = settings or Settings.from_env()
        self.name = name

    @abstractmethod
    def searcher(self) -> Searcher:
        """What questions are searched with."""

    @abstractmethod
    def has_index(self) -> bool:
        """Whether there is something to search."""

    @abstractmethod
    def warm_up(self) -> None:
        """Load the index and the models now rather than on the first question."""

    @property
    def embedder(self) -> Embedder:
        """The configured embedding model (loaded once per process)."""
        return embedder_for(self.settings)

    @property
    def reader(self) -> Reader | None:
        """The configured reader (`settings.reader.kind`), loaded once per process; None = the linear span scorer."""
        return get_reader(self.settings.reader.kind, self.settings.reader.threads, self.settings.reader.batch_ms)

    def ask(self, question: str, **options: Unpack[AskOptions]) -> Answer:
        """Answer one question from the served index, with citations, or abstain.

        With a language model (`llm`, default `settings.llm.model`) the answer is written by it and its
        citations checked; otherwise, or when the model fails, it is extracted from the passages.
        `options`: see AskOptions."""
        return final_answer(self.ask_stream(question, **options))

    def converse(self, messages: list[dict], **options: Unpack[AskOptions]) -> Answer:
        """Answer the last question of a conversation given as OpenAI-style messages
        (`[{"role": "user"|"assistant", "content": ...}, ...]`), earlier turns used for follow-ups.
        `answer.asked` is the question as written, `answer.question` how it was understood."""
        return final_answer(self.converse_stream(messages, **options))

    def converse_stream(self, messages: list[dict], **options: Unpack[AskOptions]) -> Iterator[str | Answer]:
        """Like `converse`, a written answer yielded as it grows (see `ask_stream`).

        A question that may lean on the conversation has several forms (qa/conversation.py), likeliest
        first: each is answered in turn until one finds an answer; then, with a language model, the
        answer is written for that form."""
        question, turns = parse_messages(messages)
        question = check_question(question, self.settings.server.max_question_chars)
        llm = options.get("llm")
        spec = self.settings.llm.model if llm is None else llm
        forms = understand(question, turns, self.settings.with_values(llm=spec) if spec else None)
        started = time.perf_counter()
        chosen, tried = forms.candidates[0], None
        if len(forms.candidates) > 1:
            answers = []
            for form in forms.candidates:
                answers.append(self.ask(form, **(options | {"llm": ""})))
                if not answers[-1].abstained and forms.kind == "follow-up":
                    break
            tried = (
                max(answers, key=_confidence)
                if forms.kind == "unsure"
                else next((a for a in answers if not a.abstained), answers[0])
            )
            chosen = tried.question
        understanding = time.perf_counter() - started
        if tried is not None and not spec:
            tried.asked, tried.timings_ms["total"] = question, understanding * 1000
            yield tried
            return
        for event in self.ask_stream(chosen, **(options | {"llm": spec})):
            if isinstance(event, Answer):
                event.asked = question
                if tried is not None:
                    event.timings_ms["understand"] = understanding * 1000
                    event.timings_ms["total"] += understanding * 1000
            yield event

    def ask_stream(self, question: str, **options: Unpack[AskOptions]) -> Iterator[str | Answer]:
        """Like `ask`, but a written answer is yielded as it grows (str, the reply so far) before the
        checked Answer, which always comes last."""
        unknown = set(options) - set(AskOptions.__annotations__)
        if unknown:
            raise TypeError(f"ask() got unexpected options: {', '.join(sorted(unknown))}")
        q = analyse(check_question(question, self.settings.server.max_question_chars), options.get("dates"))
        searcher, reader = self.searcher(), self.reader  # loaded on the first question, not timed as part of it
        watch = Stopwatch()
        if not q.keywords:  # "How?", "Siapa dia?": nothing to look for, so no passage could answer it
            nothing = Answer(q.text, q.language, "", abstain_message(q.language), abstained=True, hits=[])
            nothing.notice = NOTHING_ASKED.get(q.language, NOTHING_ASKED["en"])
            yield watch.stamped(nothing)
            return
        extracted = self._extracted(q, searcher, reader, options.get("k"), options.get("retriever"), watch)
        spec = self.settings.llm.model if options.get("llm") is None else options.get("llm")
        if not spec:
            yield watch.stamped(extracted)
            return
        yield from self._written(q, extracted, self.settings.with_values(llm=spec), watch)

    def _extracted(
        self, q: Question, searcher: Searcher, reader: Reader | None, k: int | None, retriever: str | None, watch: Stopwatch
    ) -> Answer:
        """The answer read from the passages found (timed: retrieve, read, answer)."""
        s = self.settings
        hits = self._search(searcher, q, k, retriever)
        for hit in hits:
            hit.collection = hit.collection or self.name
        watch.lap("retrieve")
        readings = reader.read_top(q, hits, s.reader.passages, s.reader.sure_margin) if reader is not None else None
        # a yes/no, why or how question is answered by the sentence chooser when there is one (the reader's span helps it)
        choosing = chooser() if s.reader.chooser and q.form != SPAN else None
        read = watch.since_lap()
        extracted = extract_answer(
            q, hits, s.reader.min_support, s.reader.passages, readings=readings, policy=ReaderPolicy.of(s), chooser=choosing
        )
        if not extracted.hits and q.time and q.time.window:
            extracted.notice = NO_DATED[extracted.language].format(window=q.time.window)
        watch.lap("answer")  # reading included
        if readings is not None:
            watch.seconds["read"] = read
        return extracted

    def _written(self, q: Question, extracted: Answer, settings: Settings, watch: Stopwatch) -> Iterator[str | Answer]:
        """The answer a language model writes from the passages read (in the reader's order), yielded as
        it grows, then checked against them (timed: generate, check); the extracted answer when the model
        is unavailable or writes nothing a passage supports."""
        hits = extracted.hits
        shown = hits[: passages_for(settings)]
        reply = ""
        try:
            model = chat_model(settings)
            if settings.llm.mode == "proposer":
                yield watch.stamped(self._proposed(q, extracted, model))
                return
            for piece in stream(model, prompt(q, shown), settings.llm.timeout, STOP):
                reply += piece
                yield reply
        except LLMUnavailable as exc:
            extracted.notice = f"{exc}. " + FALLBACK[extracted.language]
            yield watch.stamped(extracted)
            return
        watch.lap("generate")

        def table(statements: list[Statement]) -> list[dict[int, float]]:
            return support_table(statements, hits, q, self.similarities)

        # the model saw the first passages; the check may also cite the other retrieved ones
        written = checked_answer(q, hits, reply, table, settings.llm.unsupported, shown=len(shown))
        watch.lap("check")
        written.raw_reply = reply
        if written.abstained and not extracted.abstained:
            # nothing the model wrote is both new and backed by a passage: the extracted answer is
            extracted.notice = UNVERIFIED[extracted.language]
            extracted.statements, extracted.citation_quality = written.statements, written.citation_quality
            extracted.raw_reply = reply
            written = extracted
        yield watch.stamped(written)

    def _search(self, searcher: Searcher, q: Question, k: int | None, mode: str | None) -> list[Hit]:
        """The passages to read: the best `k`, or for a question naming a time, those about that time
        among a deeper pool (qa/ask/when.py)."""
        s = self.settings.retrieval
        if not (s.time_preference and q.time and q.time.prefers):
            return searcher.search(q, k=k, mode=mode)
        pool = searcher.search(q, k=max(k or s.top_k, s.time_pool), mode=mode)
        return prefer_time(q.time, pool, s.time_margin)[: k or s.top_k]

    def _proposed(self, q: Question, extracted: Answer, model: Any) -> Answer:
        """The extracted answer, its span proposed by the model when the support model prefers it."""
        if extracted.abstained:
            return extracted
        passage = extracted.citations[0].text
        reply = "".join(stream(model, span_prompt(q.text, passage), self.settings.llm.timeout, ["\n"]))
        hit = next(h for h in extracted.hits if h.chunk.chunk_id == extracted.citations[0].chunk_id)

        def prefer(proposal: str, current: str) -> bool:
            claims = [declarative(q.text, proposal), declarative(q.text, current)]
            cos = self.similarities(claims, [hit])
            p = [support_probability(support_features(c, passage, float(cos[i, 0]), q)) for i, c in enumerate(claims)]
            return p[0] > p[1]

        return proposed_answer(extracted, reply, prefer)

    def similarities(self, sentences: list[str], hits: list[Hit]) -> np.ndarray:
        """Cosine similarity of each sentence (embedded as a query) with each hit's stored passage vector."""
        if not sentences or not hits:
            return np.zeros((len(sentences), len(hits)), np.float32)
        passages = self.searcher().passage_vectors(hits)
        return self.embedder.embed_queries(sentences) @ passages.T


class Tanya(Asker):
    """Question answering over one collection: one index directory (or Milvus alias). Several
    collections are kept and asked together through `qa.library.Library`. Its articles (adding,
    removing, listing them; building the index) are `tanya.articles` (qa/index/collection.py)."""

    def __init__(self, settings: Settings | None = None, name: str = DEFAULT_COLLECTION) -> None:
        super().__init__(settings, name)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._retriever: Retriever | None = None
        self._backend: IndexBackend | None = None
        self.articles = Collection(self)

    @property
    def backend(self) -> IndexBackend:
        """Where the index is served from (`settings.store.kind`: the embedded store, or Milvus)."""
        if self._backend is None:
            self._backend = backend_for(self.settings)
        return self._backend

    def retriever(self) -> Retriever:
        """A retriever over the served index, reloaded when a build has published a new version."""
        with self._lock:
            backend = self.backend
            served = backend.served()
            if self._snapshot is None or served != self._snapshot.path:
                snapshot = backend.load(self.settings.embedding.model)
                # the old snapshot is left to the garbage collector: a query may still be using it
                self._snapshot = snapshot
                self._retriever = Retriever(snapshot, self.embedder, self.settings)
            assert self._retriever is not None
            return self._retriever

    def searcher(self) -> Searcher:
        """What questions are searched with: this collection's retriever."""
        return self.retriever()

    def warm_up(self) -> None:
        """Load the index, the models and the stemmer now rather than on the first question."""
        self.retriever()
        _ = self.reader  # loads it
        stem("menawari")

    def snapshot(self) -> Snapshot:
        """The served index version (reloaded when a build has published a new one)."""
        return self.retriever().snapshot

    @property
    def manifest(self) -> dict:
        """The manifest of the served index."""
        return self.snapshot().manifest

    def has_index(self) -> bool:
        """Whether an index has been built in the configured directory."""
        return self.backend.served() is not None


FALLBACK = {
    "en": "Showing the answer extracted from the articles instead.",
    "id": "Jawaban di bawah diambil langsung dari artikel.",
}
NOTHING_ASKED = {
    "en": "The question names nothing to look for in the articles: ask about someone or something, "
    'e.g. "How did Jack Ma react to the offer?"',
    "id": "Pertanyaan ini tidak menyebut apa pun untuk dicari di artikel: tanyakan tentang seseorang atau sesuatu, "
    'misalnya "Bagaimana tanggapan Jack Ma atas tawaran itu?"',
}
NO_DATED = {
    "en": "No article in the index was published in {window} (the dates asked for).",
    "id": "Tidak ada artikel di indeks yang terbit pada {window} (rentang tanggal yang diminta).",
}
UNVERIFIED = {
    "en": "The language model's answer was not supported by the articles, or did not answer the question; "
    "showing the answer extracted from them.",
    "id": "Jawaban model bahasa tidak didukung oleh artikel atau tidak menjawab pertanyaan; "
    "jawaban di bawah diambil langsung dari artikel.",
}


def final_answer(events: Iterable[str | Answer]) -> Answer:
    """The Answer a stream of `ask_stream`/`converse_stream` events ends with."""
    answer: Answer | None = None
    for event in events:
        if isinstance(event, Answer):
            answer = event
    assert answer is not None
    return answer


def _confidence(answer: Answer) -> tuple[bool, float]:
    """Which of the answers to an unsure question's forms to keep: an answer over none, then the
    calibrated confidence (else the reader's margin; without the reader, the supporting sentence's score)."""
    for value in (answer.confidence, answer.reader_margin):
        if value is not None:
            return not answer.abstained, value
    return not answer.abstained, answer.support_score


class Stopwatch:
    """One question's steps, timed by name from its start."""

    def __init__(self) -> None:
        self.started = self.mark = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def since_lap(self) -> float:
        return time.perf_counter() - self.mark

    def lap(self, step: str) -> None:
        """`step` took the time since the last lap (or the start)."""
        now = time.perf_counter()
        self.seconds[step] = now - self.mark
        self.mark = now

    def stamped(self, answer: Answer) -> Answer:
        """`answer` with its steps' times and the total, in milliseconds."""
        answer.timings_ms = {k: v * 1000 for k, v in self.seconds.items()}
        answer.timings_ms["total"] = (time.perf_counter() - self.started) * 1000
        return answer


def check_question(question: str, max_chars: int) -> str:
    """The question stripped, or QuestionError for an empty or over-long one."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is too long ({len(question):,} characters; the limit is {max_chars:,}, QA_MAX_QUESTION_CHARS)"
        )
    question = " ".join(question.split())
    if not question:
        raise QuestionError("the question is empty")
    if (language := other_language(question)) is not None:
        raise UnsupportedLanguage(
            f"this question looks {language}: Tanya reads and answers questions in Indonesian or English. "
            "Tanya menjawab pertanyaan dalam bahasa Indonesia atau Inggris."
        )
    return question
