"""`python -m bench`: names are checked before anything runs; a typo is a clear error, not a traceback."""

from __future__ import annotations

import pytest

from bench.__main__ import main


def test_unknown_benchmark_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scorer", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark nope" in err and "scorer" in err


def test_help_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "serve_load" in out and "_common" not in out
