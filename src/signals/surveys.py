"""Survey import: wide exports (CSV or XLSX) -> one redacted, language-tagged, scored record per answer.

Survey tools write one row per respondent and one column per question, with one to three header rows:

* generic exports: row 1 column ids (``Q3``), optionally row 2 the question text;
* Qualtrics: row 1 ids, row 2 question text, row 3 ``{"ImportId": "QID3_TEXT"}`` (UTF-8 with BOM);
* SurveyMonkey: row 1 question text (left blank over the extra columns of a multi-column question),
  row 2 sub-labels (``Response``, ``Open-Ended Response``, option names).

``read_table`` recognises the layout and gives every column an id, its question text and aliases
(SurveyMonkey questions are also ``Q1``, ``Q2``... in survey order, as its web UI numbers them), so
``--text-columns "Q3,Q7"`` works on all three. ``extract_answers`` makes one ``SurveyAnswer`` per
non-empty answer; ``prepare_answers`` redacts personal data (``signals.privacy``) and tags the
language (``signals.language.detect``, on the original text). Answers in a language the model does not
score are kept and marked ``supported`` false with no scores and no flags, so the report counts them
separately instead of silently mixing in an English model's guess or dropping them.

Every input problem is a ``SurveyInputError`` whose message names the file and the row (line) or
column, ready for the CLI to print.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from signals.inputs import (
    InputFileError,
    check_output,
    check_text,
    csv_records,
    duplicates,
    duplicates_message,
    fit_width,
    raising,
    read_text,
    replacing,
    sniff_delimiter,
)
from signals.language import DEFAULT_LANGUAGE, detect_many
from signals.schema import SIGNALS, TARGETS, Score

if TYPE_CHECKING:
    from signals.scoring import Scorer

log = logging.getLogger(__name__)

#: Meta columns that are personal data by name; importing them would undo the redaction.
PERSONAL_COLUMNS = {
    "email",
    "emailaddress",
    "recipientemail",
    "ipaddress",
    "ip",
    "firstname",
    "lastname",
    "recipientfirstname",
    "recipientlastname",
    "name",
    "fullname",
    "phone",
    "phonenumber",
    "locationlatitude",
    "locationlongitude",
}

# SurveyMonkey's fixed leading columns: not questions, so they get no Q<n> alias.
_SURVEYMONKEY_META = {
    "respondent id",
    "collector id",
    "start date",
    "end date",
    "ip address",
    "email address",
    "first name",
    "last name",
}
_SURVEYMONKEY_SUBLABELS = {"response", "open-ended response"}


class SurveyInputError(InputFileError):
    """The export cannot be imported as given; the message names the file and the row or column."""


@dataclass(frozen=True)
class Column:
    """One column of an export: its position, the id users name it by, the question text, aliases."""

    index: int
    id: str
    question: str
    aliases: tuple[str, ...] = ()


@dataclass
class SurveyTable:
    """A parsed export: columns plus data rows of strings, with where each row came from."""

    path: Path
    layout: str  # "generic", "qualtrics" or "surveymonkey"
    columns: list[Column]
    rows: list[list[str]]
    row_numbers: list[int]  # physical line (CSV) or sheet row (XLSX) where each data row starts
    row_word: str = "line"
    #: ``(sheet row, column index)`` of data cells holding a formula without a saved value (XLSX).
    formula_cells: list[tuple[int, int]] = field(default_factory=list)
    header_rows: int = 1  # detected or given: the CLI reports it, so a row read as header is seen

    def where(self, i: int) -> str:
        """``"line 7"`` / ``"row 7"``: where data row ``i`` is in the file, as an editor shows it."""
        return f"{self.row_word} {self.row_numbers[i]}"

    def resolve(self, name: str) -> Column:
        """The column a user means by ``name``: its id, an alias (``Q3``) or its question text."""
        key = _norm(name)
        for attr in ("id", "aliases", "question"):
            hits = [
                c
                for c in self.columns
                if (
                    key in {_norm(a) for a in c.aliases}
                    if attr == "aliases"
                    else _norm(getattr(c, attr)) == key
                )
            ]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                places = ", ".join(_column_letter(c.index) for c in hits)
                raise SurveyInputError(
                    f"{self.path.name}: column {name!r} is ambiguous, it matches columns {places}; "
                    "rename the duplicates in the export"
                )
        known = ", ".join(c.id + (f" ({'/'.join(c.aliases)})" if c.aliases else "") for c in self.columns)
        raise SurveyInputError(f"{self.path.name}: no column {name!r}; the columns are: {known}")


def answer_id(respondent_id: str, question_id: str) -> str:
    """The store's external id of one answer: ``<respondent>/<question>``."""
    return f"{respondent_id}/{question_id}"


