"""The batch scoring contract of `signals score`: rows, order, columns, empty cells, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from signals.batch import OUTPUT_COLUMNS
from signals.cli import app

runner = CliRunner()


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_round_trip_keeps_rows_columns_and_order(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(
        tmp_path / "in.csv",
        'id,comment,ward\n3,"You idiot, I will kill you",north\n1,,south\n2,"Lovely park, thanks",east\n'
        '7,"  ",west\n9,12345,north\n',
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        [
            "score",
            str(src),
            "--text-column",
            "comment",
            "--output",
            str(out),
            "--model",
            str(keyword_model_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["id", "comment", "ward", *OUTPUT_COLUMNS]
    assert frame["id"].tolist() == ["3", "1", "2", "7", "9"]
    assert frame["ward"].tolist() == ["north", "south", "east", "west", "north"]
    first = frame.iloc[0]
    assert first["flag_threat"] == "1" and first["flag_offensive"] == "1" and first["flag_hate"] == "0"
    assert float(first["p_threat"]) > float(first["p_hate"])
    # Empty and blank cells keep their row with empty scores; a number is text and is scored.
    for i in (1, 3):
        assert all(frame.iloc[i][c] == "" for c in OUTPUT_COLUMNS)
    assert frame.iloc[4]["flag_hate"] == "0" and frame.iloc[4]["p_hate"] != ""


def test_single_text_prints_json(keyword_model_dir: Path) -> None:
    result = runner.invoke(
        app, ["score", "--text", "those people are vermin", "--model", str(keyword_model_dir)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["flags"]["hate"] is True
    assert payload["model"]["name"] == "keyword-test"
    assert payload["spans"] and payload["spans"][0]["begin"] == 0


def test_missing_column_names_the_columns(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "id,body\n1,hello\n")
    result = runner.invoke(
        app, ["score", str(src), "--output", str(tmp_path / "o.csv"), "--model", str(keyword_model_dir)]
    )
    assert result.exit_code == 2
    assert "no column 'text'" in result.output and "body" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_bad_encoding_is_reported_with_position(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "id,text\n1,caf\xe9 idiot\n", encoding="latin-1")
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["score", str(src), "--output", str(out), "--model", str(keyword_model_dir)])
    assert result.exit_code == 2
    assert "not valid utf-8" in result.output and "line 2" in result.output
    ok = runner.invoke(
        app,
        ["score", str(src), "--output", str(out), "--encoding", "latin-1", "--model", str(keyword_model_dir)],
    )
    assert ok.exit_code == 0, ok.output
    assert pd.read_csv(out)["flag_offensive"].tolist() == [1]


def test_malformed_csv_and_empty_file(tmp_path: Path, keyword_model_dir: Path) -> None:
    bad = _write(tmp_path / "bad.csv", 'id,text\n1,"unterminated\n2,ok,extra,fields\n')
    result = runner.invoke(
        app, ["score", str(bad), "--output", str(tmp_path / "o.csv"), "--model", str(keyword_model_dir)]
    )
    assert result.exit_code == 2 and "malformed CSV" in result.output
    empty = _write(tmp_path / "empty.csv", "")
    result = runner.invoke(
        app, ["score", str(empty), "--output", str(tmp_path / "o.csv"), "--model", str(keyword_model_dir)]
    )
    assert result.exit_code == 2 and "empty" in result.output


def test_output_column_clash_and_missing_input(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "text,p_hate\nhello,1\n")
    result = runner.invoke(
        app, ["score", str(src), "--output", str(tmp_path / "o.csv"), "--model", str(keyword_model_dir)]
    )
    assert result.exit_code == 2 and "p_hate" in result.output
    result = runner.invoke(
        app,
        [
            "score",
            str(tmp_path / "nope.csv"),
            "--output",
            str(tmp_path / "o.csv"),
            "--model",
            str(keyword_model_dir),
        ],
    )
    assert result.exit_code == 2 and "not found" in result.output


def test_header_only_file_gives_header_only_output(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "id,text\n")
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["score", str(src), "--output", str(out), "--model", str(keyword_model_dir)])
    assert result.exit_code == 0, result.output
    assert out.read_text().strip() == ",".join(["id", "text", *OUTPUT_COLUMNS])
