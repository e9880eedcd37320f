"""Batch scoring of CSV files: the contract forum tools, reports and evaluations depend on.

``score_csv`` writes every input row and column, in order, plus ``p_<signal>`` (calibrated
probabilities) and ``flag_<signal>`` (0/1 at the model's ``flag`` thresholds) for each signal.

Cells that are not scoreable get scores of their own kind instead of being dropped: an empty or
whitespace-only cell (or a missing value) leaves every ``p_*`` and ``flag_*`` cell of that row **empty**,
so the row keeps its place and nobody mistakes "no text" for "scored 0". Anything else is text, even if
it looks like a number, and is scored.

Input problems stop with a ``BatchInputError`` naming the problem: a missing column (with the columns
that exist), bytes that are not valid in the declared encoding (with the byte offset), a malformed CSV
(with pandas' line information), output columns that would overwrite input columns.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from signals.schema import SIGNALS, Score
from signals.scoring import Scorer

log = logging.getLogger(__name__)

OUTPUT_COLUMNS: tuple[str, ...] = (*(f"p_{s}" for s in SIGNALS), *(f"flag_{s}" for s in SIGNALS))


def output_columns(
    scores: Sequence[Score | None], index: pd.Index | None = None, as_text: bool = False
) -> pd.DataFrame:
    """The ``p_<signal>`` and ``flag_<signal>`` columns (in ``OUTPUT_COLUMNS`` order), one row per score.

    The one builder of the batch contract, shared by ``score_csv`` and the pyfunc/Spark path
    (``signals.tracking.score_frame``) so the two cannot drift apart. ``as_text`` gives CSV cells:
    probabilities with 6 decimals, flags ``"0"``/``"1"``, and a ``None`` score (no text) empty cells.
    Otherwise probabilities are floats and flags ints (``None`` gives NaN and a missing nullable int).
    """
    data: dict[str, object] = {}
    missing = any(s is None for s in scores)
    for signal in SIGNALS:
        if as_text:
            data[f"p_{signal}"] = ["" if s is None else f"{s.scores[signal]:.6f}" for s in scores]
        else:
            data[f"p_{signal}"] = [float("nan") if s is None else s.scores[signal] for s in scores]
    for signal in SIGNALS:
        if as_text:
            data[f"flag_{signal}"] = ["" if s is None else str(int(s.flags[signal])) for s in scores]
        else:
            flags = [None if s is None else int(s.flags[signal]) for s in scores]
            data[f"flag_{signal}"] = pd.array(flags, dtype="Int64") if missing else flags
    return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(len(scores)))


class BatchInputError(ValueError):
    """The input file cannot be scored as given; the message says why and where."""


def _check_encoding(path: Path, encoding: str) -> None:
    # Decode the whole file up front so a bad byte is reported before anything is written.
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BatchInputError(
            f"{path}: not valid {encoding} at byte {exc.start} (line {line}); "
            f"pass --encoding (e.g. latin-1 or cp1252) if the file uses another encoding"
        ) from None
    except LookupError:
        raise BatchInputError(f"unknown encoding {encoding!r}") from None


def score_csv(
    input_path: str | Path,
    output_path: str | Path,
    scorer: Scorer,
    text_column: str = "text",
    encoding: str = "utf-8",
    chunk_rows: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score a CSV file into another; returns the number of rows written.

    ``progress`` is called with the number of rows done after every chunk (the CLI draws a bar).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise BatchInputError(f"input file not found: {input_path}")
    _check_encoding(input_path, encoding)
    try:
        header = pd.read_csv(input_path, nrows=0, encoding=encoding, dtype=str)
    except pd.errors.EmptyDataError:
        raise BatchInputError(f"{input_path}: the file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise BatchInputError(f"{input_path}: malformed CSV: {exc}") from None
    columns = list(header.columns)
    if text_column not in columns:
        raise BatchInputError(
            f"{input_path}: no column {text_column!r}; columns are {columns} (choose one with --text-column)"
        )
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash:
        raise BatchInputError(f"{input_path}: input already has output column(s) {clash}; rename them first")

    written = 0
    header_written = False
    tmp = output_path.with_name(output_path.name + ".partial")
    try:
        reader = pd.read_csv(
            input_path,
            encoding=encoding,
            dtype=str,
            keep_default_na=False,
            chunksize=chunk_rows,
            on_bad_lines="error",
        )
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for chunk in reader:
                texts = chunk[text_column].tolist()
                scoreable = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
                results = scorer.score([texts[i] for i in scoreable]) if scoreable else []
                per_row: list[Score | None] = [None] * len(texts)
                for i, res in zip(scoreable, results, strict=True):
                    per_row[i] = res
                out = pd.concat([chunk, output_columns(per_row, index=chunk.index, as_text=True)], axis=1)
                out.to_csv(fh, header=not header_written, index=False, quoting=csv.QUOTE_MINIMAL)
                header_written = True
                written += len(out)
                if progress:
                    progress(written)
            if not header_written:
                pd.DataFrame(columns=[*columns, *OUTPUT_COLUMNS]).to_csv(fh, index=False)
    except pd.errors.ParserError as exc:
        tmp.unlink(missing_ok=True)
        raise BatchInputError(f"{input_path}: malformed CSV: {exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output_path)
    log.info("scored %d rows from %s into %s", written, input_path, output_path)
    return written


def count_rows(path: Path, encoding: str = "utf-8") -> int:
    """Rough row count for a progress bar (physical lines minus the header)."""
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)