@dataclass(frozen=True)
class SurveyAnswer:
    """One non-empty answer to one open question: the unit that is scored, stored and reported."""

    survey: str
    respondent_id: str
    question_id: str
    question_text: str
    text: str
    language: str = DEFAULT_LANGUAGE
    meta: dict[str, str] = field(default_factory=dict)
    row: str = ""  # "line 7": where the answer came from, for messages

    @property
    def external_id(self) -> str:
        """Stable id within the survey: re-importing the same export updates, never duplicates."""
        return answer_id(self.respondent_id, self.question_id)

    @property
    def lang(self) -> str:
        """The former name of ``language``."""
        return self.language

    def context(self) -> dict[str, Any]:
        """What the triage store keeps beside the text (question, language, meta fields).

        The store adds ``supported`` (whether the model scores the language) when it scores the text.
        """
        return {
            "survey": self.survey,
            "respondent_id": self.respondent_id,
            "question_id": self.question_id,
            "question_text": self.question_text,
            "language": self.language,
            "meta": dict(self.meta),
        }


# --------------------------------------------------------------------------- reading files


def _norm(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def _column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 -> A, 27 -> AB), as analysts see columns."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _read_csv_rows(path: Path, encoding: str | None) -> tuple[list[list[str]], list[int]]:
    text = read_text(
        path,
        encoding,
        workbook_hint=": rename it to .xlsx (signals import reads workbooks) or save it as CSV",
    )
    if not text.strip():
        raise SurveyInputError(f"{path.name}: the file is empty")
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, record in csv_records(path, text, delimiter=sniff_delimiter(text)):
        rows.append(record)
        lines.append(line)
    return rows, lines


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_formula(value: Any) -> bool:
    # openpyxl (not data_only) gives a formula as "=..." text, or an ArrayFormula / DataTableFormula.
    return (isinstance(value, str) and value.startswith("=")) or type(value).__name__.endswith("Formula")


def _read_xlsx_rows(path: Path) -> tuple[list[list[str]], list[int], list[tuple[int, int]]]:
    """Rows of the first sheet as text, their sheet row numbers, and the ``(row, column index)`` of
    formula cells that have no saved value (a workbook written by a program that does not compute
    formulas: reading the values alone would make those cells look empty)."""
    from itertools import zip_longest
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    books: list[Any] = []
    try:
        for data_only in (True, False):  # the saved values, then the cells as written (formulas)
            books.append(load_workbook(path, read_only=True, data_only=data_only))
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        for book in books:
            book.close()
        raise SurveyInputError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    workbook, formulas = books
    rows: list[list[str]] = []
    numbers: list[int] = []
    unvalued: list[tuple[int, int]] = []
    try:
        pairs = zip_longest(
            workbook.worksheets[0].iter_rows(values_only=True),
            formulas.worksheets[0].iter_rows(values_only=True),
            fillvalue=(),
        )
        for number, (values, raw) in enumerate(pairs, start=1):
            rows.append([_cell_text(v) for v in values])
            numbers.append(number)
            unvalued += [
                (number, col)
                for col, (v, r) in enumerate(zip_longest(values, raw))
                if v is None and _is_formula(r)
            ]
    finally:
        workbook.close()
        formulas.close()
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
        numbers.pop()
    if not rows:
        raise SurveyInputError(f"{path.name}: the workbook's first sheet is empty")
    return rows, numbers, unvalued


def _is_label(cell: str, id_header: str) -> bool:
    """Whether a cell in the id column is a header label rather than a respondent id."""
    value = cell.strip()
    # A blank id is *not* a label: treating it as one would silently drop an answer row. Such a row
    # fails with a message suggesting --header-rows instead.
    if not value:
        return False
    if value.startswith("{") or any(ch.isspace() for ch in value) or _norm(value) == _norm(id_header):
        return True
    # A short label of the id column, such as "ID" under "RespondentID": letters only (ids carry digits
    # or are not part of the column name), and a part of the column's name.
    letters = re.sub(r"[^a-z]", "", value.casefold())
    return (
        len(letters) >= 2
        and letters == value.casefold()
        and letters in re.sub(r"[^a-z]", "", id_header.casefold())
    )


