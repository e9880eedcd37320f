"""`python -m bench`: names are checked before anything runs; a typo is a clear error, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_unknown_benchmark_is_a_clear_error() -> None:
    done = _bench("scorer", "nope")
    assert done.returncode == 2
    assert "unknown benchmark nope" in done.stderr and "scorer" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_the_benchmarks() -> None:
    done = _bench("--help")
    assert done.returncode == 0
    assert "serve_load" in done.stdout and "_common" not in done.stdout
