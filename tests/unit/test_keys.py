"""API keys: hashed storage, scopes, revoke by id/prefix/name, and the `signals keys` commands.

The tests that take ``url`` run on SQLite and on PostgreSQL (``database_url``, tests/conftest.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from signals.cli import app
from signals.db import migrate, session_scope
from signals.keys import ApiKey, create_key, hash_key, list_keys, parse_scopes, revoke_key, verify_key

runner = CliRunner()


@pytest.fixture
def url(database_url: str) -> str:
    migrate(database_url)
    return database_url


def test_only_the_hash_is_stored(url: str) -> None:
    secret, info = create_key("forum-bot", "score,triage", url=url)
    assert secret.startswith("sig_") and len(secret) > 40
    with session_scope(url) as session:
        row = session.scalars(select(ApiKey)).one()
        stored = [str(v) for v in (row.name, row.prefix, row.key_hash, row.scopes)]
    assert secret not in stored and row.key_hash == hash_key(secret)
    assert secret.startswith(info.prefix) and info.scopes == ("score", "triage")
    verified = verify_key(secret, url)
    assert verified is not None and verified.name == "forum-bot"
    assert verify_key(secret + "x", url) is None
    assert verify_key("not-a-key", url) is None


def test_scopes_are_validated() -> None:
    assert parse_scopes(" admin, score ,score") == ("admin", "score")
    with pytest.raises(ValueError, match="unknown scope"):
        parse_scopes("score,root")
    with pytest.raises(ValueError, match="at least one scope"):
        parse_scopes(",")


@pytest.mark.parametrize("by", ["id", "prefix", "name"])
def test_revoke(url: str, by: str) -> None:
    secret, info = create_key("bot", "score", url=url)
    other, _ = create_key("other", "score", url=url)
    ident = {"id": str(info.id), "prefix": info.prefix, "name": "bot"}[by]
    revoked = revoke_key(ident, url)
    assert [k.id for k in revoked] == [info.id] and revoked[0].revoked
    assert verify_key(secret, url) is None
    assert verify_key(other, url) is not None
    with pytest.raises(LookupError, match="no key"):
        revoke_key("nobody", url)
    # an id no database integer holds is just not found (SQLite cannot even bind it)
    with pytest.raises(LookupError, match="no key"):
        revoke_key("9" * 30, url)


def test_created_is_utc_and_limits_fit_a_database_integer(url: str) -> None:
    _, info = create_key("bot", "score", rate_limit=2**31 - 1, url=url)
    (listed,) = list_keys(url)
    assert listed.created == info.created and listed.created.utcoffset() == timedelta(0)
    assert listed.rate_limit == 2**31 - 1
    with pytest.raises(ValueError, match="at most 2147483647"):
        create_key("big", "score", rate_limit=2**31, url=url)


def test_cli_create_list_revoke(url: str) -> None:
    env = {"SIGNALS_DATABASE_URL": url}
    created = runner.invoke(app, ["keys", "create", "--name", "bot", "--scopes", "score,admin"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert verify_key(secret, url) is not None
    listed = runner.invoke(app, ["keys", "list"], env=env)
    assert listed.exit_code == 0 and "bot" in listed.stdout and secret not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", "bot"], env=env)
    assert revoked.exit_code == 0 and verify_key(secret, url) is None
    assert [k.revoked for k in list_keys(url)] == [True]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["keys", "create", "--name", "x", "--scopes", "root"], "unknown scope"),
        (["keys", "create", "--name", " ", "--scopes", "score"], "non-empty --name"),
        (["keys", "revoke", "ghost"], "no key"),
    ],
)
@pytest.mark.parametrize("database_backend", ["sqlite"])  # lookups on both: test_revoke
def test_cli_errors_are_one_line(url: str, args: list[str], needle: str) -> None:
    result = runner.invoke(app, args, env={"SIGNALS_DATABASE_URL": url})
    assert result.exit_code == 2
    assert needle in result.output and "Traceback" not in result.output