#: Fixed columns of a Qualtrics export (row 1), by which it is recognised without its ImportId row.
_QUALTRICS_FIXED = {
    "startdate", "enddate", "status", "ipaddress", "progress", "duration (in seconds)", "finished",
    "recordeddate", "responseid", "recipientlastname", "recipientfirstname", "recipientemail",
    "externalreference", "locationlatitude", "locationlongitude", "distributionchannel", "userlanguage",
}  # fmt: skip
_QUALTRICS_RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]+$")


def _qualtrics_label_row(head: list[str], second: list[str]) -> bool:
    """Whether row 2 of a Qualtrics-shaped export (no ImportId row) is its question-text row.

    Qualtrics writes row 1 ids (``StartDate``, ``ResponseId``...), row 2 their texts (``Response ID``)
    and, in current exports, row 3 ``{"ImportId": ...}``. Without row 3 the second row is still a
    header when its ResponseId cell is not a response id (``R_...``).
    """
    names = [_norm(c) for c in head]
    if "responseid" not in names or sum(n in _QUALTRICS_FIXED for n in names) < 3:
        return False
    index = names.index("responseid")
    cell = second[index].strip() if index < len(second) else ""
    return bool(cell) and not _QUALTRICS_RESPONSE_ID.match(cell)


def _columns(
    rows: list[list[str]], id_column: str | None, header_rows: int | None
) -> tuple[str, int, list[Column]]:
    """Recognise the layout and the number of header rows; build the columns."""
    if header_rows is not None and header_rows < 1:
        raise SurveyInputError(
            f"--header-rows must be 1 or more (the row of column ids is one), got {header_rows}"
        )
    head = rows[0]
    second = rows[1] if len(rows) > 1 else []
    third = rows[2] if len(rows) > 2 else []
    if any(c.strip().startswith('{"ImportId"') for c in third):
        layout, n_header = "qualtrics", 3
    elif any(c.strip().startswith('{"ImportId"') for c in second):
        layout, n_header = "qualtrics", 2  # row 2 is the ImportId row in "use choice text" exports
    elif _norm(head[0]) == "respondent id" and any(_norm(c) in _SURVEYMONKEY_SUBLABELS for c in second):
        layout, n_header = "surveymonkey", 2
    elif _qualtrics_label_row(head, second):
        layout, n_header = "qualtrics", 2  # ids and question texts; the ImportId row was left out
    else:
        layout, n_header = "generic", 1
        if id_column is not None:
            id_index = next((i for i, c in enumerate(head) if _norm(c) == _norm(id_column)), None)
            while (
                id_index is not None
                and n_header < min(3, len(rows))
                and id_index < len(rows[n_header])
                and _is_label(rows[n_header][id_index], head[id_index])
                and any(c.strip() for c in rows[n_header])
            ):
                n_header += 1
    if header_rows is not None:
        n_header = header_rows
    width = max(len(r) for r in rows[:n_header])
    grid = [r + [""] * (width - len(r)) for r in rows[:n_header]]
    columns: list[Column] = []
    if layout == "surveymonkey":
        question = ""
        number = 0
        group_sizes: dict[str, int] = {}
        owners: list[str] = []
        for i in range(width):
            if grid[0][i].strip():
                question = grid[0][i].strip()
            owners.append(question)
            group_sizes[question] = group_sizes.get(question, 0) + 1
        seen: set[str] = set()
        for i in range(width):
            question = owners[i]
            sub = grid[1][i].strip() if n_header > 1 else ""
            multi = group_sizes[question] > 1 and _norm(sub) not in _SURVEYMONKEY_SUBLABELS and sub
            col_id = f"{question} - {sub}" if multi else question
            aliases: tuple[str, ...] = ()
            if _norm(question) not in _SURVEYMONKEY_META and not question.startswith("Custom Data") and sub:
                if question not in seen:
                    number += 1
                    seen.add(question)
                aliases = (f"Q{number}" + (f" - {sub}" if multi else ""),)
            columns.append(Column(i, col_id or _column_letter(i), question, aliases))
    else:
        text_row = 1 if n_header >= 2 else 0
        for i in range(width):
            col_id = grid[0][i].strip() or _column_letter(i)
            question = grid[text_row][i].strip() or col_id
            columns.append(Column(i, col_id, question))
    return layout, n_header, columns


