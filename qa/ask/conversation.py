"""Conversations: OpenAI-style messages in, the last question understood in their context.

    forms = understand(parse_messages([{"role": "user", "content": "Who founded Alibaba?"},
                                       {"role": "assistant", "content": "Jack Ma [1]"},
                                       {"role": "user", "content": "Who offered him an advisor role?"}]))
    forms.candidates  # ("Who offered Jack Ma an advisor role?", ...) — tried in order, the first answered kept

Each turn is decided on its own:
- a question that refers back — a pronoun ("he", "dia", "-nya": "menawarinya"), a demonstrative
  ("kecelakaan itu", "When did that happen?") or ellipsis ("In which field?", "Kapan?", "And
  Lazada?") — is rewritten: pronouns are replaced by what they most likely stand for (the last
  answer or the last question's subject, both tried), a demonstrative or bare question word gets the
  last turn's subject and answer as context, "And X?" takes the last question with X in place;
- a question that names its own subject and refers to nothing is new and is never rewritten;
- a question with no name of its own and nothing pointing back ("When was the festival held?") is
  unsure: the rewritten form and then the question as asked are tried.
Earlier turns are resolved the same way, in order, so a third turn can lean on a rewritten second.
With a language model configured, a sure follow-up is first rewritten by the model; a rewrite that
drops the question's own words or all of the last turn's names is not trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import QuestionError
from ..settings import Settings
from ..text import STOPWORDS, tokens
from .question import ENTITY, OTHER, PERSON, Question, analyse


class MessagesError(QuestionError):
    """Messages that are not a conversation we can answer (the message says what is wrong)."""


@dataclass(frozen=True)
class Turn:
    """One exchange of the chat: the question as asked, as understood, and the answer given ('' if none)."""

    question: str
    answer: str = ""
    understood: str = ""

    @property
    def standalone(self) -> str:
        return self.understood or self.question


@dataclass(frozen=True)
class Forms:
    """The last question of a conversation and the standalone forms to try, likeliest first: the
    first one that finds an answer is kept."""

    asked: str
    candidates: tuple[str, ...]
    kind: str  # "new", "follow-up" or "unsure"


# --- messages ---------------------------------------------------------------------------------

_MARKER = re.compile(r"\s*\[\d+\]")
_ABSTAIN_PREFIXES = ("I could not find", "Jawabannya tidak ditemukan")


def parse_messages(messages: Any, max_messages: int = 200) -> tuple[str, list[Turn]]:
    """The last user question and the earlier turns, from OpenAI-style messages (system messages
    ignored; content a string or a list of text parts). MessagesError when malformed."""
    if not isinstance(messages, list) or not messages:
        raise MessagesError("messages must be a non-empty list of {role, content} objects")
    if len(messages) > max_messages:
        raise MessagesError(f"too many messages ({len(messages)}; the limit is {max_messages})")
    said: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "system", "developer"):
            raise MessagesError(f"message {i}: expected an object with role user, assistant or system")
        if m["role"] in ("system", "developer"):
            continue
        said.append((m["role"], _content(m.get("content"), i)))
    if not said or said[-1][0] != "user":
        raise MessagesError("the last message must be the user's question")
    turns: list[Turn] = []
    for role, text in said[:-1]:
        if role == "user":
            turns.append(Turn(text))
        elif turns:  # an assistant message answers the user message before it
            turns[-1] = Turn(turns[-1].question, _answer_of(text))
    return said[-1][1], turns


def _content(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        texts = [p for p in parts if isinstance(p, str)]
        if parts and len(texts) == len(parts):
            return " ".join(texts)
    if content is None:
        return ""
    raise MessagesError(f"message {i}: content must be a string or a list of text parts")


def _answer_of(reply: str) -> str:
    """The short answer in an assistant reply: its first line without citation markers; '' for an abstention."""
    first = reply.strip().split("\n", 1)[0] if reply.strip() else ""
    if first.startswith(_ABSTAIN_PREFIXES):
        return ""
    return _MARKER.sub("", first).strip()


# --- follow-up or new -------------------------------------------------------------------------

_PERSONAL = {  # pronoun → how the antecedent is written in its place ("{}" = the antecedent)
    "he": "{}",
    "she": "{}",
    "him": "{}",
    "they": "{}",
    "them": "{}",
    "it": "{}",
    "his": "{}'s",
    "her": "{}",
    "their": "{}'s",
    "its": "{}'s",
    "dia": "{}",
    "ia": "{}",
    "beliau": "{}",
    "mereka": "{}",
}
_PERSONS = frozenset({"he", "she", "him", "his", "her", "dia", "ia", "beliau"})
_DEMONSTRATIVE = frozenset({"itu", "tersebut", "that", "this", "those", "these", "there", "then", "sana", "situ"})
_EVENT = re.compile(r"\b(it|that|this|itu|hal itu|ini)\s+(happen\w*|occur\w*|take place|took place|terjadi|berlangsung)\b", re.I)
_ELLIPSIS_START = re.compile(r"^(and|dan|lalu|terus|kalau|bagaimana dengan|what about|how about)\b", re.I)
# -nya words that do not point back ("sebelumnya" = "before", "akhirnya" = "finally")
_NYA_ADVERBS = frozenset(
    """sebelumnya selanjutnya berikutnya akhirnya biasanya sebenarnya seharusnya setidaknya sesungguhnya
    sesudahnya sesudahnya lainnya kemungkinannya rupanya agaknya tampaknya nampaknya misalnya contohnya
    umumnya khususnya terutamanya sebaliknya seterusnya selamanya semuanya keduanya ketiganya satunya
    hanyalah karenanya olehnya""".split()
)
_WH = re.compile(
    r"\b(who|whom|whose|what|which|when|where|why|how|siapa\w*|apa\w*|kapan\w*|di ?mana\w*|ke ?mana\w*|"
    r"dari ?mana\w*|mengapa|kenapa|bagaimana\w*|berapa\w*)\b",
    re.I,
)


def refers_back(question: str, analysed: Question | None = None) -> str | None:
    """'pronoun', 'demonstrative' or 'ellipsis' when the question leans on the conversation, else None.
    "When did it happen?" points at the last event, not at a thing: a demonstrative. `analysed`: the
    question's record, when the caller has it already."""
    words = tokens(question)
    if _EVENT.search(question):
        return "demonstrative"
    if any(w in _PERSONAL for w in words) or any(_nya_word(w) for w in words):
        return "pronoun"
    if _ELLIPSIS_START.match(question.strip()) or len((analysed or analyse(question)).concepts) <= 1:
        return "ellipsis"
    if any(w in _DEMONSTRATIVE for w in words):
        return "demonstrative"
    return None


