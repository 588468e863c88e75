"""Collections: one server, several article sets, each its own versioned index.

    library = Library()                         # Settings.from_env()
    library.create("newsroom").articles.index(["drafts/"], remember=True)
    library.get("newsroom").ask("…")            # one collection (a Tanya)
    library.asker(["default", "newsroom"]).ask("…")   # several, their passages fused

`default` is the index directory itself (what a server had before collections); a named collection
lives in `index/collections/NAME/` (its versions, its uploads, the folders it is indexed from) and, on
Milvus, behind the alias `{QA_MILVUS_COLLECTION}_{NAME}`. Who may read or edit which collection is
the server's business (qa/server/users.py `Access.may`): the library serves whatever names it is given.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

from .ask.retrieval import Joined, Searcher
from .errors import CollectionMissing, InputError
from .files import write_atomic
from .pipeline import Asker, Tanya
from .settings import DEFAULT_COLLECTION, Settings

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MARKER = "collection.json"


class Library:
    """The collections under one index directory, each served by its own Tanya (models are shared)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self._members: dict[str, Tanya] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return Path(self.settings.store.index_dir) / "collections"

    def names(self) -> list[str]:
        """Every collection, `default` first: those made here, and on a shared store (Milvus) those other
        servers built."""
        named = set()
        if self.root.is_dir():
            named = {p.name for p in self.root.iterdir() if NAME.match(p.name) and (p / MARKER).is_file()}
        named |= {n for n in self.get(DEFAULT_COLLECTION).backend.neighbours() if NAME.match(n)}
        return [DEFAULT_COLLECTION, *sorted(named)]

    def exists(self, name: object) -> bool:
        if not isinstance(name, str) or not (name == DEFAULT_COLLECTION or NAME.match(name)):
            return False
        return name == DEFAULT_COLLECTION or (self.root / name / MARKER).is_file() or name in self.names()

    def settings_for(self, name: str) -> Settings:
        """A collection's settings: its own index folder, uploads and Milvus alias; the rest shared."""
        if name == DEFAULT_COLLECTION:
            return self.settings
        folder = self.root / name
        return self.settings.with_values(
            index_dir=folder,
            upload_dir=folder / "uploads",
            seeds_dir=folder / "articles",
            milvus_collection=f"{self.settings.store.milvus_collection}_{name}",
        )

    def get(self, name: str) -> Tanya:
        """One collection, or CollectionMissing."""
        if name != DEFAULT_COLLECTION and not self.exists(name):
            raise CollectionMissing(f"no collection '{name}'")
        with self._lock:
            if name not in self._members:
                self._members[name] = Tanya(self.settings_for(name), name)
            return self._members[name]

    def create(self, name: str) -> Tanya:
        """A new collection (or the existing one of that name)."""
        if not self.exists(name):
            if not isinstance(name, str) or not NAME.match(name):
                raise InputError(
                    f"'{name}' cannot name a collection: 1–40 lowercase letters, digits or _, starting with a letter"
                )
            folder = self.root / name
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(folder / MARKER, json.dumps({"name": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete a collection: its index (every version, on either store), its uploads, what it remembers."""
        if name == DEFAULT_COLLECTION:
            raise InputError("the default collection cannot be removed (remove its articles instead)")
        tanya = self.get(name)
        tanya.backend.drop()
        with self._lock:
            self._members.pop(name, None)
        (self.root / name / MARKER).unlink(missing_ok=True)  # gone at once, even if the rest takes a while
        shutil.rmtree(self.root / name, ignore_errors=True)

    def versions(self, names: list[str]) -> dict[str, object]:
        """What answered, for a record of the answer: Tanya's version, the reader's weights, and each
        collection's served index (when it was built)."""
        from . import __version__

        reader = self.get(DEFAULT_COLLECTION).reader
        indexes = {}
        for name in names:
            member = self.get(name)
            indexes[name] = member.manifest.get("built_at", "") if member.has_index() else ""
        return {
            "tanya": __version__,
            "reader": f"{reader.name}:{reader.version}" if reader is not None else "linear",
            "indexes": indexes,
        }

    def asker(self, names: list[str]) -> Asker:
        """What to ask: one collection, or several whose passages are searched together."""
        if not names:
            raise CollectionMissing("no collection to ask")
        members = [self.get(n) for n in dict.fromkeys(names)]
        return members[0] if len(members) == 1 else JoinedAsker(members)


class JoinedAsker(Asker):
    """Several collections asked as one: the same retrieval over each, the passages fused by score, then
    the same reading and decision as for one."""

    def __init__(self, members: list[Tanya]) -> None:
        super().__init__(members[0].settings, "+".join(m.name for m in members))
        self.members = members

    def searcher(self) -> Searcher:
        return Joined({m.name: m.retriever() for m in self.members})

    def has_index(self) -> bool:
        return all(m.has_index() for m in self.members)

    def warm_up(self) -> None:
        for m in self.members:
            m.warm_up()
