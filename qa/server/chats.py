"""Kept chats: the conversations of one browser, as a plain JSON-able record the page stores in the
browser (gr.BrowserState), and their export as Markdown with the citations written out.

    seal = Seal(key)                       # the server's key (never sent to a browser)
    book = Chats.of(stored, user, seal)    # the user's chats from what the browser holds
    book.add_turn(question, answer, shown, sources)
    book.markdown()                        # the current chat, for a download
    stored = book.into(stored, user, seal)

Each chat keeps what the page needs to show it again without asking anything (the chat as shown,
the sources panel, the conversation as plain messages for follow-ups) and a Markdown block per turn.
At most MAX_CHATS chats are kept, the least recently used dropped first.

The browser holds the record, so the browser could change it: a record comes back only if it carries
the server's seal (an HMAC over the user's name and the record). A forged or edited record — a chat
message that is a file, HTML of its own, another user's chats — is ignored as if nothing were kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Answer
from ..settings import DEFAULT_COLLECTION
from .i18n import Texts, texts

EN = texts("en")

MAX_CHATS = 30
MAX_TURNS = 100


def turn_markdown(question: str, answer: Answer, tr: Texts = EN) -> str:
    """One turn in Markdown: the question, the reply with its [n] markers, each citation written out
    (title, file, paragraph, the quoted sentence)."""
    lines = [f"**{tr('export.question')}** {markdown_text(question.strip())}", ""]
    if answer.notice:
        lines += [f"_{markdown_text(answer.notice)}_", ""]
    reply = markdown_text(answer.reply.strip())
    for c in answer.citations:  # the reply's own markers stay as written
        reply = reply.replace(markdown_text(f"[{c.n}]"), f"[{c.n}]")
    lines += [reply, ""]
    for c in answer.citations:
        s, e = c.sentence
        page = ", " + tr("export.page", page=c.page) if c.page else ""
        dated = f", {c.date}" if c.date else ""
        lines.append(
            f"[{c.n}] {markdown_text(c.title)} — {markdown_text(Path(c.source).name)}{dated}{page}, ¶{c.paragraph} "
            f"(doc {markdown_text(c.doc_id)}): “{markdown_text(c.text[s:e].strip())}”"
        )
    return "\n".join(lines).rstrip() + "\n"


_MARKDOWN = re.compile(r"([\\`*\[\]<>#|~$])")


def markdown_text(text: str) -> str:
    """Text that Markdown shows as it is: the characters that start Markdown's links, images, HTML,
    emphasis, code, headings, tables and formulas are backslash-escaped, so an article's
    `![x](http://…)`, `<img src=…>` or `[a](javascript:…)` stays text wherever it is shown."""
    return _MARKDOWN.sub(r"\\\1", text)


class Seal:
    """Signs and checks what the server leaves in a browser (HMAC-SHA256 with a server-only key)."""

    def __init__(self, key: str) -> None:
        self.key = hashlib.sha256(("tanya-chat-seal:" + key).encode()).digest()

    def sign(self, user: str, record: Any) -> str:
        body = json.dumps([user, record], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hmac.new(self.key, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def check(self, user: str, record: Any, seal: Any) -> bool:
        return isinstance(seal, str) and hmac.compare_digest(self.sign(user, record), seal)


@dataclass
class Chats:
    """One user's kept chats and which one is open."""

    chats: list[dict[str, Any]] = field(default_factory=list)
    current: str | None = None
    hidden: list[dict[str, Any]] = field(default_factory=list)  # kept, but from collections the user may not read now

    def only(self, readable: Callable[[str], bool]) -> "Chats":
        """Hide the chats that drew on a collection the user may not read (now): they are neither shown
        nor exported, and come back if the right does."""
        shown = [c for c in self.chats if all(readable(n) for n in chat_collections(c))]
        self.hidden = [c for c in self.chats if c not in shown]
        self.chats = shown
        if not any(c["id"] == self.current for c in shown):
            self.current = None
        return self

    @classmethod
    def of(cls, stored: Any, user: str | None, seal: Seal) -> "Chats":
        """The user's chats from the browser's record; a record without the server's seal, or malformed,
        is ignored."""
        mine = stored.get(user or "", {}) if isinstance(stored, dict) else {}
        if not isinstance(mine, dict):
            return cls()
        record = {"chats": mine.get("chats"), "current": mine.get("current")}
        if not seal.check(user or "", record, mine.get("seal")) or not isinstance(record["chats"], list):
            return cls()
        chats = [c for c in record["chats"] if _valid(c)]
        current = record["current"]
        return cls(chats[:MAX_CHATS], current if any(c["id"] == current for c in chats) else None)

    def into(self, stored: Any, user: str | None, seal: Seal) -> dict[str, Any]:
        """What the browser keeps: these chats, sealed, beside the other users' sealed records (anything
        else the browser sent is dropped, never echoed)."""
        out = {}
        for name, other in stored.items() if isinstance(stored, dict) else ():
            if isinstance(other, dict) and seal.check(
                name, {"chats": other.get("chats"), "current": other.get("current")}, other.get("seal")
            ):
                out[name] = {"chats": other.get("chats"), "current": other.get("current"), "seal": other.get("seal")}
        record = {"chats": self.chats + self.hidden[: max(0, MAX_CHATS - len(self.chats))], "current": self.current}
        out[user or ""] = {**record, "seal": seal.sign(user or "", record)}
        return out

    @property
    def open(self) -> dict[str, Any] | None:
        return next((c for c in self.chats if c["id"] == self.current), None)

    def new(self) -> None:
        """Start a new chat (it is kept once it has a turn)."""
        self.current = None

    def select(self, chat_id: str) -> None:
        if any(c["id"] == chat_id for c in self.chats):
            self.current = chat_id

    def open_latest(self) -> None:
        """Open the most recent chat when none is open."""
        if self.current is None and self.chats:
            self.current = self.chats[0]["id"]

    def delete(self) -> None:
        """Delete the open chat; the most recent other one (if any) is opened."""
        self.chats = [c for c in self.chats if c["id"] != self.current]
        self.current = self.chats[0]["id"] if self.chats else None

    def add_turn(
        self,
        question: str,
        answer: Answer,
        shown: list[dict],
        said: list[dict],
        sources: str,
        collections: list[str],
        answer_id: str | None = None,
        tr: Texts = EN,
    ) -> None:
        """Record a finished turn in the open chat (a new chat is made if none is open), the collections
        it drew on, and the id its answer was recorded under (for a rating; qa/server/feedback.py)."""
        chat = self.open
        if chat is None:
            chat = {
                "id": uuid.uuid4().hex[:12],
                "title": " ".join(question.split())[:60],
                "shown": [],
                "said": [],
                "sources": "",
                "markdown": [],
                "updated": "",
            }
            self.chats.insert(0, chat)
            self.current = chat["id"]
        chat.update(
            shown=shown[-2 * MAX_TURNS :],
            said=said[-2 * MAX_TURNS :],
            sources=sources,
            updated=time.strftime("%Y-%m-%d %H:%M"),
            collections=sorted(set(chat_collections(chat)) | set(collections)) if chat["shown"] else sorted(set(collections)),
        )
        dropped = max(0, len(shown) - 2 * MAX_TURNS)  # messages cut from the front move the answers' places
        ids = {str(int(k) - dropped): v for k, v in answer_ids(chat).items() if int(k) >= dropped}
        if answer_id:
            ids[str(len(chat["shown"]) - 1)] = answer_id
        chat["answers"] = ids
        chat["markdown"] = (chat["markdown"] + [turn_markdown(question, answer, tr)])[-MAX_TURNS:]
        self.chats.sort(key=lambda c: c["id"] != self.current)  # the open chat first, the rest as they were
        del self.chats[MAX_CHATS:]

    def choices(self) -> list[tuple[str, str]]:
        """(label, id) for a list of the kept chats, most recent first."""
        return [(f"{c['title']} · {c['updated']}", c["id"]) for c in self.chats]

    def markdown(self, tr: Texts = EN) -> str:
        """The open chat as a Markdown document with every citation written out ('' if none is open)."""
        chat = self.open
        if chat is None:
            return ""
        return f"# {chat['title']}\n\n_{tr('export.chat', updated=chat['updated'])}_\n\n" + "\n---\n\n".join(chat["markdown"])


