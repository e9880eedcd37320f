"""The files users hand to the file commands (`signals score`, `submit`, `import`, `report`), in one place.

Every command that reads a CSV reads it here, so a messy or hostile export fails the same way in all of
them, with a message naming the file and the line (and column), never a stack trace and never a row
lost or shifted in silence:

* ``read_text`` decodes the whole file first (UTF-8 with or without BOM, UTF-16 with BOM, or the
  ``--encoding`` given) and recognises a workbook saved under a ``.csv`` name;
* ``csv_records`` parses it strictly: a quote that opens a field and never closes (which would swallow
  every following row into one answer) names the line where it opened; fields may be as long as
  ``MAX_TEXT_CHARS`` (the csv module's own default limit is 131,072 characters);
* ``read_csv`` gives the header and the rows of a plain CSV (one header row): leading blank lines are
  skipped, repeated column names are refused, a row with more fields than the header is refused (short
  rows are padded with empty cells, as spreadsheets trim them);
* ``check_text`` refuses a text longer than ``MAX_TEXT_CHARS`` (spaCy's ``nlp.max_length``, which the
  sentence splitter and the redaction tokenizer use);
* ``check_output`` and ``replacing`` guard what a command writes: never over its input, never to a
  folder, never a half-written file left behind.

Problems are ``InputFileError``; the modules that read files (``signals.batch``, ``signals.surveys``)
raise subclasses of it, and the CLI prints the message and exits with code 2.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Longest text (answer, comment, meta or context value) that can be scored and redacted: spaCy's
#: default ``nlp.max_length``, the limit of the sentence splitter (``signals.scoring``) and of the
#: redaction tokenizer (``signals.privacy``).
MAX_TEXT_CHARS = 1_000_000

#: How long a CSV field may be. Longer than any text we accept, so an over-long answer is reported by
#: ``check_text`` with its length and the real limit, not as a "malformed" file.
_FIELD_SIZE_LIMIT = min(sys.maxsize, 2**31 - 1)

# The first bytes of files that are not text, and what to call them.
_BINARY_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx, a zip file)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"),
)


class InputFileError(ValueError):
    """A file a command was given cannot be used as it is; the message says which and where."""


def where_line(line: int, column: str | None = None) -> str:
    """``"line 7"`` or ``"line 7, column 'text'"``: how messages point into a CSV."""
    return f"line {line}" + (f", column {column!r}" if column is not None else "")


def _binary_kind(data: bytes) -> str | None:
    return next((kind for magic, kind in _BINARY_MAGIC if data.startswith(magic)), None)


def read_text(
    path: Path,
    encoding: str | None = None,
    *,
    workbook_hint: str = ": save it as CSV (UTF-8) from the spreadsheet",
) -> str:
    """The decoded text of a CSV file.

    ``encoding`` ``None`` reads UTF-8 with or without a byte-order mark, and UTF-16 when the file starts
    with its BOM (Excel's "Unicode text"); a UTF-8 BOM is dropped in any case. ``workbook_hint``
    ends the message for a workbook saved under a text name (what to do instead).
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputFileError(f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)") from None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    kind = _binary_kind(data)
    if kind is not None:
        raise InputFileError(f"{path.name} is {kind}, not CSV text{workbook_hint}")
    if encoding is None:
        encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    elif codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # the BOM is not part of the first column's name
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        name = encoding.replace("-sig", "")
        raise InputFileError(
            f"{path.name}: not valid {name} at byte {exc.start} (line {line}); the file uses another "
            "encoding: pass --encoding, e.g. --encoding cp1252 for files saved by Excel on Windows"
        ) from None


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the candidate that splits the first record into the most cells."""
    csv.field_size_limit(_FIELD_SIZE_LIMIT)
    head = text.lstrip()[: 64 * 1024]  # blank lines above the header say nothing
    best, best_n = ",", len(next(csv.reader(io.StringIO(head)), []))
    for delim in (";", "\t"):
        record = next(csv.reader(io.StringIO(head), delimiter=delim), [])
        if len(record) > best_n:
            best, best_n = delim, len(record)
    return best


def csv_records(path: Path, text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` per CSV record, where ``line`` is the physical line the record starts on.

    A blank line is a record with no fields (``[]``). Quoting is parsed strictly, because the lenient
    reading turns one unclosed quote into a single field holding the rest of the file.
    """
    csv.field_size_limit(_FIELD_SIZE_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        last = reader.line_num
        if "unexpected end of data" in str(exc):
            raise InputFileError(
                f"{path.name}: malformed CSV: line {start}: a quoted field opens on this line and is "
                f"never closed, so lines {start}-{last} would be read as one record; close the quote (a "
                'quote inside a quoted field is written twice: "")'
            ) from None
        if "expected after" in str(exc):
            span = f"line {start}" if last == start else f"lines {start}-{last}"
            raise InputFileError(
                f"{path.name}: malformed CSV: {span}: text follows the closing quote of a quoted field "
                f"(a quote that opens on line {start} and is not closed where it should be?); a quote "
                'inside a quoted field is written twice: ""'
            ) from None
        raise InputFileError(f"{path.name}: malformed CSV: line {last}: {exc}") from None


def check_columns(path: Path, header: Sequence[str], row: str = "the header") -> None:
    """Refuse repeated column names (other tools rename them ``text.1``; then nobody knows which is which)."""
    seen: dict[str, int] = {}
    repeated: list[str] = []
    for i, name in enumerate(header):
        key = name.strip()
        if not key:
            continue
        if key in seen:
            repeated.append(f"{key!r} (columns {seen[key] + 1} and {i + 1})")
        else:
            seen[key] = i
    if repeated:
        raise InputFileError(
            f"{path.name}: {row} repeats column name(s) {', '.join(repeated)}; rename them so each is unique"
        )


def fit_width(path: Path, where: str, record: list[str], width: int) -> list[str]:
    """A record padded with empty cells to ``width``; more *non-empty* cells than that is an error.

    Trailing empty cells beyond the header are dropped (spreadsheets add them); anything else there
    would shift or lose a value.
    """
    if len(record) > width and any(c.strip() for c in record[width:]):
        raise InputFileError(
            f"{path.name}: {where} has {len(record)} cells but the header has {width} columns "
            "(an unquoted comma or delimiter inside a text?); quote that field or remove the extra cells"
        )
    return (record + [""] * width)[:width]


@dataclass
class CsvFile:
    """A CSV with one header row (the first non-blank line): its column names and its data rows."""

    path: Path
    columns: list[str]
    text: str
    header_line: int

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, fields)`` per data row, each with exactly ``len(columns)`` fields; parsed afresh on
        every call (a first pass can validate the whole file before a second one writes anything).

        Blank lines are skipped; a line of empty cells is a row with empty cells.
        """
        width = len(self.columns)
        for line, record in csv_records(self.path, self.text):
            if line > self.header_line and record:
                yield line, fit_width(self.path, where_line(line), record, width)


def read_csv(path: str | Path, encoding: str | None = None) -> CsvFile:
    """Open a plain CSV (comma-separated, one header row) the way `score` and `submit` read it.

    The header and the quoting of the whole file are checked here; the width of each row when the rows
    are read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(
            f"input file not found: {path}" if not path.exists() else f"{path} is not a file"
        )
    text = read_text(path, encoding)
    header: list[str] | None = None
    header_line = 0
    for line, record in csv_records(path, text):  # parses the whole file: quoting errors surface here
        if header is None and any(c.strip() for c in record):
            header, header_line = record, line
    if header is None:
        raise InputFileError(f"{path.name}: the file is empty (no header row)")
    check_columns(path, header, row=f"the header (line {header_line})")
    return CsvFile(path, header, text, header_line)


def check_text(path: Path, where: str, text: str) -> None:
    """Refuse a text longer than ``MAX_TEXT_CHARS``, naming where it is and how long it is."""
    if len(text) > MAX_TEXT_CHARS:
        raise InputFileError(
            f"{path.name}: {where}: the text has {len(text):,} characters; texts over "
            f"{MAX_TEXT_CHARS:,} characters cannot be scored or redacted (spaCy, which splits sentences "
            "and finds personal data, stops there): split or shorten it"
        )


def duplicates(values: Iterable[tuple[str, str]]) -> list[str]:
    """``"'7' on line 5 (first on line 3)"`` for each repeat among ``(value, where)`` pairs, in order."""
    first: dict[str, str] = {}
    out: list[str] = []
    for value, where in values:
        if value in first:
            out.append(f"{value!r} on {where} (first on {first[value]})")
        else:
            first[value] = where
    return out


def duplicates_message(path: Path, what: str, column: str, repeats: Sequence[str]) -> str:
    more = f" and {len(repeats) - 5} more" if len(repeats) > 5 else ""
    return f"{path.name}: duplicate {what}(s) in column {column!r}: " + "; ".join(repeats[:5]) + more


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(
    output: Path, inputs: Iterable[Path] = (), *, option: str = "--output", also: Iterable[Path] = ()
) -> None:
    """Refuse an output that is a folder or would overwrite an input; create its missing parent folders.

    ``also`` are further files the command writes beside ``output`` (checked against the inputs too).
    """
    if output.is_dir():
        raise InputFileError(f"{option} {output} is a folder; give a file name in it, e.g. {output / 'out'}")
    inputs = list(inputs)
    for target in (output, *also):
        for source in inputs:
            if _same_file(target, source):
                raise InputFileError(
                    f"{option} {output} would overwrite the input file {source}"
                    + ("" if target == output else f" (written beside it as {target.name})")
                    + "; write to another file"
                )
    parent = output.parent
    if parent.exists() and not parent.is_dir():
        raise InputFileError(f"{option} {output}: {parent} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(
            f"{option} {output}: cannot create the folder {parent}: {exc.strerror or exc}"
        ) from None


@contextmanager
def replacing(output: Path) -> Iterator[Path]:
    """Write to ``<output>.partial`` and move it over ``output`` only when the block succeeds.

    On any failure the partial file is removed and ``output`` is left as it was; an ``OSError`` in
    writing it (disk full, no permission) becomes an ``InputFileError`` naming the file.
    """
    tmp = output.with_name(output.name + ".partial")
    try:
        yield tmp
        tmp.replace(output)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (None, str(tmp), str(output)):
            raise InputFileError(f"cannot write {output}: {exc.strerror or exc}") from None
        raise


@contextmanager
def raising(error: type[InputFileError]) -> Iterator[None]:
    """Re-raise an ``InputFileError`` from the block as ``error`` (a module's own subclass), same message."""
    try:
        yield
    except InputFileError as exc:
        if isinstance(exc, error):
            raise
        raise error(str(exc)) from None
