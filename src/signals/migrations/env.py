"""Alembic environment: runs migrations on the engine handed over by ``signals.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from signals.db import Base

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
#: PostgreSQL advisory lock key held while migrating ("signals" in ASCII): several hosts or workers
#: starting at once on one database migrate one after the other; the later ones find nothing to do.
MIGRATION_LOCK = 0x7369676E616C73

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()
