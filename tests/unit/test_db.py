"""signals.db: the URL a user gives becomes the right driver; migrations run on both databases."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import signals.db
from pg import PostgresServer
from signals.db import get_engine, migrate

ROOT = Path(__file__).resolve().parents[2]


def test_doctests() -> None:
    assert doctest.testmod(signals.db).failed == 0


def test_migrations_build_the_schema_the_models_declare(database_url: str) -> None:
    import signals.feedback
    import signals.fleet
    import signals.keys
    import signals.triage.models  # noqa: F401  (the tables register on Base.metadata)

    migrate(database_url)
    migrate(database_url)  # again: nothing to do
    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert {
        "api_keys",
        "feedback",
        "triage_items",
        "triage_decisions",
        "triage_users",
        "served_model",
    } <= tables
    with get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, signals.db.Base.metadata) == []  # no column, type, index drifts


def test_processes_starting_together_on_a_fresh_database_all_migrate(database_url: str) -> None:
    # Several workers or hosts starting at once each run the migrations: one does the work, the others
    # wait for its lock and find nothing to do (without the lock all but one failed, on both databases).
    code = f"from signals.db import migrate; migrate({database_url!r})"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [(p.communicate(timeout=300)[1], p.returncode) for p in procs]
    failed = [err[-1500:] for err, code in outputs if code]
    assert not failed, failed[0]
    assert "triage_items" in inspect(get_engine(database_url)).get_table_names()


@pytest.mark.parametrize("database_backend", ["postgresql"])
def test_postgres_urls_as_users_write_them(
    database_backend: str, postgres_server: PostgresServer, database_url: str
) -> None:
    # postgres:// (what hosting providers print) and a percent-encoded password, which alembic's
    # configparser would otherwise read as an interpolation (the test server trusts loopback, so any
    # password connects).
    url = database_url.replace("postgresql://postgres@", "postgres://postgres:p%40ss%25word@")
    migrate(url)
    assert get_engine(url).dialect.driver == "psycopg"
    assert "triage_items" in inspect(get_engine(url)).get_table_names()
    get_engine(url).dispose()
