"""Who is calling: users from a file (bcrypt hashes), and the bearer tokens ``/credentials/basic`` hands out.

The users file (a Kubernetes Secret mounted as a file, or a local file) has one user a line:
``name:$2b$12$...bcrypt-hash...[:group1,group2]``; ``#`` starts a comment. Tokens are stateless and
signed (HMAC-SHA256 over user and expiry with the server's secret), so every replica behind the
Service accepts every token and a restart with the same secret keeps users logged in. The groups
come from the users file when a token is used, not from the token: removing a user from a group
takes effect at once. Passwords are compared with bcrypt and never stored, logged or echoed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import bcrypt

from sparkeo.errors import ConfigError
from sparkeo.identity import Caller
from sparkeo.names import check_user_name

#: openEO's prefix of a token issued by ``/credentials/basic`` (``Authorization: Bearer basic//TOKEN``)
BASIC_PREFIX = "basic//"


@dataclass(frozen=True)
class User:
    """One line of the users file: name, bcrypt hash, groups."""

    name: str
    password_hash: bytes
    groups: frozenset[str] = frozenset()

    def caller(self) -> Caller:
        return Caller(self.name, self.groups)


def parse_users(text: str, where: str = "<users>") -> dict[str, User]:
    """The users of a users file's ``text``; ``ConfigError`` naming the line of a bad entry (never its hash)."""
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        hashed, _, groups = rest.partition(":")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"{where} line {number}", name, "expected 'name:bcrypt-hash[:group,...]'")
        check_user_name(name)
        users[name] = User(name, hashed.encode(), frozenset(g.strip() for g in groups.split(",") if g.strip()))
    return users


def load_users(path: str) -> dict[str, User]:
    """The users of the file at ``path``."""
    try:
        return parse_users(Path(path).read_text(), path)
    except OSError as exc:
        raise ConfigError("users file", path, exc.strerror or str(exc)) from None


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt hash of ``password`` for a users file line."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@dataclass(frozen=True)
class Authenticator:
    """Checks passwords against the users and issues and verifies signed, expiring tokens."""

    users: Mapping[str, User]
    secret: bytes
    token_ttl: float = 8 * 3600.0

    def login(self, name: str, password: str, now: float | None = None) -> str | None:
        """A fresh token for a correct ``name``/``password``, else ``None`` (which one was wrong is not told)."""
        user = self.users.get(name)
        if user is None or not bcrypt.checkpw(password.encode(), user.password_hash):
            return None
        expires = int((time.time() if now is None else now) + self.token_ttl)
        payload = _b64(f"{name}\n{expires}".encode())
        return f"{payload}.{self._sign(payload)}"

    def caller_of(self, token: str, now: float | None = None) -> Caller | None:
        """The caller a valid, unexpired token of a known user stands for, else ``None``."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            name, expires = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("\n")
            expired = float(expires) < (time.time() if now is None else now)
        except ValueError:
            return None
        user = self.users.get(name)
        return None if expired or user is None else user.caller()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
