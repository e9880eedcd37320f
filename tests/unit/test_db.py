"""signals.db: the URL a user gives becomes the right driver; migrations run on both databases."""

from __future__ import annotations

import doctest

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import signals.db
from pg import PostgresServer
from signals.db import get_engine, migrate


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


@pytest.mark.parametrize("database_backend", ["postgresql"])
def test_hosts_starting_at_once_migrate_one_after_the_other(
    database_backend: str, postgres_server: PostgresServer, database_url: str
) -> None:
    """Every worker and host runs ``migrate`` at start; on PostgreSQL an advisory lock serialises them
    (``signals serve`` on one host migrates before it starts its workers)."""
    import subprocess
    import sys

    code = f"from signals.db import migrate; migrate({database_url!r})"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    failures = [p.communicate(timeout=120)[1] for p in procs if p.wait(timeout=120) != 0]
    assert failures == []
    assert "served_model" in inspect(get_engine(database_url)).get_table_names()