def read_table(
    path: str | Path,
    id_column: str | None = None,
    encoding: str | None = None,
    header_rows: int | None = None,
) -> SurveyTable:
    """Parse a CSV (comma, semicolon or tab; UTF-8, UTF-8 BOM or UTF-16) or XLSX export.

    ``id_column`` helps recognise a generic export's question-text row (its id cell is a label, not an
    id); ``header_rows`` overrides the detection. The first sheet of a workbook is read.
    """
    path = Path(path)
    if not path.is_file():
        raise SurveyInputError(f"file not found: {path}")
    suffix = path.suffix.lower()
    unvalued: list[tuple[int, int]] = []
    with raising(SurveyInputError):
        if suffix in (".xlsx", ".xlsm"):
            rows, numbers, unvalued = _read_xlsx_rows(path)
            word = "row"
        elif suffix in (".csv", ".tsv", ".txt"):
            rows, numbers = _read_csv_rows(path, encoding)
            word = "line"
        elif suffix == ".xls":
            raise SurveyInputError(
                f"{path.name}: old .xls workbooks are not supported; save it as .xlsx or .csv"
            )
        else:
            raise SurveyInputError(
                f"{path.name}: expected a .csv or .xlsx export, got {suffix or 'no extension'}"
            )
        # Blank lines above the header are not the header (and say nothing about the layout).
        first = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
        if first is None:
            raise SurveyInputError(f"{path.name}: the file is empty")
        rows, numbers = rows[first:], numbers[first:]
        layout, n_header, columns = _columns(rows, id_column, header_rows)
        header_formulas = [(r, c) for r, c in unvalued if r in numbers[:n_header]]
        if header_formulas:
            log.warning(
                "%s: header cell(s) %s hold formulas without a saved value and read as empty",
                path.name,
                _cell_refs(header_formulas),
            )
        data = rows[n_header:]
        numbers = numbers[n_header:]
        width = len(columns)
        cleaned: list[list[str]] = []
        kept: list[int] = []
        for record, number in zip(data, numbers, strict=True):
            if not any(c.strip() for c in record):
                continue  # blank rows that spreadsheets leave at the end
            cleaned.append(fit_width(path, f"{word} {number}", record, width))
            kept.append(number)
    if not cleaned:
        raise SurveyInputError(f"{path.name}: the export has a header but no responses")
    log.info("read %s: %s layout, %d header row(s), %d responses", path.name, layout, n_header, len(cleaned))
    formula_cells = [(r, c) for r, c in unvalued if numbers and r >= numbers[0]]
    return SurveyTable(path, layout, columns, cleaned, kept, word, formula_cells, n_header)


def _cell_refs(cells: Sequence[tuple[int, int]], limit: int = 10) -> str:
    refs = [f"{_column_letter(c)}{r}" for r, c in cells]
    return ", ".join(refs[:limit]) + (f" and {len(refs) - limit} more" if len(refs) > limit else "")


# --------------------------------------------------------------------------- answers


