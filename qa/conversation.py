"""Follow-up questions: rewrite a question that leans on the chat so far into one that stands alone.

Without a language model: a question that refers back ("Kapan itu terjadi?", "Which ministry was
involved?", "Siapa namanya?") gets the names and content words of the previous question, and the
previous answer, appended — enough for retrieval and the extractor to find the same story.
With a language model configured, the model rewrites it first ("Kapan itu terjadi?" → "Kapan Jack
Ma ditawari menjadi penasehat?"); a rewrite that drops the question's own words or the last turn's
names is not trusted, and the heuristic one is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from .question import analyse
from .settings import Settings
from .text import STOPWORDS, tokens

_REFERRING = frozenset(
    """itu tersebut ini dia ia mereka beliau sana situ nya he she it they them him her his its their
    that this those these there then involved""".split()
)


@dataclass(frozen=True)
class Turn:
    """One exchange of the chat: the question as asked (or rewritten) and the answer given ('' if none)."""

    question: str
    answer: str = ""


def is_follow_up(question: str) -> bool:
    """Whether the question refers back to the conversation instead of standing alone."""
    words = tokens(question)
    if any(w in _REFERRING or (w.endswith("nya") and len(w) > 5) for w in words):
        return True
    q = analyse(question)
    return not q.names and len(q.concepts) <= 1


_EXAMPLES = [
    ("Who founded Microsoft?", "Bill Gates and Paul Allen", "When did he leave the board?",
     "When did Bill Gates leave the board of Microsoft?"),
    ("Siapa presiden pertama Indonesia?", "Soekarno", "Kapan dia lahir?", "Kapan Soekarno lahir?"),
]


def rewrite(question: str, history: list[Turn], settings: Settings | None = None) -> str:
    """The question made to stand alone using the last turn; unchanged when it already does.
    With `settings` naming a language model, the model is asked first."""
    if not history or not is_follow_up(question):
        return question
    last = history[-1]
    names = [n for n in _names(last.question) if n.lower() not in STOPWORDS]
    if settings is not None and settings.llm:
        written = _model_rewrite(question, last, settings)
        if written and _keeps(written, question, names):
            return written
    # the names the last exchange was about carry over; its other words would pull the search back
    context = list(names)
    if last.answer:
        context.append(last.answer)
    return f"{question.rstrip()} ({' '.join(dict.fromkeys(context))})" if context else question


def _names(text: str) -> list[str]:
    return [n for n in (w.strip("?.,!()\"'") for i, w in enumerate(text.split()) if i > 0 and w[:1].isupper()) if n]


def _model_rewrite(question: str, last: Turn, settings: Settings) -> str | None:
    from langchain_core.messages import HumanMessage

    from .llm import LLMUnavailable, chat_model, stream

    def block(q: str, a: str, follow: str, standalone: str) -> str:
        return f"Previous question: {q}\nPrevious answer: {a or '-'}\nFollow-up question: {follow}\nStandalone question:{standalone}"

    text = "Rewrite the follow-up question so that it can be understood without the conversation.\n\n" + "\n\n".join(
        [block(q, a, f, " " + s) for q, a, f, s in _EXAMPLES] + [block(last.question, last.answer, question, "")]
    )
    try:
        reply = "".join(stream(chat_model(settings), [HumanMessage(text)], min(settings.llm_timeout, 20.0), ["\n"]))
    except LLMUnavailable:
        return None
    reply = " ".join(reply.split())
    return reply if 3 < len(reply) <= 300 else None


def _keeps(rewritten: str, question: str, names: list[str]) -> bool:
    """A rewrite keeps the follow-up's own content words and brings in at least one name of the last turn."""
    words = set(tokens(rewritten))
    own = [w for w in tokens(question) if w not in STOPWORDS and w not in _REFERRING and not w.endswith("nya")]
    return all(w in words for w in own) and (not names or any(n.lower() in words for n in names))
