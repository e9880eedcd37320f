"""Analyst accounts for the triage page: create, list, authenticate; plus the server's signing secret.

Passwords are stored as scrypt hashes (``hashlib.scrypt``, memory-hard, in the standard library) in
the form ``scrypt$n$r$p$salt$hash``, so the cost can be raised later without breaking stored hashes.
Verification is constant-time. Usernames are case-insensitive (stored lower-case).

Each analyst has a session epoch: a session is valid only while it carries the current one, so
``end_sessions`` (log-out), ``set_password`` and ``set_active(False)`` end every session of the
analyst on the server side, whatever cookies are still around.

>>> create_user("ana", "correct horse battery")   # doctest: +SKIP
>>> authenticate("ANA", "correct horse battery")  # doctest: +SKIP
'ana'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signals.db import as_utc, session_scope
from signals.triage.models import Analyst, TriageSecret, utcnow

MIN_PASSWORD_CHARS = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
# A hash computed once so unknown usernames cost the same time as wrong passwords.
_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class User:
    """An analyst as the rest of the code sees it (never the hash)."""

    id: int
    username: str
    active: bool
    created: datetime
    session_epoch: int = 0

    @classmethod
    def of(cls, row: Analyst) -> User:
        return cls(row.id, row.username, row.active, as_utc(row.created), row.session_epoch or 0)


def hash_password(password: str) -> str:
    """An scrypt hash string for ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from ``hash_password`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_username(username: str) -> str:
    """Normalise and validate a username (2-64 of a-z, 0-9, ``.``, ``_``, ``-``); raises ``ValueError``."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise ValueError(
            f"invalid username {username!r}: use 2-64 characters a-z, 0-9, '.', '_' or '-', starting "
            "with a letter or digit"
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password too short: use at least {MIN_PASSWORD_CHARS} characters")


def create_user(username: str, password: str, *, url: str | None = None) -> User:
    """Create an analyst; raises ``ValueError`` for a bad or taken username or a short password."""
    name = check_username(username)
    check_password(password)
    try:
        with session_scope(url) as session:
            row = Analyst(
                username=name,
                password_hash=hash_password(password),
                active=True,
                created=utcnow(),
                session_epoch=0,
            )
            session.add(row)
            session.flush()
            return User.of(row)
    except IntegrityError:
        raise ValueError(f"user {name!r} already exists") from None


def _row(session: Session, username: str) -> Analyst:
    name = check_username(username)
    row = session.scalars(select(Analyst).where(Analyst.username == name)).first()
    if row is None:
        raise LookupError(f"no user {name!r}")
    return row


def set_password(username: str, password: str, *, url: str | None = None) -> None:
    """Replace an analyst's password (and re-activate the account), ending their sessions; raises
    ``LookupError`` if unknown."""
    check_password(password)
    with session_scope(url) as session:
        row = _row(session, username)
        row.password_hash = hash_password(password)
        row.active = True
        row.session_epoch = (row.session_epoch or 0) + 1


def set_active(username: str, active: bool, *, url: str | None = None) -> None:
    """Disable (or re-enable) an analyst's login; disabling ends their sessions. ``LookupError`` if
    unknown."""
    with session_scope(url) as session:
        row = _row(session, username)
        row.active = active
        if not active:
            row.session_epoch = (row.session_epoch or 0) + 1


def end_sessions(username: str, *, url: str | None = None) -> None:
    """End every session of the analyst (log-out): cookies issued before stop working at once."""
    with session_scope(url) as session:
        row = _row(session, username)
        row.session_epoch = (row.session_epoch or 0) + 1


def list_users(*, url: str | None = None) -> list[User]:
    """Every analyst, by username (sorted here: a database's collation may order "a.b", "a-c" and
    "ab" differently from Python)."""
    with session_scope(url) as session:
        rows = session.scalars(select(Analyst))
        return sorted((User.of(r) for r in rows), key=lambda u: u.username)


def get_user(username: str, *, url: str | None = None) -> User | None:
    """An active analyst by name, or ``None``."""
    with session_scope(url) as session:
        row = session.scalars(select(Analyst).where(Analyst.username == username.strip().lower())).first()
        if row is None or not row.active:
            return None
        return User.of(row)


def authenticate(username: str, password: str, *, url: str | None = None) -> str | None:
    """The username when the credentials are right and the account active, else ``None``."""
    global _DUMMY_HASH
    name = username.strip().lower()
    with session_scope(url) as session:
        row = session.scalars(select(Analyst).where(Analyst.username == name)).first()
        stored = row.password_hash if row is not None else None
        active = bool(row and row.active)
    if stored is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
        verify_password(password, _DUMMY_HASH)  # same cost as a real check: no user enumeration by timing
        return None
    return name if verify_password(password, stored) and active else None


def server_secret(name: str = "session", *, url: str | None = None) -> str:
    """A random secret kept in the database (created on first use), e.g. the session signing key.

    Kept in the database rather than in memory so sessions survive restarts and every worker
    process signs with the same key.
    """
    for _ in range(3):
        with session_scope(url) as session:
            row = session.get(TriageSecret, name)
            if row is not None:
                return row.value
        try:
            with session_scope(url) as session:
                session.add(TriageSecret(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            continue  # another process created it first; read theirs
    raise RuntimeError(f"could not create server secret {name!r}")