def _split_names(names: str | Sequence[str] | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    return [n.strip() for part in names for n in part.split(",") if n.strip()]


def extract_answers(
    table: SurveyTable,
    survey: str,
    text_columns: str | Sequence[str],
    id_column: str,
    meta_columns: str | Sequence[str] | None = None,
) -> list[SurveyAnswer]:
    """One ``SurveyAnswer`` per non-empty answer in the text columns, in file order.

    Fails on a missing column, a meta column that is personal data by name, a row without an id,
    duplicate respondent ids (naming the lines), a formula cell without a saved value in a column it
    reads (naming the cells) and a text over ``signals.inputs.MAX_TEXT_CHARS``, because each would
    corrupt the report silently or stop the import halfway.
    """
    texts = [table.resolve(n) for n in _split_names(text_columns)]
    if not texts:
        raise SurveyInputError("no --text-columns given: name the open questions to import, e.g. 'Q3,Q7'")
    id_col = table.resolve(id_column)
    meta_names = _split_names(meta_columns)
    metas = [table.resolve(n) for n in meta_names]
    for col in metas:
        if re.sub(r"[^a-z]", "", col.id.casefold()) in PERSONAL_COLUMNS:
            raise SurveyInputError(
                f"{table.path.name}: meta column {col.id!r} is personal data and is not imported; "
                "leave it out of --meta"
            )
    clash = {c.id for c in texts} & ({id_col.id} | {c.id for c in metas})
    if clash:
        raise SurveyInputError(f"column(s) {sorted(clash)} cannot be both a text column and the id or meta")
    used = {id_col.index, *(c.index for c in texts), *(c.index for c in metas)}
    lost = [cell for cell in table.formula_cells if cell[1] in used]
    if lost:
        raise SurveyInputError(
            f"{table.path.name}: cell(s) {_cell_refs(lost)} hold formulas without a saved value, so they "
            "would read as empty (the workbook was written by a program that does not calculate formulas); "
            "open and save it in Excel or LibreOffice, or replace the formulas by their values"
        )
    others = [cell for cell in table.formula_cells if cell[1] not in used]
    if others:
        log.warning(
            "%s: cell(s) %s (not imported) hold formulas without a saved value",
            table.path.name,
            _cell_refs(others),
        )
    for i, record in enumerate(table.rows):
        if not record[id_col.index].strip():
            hint = " (if it is another header row, pass --header-rows)" if i == 0 else ""
            raise SurveyInputError(
                f"{table.path.name}: {table.where(i)} has no value in the id column {id_col.id!r}{hint}"
            )
        for name, col in [*zip(meta_names, metas, strict=True), *((c.id, c) for c in texts)]:
            with raising(SurveyInputError):
                check_text(table.path, f"{table.where(i)}, column {name!r}", record[col.index])
    repeats = duplicates((r[id_col.index].strip(), table.where(i)) for i, r in enumerate(table.rows))
    if repeats:
        raise SurveyInputError(duplicates_message(table.path, "respondent id", id_col.id, repeats))
    answers: list[SurveyAnswer] = []
    for i, record in enumerate(table.rows):
        respondent = record[id_col.index].strip()
        # Meta fields keep the name the user gave them (``ward``), which is what the report shows.
        meta = {name: record[c.index].strip() for name, c in zip(meta_names, metas, strict=True)}
        for col in texts:
            text = record[col.index].strip()
            if text:
                # SurveyMonkey columns are named by their whole question; Q3 reads better in a report.
                qid = col.aliases[0] if col.aliases else col.id
                answers.append(
                    SurveyAnswer(survey, respondent, qid, col.question, text, meta=meta, row=table.where(i))
                )
    return answers


def prepare_answers(
    answers: Iterable[SurveyAnswer], redact: Callable[[str], str] | None = None
) -> tuple[list[SurveyAnswer], Counter[str]]:
    """Redact personal data and tag the language of every answer; also count redactions by kind.

    The language (``signals.language.detect_many``) is detected on the original text (placeholders would
    skew it); only the redacted text leaves this function. ``redact`` replaces
    ``signals.privacy.redact`` (tests).
    """
    counts: Counter[str] = Counter()
    if redact is None:
        from signals.privacy import redact as privacy_redact

        def redact_text(text: str) -> str:
            result = privacy_redact(text)
            counts.update(result.counts)
            return result.text

        redact = redact_text
    answers = list(answers)
    found = detect_many([a.text for a in answers])
    out = [
        dataclasses.replace(a, text=redact(a.text), language=d.language)
        for a, d in zip(answers, found, strict=True)
    ]
    return out, counts


def answers_frame(
    answers: Sequence[SurveyAnswer], scores: Sequence[Score] | None = None, model: str | None = None
) -> pd.DataFrame:
    """The scored-file shape (and the report's input): one row per answer.

    Columns: ``survey, respondent_id, question_id, question_text, language, text``, then
    ``meta.<field>`` per meta field, then ``supported``, ``p_<signal>``, ``review_<signal>``,
    ``flag_<signal>``, ``target_<group>``, ``priority`` and ``operating_point`` (``global`` or
    ``source:NAME``) when ``scores`` are given, and ``model`` ("name version"). An answer in a language
    the model does not score has ``supported`` false, empty ``p_*`` and ``target_*`` cells and every
    ``review_*``/``flag_*`` 0.
    """
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(answers):
        row: dict[str, Any] = {
            "survey": a.survey,
            "respondent_id": a.respondent_id,
            "question_id": a.question_id,
            "question_text": a.question_text,
            "language": a.language,
            "text": a.text,
        }
        row.update({f"meta.{k}": v for k, v in a.meta.items()})
        if scores is not None:
            s = scores[i]
            row["supported"] = s.supported
            row.update({f"p_{n}": s.scores.get(n) for n in SIGNALS})
            row.update({f"review_{n}": int(s.review[n]) for n in SIGNALS})
            row.update({f"flag_{n}": int(s.flags[n]) for n in SIGNALS})
            row.update({f"target_{t}": s.targets.get(t) for t in TARGETS})
            row["priority"] = s.priority
            row["operating_point"] = s.operating_point
        if model is not None:
            row["model"] = model
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class ImportSummary:
    """What ``import_survey`` did: counts for the CLI, and where the answers went."""

    survey: str
    layout: str
    respondents: int
    answers: int
    new: int
    existing: int
    languages: dict[str, int]
    #: Answers in a language the model does not score (kept, not scored, never flagged).
    unsupported: int
    redactions: dict[str, int]
    flagged: dict[str, int]
    destination: str
    header_rows: int = 1


def import_survey(
    path: str | Path,
    survey: str,
    text_columns: str | Sequence[str],
    id_column: str,
    scorer: Scorer,
    meta_columns: str | Sequence[str] | None = None,
    *,
    encoding: str | None = None,
    header_rows: int | None = None,
    output: str | Path | None = None,
    url: str | None = None,
) -> ImportSummary:
    """Read, redact, tag, score and store a survey export; the whole ``signals import`` command.

    Without ``output`` the answers go to the triage store (source = the survey name, ``external_id`` =
    ``respondent/question``, so importing the same export again adds nothing); the store redacts,
    scores and queues them. With ``output`` (``.csv`` or ``.parquet``) a scored file in the
    ``answers_frame`` shape is written instead, for ``signals report --input`` or other tools.
    Validation happens before anything is stored or written.
    """
    if not survey.strip():
        raise SurveyInputError("--survey needs a name, e.g. 'community-survey-2025'")
    table = read_table(path, id_column=id_column, encoding=encoding, header_rows=header_rows)
    answers = extract_answers(table, survey.strip(), text_columns, id_column, meta_columns)
    if not answers:
        raise SurveyInputError(f"{table.path.name}: every answer in the chosen text columns is empty")
    respondents = len({a.respondent_id for a in answers})
    flagged: Counter[str] = Counter()
    if output is not None:
        output = Path(output)
        if output.suffix.lower() not in (".csv", ".parquet"):
            raise SurveyInputError(f"--output must end in .csv or .parquet, got {output.name}")
        with raising(SurveyInputError):
            check_output(output, [table.path])
        prepared, redactions = prepare_answers(answers)
        scores = scorer.score(
            [a.text for a in prepared], languages=[a.language for a in prepared], source=survey.strip()
        )
        for sc in scores:
            flagged.update(s for s in SIGNALS if sc.flags[s])
        frame = answers_frame(prepared, scores, model=f"{scorer.name} (version {scorer.version})")
        with raising(SurveyInputError), replacing(output) as tmp:
            if output.suffix.lower() == ".parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
        langs = Counter(a.language for a in prepared)
        return ImportSummary(
            survey,
            table.layout,
            respondents,
            len(prepared),
            len(prepared),
            0,
            dict(langs),
            sum(not sc.supported for sc in scores),
            dict(redactions),
            dict(flagged),
            str(output),
            table.header_rows,
        )

    from signals.db import display_url
    from signals.triage.store import NewItem, add_items, items_by_id

    # The store redacts text and context itself (and records what it replaced); the language is
    # detected here on the original text, which never leaves this function unredacted.
    found = detect_many([a.text for a in answers])
    tagged = [dataclasses.replace(a, language=d.language) for a, d in zip(answers, found, strict=True)]
    items = [NewItem(a.survey, a.external_id, a.text, a.context(), language=a.language) for a in tagged]
    results = add_items(items, scorer, url=url)
    stored = items_by_id([r.id for r in results], url=url)
    redactions_total: Counter[str] = Counter()
    unsupported = 0
    for r in results:
        item = stored.get(r.id)
        if item is not None and item.context.get("supported") is False:
            unsupported += 1
        if item is not None and r.status == "queued":
            redactions_total.update(item.redactions)
        if item is not None:
            flagged.update(s for s in SIGNALS if item.flags.get(s))
    new = sum(r.status == "queued" for r in results)
    log.info("imported %d answers of %s into the triage store (%d new)", len(results), survey, new)
    return ImportSummary(
        survey,
        table.layout,
        respondents,
        len(results),
        new,
        len(results) - new,
        dict(Counter(a.language for a in tagged)),
        unsupported,
        dict(redactions_total),
        dict(flagged),
        display_url(url),  # printed by the CLI: never the password
        table.header_rows,
    )
