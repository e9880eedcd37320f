"""Shared pieces of the corpus adapters: the adapter record, errors, and careful table reading.

Every adapter reads its corpus's files exactly as published (no re-export step), so a parse problem must
name the file, row and column that caused it; these helpers do that once for all adapters.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from signals.schema import Record

logger = logging.getLogger(__name__)


class CorpusError(Exception):
    """A corpus cannot be read: the message names the corpus, file, row or column to fix."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """A corpus folder or one of its files is missing."""


class CorpusFormatError(CorpusError, ValueError):
    """A corpus file does not have the published layout (missing column, unknown label value...)."""


#: Reads one corpus folder and yields Records in the languages asked for (ISO 639-1 codes).
ReadFn = Callable[[Path, Sequence[str]], Iterator[Record]]


@dataclass(frozen=True)
class CorpusAdapter:
    """One public corpus: its source name (= folder name under the corpora dir) and how to read it.

    ``languages`` lists the ISO 639-1 codes the corpus has, so ``iter_records`` can skip corpora that
    have nothing in the requested languages without touching their files.
    """

    name: str
    languages: tuple[str, ...]
    read: ReadFn
    description: str = ""


def require_file(path: Path, corpus: str) -> Path:
    """Return ``path`` or raise ``CorpusNotFoundError`` naming the corpus and the missing file."""
    if not path.is_file():
        raise CorpusNotFoundError(f"{corpus}: expected file {path} is missing")
    return path


def read_table(
    path: Path,
    corpus: str,
    columns: Sequence[str],
    sep: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
) -> pd.DataFrame:
    """Read a CSV/TSV as strings (no NA guessing: a tweet reading "null" stays text) and check columns.

    Everything stays ``str`` so label parsing happens in one place (``parse_label``) with row-level
    error messages, instead of pandas silently turning a stray value into a float column.
    """
    require_file(path, corpus)
    try:
        frame = pd.read_csv(path, sep=sep, quoting=quoting, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorpusFormatError(f"{corpus}: cannot parse {path}: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CorpusFormatError(f"{corpus}: {path} lacks column(s) {missing}; found {list(frame.columns)}")
    return frame


def parse_label(value: str, allowed: Sequence[str], path: Path, row: int, column: str, corpus: str) -> str:
    """Return the stripped ``value`` if it is one of ``allowed``, else raise naming file, row and column.

    ``row`` is the 0-based data row (the header is not counted); messages show it 1-based.
    """
    cleaned = str(value).strip()
    if cleaned not in allowed:
        raise CorpusFormatError(
            f"{corpus}: {path.name} data row {row + 1}, column {column!r}: "
            f"unexpected value {value!r} (expected one of {list(allowed)})"
        )
    return cleaned


def parse_binary(value: str, path: Path, row: int, column: str, corpus: str) -> int:
    """Parse a 0/1 flag column (tolerating ``1.0``-style floats some exports write)."""
    cleaned = str(value).strip()
    if cleaned in ("1.0", "0.0"):
        cleaned = cleaned[0]
    return int(parse_label(cleaned, ("0", "1"), path, row, column, corpus))
