"""Follow-up questions: rewrite a question that leans on the chat so far into one that stands alone.

Without a language model: a question that refers back ("Kapan itu terjadi?", "Which ministry was
involved?", "Siapa namanya?") gets the names and content words of the previous question, and the
previous answer, appended — enough for retrieval and the extractor to find the same story.
"""

from __future__ import annotations

from dataclasses import dataclass

from .question import analyse
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


def rewrite(question: str, history: list[Turn]) -> str:
    """The question made to stand alone using the last turn; unchanged when it already does."""
    if not history or not is_follow_up(question):
        return question
    # the names the last exchange was about carry over; its other words would pull the search back
    last = history[-1]
    names = [w.strip("?.,!()\"'") for i, w in enumerate(last.question.split()) if i > 0 and w[:1].isupper()]
    context = [n for n in names if n and n.lower() not in STOPWORDS]
    if last.answer:
        context.append(last.answer)
    return f"{question.rstrip()} ({' '.join(dict.fromkeys(context))})" if context else question
