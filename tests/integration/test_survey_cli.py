"""`signals import` then `signals report`, through the triage store and through a scored file.

On SQLite; the import -> store -> decisions -> report flow also on PostgreSQL (``@BOTH_DATABASES``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pg import BOTH_DATABASES
from signals.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "surveys"
EXPORT = FIXTURES / "community_survey_2025.csv"
SURVEY = "community-survey-2025"


def _import(model_dir: Path, db: str, *extra: str, export: Path = EXPORT) -> object:
    return runner.invoke(
        app,
        [
            "import", str(export), "--text-columns", "Q3,Q7", "--id-column", "RespondentID",
            "--meta", "ward,date", "--survey", SURVEY, "--model", str(model_dir),
            "--database-url", db, *extra,
        ],
    )  # fmt: skip


@pytest.fixture
def database_backend() -> str:
    return "sqlite"


@pytest.fixture
def db(database_url: str) -> str:
    return database_url


@BOTH_DATABASES
def test_import_store_review_report(keyword_model_dir: Path, db: str, tmp_path: Path) -> None:
    result = _import(keyword_model_dir, db)
    assert result.exit_code == 0, result.output
    assert "74 answers from 39 respondents (generic export, 2 header rows)" in " ".join(result.output.split())
    assert "74 new" in result.output
    # Importing the same export again stores nothing twice.
    again = _import(keyword_model_dir, db)
    assert again.exit_code == 0 and "0 new, 74 already stored" in again.output

    from signals.triage.store import ItemFilter, query_items, record_decision

    items = query_items(ItemFilter(source=SURVEY), limit=None, url=db)
    assert len(items) == 74
    texts = " ".join(i.text for i in items)
    assert "maria.lopez@example.org" not in texts and "[EMAIL]" in texts  # redacted before storing
    spanish = next(i for i in items if i.text.startswith("Hay mucha"))
    assert spanish.context["language"] == "es" and spanish.context["supported"] is False
    # Not scored: no probabilities, nothing flagged or sent to review, at the bottom of the queue.
    assert spanish.scores == {} and not any(spanish.flags.values()) and not any(spanish.review.values())
    assert spanish.priority == 0.0
    assert "not scored: 4 answers" in " ".join(result.output.split())
    assert spanish.context["meta"] == {"ward": "Ward 1", "date": "2025-05-12"}
    assert spanish.question_id == "Q3"

    hate = [i for i in items if i.flags["hate"]]
    assert len(hate) == 3  # vermin, deport them all, subhuman
    record_decision(hate[0].id, "hate", "confirm", "ana", url=db)
    record_decision(hate[1].id, "hate", "reject", "ana", url=db)

    out = tmp_path / "brief" / "report.html"
    result = runner.invoke(app, ["report", "--survey", SURVEY, "--output", str(out), "--database-url", db])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "keyword-test (version 1)" in html and "74 open-ended answers" in html
    assert f"triage store ({'signals.db' if db.startswith('sqlite') else db})" in html  # never a password
    assert hate[0].text in html  # the confirmed answer is quoted ...
    assert hate[1].text not in html and hate[2].text not in html  # ... rejected and unreviewed are not
    payload = json.loads(out.with_suffix(".json").read_text())
    review = {r["signal"]: r for r in payload["tables"]["review"]}["hate"]
    assert (review["flagged"], review["flagged_reviewed"], review["confirmed"]) == (3, 2, 1)
    overall = {r["signal"]: r for r in payload["tables"]["overall"]}
    assert (overall["hate"]["k"], overall["hate"]["n"]) == (3, 74 - 4)  # shares: scored answers only
    langs = {r["language"]: (r["answers"], r["not_scored"]) for r in payload["tables"]["languages"]}
    assert langs["en"] == (70, 0) and sum(n for _, n in langs.values()) == 4
    assert "not scored: no model for their language" in html
    assert payload["time_unit"] == "month" and payload["date_field"] == "date"
    wards = {r["value"] for r in payload["tables"]["by_meta"]}
    assert wards == {"Ward 1", "Ward 2", "Ward 3", "Ward 4"}
    assert out.with_name("report-by_question.csv").is_file()


def test_import_to_scored_file_then_report(keyword_model_dir: Path, tmp_path: Path) -> None:
    scored = tmp_path / "scored.csv"
    result = _import(keyword_model_dir, "sqlite:///unused.db", "--output", str(scored))
    assert result.exit_code == 0, result.output
    assert not Path("unused.db").exists()
    frame = pd.read_csv(scored, dtype=str)
    assert len(frame) == 74 and "[PHONE]" in " ".join(frame["text"])
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--input", str(scored), "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "None of the" in html and "has been reviewed" in html  # no analyst decisions in a file
    assert "No confirmed example yet." in html
    foreign = frame[frame["language"] != "en"]
    assert len(foreign) == 4 and set(foreign["supported"]) == {"False"} and foreign["p_hate"].isna().all()
    assert "es: 2 (2 not scored)" in html and "fr: 2 (2 not scored)" in html


@pytest.mark.parametrize(
    ("export", "args", "message"),
    [
        (FIXTURES / "empty.csv", [], "empty.csv: the file is empty"),
        (FIXTURES / "cp1252_export.csv", [], "not valid utf-8 at byte 36 (line 2)"),
        (FIXTURES / "duplicate_ids.csv", [], "'2' on line 5 (first on line 3)"),
        (EXPORT, ["--encoding", "nope"], "unknown encoding 'nope'"),
    ],
)
def test_bad_exports_fail_with_a_message(
    keyword_model_dir: Path, db: str, export: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app,
        [
            "import", str(export), "--text-columns", "Q3", "--id-column", "RespondentID", "--survey", "bad",
            "--model", str(keyword_model_dir), "--database-url", db, *args,
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_missing_column_and_unknown_survey(keyword_model_dir: Path, db: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "import", str(EXPORT), "--text-columns", "Q3,Q8", "--id-column", "RespondentID", "--survey", "s",
            "--model", str(keyword_model_dir), "--database-url", db,
        ],
    )  # fmt: skip
    assert result.exit_code == 2 and "no column 'Q8'" in result.output
    result = runner.invoke(
        app, ["report", "--survey", "nope", "--output", str(tmp_path / "r.html"), "--database-url", db]
    )
    assert result.exit_code == 2 and "no answers of survey 'nope'" in " ".join(result.output.split())


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def test_bad_files_and_options_exit_2_naming_the_row_or_option(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    quote = tmp_path / "quote.csv"
    quote.write_text('RespondentID,Q3\n1,Fine\n2,"It opens here\n3,Quiet\n4,Lonely\n')
    blank = tmp_path / "blank.csv"
    blank.write_text("\nRespondentID,Q3\n1,Fine\n")
    base = ["--text-columns", "Q3", "--id-column", "RespondentID", "--survey", "s"]
    model = ["--model", str(keyword_model_dir), "--database-url", db]
    code, out = _run("import", str(quote), *base, *model)
    assert code == 2 and "line 3: a quoted field opens on this line and is never closed" in out
    code, out = _run("import", str(EXPORT), *base, *model, "--header-rows", "0")
    assert code == 2 and "--header-rows must be 1 or more" in out
    code, out = _run("import", str(blank), *base, *model)
    assert code == 0 and "1 answers from 1 respondents" in out


def test_import_and_report_outputs_never_overwrite_inputs(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    export = tmp_path / "survey.csv"
    export.write_bytes(EXPORT.read_bytes())
    args = ["import", str(export), "--text-columns", "Q3", "--id-column", "RespondentID", "--survey", "s",
            "--model", str(keyword_model_dir)]  # fmt: skip
    code, out = _run(*args, "--output", str(export))
    assert code == 2 and "would overwrite the input file" in out
    assert export.read_bytes() == EXPORT.read_bytes()
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    code, out = _run(*args, "--output", str(folder))
    assert code == 2 and "is a folder" in out and not list(tmp_path.glob("*.partial"))
    scored = tmp_path / "scored.csv"
    assert _run(*args, "--output", str(scored))[0] == 0
    kept = scored.read_bytes()
    code, out = _run("report", "--input", str(scored), "--output", str(scored))
    assert code == 2 and "would overwrite the input file" in out
    # The tables are written beside the page as <stem>-<table>.csv: they must not land on the input either.
    code, out = _run("report", "--input", str(scored), "--output", str(tmp_path / "scored-overall.html"))
    assert code == 0, out
    beside = tmp_path / "r-overall.csv"
    beside.write_bytes(kept)
    code, out = _run("report", "--input", str(beside), "--output", str(tmp_path / "r.html"))
    assert code == 2 and "written beside it as r-overall.csv" in out
    assert scored.read_bytes() == kept and beside.read_bytes() == kept
    code, out = _run("report", "--input", str(scored), "--output", str(folder))
    assert code == 2 and "is a folder" in out


def test_report_corrects_with_random_sample_labels_only(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    import random

    from signals.triage.store import ItemFilter, query_items, record_decision

    assert _import(keyword_model_dir, db).exit_code == 0
    items = query_items(ItemFilter(source=SURVEY), limit=None, url=db)
    sample = random.Random(18).sample(items, 40)
    for it in sample:  # analysts confirm the flags and find threats the model missed
        verdict = "confirm" if it.flags["threat"] or it.id % 7 == 0 else "reject"
        record_decision(it.id, "threat", verdict, "ana", sampled=True, url=db)
    rest = [it for it in items if it not in sample]
    record_decision(rest[0].id, "threat", "unsure", "ana", sampled=True, url=db)  # no label
    record_decision(rest[1].id, "threat", "confirm", "ana", url=db)  # risk-ranked triage: not a sample label

    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--survey", SURVEY, "--output", str(out), "--database-url", db])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.with_suffix(".json").read_text())
    overall = {r["signal"]: r for r in payload["tables"]["overall"]}
    # 3 of the 40 sampled answers are in a language the model does not score: their labels cannot
    # correct it, and the shares leave them out.
    assert overall["threat"]["labels"] == 37 and overall["threat"]["correction"] == "corrected"
    assert (
        overall["threat"]["corrected_low"]
        <= overall["threat"]["corrected"]
        <= overall["threat"]["corrected_high"]
    )
    assert overall["hate"]["correction"] == "no labels"
    per_question = {r["question_id"]: r for r in payload["tables"]["by_question"] if r["signal"] == "threat"}
    assert sum(r["labels"] for r in per_question.values()) == 37
    assert {r["correction"] for r in per_question.values()} == {"not enough labels"}  # < 30 in each
    assert "corrected for model errors with 37 analyst labels" in out.read_text()


def test_sample_labels_from_a_spreadsheet_correct_the_report(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    import random

    from signals.triage.store import ItemFilter, query_items

    assert _import(keyword_model_dir, db).exit_code == 0
    items = query_items(ItemFilter(source=SURVEY), limit=None, url=db)
    sample = random.Random(4).sample(items, 35)
    rows = [
        {
            "respondent_id": it.context["respondent_id"],
            "question_id": it.question_id,
            "signal": "hate",
            "decision": "confirm" if it.flags["hate"] else "reject",
        }
        for it in sample
    ]
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    result = runner.invoke(
        app,
        [
            "triage", "import-decisions", str(labels), "--source", SURVEY, "--analyst", "ana", "--sampled",
            "--database-url", db,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--survey", SURVEY, "--output", str(out), "--database-url", db])
    assert result.exit_code == 0, result.output
    overall = pd.read_csv(out.with_name("report-overall.csv")).set_index("signal")
    # labels on answers the model did not score (a language without a model) do not count
    assert overall.loc["hate", "labels"] == 33 and overall.loc["hate", "correction"] == "corrected"
    assert overall.loc["threat", "correction"] == "no labels"


def _sample(db: str, *args: str) -> object:
    return runner.invoke(app, ["triage", "sample", *args, "--database-url", db])


def test_triage_sample_draws_answers_whose_decisions_correct_the_report(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    from signals.triage.store import ItemFilter, count_items, query_items, record_decision

    assert _import(keyword_model_dir, db).exit_code == 0
    total = count_items(ItemFilter(source=SURVEY), url=db)
    result = _sample(db, "--source", SURVEY, "--n", "20", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert f"drew 20 item(s) of source '{SURVEY}' (seed 5); the audit sample now holds 20" in result.output
    # a second draw adds to the sample, without repeating an answer
    result = _sample(db, "--source", SURVEY, "--n", "15")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["size"] == 35
    sample = query_items(ItemFilter(sample=True), limit=None, url=db)
    assert len({it.id for it in sample}) == 35 < total
    assert any(not any(it.flags.values()) for it in sample)  # not only what the model flagged
    for it in sample:  # decided like on the page: no --sampled anywhere, the sample says so
        record_decision(it.id, "hate", "confirm" if it.flags["hate"] else "reject", "ana", url=db)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--survey", SURVEY, "--output", str(out), "--database-url", db])
    assert result.exit_code == 0, result.output
    overall = pd.read_csv(out.with_name("report-overall.csv")).set_index("signal")
    unscored = sum(it.context.get("supported") is False for it in sample)
    assert overall.loc["hate", "labels"] == 35 - unscored and overall.loc["hate", "correction"] == "corrected"


def test_answers_decided_before_they_were_drawn_count_as_sample_labels(
    keyword_model_dir: Path, db: str, tmp_path: Path
) -> None:
    # The draw ignores decisions, so an answer already decided in risk-ranked triage and drawn later is
    # a sample member like any other: leaving it out would bias the sample towards undecided answers.
    from signals.triage.store import ItemFilter, query_items, record_decision

    assert _import(keyword_model_dir, db).exit_code == 0
    items = query_items(ItemFilter(source=SURVEY), limit=None, url=db)
    for it in items:  # everything decided first, none of it sampled
        record_decision(it.id, "hate", "confirm" if it.flags["hate"] else "reject", "ana", url=db)
    out = tmp_path / "report.html"
    args = ["report", "--survey", SURVEY, "--output", str(out), "--database-url", db]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out.with_name("report-overall.csv")).set_index("signal").loc["hate", "labels"] == 0
    assert _sample(db, "--source", SURVEY, "--n", "40", "--seed", "3").exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    overall = pd.read_csv(out.with_name("report-overall.csv")).set_index("signal")
    drawn = query_items(ItemFilter(sample=True), limit=None, url=db)
    scored = sum(bool(it.context.get("supported", True)) for it in drawn)  # shares count scored answers
    assert len(drawn) == 40 and scored >= 30
    assert overall.loc["hate", "labels"] == scored and overall.loc["hate", "correction"] == "corrected"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "no-such-survey", "--n", "5"], "no items in source 'no-such-survey'"),
        (["--source", SURVEY, "--n", "0"], "the sample size must be at least 1, got 0"),
        (["--source", SURVEY, "--n", "5", "--seed", "-3"], "the seed must be between 0 and"),
    ],
)
def test_triage_sample_refuses_bad_requests(
    keyword_model_dir: Path, db: str, args: list[str], message: str
) -> None:
    assert _import(keyword_model_dir, db).exit_code == 0
    result = _sample(db, *args)
    assert result.exit_code == 2 and message in result.output, result.output
