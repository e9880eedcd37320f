"""Database access shared by API keys, the triage queue and survey imports.

SQLAlchemy 2 with a SQLite file by default (WAL mode, so readers never block the writer) or
PostgreSQL by URL (``SIGNALS_DATABASE_URL``); the tests run the store on both. A PostgreSQL URL is
written the way PostgreSQL's own tools and hosting providers print it::

    SIGNALS_DATABASE_URL=postgresql://signals:PASSWORD@db.internal:5432/signals
    SIGNALS_DATABASE_URL=postgres://signals@/signals?host=/run/postgresql   # unix socket, peer auth

and runs on the psycopg 3 driver (a base dependency, with its own libpq): ``postgresql://`` and
``postgres://`` become SQLAlchemy's ``postgresql+psycopg://`` (``engine_url``); a URL naming a
driver (``postgresql+psycopg2://``) is used as given. Special characters in the password are
percent-encoded (``p@ss`` -> ``p%40ss``). Any other SQLAlchemy URL may work but is not tested.

Times are stored in UTC (``DateTime(timezone=True)``): SQLite hands them back naive, PostgreSQL in
the session's time zone; ``as_utc`` turns either into an aware UTC datetime, and every time the store
sends as a parameter is aware UTC too, so a server whose ``timezone`` is not UTC changes nothing.

The schema is owned by alembic migrations under ``signals/migrations``; each feature (keys, triage,
...) is its own migration branch starting from no parent, and ``migrate`` upgrades every head.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///signals.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base for every table of the project."""


def database_url(url: str | None = None) -> str:
    """The database URL: explicit argument, else ``SIGNALS_DATABASE_URL``, else ``sqlite:///signals.db``."""
    return url or os.environ.get("SIGNALS_DATABASE_URL") or DEFAULT_DATABASE_URL


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for a database URL: ``postgresql://`` and ``postgres://`` use psycopg 3.

    Everything after the scheme is kept byte for byte (credentials stay percent-encoded as given);
    URLs of other databases, and PostgreSQL URLs that name a driver, are returned unchanged.

    >>> engine_url("postgresql://signals:p%40ss@db.internal:5432/signals")
    'postgresql+psycopg://signals:p%40ss@db.internal:5432/signals'
    >>> engine_url("postgres://signals@/signals?host=/run/postgresql")
    'postgresql+psycopg://signals@/signals?host=/run/postgresql'
    >>> engine_url("postgresql+psycopg2://signals@db/signals")
    'postgresql+psycopg2://signals@db/signals'
    >>> engine_url("sqlite:///signals.db")
    'sqlite:///signals.db'
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def display_url(url: str | None = None) -> str:
    """The database URL as it may be shown or logged: the password replaced by ``***``.

    >>> display_url("postgresql://signals:secret@db.internal/signals")
    'postgresql://signals:***@db.internal/signals'
    >>> display_url("sqlite:///signals.db")
    'sqlite:///signals.db'
    """
    return make_url(database_url(url)).render_as_string(hide_password=True)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime: naive ones (SQLite's) are UTC already, aware ones are converted.

    >>> from datetime import timedelta, timezone
    >>> as_utc(datetime(2026, 3, 1, 12, 0)).isoformat()
    '2026-03-01T12:00:00+00:00'
    >>> as_utc(datetime(2026, 3, 2, 1, 45, tzinfo=timezone(timedelta(hours=13, minutes=45)))).isoformat()
    '2026-03-01T12:00:00+00:00'
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def without_nul(text: str) -> str:
    r"""``text`` with each NUL character (U+0000) as U+FFFD: PostgreSQL's text columns cannot hold
    U+0000, and a stored text must read back the same on every database.

    >>> without_nul("a\x00b") == "a\ufffdb"
    True
    """
    return text.replace("\x00", "\ufffd")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine per URL (cached); SQLite files get WAL mode and a busy timeout, PostgreSQL psycopg 3."""
    url = engine_url(database_url(url))
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


@lru_cache(maxsize=8)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A transaction: commits on success, rolls back on any error, always closes."""
    session = _sessionmaker(database_url(url))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str | None = None, revision: str = "heads") -> None:
    """Bring the database schema up to date (all migration heads). Safe to call on every start, also
    from several processes at once: they take turns on a lock (``migrations/env.py``).

    ``revision`` stops at an older one (e.g. ``"triage@triage_0002"``), for upgrade tests.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The option goes through configparser, where "%" starts an interpolation: a percent-encoded
    # password ("p%40ss") must be written "%%".
    cfg.set_main_option("sqlalchemy.url", engine_url(database_url(url)).replace("%", "%%"))
    cfg.attributes["engine"] = get_engine(database_url(url))
    command.upgrade(cfg, revision)
