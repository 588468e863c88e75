"""Kept chats: the conversations of one browser, as a plain JSON-able record the page stores in the
browser (gr.BrowserState), and their export as Markdown with the citations written out.

    book = Chats.of(stored, user)          # the user's chats from what the browser holds
    book.add_turn(question, answer, shown, sources)
    book.markdown()                        # the current chat, for a download
    stored = book.into(stored, user)

Each chat keeps what the page needs to show it again without asking anything (the chat as shown,
the sources panel, the conversation as plain messages for follow-ups) and a Markdown block per turn.
At most MAX_CHATS chats are kept, the least recently used dropped first.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .records import Answer

MAX_CHATS = 30
MAX_TURNS = 100


def turn_markdown(question: str, answer: Answer) -> str:
    """One turn in Markdown: the question, the reply with its [n] markers, each citation written out
    (title, file, paragraph, the quoted sentence)."""
    lines = [f"**Q:** {question.strip()}", ""]
    if answer.notice:
        lines += [f"_{answer.notice}_", ""]
    lines += [answer.reply.strip(), ""]
    for c in answer.citations:
        s, e = c.sentence
        page = f", page {c.page}" if c.page else ""
        lines.append(f"[{c.n}] {c.title} — {Path(c.source).name}{page}, ¶{c.paragraph} (doc `{c.doc_id}`): “{c.text[s:e].strip()}”")
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class Chats:
    """One user's kept chats and which one is open."""

    chats: list[dict[str, Any]] = field(default_factory=list)
    current: str | None = None

    @classmethod
    def of(cls, stored: Any, user: str | None) -> "Chats":
        """The user's chats from the browser's record (anything malformed is ignored, not trusted)."""
        mine = stored.get(user or "", {}) if isinstance(stored, dict) else {}
        chats = [c for c in mine.get("chats", []) if _valid(c)] if isinstance(mine, dict) else []
        current = mine.get("current") if isinstance(mine, dict) else None
        return cls(chats[:MAX_CHATS], current if any(c["id"] == current for c in chats) else None)

    def into(self, stored: Any, user: str | None) -> dict[str, Any]:
        out = dict(stored) if isinstance(stored, dict) else {}
        out[user or ""] = {"chats": self.chats, "current": self.current}
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

    def delete(self) -> None:
        """Delete the open chat; the most recent other one (if any) is opened."""
        self.chats = [c for c in self.chats if c["id"] != self.current]
        self.current = self.chats[0]["id"] if self.chats else None

    def add_turn(self, question: str, answer: Answer, shown: list[dict], said: list[dict], sources: str) -> None:
        """Record a finished turn in the open chat (a new chat is made if none is open)."""
        chat = self.open
        if chat is None:
            chat = {"id": uuid.uuid4().hex[:12], "title": " ".join(question.split())[:60], "shown": [], "said": [],
                    "sources": "", "markdown": [], "updated": ""}
            self.chats.insert(0, chat)
            self.current = chat["id"]
        chat.update(shown=shown[-2 * MAX_TURNS:], said=said[-2 * MAX_TURNS:], sources=sources,
                    updated=time.strftime("%Y-%m-%d %H:%M"))
        chat["markdown"] = (chat["markdown"] + [turn_markdown(question, answer)])[-MAX_TURNS:]
        self.chats.sort(key=lambda c: c["id"] != self.current)  # the open chat first, the rest as they were
        del self.chats[MAX_CHATS:]

    def choices(self) -> list[tuple[str, str]]:
        """(label, id) for a list of the kept chats, most recent first."""
        return [(f"{c['title']} · {c['updated']}", c["id"]) for c in self.chats]

    def markdown(self) -> str:
        """The open chat as a Markdown document with every citation written out ('' if none is open)."""
        chat = self.open
        if chat is None:
            return ""
        return f"# {chat['title']}\n\n_Tanya chat, {chat['updated']}_\n\n" + "\n---\n\n".join(chat["markdown"])


def _valid(chat: Any) -> bool:
    return (isinstance(chat, dict) and isinstance(chat.get("id"), str) and isinstance(chat.get("title"), str)
            and all(isinstance(chat.get(k), list) for k in ("shown", "said", "markdown"))
            and isinstance(chat.get("sources"), str))


def browser_secret(index_dir: Path | str, configured: str = "") -> str:
    """The key the page's kept chats are sealed with in the browser: `configured` (QA_CHAT_SECRET, the
    same on every app server behind one address), else made once and kept beside the index (mode
    0600), so chats survive a restart of the server."""
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
