"""Alembic environment: runs migrations on the engine handed over by ``signals.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from signals.db import Base

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()
