"""signals.inputs: the one reader of CSV inputs and the one guard of what the commands write."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from signals.inputs import InputFileError, check_output, csv_records, read_csv, replacing, sniff_delimiter


def test_records_start_on_their_own_line() -> None:
    text = 'id,text\r\n1,"two\r\nlines"\r\n\r\n2,ok\r\n'
    assert list(csv_records(Path("x.csv"), text)) == [
        (1, ["id", "text"]),
        (2, ["1", "two\r\nlines"]),
        (4, []),
        (5, ["2", "ok"]),
    ]
    assert sniff_delimiter("\n\nid;text\n1;a, b\n") == ";"


def test_rows_are_padded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,text,ward\n1,a\n\n2,b,c,,\n3,d,e,f\n")
    table = read_csv(path)
    rows = table.rows()
    assert next(rows) == (2, ["1", "a", ""]) and next(rows) == (4, ["2", "b", "c"])
    with pytest.raises(InputFileError, match="line 5 has 4 cells but the header has 3 columns"):
        next(rows)


def test_replacing_leaves_nothing_half_written(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(InputFileError, match="cannot write .*out.csv: No space left"), replacing(out) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert out.read_text() == "old" and not list(tmp_path.glob("*.partial"))
    with pytest.raises(KeyError), replacing(out) as tmp:  # not a write error: passed on as it is
        tmp.write_text("half")
        raise KeyError("x")
    assert out.read_text() == "old" and not list(tmp_path.glob("*.partial"))
    with replacing(out) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "new"


def test_check_output_sees_the_input_through_a_link(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n")
    link = tmp_path / "link.csv"
    link.symlink_to(source)
    with pytest.raises(InputFileError, match="would overwrite the input file"):
        check_output(link, [source])
    with pytest.raises(InputFileError, match=r"would overwrite .* \(written beside it as in.csv\)"):
        check_output(tmp_path / "report.html", [source], also=[tmp_path / "in.csv"])
    check_output(tmp_path / "a" / "b" / "out.csv", [source])
    assert (tmp_path / "a" / "b").is_dir()
