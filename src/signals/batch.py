"""Batch scoring of CSV files: the contract forum tools, reports and evaluations depend on.

``score_csv`` writes every input row and column, in order, plus ``p_<signal>`` (calibrated
probabilities) and ``flag_<signal>`` (0/1 at the model's ``flag`` thresholds) for each signal.

Cells that are not scoreable get scores of their own kind instead of being dropped: an empty or
whitespace-only cell (or a missing value) leaves every ``p_*`` and ``flag_*`` cell of that row **empty**,
so the row keeps its place and nobody mistakes "no text" for "scored 0". Anything else is text, even if
it looks like a number, and is scored.

Input problems stop with a ``BatchInputError`` naming the problem and the line: a missing column (with
the columns that exist), bytes that are not valid in the declared encoding (with the byte offset), an
unclosed quote, a row with more fields than the header, repeated column names, a text too long to
score, output columns that would overwrite input columns, an output path that is the input or a folder
(see ``signals.inputs``). No row is dropped or shifted: every input row is one output row.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from signals.inputs import (
    InputFileError,
    check_output,
    check_text,
    raising,
    read_csv,
    replacing,
    where_line,
)
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


class BatchInputError(InputFileError):
    """The input file cannot be scored as given; the message says why and where."""


def score_csv(
    input_path: str | Path,
    output_path: str | Path,
    scorer: Scorer,
    text_column: str = "text",
    encoding: str | None = None,
    chunk_rows: int = 1024,
    progress: Callable[[int], None] | None = None,
    source: str | None = None,
) -> int:
    """Score a CSV file into another; returns the number of rows written.

    ``source`` names where the texts come from (its own operating point applies when the model has one).

    ``encoding`` ``None`` reads UTF-8 (with or without BOM) or BOM-marked UTF-16. ``progress`` is
    called with the number of rows done after every chunk (the CLI draws a bar). The input is read by
    ``signals.inputs.read_csv`` (the same reader as ``signals submit``); nothing is written over it, and
    the output appears only when every row is scored.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    with raising(BatchInputError):
        table = read_csv(input_path, encoding)
        columns = table.columns
        if text_column not in columns:
            raise BatchInputError(
                f"{input_path}: no column {text_column!r}; columns are {columns} "
                "(choose one with --text-column)"
            )
        clash = [c for c in OUTPUT_COLUMNS if c in columns]
        if clash:
            raise BatchInputError(
                f"{input_path}: input already has output column(s) {clash}; rename them first"
            )
        text_index = columns.index(text_column)
        # A first pass checks every row (width, text length) so a bad row fails before any scoring.
        for line, row in table.rows():
            check_text(input_path, where_line(line, text_column), row[text_index])
        check_output(output_path, [input_path])
        rows = table.rows()
        written = 0
        with replacing(output_path) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([*columns, *OUTPUT_COLUMNS])
            while chunk := list(itertools.islice(rows, chunk_rows)):
                texts = [row[text_index] for _, row in chunk]
                scoreable = [i for i, t in enumerate(texts) if t.strip()]
                results = scorer.score([texts[i] for i in scoreable], source=source) if scoreable else []
                per_row: list[Score | None] = [None] * len(texts)
                for i, res in zip(scoreable, results, strict=True):
                    per_row[i] = res
                scores = output_columns(per_row, as_text=True).itertuples(index=False, name=None)
                writer.writerows([*row, *cells] for (_, row), cells in zip(chunk, scores, strict=True))
                written += len(chunk)
                if progress:
                    progress(written)
    log.info("scored %d rows from %s into %s", written, input_path, output_path)
    return written


def count_rows(path: Path, encoding: str = "utf-8") -> int:
    """Rough row count for a progress bar (physical lines minus the header)."""
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)
