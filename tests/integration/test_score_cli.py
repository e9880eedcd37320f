"""The batch scoring contract of `signals score`: rows, order, columns, empty cells, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner, Result

from signals.batch import OUTPUT_COLUMNS
from signals.cli import app
from signals.schema import SIGNALS

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


def _score(src: Path, out: Path, model: Path, *extra: str) -> Result:
    return runner.invoke(app, ["score", str(src), "--output", str(out), "--model", str(model), *extra])


def test_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", 'id,text\n1,fine\n2,"it opens here\n3,and swallows\n4,the rest\n')
    result = _score(src, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 2
    assert "line 3: a quoted field opens on this line and is never closed" in _one_line(result)
    assert not (tmp_path / "o.csv").exists()


def test_extra_field_in_any_row_is_refused_not_shifted(tmp_path: Path, keyword_model_dir: Path) -> None:
    # pandas took the first field of a longer first row as an index: ids lost, texts unscored, exit 0.
    first = _write(tmp_path / "first.csv", "id,text\n1,you idiot,north\n2,hello\n")
    result = _score(first, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 2
    assert "line 2 has 3 cells but the header has 2 columns" in _one_line(result)
    later = _write(tmp_path / "later.csv", "id,text\n1,hello\n2,you idiot,north\n")
    result = _score(later, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 2 and "line 3 has 3 cells" in _one_line(result)
    assert not (tmp_path / "o.csv").exists()
    # Empty trailing cells (spreadsheets add them) carry nothing and are dropped; short rows are padded.
    trailing = _write(tmp_path / "trailing.csv", "id,text,ward\n1,you idiot,north,,\n2,hello\n")
    result = _score(trailing, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert frame[["id", "text", "ward"]].values.tolist() == [["1", "you idiot", "north"], ["2", "hello", ""]]
    assert frame["flag_offensive"].tolist() == ["1", "0"]


def test_blank_first_line_and_bom(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"\xef\xbb\xbf\n\nid,text\n1,you idiot\n\n2,hello\n")
    result = _score(src, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "o.csv", dtype=str)
    assert list(frame.columns[:2]) == ["id", "text"] and frame["id"].tolist() == ["1", "2"]


def test_repeated_column_names_are_refused(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "id,text,ward,text\n1,a,north,b\n")
    result = _score(src, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 2
    assert "repeats column name(s) 'text' (columns 2 and 4)" in _one_line(result)


def test_output_paths_that_cannot_be_written(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(tmp_path / "in.csv", "id,text\n1,hello\n")
    before = src.read_bytes()
    same = _score(src, src, keyword_model_dir)
    assert same.exit_code == 2 and "would overwrite the input file" in _one_line(same)
    assert src.read_bytes() == before
    folder = tmp_path / "out"
    folder.mkdir()
    result = _score(src, folder, keyword_model_dir)
    assert result.exit_code == 2 and "is a folder" in _one_line(result) and "Traceback" not in result.output
    assert list(tmp_path.glob("*.partial")) == [] and list(folder.iterdir()) == []
    nested = tmp_path / "new" / "deeper" / "o.csv"
    assert _score(src, nested, keyword_model_dir).exit_code == 0 and nested.is_file()
    blocked = _score(src, tmp_path / "in.csv" / "o.csv", keyword_model_dir)
    assert blocked.exit_code == 2 and "is a file, not a folder" in _one_line(blocked)


def test_long_texts(tmp_path: Path, keyword_model_dir: Path) -> None:
    # Over the csv module's default field limit (131,072): a text, not a "malformed" file.
    long = "Those people are vermin. " + "The park is nice. " * 8000
    src = _write(tmp_path / "in.csv", f'id,text\n1,"{long}"\n2,hello\n')
    result = _score(src, tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "o.csv")["flag_hate"].tolist() == [1, 0]
    # Over spaCy's 1,000,000 characters: refused with the line, column and length, not spaCy's E088.
    huge = "a " * 600_000
    src = _write(tmp_path / "huge.csv", f"id,text\n1,hello\n2,{huge}\n")
    result = _score(src, tmp_path / "o2.csv", keyword_model_dir)
    assert result.exit_code == 2
    assert "line 3, column 'text': the text has 1,200,000 characters" in _one_line(result)
    assert "E088" not in result.output and not (tmp_path / "o2.csv").exists()
    result = runner.invoke(app, ["score", "--text", huge, "--model", str(keyword_model_dir)])
    assert result.exit_code == 2 and "--text has 1,200,000 characters" in _one_line(result)


def test_workbook_with_a_csv_name(tmp_path: Path, keyword_model_dir: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["id", "text"])
    book.save(tmp_path / "export.csv")
    result = _score(tmp_path / "export.csv", tmp_path / "o.csv", keyword_model_dir)
    assert result.exit_code == 2
    assert "export.csv is an Excel workbook (.xlsx, a zip file), not CSV text" in _one_line(result)
    assert "cp1252" not in result.output


def _one_line(result: Result) -> str:
    return " ".join(result.output.split())


def test_language_columns_and_unsupported_rows(tmp_path: Path, keyword_model_dir: Path) -> None:
    src = _write(
        tmp_path / "in.csv",
        'id,text\n1,"These vermin should leave, all of them."\n'
        '2,"Los inmigrantes son una plaga, vermin, hay que echarlos."\n3,\n',
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["score", str(src), "--output", str(out), "--model", str(keyword_model_dir)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns[-2:]) == ["language", "supported"]
    english, spanish, empty = frame.to_dict("records")
    assert (english["language"], english["supported"], english["flag_hate"]) == ("en", "1", "1")
    # Spanish: no model for it, so no probabilities and no flags (never the English model's guess).
    assert (spanish["language"], spanish["supported"]) == ("es", "0")
    assert all(spanish[f"p_{s}"] == "" and spanish[f"flag_{s}"] == "0" for s in SIGNALS)
    assert all(empty[c] == "" for c in OUTPUT_COLUMNS)
    one = runner.invoke(app, ["score", "--text", "Hay que echarlos", "--model", str(keyword_model_dir)])
    payload = json.loads(one.stdout)
    assert payload["language"] == "es" and payload["supported"] is False and payload["scores"] == {}
