"""Batch scoring of CSV files: the contract forum tools, reports and evaluations depend on.

``score_csv`` writes every input row and column, in order, plus ``p_<signal>`` (calibrated
probabilities) and ``flag_<signal>`` (0/1 at the model's ``flag`` thresholds) for each signal, then
``language`` (ISO 639-1, ``signals.language``) and ``supported`` (1 when the model has that language).
A text in a language without a model has empty ``p_*`` cells, every ``flag_*`` 0 and ``supported`` 0.

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

OUTPUT_COLUMNS: tuple[str, ...] = (
    *(f"p_{s}" for s in SIGNALS),
    *(f"flag_{s}" for s in SIGNALS),
    "language",
    "supported",
)

#: Spark DDL of the same columns (``signals.spark``'s pyfunc UDF answers in this shape).
SPARK_RESULT_TYPE = ", ".join(
    [
        *(f"p_{s} double" for s in SIGNALS),
        *(f"flag_{s} long" for s in SIGNALS),
        "language string",
        "supported long",
    ]
)


def output_columns(
    scores: Sequence[Score | None], index: pd.Index | None = None, as_text: bool = False
) -> pd.DataFrame:
    """The ``p_<signal>``, ``flag_<signal>``, ``language`` and ``supported`` columns (``OUTPUT_COLUMNS``).

    The one builder of the batch contract, shared by ``score_csv`` and the pyfunc/Spark path
    (``signals.tracking.score_frame``) so the two cannot drift apart. ``as_text`` gives CSV cells:
    probabilities with 6 decimals, flags and ``supported`` ``"0"``/``"1"``, and a ``None`` score (no
    text) empty cells. Otherwise probabilities are floats and flags ints (``None`` gives NaN and a
    missing nullable int). An unsupported score (a language without a model) has no probabilities
    (empty / NaN) and every flag 0.
    """
    data: dict[str, object] = {}
    missing = any(s is None for s in scores)

    def ints(values: list[int | None]) -> object:
        if as_text:
            return ["" if v is None else str(v) for v in values]
        return pd.array(values, dtype="Int64") if missing else values

    for signal in SIGNALS:
        probs = [None if s is None else s.scores.get(signal) for s in scores]
        if as_text:
            data[f"p_{signal}"] = ["" if p is None else f"{p:.6f}" for p in probs]
        else:
            data[f"p_{signal}"] = [float("nan") if p is None else p for p in probs]
    for signal in SIGNALS:
        data[f"flag_{signal}"] = ints([None if s is None else int(s.flags[signal]) for s in scores])
    data["language"] = [("" if as_text else None) if s is None else s.language for s in scores]
    data["supported"] = ints([None if s is None else int(s.supported) for s in scores])
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
