"""Who may do what: users with roles, their passwords and API keys.

Readers ask; editors also add, remove and rebuild. Users live in one JSON file (`QA_USERS_FILE`,
default `users.json`), written atomically with mode 0600: passwords as argon2id hashes, API keys as
SHA-256 digests (a key is 32 random bytes, shown once when made). `QA_AUTH=user:password` adds one
editor that lives only in the environment.

    python -m qa user add alice --role editor      # password from a prompt, or from stdin
    python -m qa user key alice                    # prints a new API key
    python -m qa user list | remove alice

`Access` is what the server consults: who a login or a key belongs to, and which role a visitor
without one gets (none when users exist; editor on loopback with no users; reader with
--allow-anonymous).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import AccessRefused, UserError

READER, EDITOR = "reader", "editor"
ROLES = (READER, EDITOR)
READ, EDIT = "read", "edit"
RIGHTS = (READ, EDIT)
DEFAULT = "default"  # the collection every user reads while nothing is granted on it
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
KEY_PREFIX = "tanya-"


@dataclass(frozen=True)
class User:
    name: str
    role: str


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


class UserStore:
    """The users file: read on each check (so `qa user` changes apply to a running server), written atomically."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._cached: tuple[tuple[int, int, int], dict[str, dict]] | None = None

    def _load(self) -> dict[str, dict]:
        """The users (a copy)."""
        return self._data()["users"]

    def _data(self) -> dict[str, dict]:
        """{"users": …, "grants": …}, read again only when the file changed (the gate asks on every request)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {"users": {}, "grants": {}}
        key = (st.st_ino, st.st_mtime_ns, st.st_size)  # written by replacing: a change is a new file
        if self._cached is not None and self._cached[0] == key:
            return copy.deepcopy(self._cached[1])
        data = self._read()
        self._cached = (key, data)
        return copy.deepcopy(data)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"users": {}, "grants": {}}
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read the users file {self.path}: {exc}") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise UserError(f"the users file {self.path} has no 'users' object")
        grants = data.get("grants", {})
        if not isinstance(grants, dict):
            raise UserError(f"the users file {self.path} has a 'grants' entry that is not an object")
        return {"users": users, "grants": grants}

    def _save(self, users: dict[str, dict], grants: dict[str, dict] | None = None) -> None:
        """Write the users (and the grants: by default the ones on file), atomically, mode 0600."""
        grants = self._data()["grants"] if grants is None else grants
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"users": users, "grants": grants}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- collections: who may read and edit which (qa/library.py) ------------------------------------
    def grants(self) -> dict[str, dict[str, list[str]]]:
        """collection → {"read": [principals], "edit": [principals]}; a principal is a user or @group."""
        out = {}
        for collection, rights in self._data()["grants"].items():
            if isinstance(rights, dict):
                out[collection] = {r: [str(p) for p in rights.get(r, []) if isinstance(p, str)] for r in RIGHTS}
        return out

    def groups_of(self, name: str) -> list[str]:
        record = self._load().get(name) or {}
        groups = record.get("groups", [])
        return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []

    def grant(self, principal: str, right: str, collection: str) -> None:
        """Let a user or @group read (or edit, which includes reading) a collection."""
        data = self._data()
        self._check_principal(principal, data["users"])
        if right not in RIGHTS:
            raise UserError(f"the right is one of {', '.join(RIGHTS)}")
        rights = data["grants"].setdefault(collection, {"read": [], "edit": []})
        listed = rights.setdefault(right, [])
        if principal not in listed:
            listed.append(principal)
        self._save(data["users"], data["grants"])

    def revoke(self, principal: str, right: str | None, collection: str) -> int:
        """Take a user's or group's right (None: both) on a collection away; returns how many were taken.
        A collection left with no grants is closed again (`default`: open to every user, see Access.may)."""
        data = self._data()
        rights = data["grants"].get(collection, {})
        taken = 0
        for r in RIGHTS if right is None else (right,):
            if principal in rights.get(r, []):
                rights[r].remove(principal)
                taken += 1
        if rights and not any(rights.get(r) for r in RIGHTS):
            # nothing granted any more: the entry goes, and with it the collection's "granted" state
            del data["grants"][collection]
        self._save(data["users"], data["grants"])
        return taken

    def forget_collection(self, collection: str) -> None:
        """Drop every grant on a collection (it was removed)."""
        data = self._data()
        if data["grants"].pop(collection, None) is not None:
            self._save(data["users"], data["grants"])

    @staticmethod
    def _check_principal(principal: str, users: dict[str, dict]) -> None:
        if principal.startswith("@"):
            if not _NAME.match(principal[1:]):
                raise UserError("a group name is 1–64 letters, digits or . _ @ -")
        elif principal not in users:
            raise UserError(f"no user '{principal}' (python -m qa user add {principal})")

    def list(self) -> list[dict]:
        """Each user's name, role, number of API keys and when it was added (no secrets)."""
        return [
            {
                "name": n,
                "role": u.get("role"),
                "keys": len(u.get("keys", [])),
                "groups": u.get("groups", []),
                "added": u.get("added", ""),
            }
            for n, u in sorted(self._load().items())
        ]

    def any(self) -> bool:
        return bool(self._load())

    def role(self, name: str) -> str | None:
        """A user's role, or None for no such user."""
        record = self._load().get(name)
        return record["role"] if record else None

    def add(self, name: str, role: str, password: str, groups: Sequence[str] | None = None) -> None:
        """Add a user, or change an existing one's role and password (its keys are kept; its groups
        too unless `groups` is given)."""
        if not _NAME.match(name or ""):
            raise UserError("a user name is 1–64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        for group in groups or []:
            if not _NAME.match(group):
                raise UserError("a group name is 1–64 letters, digits or . _ @ -")
        if len(password or "") < 8:
            raise UserError("the password must have at least 8 characters")
        users = self._load()
        old = users.get(name, {})
        users[name] = {
            "role": role,
            "password": _hasher().hash(password),
            "keys": old.get("keys", []),
            "groups": sorted(set(old.get("groups", []) if groups is None else groups)),
            "added": old.get("added") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._save(users)

    def remove(self, name: str) -> None:
        users = self._load()
        if name not in users:
            raise UserError(f"no user '{name}'")
        del users[name]
        grants = self._data()["grants"]
        for rights in grants.values():  # a user made later under the same name inherits nothing
            for listed in rights.values():
                while name in listed:
                    listed.remove(name)
        self._save(users, grants)

    def new_key(self, name: str) -> str:
        """A new API key for the user (kept as a digest; the key itself is only returned here)."""
        users = self._load()
        if name not in users:
            raise UserError(f"no user '{name}'")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        users[name].setdefault("keys", []).append(_digest(key))
        self._save(users)
        return key

    def revoke_keys(self, name: str) -> int:
        users = self._load()
        if name not in users:
            raise UserError(f"no user '{name}'")
        n = len(users[name].get("keys", []))
        users[name]["keys"] = []
        self._save(users)
        return n

    def login(self, name: str, password: str) -> User | None:
        """The user if the password is right, else None."""
        from argon2.exceptions import Argon2Error, InvalidHashError

        record = self._load().get(name or "")
        if not record:
            _hasher().hash("x" * 8)  # about the same time for unknown names
            return None
        try:
            _hasher().verify(record["password"], password or "")
        except (Argon2Error, InvalidHashError):
            return None
        return User(name, record["role"])

    def by_key(self, key: str) -> User | None:
        digest = _digest(key or "")
        for name, record in self._load().items():
            if any(hmac.compare_digest(digest, d) for d in record.get("keys", [])):
                return User(name, record["role"])
        return None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Access:
    """Who may do what on one server: its users file, the QA_AUTH editor, and the role of a visitor
    who has not logged in (None = must log in)."""

    store: UserStore
    env_user: tuple[str, str] | None = None  # QA_AUTH
    anonymous: str | None = None

    @classmethod
    def configure(cls, users_file: Path | str, qa_auth: str | None, host: str, allow_anonymous: bool) -> "Access":
        """Users from the file and QA_AUTH; with none, an open server on loopback (editor) or, with
        `allow_anonymous`, readers only; with none on another address, AccessRefused."""
        store = UserStore(users_file)
        env_user = tuple(qa_auth.split(":", 1)) if qa_auth and ":" in qa_auth else None
        env_user = (env_user[0], env_user[1]) if env_user else None
        if env_user is not None or store.any():
            return cls(store, env_user, READER if allow_anonymous else None)
        if allow_anonymous:
            return cls(store, None, READER)
        if host in LOOPBACK:
            return cls(store, None, EDITOR)
        raise AccessRefused(
            f"refusing to serve on {host} with no users: anyone who reaches the port could read and change the index. "
            "Add users (python -m qa user add NAME --role editor), set QA_AUTH, or pass --allow-anonymous (readers only)."
        )

    @property
    def needs_login(self) -> bool:
        return self.anonymous is None

    def login(self, name: str, password: str) -> bool:
        """For the page's login form."""
        if self.env_user and name == self.env_user[0] and hmac.compare_digest(password or "", self.env_user[1]):
            return True
        return self.store.login(name, password) is not None

    def role_of(self, name: str | None) -> str | None:
        """The role of a logged-in user (the page), or of a visitor when `name` is None."""
        if name is None:
            return self.anonymous
        if self.env_user and name == self.env_user[0]:
            return EDITOR
        return self.store.role(name)

    def may(self, name: str | None, right: str, collection: str) -> bool:
        """Whether a logged-in user (or, for `name` None or "", a visitor) may `read` or `edit` a collection.

        A collection nothing is granted on is closed, except `default`, which every user reads and users
        with the editor role edit (so a server without grants works as before collections). Once
        anything is granted on a collection, only what is granted counts: `edit` (which includes
        reading) or `read`, to the user or to one of its @groups. A visitor on a server with no users
        (one person's loopback server) may do everything; a visitor let in by --allow-anonymous reads
        `default` while nothing is granted on it."""
        if right not in RIGHTS:
            raise ValueError(f"unknown right {right!r}")
        if not name:
            if self.anonymous == EDITOR:
                return True
            return self.anonymous == READER and right == READ and collection == DEFAULT and not self.store.grants().get(DEFAULT)
        role = self.role_of(name)
        if role is None:
            return False
        granted = self.store.grants().get(collection)
        if not granted or not any(granted.values()):
            return collection == DEFAULT and (right == READ or role == EDITOR)
        me = {name, *(f"@{g}" for g in self.store.groups_of(name))}
        if me & set(granted.get(EDIT, [])):
            return True
        return right == READ and bool(me & set(granted.get(READ, [])))

    def allowed(self, name: str | None, right: str, collections: list[str]) -> list[str]:
        """Those of `collections` the user may read (or edit), in their order."""
        return [c for c in collections if self.may(name, right, c)]

    def by_key(self, authorization: str | None) -> User | None:
        """The user an `Authorization: Bearer KEY` header belongs to (the QA_AUTH password is that
        editor's key); a visitor's role when there is no header and visitors are let in, or when there
        are no users and any key is as good as none; else None."""
        scheme, _, key = (authorization or "").partition(" ")
        if not authorization or (self.anonymous and self.env_user is None and not self.store.any()):
            # no header, or a server with no users at all (a client such as openai's always sends some key)
            return User("", self.anonymous) if self.anonymous else None
        if scheme.lower() != "bearer" or not key.strip():
            return None
        key = key.strip()
        if self.env_user and hmac.compare_digest(key, self.env_user[1]):
            return User(self.env_user[0], EDITOR)
        return self.store.by_key(key)
