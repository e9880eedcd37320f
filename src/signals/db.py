"""Database access shared by API keys, the triage queue and survey imports.

SQLAlchemy 2 with a SQLite file by default (WAL mode, so readers never block the writer) and any
database by URL (``SIGNALS_DATABASE_URL``). The schema is owned by alembic migrations under
``signals/migrations``; each feature (keys, triage, ...) is its own migration branch starting from
no parent, and ``migrate`` upgrades every head.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///signals.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base for every table of the project."""


def database_url(url: str | None = None) -> str:
    """The database URL: explicit argument, else ``SIGNALS_DATABASE_URL``, else ``sqlite:///signals.db``."""
    return url or os.environ.get("SIGNALS_DATABASE_URL") or DEFAULT_DATABASE_URL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str | None = None) -> Engine:
    """One engine per URL (cached); SQLite files get WAL mode and a busy timeout."""
    url = database_url(url)
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
    """Bring the database schema up to date (all migration heads). Safe to call on every start.

    ``revision`` stops at an older one (e.g. ``"triage@triage_0002"``), for upgrade tests.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url(url))
    cfg.attributes["engine"] = get_engine(database_url(url))
    command.upgrade(cfg, revision)