def answer_ids(chat: dict[str, Any] | None) -> dict[str, str]:
    """The ids a kept chat's answers were recorded under, by their place in the chat as shown."""
    ids = (chat or {}).get("answers")
    if not isinstance(ids, dict):
        return {}
    return {k: v for k, v in ids.items() if isinstance(k, str) and k.isdigit() and isinstance(v, str)}


def chat_collections(chat: dict[str, Any]) -> list[str]:
    """The collections a kept chat drew on (a chat kept before collections: the default one)."""
    names = chat.get("collections")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    return [DEFAULT_COLLECTION]


def _valid(chat: Any) -> bool:
    return (
        isinstance(chat, dict)
        and isinstance(chat.get("id"), str)
        and isinstance(chat.get("title"), str)
        and all(isinstance(chat.get(k), list) for k in ("shown", "said", "markdown"))
        and isinstance(chat.get("sources"), str)
        and messages_only(chat["shown"]) == chat["shown"]
        and messages_only(chat["said"]) == chat["said"]
    )


def messages_only(messages: Any) -> list[dict[str, str]]:
    """Chat messages as plain text: {role: user|assistant, content: str}; anything else (a file, a
    component, a nested structure) is dropped."""
    if not isinstance(messages, list):
        return []
    return [
        {"role": m["role"], "content": m["content"]}
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
    ]


def chat_keys(index_dir: Path | str, configured: str = "") -> tuple[str, Seal]:
    """(the key Gradio encrypts the kept chats with in the browser — Gradio sends it to the browser, so
    it only hides the record from other sites' eyes — and the server-only Seal that makes a record
    trustworthy). Both come from `configured` (QA_CHAT_SECRET, the same on every app server behind one
    address), else from a secret made once and kept beside the index (mode 0600), so chats survive a
    restart of the server."""
    secret = _server_secret(index_dir, configured)
    storage = hashlib.sha256(("tanya-browser-storage:" + secret).encode()).hexdigest()[:32]
    return storage, Seal(secret)


def _server_secret(index_dir: Path | str, configured: str) -> str:
    import secrets

    if configured:
        return configured
    path = Path(index_dir) / ".chat-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        return secret