def _nya_word(word: str) -> bool:
    return word.endswith("nya") and len(word) > 5 and word not in _NYA_ADVERBS and not word.startswith("tanya")


def understand(question: str, history: list[Turn], settings: Settings | None = None) -> Forms:
    """The forms to try for the last question of a conversation; see the module's docstring."""
    if not history:
        return Forms(question, (question,), "new")
    history = resolve_history(history)
    last = history[-1]
    analysed = analyse(question)
    kind = refers_back(question, analysed)
    own_names = analysed.names
    if kind is None:
        return (
            Forms(question, (question,), "new")
            if own_names
            else Forms(question, (_with_context(question, last), question), "unsure")
        )
    candidates: list[str] = []
    if settings is not None and settings.llm.model:
        written = _model_rewrite(question, last, settings)
        if written and _keeps(written, question, _names(last.standalone)):
            candidates.append(written)
    if kind == "pronoun":
        candidates += [_substituted(question, a, last) for a in _antecedents(last, question)]
    elif kind == "ellipsis" and not _WH.search(question):
        candidates.append(_replaced_in(last.standalone, question))
    # names of its own and only a weak pointer ("Kapan TNI menembak kapal itu?"): it may stand alone
    if own_names and kind == "demonstrative":
        candidates.append(question)
    candidates.append(_with_context(question, last))
    return Forms(question, tuple(dict.fromkeys(c for c in candidates if c)), "follow-up")


def resolve_history(history: list[Turn]) -> list[Turn]:
    """Each earlier turn with its standalone form (the first candidate), resolved in order."""
    out: list[Turn] = []
    for turn in history:
        form = turn.understood or understand(turn.question, out).candidates[0]
        out.append(Turn(turn.question, turn.answer, form))
    return out


def rewrite(question: str, history: list[Turn], settings: Settings | None = None) -> str:
    """The question made to stand alone (the first form `understand` would try)."""
    return understand(question, history, settings).candidates[0]


def _antecedents(last: Turn, question: str) -> list[str]:
    """What a pronoun most likely stands for, likeliest first: the last answer when it is a short name of
    the right kind (a person for "he"/"dia", not a place, date or number for "it"/"-nya"), then the
    last question's first name."""
    out = []
    answer = last.answer.strip()
    asked = analyse(last.standalone).qtype
    personal = any(w in _PERSONS for w in tokens(question))
    fits = asked == PERSON if personal else asked in (PERSON, ENTITY, OTHER)
    if answer and len(answer.split()) <= 6 and answer[:1].isupper() and fits:
        out.append(answer)
    names = _name_groups(last.standalone)
    if names:
        out.append(names[0])
    return out or [""]


