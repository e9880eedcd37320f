"""Alembic environment: runs migrations on the engine handed over by ``signals.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from signals.db import Base

config = context.config
target_metadata = Base.metadata
#: Any fixed number: the PostgreSQL advisory lock every process migrating this database takes.
MIGRATION_LOCK = 0x5167_6E61


def serialise(connection: Connection) -> None:
    """Hold the database's migration lock until this transaction ends.

    Several processes may start at once on a fresh database (workers, hosts, a deploy): without the
    lock each reads "no schema yet" and creates the same tables, and all but one fail. With it the
    first migrates and the others, once it commits, read its version and find nothing to do.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the first write


engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
with engine.begin() as connection:
    serialise(connection)
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()
