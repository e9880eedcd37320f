"""Survey exports as survey tools write them: layouts, answers, languages, and the error messages."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from signals.language import detect
from signals.schema import SIGNALS
from signals.surveys import (
    SurveyAnswer,
    SurveyInputError,
    answers_frame,
    extract_answers,
    prepare_answers,
    read_table,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "surveys"
GENERIC = FIXTURES / "community_survey_2025.csv"


def _answers(
    path: Path, text: str, id_column: str, meta: str | None = None, **kw: object
) -> list[SurveyAnswer]:
    table = read_table(path, id_column=id_column, **kw)  # type: ignore[arg-type]
    return extract_answers(table, "city-2025", text, id_column, meta)


def test_generic_export_with_question_text_row() -> None:
    table = read_table(GENERIC, id_column="RespondentID")
    assert table.layout == "generic" and len(table.rows) == 40
    q3 = table.resolve("Q3")
    assert q3.question.startswith("In the past 12 months")
    answers = extract_answers(table, "city-2025", "Q3, Q7", "RespondentID", "ward,date")
    # 40 respondents x 2 questions minus the 6 skipped answers in the fixture.
    assert len(answers) == 74
    first = answers[0]
    assert (first.respondent_id, first.question_id, first.row) == ("1001", "Q3", "line 3")
    assert first.meta == {"ward": "Ward 1", "date": "2025-01-06"}
    assert first.external_id == "1001/Q3"
    assert not any(a.respondent_id == "1016" for a in answers)  # skipped both questions
    # Answers keep file order: respondent by respondent, question by question.
    assert [a.question_id for a in answers[:4]] == ["Q3", "Q7", "Q3", "Q7"]


def test_xlsx_export_reads_like_the_csv() -> None:
    csv_answers = _answers(GENERIC, "Q3,Q7", "RespondentID", "ward,date")
    xlsx_answers = _answers(FIXTURES / "community_survey_2025.xlsx", "Q3,Q7", "RespondentID", "ward,date")
    assert [(a.respondent_id, a.question_id, a.text, a.meta) for a in xlsx_answers] == [
        (a.respondent_id, a.question_id, a.text, a.meta) for a in csv_answers
    ]
    assert xlsx_answers[0].row == "row 2"  # one header row in the workbook


def test_qualtrics_three_header_rows() -> None:
    table = read_table(FIXTURES / "qualtrics_export.csv", id_column="ResponseId")
    assert table.layout == "qualtrics" and len(table.rows) == 8
    assert table.row_numbers[0] == 4  # ids, question text, ImportId, then answers
    answers = extract_answers(table, "q", "Q3,Q7", "ResponseId", "ward,StartDate")
    assert answers[0].respondent_id.startswith("R_")
    assert answers[0].question_text.startswith("In the past 12 months")
    assert answers[0].meta["StartDate"] == "2025-01-06 09:10:00"
    assert table.columns[0].id == "StartDate"  # the UTF-8 BOM is not part of the first name


def test_surveymonkey_two_row_header_and_question_numbers() -> None:
    table = read_table(FIXTURES / "surveymonkey_export.csv", id_column="Respondent ID")
    assert table.layout == "surveymonkey"
    aliases = {c.aliases[0]: c for c in table.columns if c.aliases}
    assert list(aliases) == [
        "Q1",
        "Q2",
        "Q3",
        "Q4 - Library",
        "Q4 - Park",
        "Q4 - Other (please specify)",
        "Q5",
    ]
    answers = extract_answers(table, "sm", "Q3,Q5,Q4 - Other (please specify)", "Respondent ID", "Q1")
    assert {a.question_id for a in answers} == {"Q3", "Q5", "Q4 - Other (please specify)"}
    assert [a.text for a in answers if a.question_id.startswith("Q4")] == ["the pool"]
    assert answers[0].meta == {"Q1": "Ward 1"}
    # The full question text names the same column.
    by_text = table.resolve(
        "What could the city do to make your neighbourhood feel safer and more welcoming for everyone?"
    )
    assert by_text.aliases == ("Q5",)


def test_semicolon_and_utf16_exports(tmp_path: Path) -> None:
    semi = tmp_path / "semi.csv"
    semi.write_text('id;Q3\n1;"Bonjour; tout va bien"\n2;Fine\n', encoding="utf-8")
    assert [a.text for a in _answers(semi, "Q3", "id")] == ["Bonjour; tout va bien", "Fine"]
    utf16 = tmp_path / "unicode.csv"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "id\tQ3\n1\tÇa va\n".encode("utf-16-le"))
    assert [a.text for a in _answers(utf16, "Q3", "id")] == ["Ça va"]


def test_bad_encoding_names_line_and_suggests_fix() -> None:
    with pytest.raises(
        SurveyInputError, match=r"cp1252_export.csv: not valid utf-8 at byte 36 \(line 2\).*--encoding"
    ):
        read_table(FIXTURES / "cp1252_export.csv", id_column="RespondentID")
    answers = _answers(FIXTURES / "cp1252_export.csv", "Q3", "RespondentID", encoding="cp1252")
    assert answers[0].text == "Le café du coin est accueillant"
    with pytest.raises(SurveyInputError, match="unknown encoding 'klingon'"):
        read_table(GENERIC, encoding="klingon")


def test_missing_columns_are_named_with_the_columns_that_exist() -> None:
    table = read_table(GENERIC, id_column="RespondentID")
    with pytest.raises(SurveyInputError, match=r"no column 'Q9'; the columns are: RespondentID, ward, date"):
        extract_answers(table, "s", "Q3,Q9", "RespondentID")
    with pytest.raises(SurveyInputError, match="no column 'Respondent'"):
        extract_answers(table, "s", "Q3", "Respondent")
    with pytest.raises(SurveyInputError, match="no column 'district'"):
        extract_answers(table, "s", "Q3", "RespondentID", "ward,district")
    with pytest.raises(SurveyInputError, match="no --text-columns"):
        extract_answers(table, "s", " , ", "RespondentID")


def test_duplicate_ids_name_both_lines() -> None:
    with pytest.raises(SurveyInputError, match=r"duplicate respondent id.*'2' on line 5 \(first on line 3\)"):
        _answers(FIXTURES / "duplicate_ids.csv", "Q3", "RespondentID")


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(SurveyInputError, match="empty.csv: the file is empty"):
        read_table(FIXTURES / "empty.csv")
    header_only = tmp_path / "header.csv"
    header_only.write_text("RespondentID,Q3\n")
    with pytest.raises(SurveyInputError, match="header but no responses"):
        read_table(header_only, id_column="RespondentID")
    with pytest.raises(SurveyInputError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(SurveyInputError, match=r"\.xls workbooks are not supported"):
        (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
        read_table(tmp_path / "old.xls")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SurveyInputError, match="broken.xlsx: not a readable .xlsx"):
        read_table(broken)


def test_row_problems_name_the_line(tmp_path: Path) -> None:
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("RespondentID,Q3\n1,Fine\n2,Quiet\n,Lonely answer\n")
    with pytest.raises(SurveyInputError, match="line 4 has no value in the id column 'RespondentID'"):
        _answers(no_id, "Q3", "RespondentID")
    # A blank id right under the header is an error with a hint, never a silently dropped "header" row.
    second = tmp_path / "second.csv"
    second.write_text("RespondentID,Q3\n,What happened?\n1,Fine\n")
    with pytest.raises(SurveyInputError, match=r"line 2 has no value .* pass --header-rows"):
        _answers(second, "Q3", "RespondentID")
    assert [a.text for a in _answers(second, "Q3", "RespondentID", header_rows=2)] == ["Fine"]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("RespondentID,Q3\n1,Fine\n2,Fine, thanks\n")
    with pytest.raises(SurveyInputError, match="line 3 has 3 cells but the header has 2"):
        read_table(ragged, id_column="RespondentID")


def test_personal_meta_columns_are_refused() -> None:
    with pytest.raises(SurveyInputError, match="meta column 'Email' is personal data"):
        _answers(GENERIC, "Q3", "RespondentID", "ward,Email")
    with pytest.raises(SurveyInputError, match="IP Address"):
        _answers(FIXTURES / "surveymonkey_export.csv", "Q3", "Respondent ID", "IP Address")


def test_header_rows_override(tmp_path: Path) -> None:
    # Without an id column to go by, a question-text row would be read as an answer; --header-rows fixes it.
    table = read_table(GENERIC, header_rows=2)
    assert len(table.rows) == 40 and table.resolve("Q7").question.startswith("What could the city")


def test_language_tags_come_from_the_one_identifier() -> None:
    answers = _answers(GENERIC, "Q3,Q7", "RespondentID", "ward,date")
    prepared, _ = prepare_answers(answers, redact=lambda t: t)
    assert [a.language for a in prepared] == [detect(a.text).language for a in answers]
    # Spanish and French are told apart; Vietnamese is outside the identifier's set and, uncertain,
    # falls to the default language (docs/languages.md).
    assert {a.language for a in prepared} == {"en", "es", "fr"}
    assert all(a.lang == a.language for a in prepared)  # the former name still reads


def test_prepare_answers_redacts() -> None:
    answers = _answers(GENERIC, "Q3,Q7", "RespondentID", "ward,date")
    prepared, counts = prepare_answers(answers)
    assert len(prepared) == len(answers)
    texts = " ".join(a.text for a in prepared)
    assert "maria.lopez@example.org" not in texts and "[EMAIL]" in texts
    assert "07700 900123" not in texts and "[PHONE]" in texts
    assert counts["email"] == 1 and counts["phone"] == 1


def test_answers_frame_shape(fake_scorer: object) -> None:
    answers, _ = prepare_answers(_answers(GENERIC, "Q3,Q7", "RespondentID", "ward"), redact=lambda t: t)
    scores = fake_scorer.score([a.text for a in answers])  # type: ignore[attr-defined]
    frame = answers_frame(answers, scores, model="keyword-test 1")
    assert list(frame.columns[:8]) == [
        "survey", "respondent_id", "question_id", "question_text", "language", "text", "meta.ward",
        "supported",
    ]  # fmt: skip
    hate = frame[(frame["flag_hate"] == 1) & (frame["question_id"] == "Q3")]["respondent_id"].tolist()
    assert hate == ["1007", "1030"]  # "vermin", "subhuman"
    assert (frame["model"] == "keyword-test 1").all()
    # The English model does not score Spanish or French: no probabilities, no flags.
    foreign = frame[frame["language"] != "en"]
    assert len(foreign) and not foreign["supported"].any()
    assert foreign["p_hate"].isna().all() and (foreign[[f"flag_{s}" for s in SIGNALS]] == 0).all().all()
    assert frame[frame["language"] == "en"]["supported"].all()


def test_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path) -> None:
    # The lenient reading made lines 3-5 one answer: "1 answers from 1 respondents", exit 0.
    export = tmp_path / "quote.csv"
    export.write_text('RespondentID,Q3\n1,Fine\n2,"It opens here\n3,Quiet\n4,Lonely\n')
    with pytest.raises(
        SurveyInputError, match="line 3: a quoted field opens on this line and is never closed"
    ):
        read_table(export, id_column="RespondentID")
    # Text after a closing quote (another way a stray quote shows) names the lines too.
    stray = tmp_path / "stray.csv"
    stray.write_text('RespondentID,Q3\n1,"Fine\n2,"Quiet"\n')
    with pytest.raises(SurveyInputError, match="lines 2-3: text follows the closing quote"):
        read_table(stray, id_column="RespondentID")


def test_blank_lines_above_the_header(tmp_path: Path) -> None:
    export = tmp_path / "blank.csv"
    export.write_text("\n\nRespondentID;Q3\n1;Fine\n2;Quiet\n")
    answers = _answers(export, "Q3", "RespondentID")
    assert [(a.respondent_id, a.row) for a in answers] == [("1", "line 4"), ("2", "line 5")]
    blank_only = tmp_path / "blank_only.csv"
    blank_only.write_text("\n ,\n")
    with pytest.raises(SurveyInputError, match="the file is empty"):
        read_table(blank_only)


@pytest.mark.parametrize("rows", [0, -1])
def test_header_rows_must_be_positive(rows: int) -> None:
    with pytest.raises(SurveyInputError, match=f"--header-rows must be 1 or more .*got {rows}"):
        read_table(GENERIC, id_column="RespondentID", header_rows=rows)


def test_short_label_of_the_id_column_is_a_header_row(tmp_path: Path) -> None:
    # "ID" under "RespondentID" is the question-text row, not a respondent called "ID".
    export = tmp_path / "id_label.csv"
    export.write_text("RespondentID,Q3\nID,What happened?\n1,Fine\nA7,Quiet\n")
    table = read_table(export, id_column="RespondentID")
    assert [r[0] for r in table.rows] == ["1", "A7"]
    assert table.resolve("Q3").question == "What happened?"


def test_qualtrics_export_without_its_importid_row(tmp_path: Path) -> None:
    lines = (FIXTURES / "qualtrics_export.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    two_rows = tmp_path / "qualtrics_2rows.csv"
    two_rows.write_text("".join(lines[:2] + lines[3:]), encoding="utf-8-sig")
    table = read_table(two_rows)  # recognised by its columns, with no --id-column to go by
    assert table.layout == "qualtrics" and len(table.rows) == 8 and table.row_numbers[0] == 3
    assert all(r[table.resolve("ResponseId").index].startswith("R_") for r in table.rows)
    # Header rows deleted by hand: the first row under the ids is a response, and is kept.
    one_row = tmp_path / "qualtrics_1row.csv"
    one_row.write_text("".join(lines[:1] + lines[3:]), encoding="utf-8-sig")
    assert len(read_table(one_row).rows) == 8


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)  # openpyxl stores formulas without computed values, like other generators
    return path


def test_xlsx_formulas_without_saved_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = _workbook(
        tmp_path / "formulas.xlsx",
        [
            ["RespondentID", "Q3", "note"],
            [1, "Fine", "=1+1"],
            ["=2", '="Quiet"&" street"', ""],
            [3, "Ok", ""],
        ],
    )
    table = read_table(book, id_column="RespondentID")
    with pytest.raises(SurveyInputError, match=r"cell\(s\) A3, B3 hold formulas without a saved value"):
        extract_answers(table, "s", "Q3", "RespondentID")
    # Formulas only in columns that are not imported: a warning naming them, and the answers.
    ok = _workbook(tmp_path / "ok.xlsx", [["RespondentID", "Q3", "note"], [1, "Fine", "=1+1"], [2, "Ok", ""]])
    with caplog.at_level("WARNING", logger="signals.surveys"):
        answers = extract_answers(read_table(ok, id_column="RespondentID"), "s", "Q3", "RespondentID")
    assert [a.text for a in answers] == ["Fine", "Ok"]
    assert "C2 (not imported) hold formulas" in caplog.text


def test_workbook_saved_with_a_csv_name(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "export.csv", [["RespondentID", "Q3"], [1, "Fine"]])
    with pytest.raises(
        SurveyInputError, match=r"export.csv is an Excel workbook .*rename it to \.xlsx"
    ) as err:
        read_table(book, id_column="RespondentID")
    assert "cp1252" not in str(err.value)


def test_long_answers(tmp_path: Path) -> None:
    # Over the csv module's default field limit (131,072 characters): an answer, not a malformed file.
    long = "The park is nice. " * 10_000
    export = tmp_path / "long.csv"
    export.write_text(f'RespondentID,Q3,ward\n1,"{long}",north\n2,Fine,south\n')
    assert [len(a.text) for a in _answers(export, "Q3", "RespondentID", "ward")] == [len(long.strip()), 4]
    # Over 1,000,000 characters (spaCy's limit, in scoring and redaction): refused by line and column.
    huge = tmp_path / "huge.csv"
    huge.write_text(f"RespondentID,Q3,ward\n1,Fine,north\n2,Fine,{'x' * 1_000_001}\n")
    with pytest.raises(SurveyInputError, match="line 3, column 'ward': the text has 1,000,001 characters"):
        _answers(huge, "Q3", "RespondentID", "ward")