def _substituted(question: str, antecedent: str, last: Turn) -> str:
    """The first pronoun replaced by the antecedent ("Who offered him…" → "Who offered Jack Ma…",
    "menawarinya" → "menawari Jack Ma"), the last turn's other words as context; '' when there is
    no antecedent or no pronoun."""
    if not antecedent:
        return ""
    done = [False]

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        lw = w.lower()
        if done[0]:
            return w
        if lw in _PERSONAL:
            done[0] = True
            return _PERSONAL[lw].format(antecedent)
        if _nya_word(lw):
            done[0] = True
            return f"{w[:-3]} {antecedent}"
        return w

    out = re.sub(r"[^\W_]+", word, question)
    return _with_context(out, last) if done[0] else ""


def _with_context(question: str, last: Turn) -> str:
    """The question with the last turn's subject, content words and answer as context in brackets."""
    context = list(dict.fromkeys(_content_words(last.standalone) + ([last.answer] if last.answer else [])))
    own = set(tokens(question))
    context = [c for c in context if not set(tokens(c)) <= own]
    return f"{question.rstrip()} ({' '.join(context)})" if context else question


def _replaced_in(previous: str, fragment: str) -> str:
    """'And X?' read against the last question: X's number or name takes the place of the old one."""
    bare = _ELLIPSIS_START.sub("", fragment.strip()).strip(" ?.!,")
    numbers = re.findall(r"\d[\d.,]*", bare)
    old_numbers = re.findall(r"\d[\d.,]*", previous)
    if numbers and old_numbers:
        return previous.replace(old_numbers[0], numbers[0], 1)
    names, old_names = _name_groups(bare, skip_first=False), _name_groups(previous)
    if names and old_names:
        return previous.replace(old_names[-1], " ".join(names), 1)
    return f"{previous.rstrip(' ?')} {bare}?"


def _content_words(text: str) -> list[str]:
    """Names (kept whole) and other content words of a question, in order, without question words."""
    out = _name_groups(text)
    inside = set(tokens(" ".join(out)))
    for w in re.findall(r"[^\W_][\w/-]*", text):
        lw = w.lower()
        if lw not in STOPWORDS and lw not in inside and not _WH.fullmatch(lw) and lw not in _DEMONSTRATIVE:
            out.append(w)
    return list(dict.fromkeys(out))


def _name_groups(text: str, skip_first: bool = True) -> list[str]:
    """Runs of capitalised words or numbers ("Jack Ma", "Presiden Joko Widodo", "330 MW"), the first word
    of the text left out when `skip_first` (it is capitalised anyway)."""
    groups: list[list[str]] = []
    current: list[str] = []
    for i, raw in enumerate(text.split()):
        w = raw.strip("?.,!;:()\"'")
        is_name = bool(w) and (w[:1].isupper() or w[:1].isdigit()) and not (skip_first and i == 0) and w.lower() not in STOPWORDS
        if is_name:
            current.append(w)
        if not is_name or raw != raw.rstrip("?.,!;:()\"'"):
            if current:
                groups.append(current)
            current = []
    if current:
        groups.append(current)
    return [" ".join(g) for g in groups]


def _names(text: str) -> list[str]:
    return [n for n in _name_groups(text) if n.lower() not in STOPWORDS]


# --- a language model's rewrite -----------------------------------------------------------------

_EXAMPLES = [
    (
        "Who founded Microsoft?",
        "Bill Gates and Paul Allen",
        "When did he leave the board?",
        "When did Bill Gates leave the board of Microsoft?",
    ),
    ("Siapa presiden pertama Indonesia?", "Soekarno", "Kapan dia lahir?", "Kapan Soekarno lahir?"),
]


def _model_rewrite(question: str, last: Turn, settings: Settings) -> str | None:
    from langchain_core.messages import HumanMessage

    from ..errors import LLMUnavailable
    from .llm import chat_model, stream

    def block(q: str, a: str, follow: str, standalone: str) -> str:
        return (
            f"Previous question: {q}\nPrevious answer: {a or '-'}\nFollow-up question: {follow}\nStandalone question:{standalone}"
        )

    text = "Rewrite the follow-up question so that it can be understood without the conversation.\n\n" + "\n\n".join(
        [block(q, a, f, " " + s) for q, a, f, s in _EXAMPLES] + [block(last.standalone, last.answer, question, "")]
    )
    try:
        reply = "".join(stream(chat_model(settings), [HumanMessage(text)], min(settings.llm.timeout, 20.0), ["\n"]))
    except LLMUnavailable:
        return None
    reply = " ".join(reply.split())
    return reply if 3 < len(reply) <= 300 else None


def _keeps(rewritten: str, question: str, names: list[str]) -> bool:
    """A rewrite keeps the follow-up's own content words and brings in at least one name of the last turn."""
    words = set(tokens(rewritten))
    own = [
        w for w in tokens(question) if w not in STOPWORDS and w not in _PERSONAL and w not in _DEMONSTRATIVE and not _nya_word(w)
    ]
    return all(w in words for w in own) and (not names or any(all(t in words for t in tokens(n)) for n in names))
