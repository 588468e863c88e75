"""The HTTP API, in the OpenAI shape, served by the same process as the page.

    GET  /v1/models              → the collections the key may read, as models (`default` also answers to "tanya")
    POST /v1/chat/completions    → {"model": "tanya", "messages": [...], "stream": false}
    POST /v1/ask                 → {"question": ...} or {"messages": [...]}: the `qa ask --json` object
    POST /v1/feedback            → {"id": ANSWER_ID, "rating": "up"|"down"|null, "reason": ..., "comment": ...}
    GET  /v1/feedback[/ID]       → the caller's own rated answers (or one answer they were given)

Every answer carries an `id` (a chat completion's `id`, `/v1/ask`'s `id`): the answer is recorded with
it (qa/server/feedback.py) so that the key's user can rate it. A rating of an answer that does not
exist or was given to someone else is 404; `rating: null` withdraws it.

Which collections are asked: `model` (a collection, or several joined by "+": "news+archive", so that
any OpenAI client, which can set nothing but the model, asks several), or a `collections` list (for
clients that build the body themselves; it wins over `model`). Absent: `default`. A collection the key
may not read is answered exactly as one that does not exist (404 model_not_found).

A chat completion's message is the cited answer ("Presiden Joko Widodo [1]"); beside `choices` it
carries `citations` (doc id, source, title, paragraph, page, quote, passage, offsets into the
article) and `tanya` (the short answer, whether it abstained, the question as understood). With
`stream: true` the reply comes as server-sent `chat.completion.chunk` events, a written answer as the
model writes it, followed by its checked form when the citation check changed anything; the last
chunk holds the citations and `tanya` (the checked reply among it), then `data: [DONE]`.

Dates: `since`/`until` ("YYYY-MM-DD") ask only articles published then; `today` is the day "last year"
is seen from (default: today). Citations carry each article's `date`.

Keys: `Authorization: Bearer KEY` (`python -m qa user key NAME`); without users on loopback the API
is open. Errors are OpenAI-style JSON (`{"error": {"message", "type", "code"}}`) with a 4xx status;
bodies over `max_request_mb` are refused before they are read whole.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ..ask.when import Dates
from ..errors import EmbedderError, IndexProblem, QuestionError, public_message
from ..library import Library
from ..pipeline import Asker, final_answer
from ..records import Answer
from ..settings import DEFAULT_COLLECTION
from .feedback import FeedbackInvalid, FeedbackNotFound, FeedbackStore, FeedbackUnavailable, Given, Rating, new_id
from .users import READ, Access, User

MODEL = "tanya"  # another name of the default collection
UNAVAILABLE = (IndexProblem, EmbedderError, OSError)


@dataclass(frozen=True)
class Asked:
    """What a request asks: the collections (checked readable), what to ask them through, and the model
    name the answer is given under."""

    asker: Asker
    model: str
    names: list[str]


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(
            {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}},
            status_code=self.status,
            headers=headers,
        )


def citations_json(answer: Answer) -> list[dict[str, Any]]:
    """The citations as the API gives them: where each passage is and the sentence it supports."""
    return [c.to_json() for c in answer.citations]


def _extension(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "label": answer.label or None,
        "confidence": answer.confidence,
        "question": answer.asked or answer.question,
        "understood_as": answer.question,
        "mode": answer.mode,
        "notice": answer.notice,
        "reply": answer.reply,
        "raw_reply": answer.raw_reply,
        "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
    }


def api_router(library: Library, access: Access, feedback: FeedbackStore) -> APIRouter:
    """The /v1 routes over a library of collections; `access` says whose keys are good and who reads
    what; every answer is recorded in `feedback`, where its user may rate it."""
    router = APIRouter(prefix="/v1")
    settings = library.settings
    limit = int(settings.server.max_request_mb * 1024 * 1024)

    def recorded(user: User, answer: Answer, data: dict[str, Any], names: list[str], ident: str = "") -> str | None:
        """Keep the answer for its user's rating; its id, or None when the store cannot take it (the
        answer is given all the same)."""
        said = data.get("messages")
        conversation = [m for m in said[:-1] if isinstance(m, dict)] if isinstance(said, list) else []
        try:
            versions = library.versions(names)
            return feedback.record(Given(user.name, answer, conversation, names, versions, via="api"), ident)
        except FeedbackUnavailable as exc:
            print(f"feedback: {exc}", file=sys.stderr, flush=True)
            return None

    def asked(data: dict[str, Any], user: User) -> Asked:
        """The collections the body picks (`collections`, else `model`), each readable by the caller, and
        the model name to answer with; else 404, the same for a collection that is not there and one the
        caller may not read."""
        wanted, label = data.get("collections"), None
        if wanted is None:
            model = data.get("model", MODEL)
            if not isinstance(model, str):
                raise ApiError(400, "'model' must be a string", "invalid_type")
            wanted, label = model.split("+"), model
        elif not isinstance(wanted, list) or not wanted or not all(isinstance(n, str) for n in wanted) or len(wanted) > 50:
            raise ApiError(400, "'collections' must be a list of 1–50 collection names", "invalid_type")
        names = list(dict.fromkeys(DEFAULT_COLLECTION if n == MODEL else n for n in wanted))
        for name in names:
            if not library.exists(name) or not access.may(user.name, READ, name):
                shown = name if len(name) <= 80 else name[:80] + "…"
                raise ApiError(404, f"the model '{shown}' does not exist", "model_not_found")
        return Asked(library.asker(names), label or "+".join(names), names)

    def caller(request: Request) -> User:
        user = access.by_key(request.headers.get("authorization"))
        if user is None:
            raise ApiError(
                401,
                "a valid API key is needed: Authorization: Bearer KEY (python -m qa user key NAME)",
                "invalid_api_key",
                "authentication_error",
            )
        return user

    async def body(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the request body is larger than {limit:,} bytes (QA_MAX_REQUEST_MB)", "request_too_large")
        raw = bytearray()
        async for piece in request.stream():
            raw += piece
            if len(raw) > limit:
                raise ApiError(413, f"the request body is larger than {limit:,} bytes (QA_MAX_REQUEST_MB)", "request_too_large")
        try:
            data = json.loads(bytes(raw) or b"null")
            # a lone surrogate ("\ud800") parses but is no text: refused here, not met later as a 500
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeError) as exc:  # bad JSON, bad UTF-8, a number of 5,000 digits …
            raise ApiError(400, f"the body is not valid JSON: {str(exc)[:200]}", "invalid_json") from None
        except RecursionError:
            raise ApiError(400, "the body is not valid JSON: nested too deeply", "invalid_json") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object", "invalid_body")
        return data

    def llm_of(data: dict[str, Any]) -> str:
        """A written answer only with the server's configured model, and only if asked for or configured."""
        written = data.get("written")
        if written is not None and not isinstance(written, bool):
            raise ApiError(400, "'written' must be true or false", "invalid_type")
        return settings.llm.model if written in (None, True) else ""

    def dates_of(data: dict[str, Any]) -> Dates | None:
        """`since`/`until` (YYYY-MM-DD: only articles published then) and `today` (what "last year" means)."""
        for key in ("since", "until", "today"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ApiError(400, f"'{key}' must be a date as text (YYYY-MM-DD)", "invalid_type")
        return Dates.of(data.get("since"), data.get("until"), data.get("today"))

    def handled(code: str):
        """A route whose ApiError, bad question or unavailable index becomes a JSON error response."""

        def wrap(route):
            @functools.wraps(route)
            async def guarded(request: Request):
                try:
                    return await route(request)
                except ApiError as exc:
                    return exc.response()
                except QuestionError as exc:
                    return ApiError(400, str(exc), code).response()
                except FeedbackUnavailable as exc:
                    print(f"503 on {request.url.path}: {exc}", file=sys.stderr, flush=True)
                    return ApiError(
                        503, "ratings cannot be saved right now; answers are still given", "feedback_unavailable", "server_error"
                    ).response()
                except UNAVAILABLE as exc:
                    print(f"503 on {request.url.path}: {exc}", file=sys.stderr, flush=True)  # the operator sees it all
                    return ApiError(
                        503, f"the index cannot answer right now: {public_message(exc)}", "index_unavailable", "server_error"
                    ).response()

            return guarded

        return wrap

    @router.get("/models")
    @handled("invalid_request")
    async def models(request: Request):
        user = caller(request)
        names = access.allowed(user.name, READ, library.names())
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "tanya"} for n in names]}

    @router.post("/chat/completions")
    @handled("invalid_messages")
    async def chat_completions(request: Request):
        user = caller(request)
        data = await body(request)
        request_for = asked(data, user)
        asker, model = request_for.asker, request_for.model
        if "messages" not in data:
            raise ApiError(400, "'messages' is required", "missing_messages")
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "'stream' must be true or false", "invalid_type")
        llm = llm_of(data)
        events = asker.converse_stream(data["messages"], llm=llm, dates=dates_of(data))
        first = await run_in_threadpool(next, events)  # a malformed conversation fails here, before any output
        ident, created = new_id(), int(time.time())
        if stream:

            def keep(answer: Answer) -> str | None:
                return recorded(user, answer, data, request_for.names, ident)

            return StreamingResponse(
                iterate_in_threadpool(_sse(ident, created, model, first, events, keep)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = first if isinstance(first, Answer) else await run_in_threadpool(final_answer, events)
        kept = await run_in_threadpool(recorded, user, answer, data, request_for.names, ident)
        return {
            "id": kept or f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations_json(answer),
            "tanya": {**_extension(answer), "answer_id": kept},
        }

    @router.post("/ask")
    @handled("invalid_question")
    async def ask(request: Request):
        user = caller(request)
        data = await body(request)
        request_for = asked(data, user)
        asker = request_for.asker
        if ("messages" in data) == ("question" in data):
            raise ApiError(400, "give either 'question' or 'messages'", "invalid_body")
        llm, dates = llm_of(data), dates_of(data)
        if "messages" in data:
            answer = await run_in_threadpool(lambda: asker.converse(data["messages"], llm=llm, dates=dates))
        else:
            answer = await run_in_threadpool(lambda: asker.ask(data["question"], llm=llm, dates=dates))
        kept = await run_in_threadpool(recorded, user, answer, data, request_for.names)
        return {"id": kept, **answer.to_json()}

    def rated(user: User, answer_id: str) -> dict[str, Any]:
        try:
            return feedback.rating(answer_id, user.name).to_json()
        except FeedbackNotFound as exc:
            raise ApiError(404, str(exc), "answer_not_found") from None

    @router.post("/feedback")
    @handled("invalid_feedback")
    async def rate(request: Request):
        user = caller(request)
        data = await body(request)
        answer_id, rating = data.get("id"), data.get("rating")
        if not isinstance(answer_id, str) or not answer_id:
            raise ApiError(400, "'id' must be the id of an answer (the `id` an answer came with)", "invalid_type")
        if rating is not None and not isinstance(rating, str):
            raise ApiError(400, '\'rating\' must be "up", "down" or null (withdraw)', "invalid_type")
        reason, comment = data.get("reason") or "", data.get("comment") or ""
        try:
            given = Rating(rating, reason, comment) if rating is not None else None
            await run_in_threadpool(feedback.rate, answer_id, user.name, given)
        except FeedbackNotFound as exc:
            raise ApiError(404, str(exc), "answer_not_found") from None
        except FeedbackInvalid as exc:
            raise ApiError(400, str(exc), "invalid_feedback") from None
        return await run_in_threadpool(rated, user, answer_id)

    @router.get("/feedback")
    @handled("invalid_request")
    async def my_feedback(request: Request):
        user = caller(request)
        mine = await run_in_threadpool(feedback.mine, user.name)
        return {"object": "list", "data": [r.to_json() for r in mine]}

    @router.get("/feedback/{answer_id}")
    @handled("invalid_request")
    async def one_feedback(request: Request):
        user = caller(request)
        return await run_in_threadpool(rated, user, request.path_params["answer_id"])

    return router


def _sse(
    ident: str,
    created: int,
    model: str,
    first: str | Answer,
    events: Iterator[str | Answer],
    keep: Callable[[Answer], str | None],
) -> Iterator[str]:
    """Server-sent chunks: the role, the reply as it grows, then the citations, then [DONE]. The
    finished answer is recorded (`keep`) before the last chunk, which says whether it was."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    event: str | Answer = first
    while True:
        if isinstance(event, Answer):
            # an extracted answer comes whole; a written one was sent as it grew, and when the check changed
            # it (a marker corrected, a sentence marked, or the extracted answer instead) the checked reply follows
            if not sent:
                yield chunk({"content": event.reply})
            elif sent.strip() != event.reply.strip():
                yield chunk({"content": "\n\n" + (f"{event.notice}\n" if event.notice else "") + event.reply})
            kept = keep(event)
            yield chunk({}, "stop", citations=citations_json(event), tanya={**_extension(event), "answer_id": kept})
            break
        if event.startswith(sent):
            yield chunk({"content": event[len(sent) :]})
            sent = event
        event = next(events)
    yield "data: [DONE]\n\n"
