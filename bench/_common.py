"""What the benchmarks share: where results go, how many cores they ran on, the texts they score.

Each benchmark replaces its own ``<!-- name:start -->`` … ``<!-- name:end -->`` block of
docs/benchmarks.md. ``$BENCH_LABEL`` (e.g. ``isolated``) suffixes the block's name, so a run on another
machine adds its own block instead of overwriting this machine's. ``$BENCH_TEXTS_DIR`` makes each
benchmark read its texts from ``<dir>/<benchmark>.json`` (a JSON list of strings) instead of
data/processed, for a machine that has no dataset (and no ``datasets`` package); ``export_texts``
writes those files from this machine's dataset:

    python -c "from bench._common import export_texts; export_texts('.benchdata')"
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def section_name(base: str) -> str:
    label = os.environ.get("BENCH_LABEL", "").strip()
    return f"{base}-{label}" if label else base


def write_section(name: str, body: str) -> None:
    """Replace (or append) the block ``name`` of docs/benchmarks.md with ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOC.read_text() if DOC.is_file() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def usable_cores() -> str:
    """The CPUs this process may run on, e.g. ``2 of 16 (CPUs 0,8)`` when pinned with taskset."""
    total = os.cpu_count() or 1
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return str(total)
    if len(allowed) == total:
        return str(total)
    return f"{len(allowed)} of {total} (CPUs {','.join(map(str, allowed))})"


def machine() -> str:
    """``<cores> CPU (<model name>), <RAM>, Python <version>, <OS>`` for a results heading."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{usable_cores()} CPU ({cpu}){mem}, Python {platform.python_version()}, {platform.system()}"


def exported_texts(benchmark: str) -> list[str] | None:
    """The texts exported for ``benchmark`` when ``$BENCH_TEXTS_DIR`` is set, else None."""
    directory = os.environ.get("BENCH_TEXTS_DIR")
    if not directory:
        return None
    texts = json.loads((Path(directory) / f"{benchmark}.json").read_text())
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{directory}/{benchmark}.json must be a JSON list of strings")
    return texts


def export_texts(directory: str | Path) -> None:
    """Write the texts each benchmark would draw from data/processed, for another machine."""
    from bench.scorer import sample_texts
    from bench.serve_load import load_texts

    os.environ.pop("BENCH_TEXTS_DIR", None)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, (texts, _source) in (("scorer", sample_texts()), ("serve_load", load_texts())):
        (directory / f"{name}.json").write_text(json.dumps(texts))
