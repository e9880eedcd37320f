"""`signals submit`, `signals users`, `signals labels export`, `signals triage demo` end to end.

On SQLite; submit, users and the decision import (with its label export) also on PostgreSQL
(``@BOTH_DATABASES``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pg import BOTH_DATABASES
from signals.cli import app
from signals.triage import store
from signals.triage.demo import demo_items
from signals.triage.users import authenticate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "triage"
runner = CliRunner()


@pytest.fixture
def database_backend() -> str:
    return "sqlite"


@pytest.fixture
def db(database_url: str) -> str:
    return database_url


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


@BOTH_DATABASES
def test_submit_redacts_scores_and_is_idempotent(db: str, keyword_model_dir: Path) -> None:
    result = _submit(db, keyword_model_dir)
    assert result.exit_code == 0, result.output
    assert "3 queued, 0 already stored" in result.output
    assert "skipped 1 empty row(s) (lines 4)" in result.output
    items = store.query_items(url=db)
    assert [i.external_id for i in items] == ["s-1", "s-4", "s-2"]  # by priority, ties by arrival
    by_id = {i.external_id: i for i in items}
    assert "[EMAIL]" in by_id["s-1"].text and "[PHONE]" in by_id["s-4"].text
    assert by_id["s-1"].question_id == "Q3" and by_id["s-1"].context == {
        "question_id": "Q3",
        "language": "en",
        "supported": True,
    }
    again = _submit(db, keyword_model_dir)
    assert "0 queued, 3 already stored" in again.output


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


@BOTH_DATABASES
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


def _submit_file(db: str, model: Path, path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["submit", str(path), "--source", "forum", "--model", str(model), "--database-url", db, *extra],
    )
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def test_submit_refuses_a_repeated_id_like_import(db: str, keyword_model_dir: Path, tmp_path: Path) -> None:
    # It stored the first row and dropped the second in silence; `signals import` refuses the same case.
    src = tmp_path / "dup.csv"
    src.write_text("id,text\n7,first text\n8,other\n7,second text\n")
    code, out = _submit_file(db, keyword_model_dir, src, "--id-column", "id")
    assert code == 2 and "duplicate id(s) in column 'id': '7' on line 4 (first on line 2)" in out
    from signals.db import migrate

    migrate(db)
    assert store.query_items(url=db) == []  # nothing stored
    # Without --id-column the id is the text's hash: a repeated text is the same item, and is counted.
    src.with_name("same.csv").write_text("id,text\n1,same words\n2,same words\n3,other\n")
    code, out = _submit_file(db, keyword_model_dir, src.with_name("same.csv"))
    assert code == 0 and "2 queued, 0 already stored" in out and "1 row(s) repeat the text" in out


def test_submit_reads_rows_as_they_are(db: str, keyword_model_dir: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("id,text\n1,you idiot,north\n2,hello\n")  # pandas made column 1 an index
    code, out = _submit_file(db, keyword_model_dir, extra, "--id-column", "id")
    assert code == 2 and "line 2 has 3 cells but the header has 2 columns" in out
    quote = tmp_path / "quote.csv"
    quote.write_text('id,text\n1,"opens\n2,hello\n')
    code, out = _submit_file(db, keyword_model_dir, quote, "--id-column", "id")
    assert code == 2 and "line 2: a quoted field opens on this line and is never closed" in out
    twice = tmp_path / "twice.csv"
    twice.write_text("id,text,text\n1,a,b\n")
    code, out = _submit_file(db, keyword_model_dir, twice)
    assert code == 2 and "repeats column name(s) 'text'" in out
    huge = tmp_path / "huge.csv"
    huge.write_text(f"id,text,where\n1,hello,{'x' * 1_000_001}\n")
    code, out = _submit_file(db, keyword_model_dir, huge, "--context-column", "where")
    assert code == 2 and "line 2, column 'where': the text has 1,000,001 characters" in out
    blank = tmp_path / "blank.csv"
    blank.write_text("\nid,text\n1,hello\n")
    code, out = _submit_file(db, keyword_model_dir, blank, "--id-column", "id")
    assert code == 0 and "1 queued" in out
    assert store.query_items(url=db)[0].external_id == "1"


def _import_decisions(db: str, path: Path, *extra: str) -> object:
    return runner.invoke(
        app,
        [
            "triage", "import-decisions", str(path), "--source", "city-survey", "--analyst", "ana",
            "--database-url", db, *extra,
        ],
    )  # fmt: skip


@BOTH_DATABASES
def test_import_decisions_records_them_like_the_page(
    db: str, keyword_model_dir: Path, tmp_path: Path
) -> None:
    assert _submit(db, keyword_model_dir).exit_code == 0
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "external_id,signal,decision,target,note\n"
        "s-1,offensive,confirm,,rude\n"
        "s-1,hate,reject,,\n"
        "\n"
        "s-4,threat,unsure,,\n"
    )
    result = _import_decisions(db, labels, "--sampled")
    assert result.exit_code == 0, result.output
    assert "3 random-sample labels recorded for 'ana' on source 'city-survey'" in result.output
    by_id = {i.external_id: i for i in store.query_items(url=db)}
    history = store.decision_history(by_id["s-1"].id, url=db)
    assert [(d.signal, d.decision, d.analyst, d.sampled) for d in history] == [
        ("offensive", "confirm", "ana", True),
        ("hate", "reject", "ana", True),
    ]
    assert history[0].note == "rude" and history[0].scores_shown == by_id["s-1"].scores
    assert history[0].model_version == by_id["s-1"].model_version
    # the label export sees them as it sees the page's decisions
    export = runner.invoke(app, ["labels", "export", "--output", str(tmp_path / "out"), "--database-url", db])
    assert export.exit_code == 0, export.output
    assert json.loads(export.stdout.strip().splitlines()[-1])["n_rows"] == 1  # s-4 has only "unsure"
    # without --sampled they are triage decisions
    again = tmp_path / "again.csv"
    again.write_text("external_id,signal,decision\ns-2,hate,reject\n")
    assert _import_decisions(db, again).exit_code == 0
    (d,) = store.decision_history(by_id["s-2"].id, url=db)
    assert not d.sampled


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "external_id,signal,decision\ns-1,hate,confirm\ns-9,hate,reject\n",
            "line 3: no item 's-9' in source",
        ),
        ("external_id,signal,decision\ns-1,hate,confirm\ns-4,spam,reject\n", "line 3: unknown signal 'spam'"),
        (
            "external_id,signal,decision\ns-1,hate,confirm\ns-4,hate,maybe\n",
            "line 3: unknown decision 'maybe'",
        ),
        (
            "external_id,signal,decision\ns-1,hate,confirm\n,hate,reject\n",
            "line 3, column 'external_id': empty",
        ),
        ("external_id,signal,decision,target\ns-1,hate,confirm,aliens\n", "line 2: unknown target group"),
        ("external_id,signal,decision\ns-1,hate,confirm\ns-1,hate,reject\n", "on line 3 (first on line 2)"),
        ("id,signal,decision\ns-1,hate,confirm\n", "missing column(s) external_id (or respondent_id and"),
        ("external_id,signal\ns-1,hate\n", "missing column(s) decision"),
        ("external_id,signal,decision\n", "no decisions in the file"),
    ],
)
def test_bad_decision_files_exit_2_and_record_nothing(
    db: str, keyword_model_dir: Path, tmp_path: Path, content: str, message: str
) -> None:
    assert _submit(db, keyword_model_dir).exit_code == 0
    labels = tmp_path / "labels.csv"
    labels.write_text(content)
    result = _import_decisions(db, labels)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert store.latest_decisions(url=db) == {}
