"""`signals submit`, `signals users`, `signals labels export`, `signals triage demo` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from signals.cli import app
from signals.triage import store
from signals.triage.demo import demo_items
from signals.triage.users import authenticate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "triage"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _submit(db: str, model: Path, *extra: str) -> object:
    return runner.invoke(
        app,
        [
            "submit",
            str(FIXTURES / "comments.csv"),
            "--source",
            "city-survey",
            "--text-column",
            "body",
            "--id-column",
            "comment_id",
            "--context-column",
            "question_id",
            "--model",
            str(model),
            "--database-url",
            db,
            *extra,
        ],
    )


def test_submit_redacts_scores_and_is_idempotent(db: str, keyword_model_dir: Path) -> None:
    result = _submit(db, keyword_model_dir)
    assert result.exit_code == 0, result.output
    assert "3 queued, 1 already stored" in result.output
    assert "skipped 1 empty row(s) (lines 4)" in result.output
    items = store.query_items(url=db)
    assert [i.external_id for i in items] == ["s-1", "s-4", "s-2"]  # by priority, ties by arrival
    by_id = {i.external_id: i for i in items}
    assert "[EMAIL]" in by_id["s-1"].text and "[PHONE]" in by_id["s-4"].text
    assert by_id["s-1"].question_id == "Q3" and by_id["s-1"].context == {"question_id": "Q3"}
    again = _submit(db, keyword_model_dir)
    assert "0 queued, 4 already stored" in again.output


def test_submit_bad_input_is_one_line(db: str, keyword_model_dir: Path, tmp_path: Path) -> None:
    result = _submit(db, keyword_model_dir, "--id-column", "nope")
    assert result.exit_code == 2 and "no column 'nope' for --id-column" in result.output
    missing = runner.invoke(
        app, ["submit", str(tmp_path / "none.csv"), "--source", "x", "--database-url", db]
    )
    assert missing.exit_code == 2 and "input file not found" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,text\n1,caf\xe9\n")
    enc = runner.invoke(app, ["submit", str(bad), "--source", "x", "--database-url", db])
    assert enc.exit_code == 2 and "not valid utf-8" in enc.output


def test_users_create_list_and_errors(db: str) -> None:
    ok = runner.invoke(
        app, ["users", "create", "Ana", "--password-stdin", "--database-url", db], input="long-password-1\n"
    )
    assert ok.exit_code == 0, ok.output
    assert authenticate("ana", "long-password-1", url=db) == "ana"
    assert authenticate("ana", "wrong-password", url=db) is None
    dup = runner.invoke(
        app, ["users", "create", "ana", "--password-stdin", "--database-url", db], input="another-pass-2\n"
    )
    assert dup.exit_code == 2 and "already exists" in dup.output
    short = runner.invoke(
        app, ["users", "create", "bo", "--password-stdin", "--database-url", db], input="short\n"
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    listed = runner.invoke(app, ["users", "list", "--database-url", db])
    assert "ana" in listed.output
    off = runner.invoke(app, ["users", "disable", "ana", "--database-url", db])
    assert off.exit_code == 0 and authenticate("ana", "long-password-1", url=db) is None


def test_labels_export_command(db: str, keyword_model_dir: Path, tmp_path: Path) -> None:
    _submit(db, keyword_model_dir)
    first = store.query_items(url=db)[0]
    store.record_decision(first.id, "offensive", "confirm", "ana", url=db)
    result = runner.invoke(
        app, ["labels", "export", "--output", str(tmp_path / "labels"), "--database-url", db]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["n_rows"] == 1
    frame = pd.read_parquet(Path(payload["path"]) / "labels.parquet")
    assert frame.loc[0, "offensive"] == 1 and frame.loc[0, "hate"] == -1
    manifest = json.loads((Path(payload["path"]) / "manifest.json").read_text())
    assert manifest["version"] == payload["version"] and manifest["positives"]["offensive"] == 1


def test_triage_demo_seeds_once_and_prints_login(db: str, keyword_model_dir: Path) -> None:
    result = runner.invoke(app, ["triage", "demo", "--model", str(keyword_model_dir), "--database-url", db])
    assert result.exit_code == 0, result.output
    assert f"{len(demo_items())} new" in result.output
    password = result.output.split("with password")[1].split()[0]
    assert authenticate("demo", password, url=db) == "demo"
    again = runner.invoke(app, ["triage", "demo", "--model", str(keyword_model_dir), "--database-url", db])
    assert "0 new" in again.output
    surveys = store.query_items(store.ItemFilter(question_id="Q7"), url=db)
    assert surveys and all(i.context["question_text"] for i in surveys)
