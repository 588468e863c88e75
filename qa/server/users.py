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
from dataclasses import dataclass
from pathlib import Path

from ..errors import AccessRefused, UserError

READER, EDITOR = "reader", "editor"
ROLES = (READER, EDITOR)
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
        """The users, read again only when the file changed (the gate asks on every request)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (st.st_ino, st.st_mtime_ns, st.st_size)  # written by replacing: a change is a new file
        if self._cached is not None and self._cached[0] == key:
            return copy.deepcopy(self._cached[1])
        users = self._read()
        self._cached = (key, users)
        return copy.deepcopy(users)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read the users file {self.path}: {exc}") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise UserError(f"the users file {self.path} has no 'users' object")
        return users

    def _save(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"users": users}, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def list(self) -> list[dict]:
        """Each user's name, role, number of API keys and when it was added (no secrets)."""
        return [
            {"name": n, "role": u.get("role"), "keys": len(u.get("keys", [])), "added": u.get("added", "")}
            for n, u in sorted(self._load().items())
        ]

    def any(self) -> bool:
        return bool(self._load())

    def role(self, name: str) -> str | None:
        """A user's role, or None for no such user."""
        record = self._load().get(name)
        return record["role"] if record else None

    def add(self, name: str, role: str, password: str) -> None:
        """Add a user, or change an existing one's role and password (its keys are kept)."""
        if not _NAME.match(name or ""):
            raise UserError("a user name is 1–64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if len(password or "") < 8:
            raise UserError("the password must have at least 8 characters")
        users = self._load()
        old = users.get(name, {})
        users[name] = {
            "role": role,
            "password": _hasher().hash(password),
            "keys": old.get("keys", []),
            "added": old.get("added") or time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._save(users)

    def remove(self, name: str) -> None:
        users = self._load()
        if name not in users:
            raise UserError(f"no user '{name}'")
        del users[name]
        self._save(users)

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
