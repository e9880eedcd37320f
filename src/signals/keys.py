"""API keys for the scoring service: create, list, revoke, verify.

A key is ``sig_`` followed by 43 URL-safe characters (256 bits from ``secrets``). Only its SHA-256 is
stored: a stolen database does not hand out working keys, and because the key is high-entropy a fast
hash is enough (no password-style stretching needed). The first characters are kept in clear as a
``prefix`` so ``signals keys list`` can tell keys apart.

Scopes say what a key may do: ``score`` (``/v1/score``, the Perspective-compatible routes), ``triage``
(the triage queue), ``admin`` (model reload, metrics). The table lives in the ``keys`` alembic branch.

>>> key, record = create_key("forum-bot", ["score"])   # doctest: +SKIP
>>> verify_key(key).name                               # doctest: +SKIP
'forum-bot'
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from signals.db import Base, as_utc, session_scope

#: Every scope a key can carry.
SCOPES: tuple[str, ...] = ("score", "triage", "admin")
KEY_PREFIX = "sig_"
#: The largest id and rate limit the table holds: a 32-bit INTEGER on PostgreSQL.
MAX_INT = 2**31 - 1


def _now() -> datetime:
    return datetime.now(UTC)


class ApiKey(Base):
    """One API key: the hash of the secret, who it is for, what it may do, whether it still works."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scopes: Mapped[str] = mapped_column(String(200))  # comma-separated, from SCOPES
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # units/minute, None = default
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class KeyInfo:
    """What the rest of the code sees of a key (never the secret or its hash)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    rate_limit: int | None
    created: datetime
    revoked: bool

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=tuple(s for s in row.scopes.split(",") if s),
            rate_limit=row.rate_limit,
            created=as_utc(row.created),
            revoked=row.revoked,
        )


def hash_key(key: str) -> str:
    """Hex SHA-256 of a key: what the table stores and what lookups compare."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """Normalise ``"score,triage"`` or a list into a sorted tuple, rejecting unknown scope names."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = sorted({s.strip() for s in items if s.strip()})
    if not cleaned:
        raise ValueError(f"give at least one scope out of {', '.join(SCOPES)}")
    unknown = [s for s in cleaned if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; expected some of {', '.join(SCOPES)}")
    return tuple(cleaned)


def create_key(
    name: str, scopes: str | Iterable[str], rate_limit: int | None = None, url: str | None = None
) -> tuple[str, KeyInfo]:
    """Create a key; returns the secret (shown once, never stored) and its record."""
    name = name.strip()
    if not name:
        raise ValueError("a key needs a non-empty --name")
    if rate_limit is not None and rate_limit < 0:
        raise ValueError("--rate-limit must be >= 0 units per minute (0 = unlimited)")
    if rate_limit is not None and rate_limit > MAX_INT:
        raise ValueError(f"--rate-limit must be at most {MAX_INT} units per minute (0 = unlimited)")
    parsed = parse_scopes(scopes)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with session_scope(url) as session:
        row = ApiKey(
            name=name,
            prefix=secret[: len(KEY_PREFIX) + 6],
            key_hash=hash_key(secret),
            scopes=",".join(parsed),
            rate_limit=rate_limit,
            created=_now(),
            revoked=False,
        )
        session.add(row)
        session.flush()
        info = KeyInfo.of(row)
    return secret, info


def list_keys(url: str | None = None, include_revoked: bool = True) -> list[KeyInfo]:
    """All keys, oldest first."""
    with session_scope(url) as session:
        query = select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked.is_(False))
        return [KeyInfo.of(row) for row in session.scalars(query)]


def revoke_key(ident: str, url: str | None = None) -> list[KeyInfo]:
    """Revoke keys by id, by prefix (as ``keys list`` shows it) or by name; returns what was revoked.

    Raises ``LookupError`` when nothing matches, so a typo never looks like success.
    """
    with session_scope(url) as session:
        rows: list[ApiKey] = []
        if ident.isascii() and ident.isdigit() and int(ident) <= MAX_INT:
            row = session.get(ApiKey, int(ident))
            rows = [row] if row else []
        if not rows:
            rows = list(session.scalars(select(ApiKey).where(ApiKey.prefix == ident)))
        if not rows:
            rows = list(session.scalars(select(ApiKey).where(ApiKey.name == ident)))
        if not rows:
            raise LookupError(f"no key with id, prefix or name {ident!r} (see `signals keys list`)")
        for row in rows:
            if not row.revoked:
                row.revoked = True
                row.revoked_at = _now()
        session.flush()
        return [KeyInfo.of(row) for row in rows]


def verify_key(key: str, url: str | None = None) -> KeyInfo | None:
    """The key's record when it exists and is not revoked, else ``None``."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    with session_scope(url) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
        if row is None or row.revoked:
            return None
        return KeyInfo.of(row)
