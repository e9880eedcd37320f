"""Report statistics against hand-computed numbers (tests/fixtures/surveys/scored_small.csv).

The fixture has 10 answers (5 to Q3, 5 to Q7) in two wards over January-April 2025; its flags and
analyst decisions were chosen so every expected count below can be read off the file by eye.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from signals.report import (
    ReportContext,
    build_report,
    by_meta,
    by_question,
    by_target,
    compute_tables,
    detect_date_field,
    over_time,
    prevalence,
    quotes,
    read_scored_file,
    review_summary,
    wilson_interval,
)

SMALL = Path(__file__).parents[1] / "fixtures" / "surveys" / "scored_small.csv"


@pytest.fixture
def small() -> pd.DataFrame:
    return read_scored_file(SMALL)


def _row(table: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for col, value in where.items():
        mask &= table[col] == value
    assert mask.sum() == 1, f"{where}: {mask.sum()} rows"
    return table[mask].iloc[0]


def test_wilson_matches_hand_values() -> None:
    # Newcombe (1998) example: 81/263 -> 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # k = 0 has the closed form (0, z^2 / (n + z^2)): 3.8415 / 13.8415 for n = 10.
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(1.959964**2 / (10 + 1.959964**2), abs=1e-6)
    # 2/10 by hand: centre (0.2 + 0.19207) / 1.38415 = 0.28326, half-width 0.22658.
    low, high = wilson_interval(2, 10)
    assert (round(low, 4), round(high, 4)) == (0.0567, 0.5098)
    # Symmetry: the interval of n - k failures mirrors that of k successes.
    a, b = wilson_interval(3, 17)
    c, d = wilson_interval(14, 17)
    assert (a, b) == pytest.approx((1 - d, 1 - c))
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_overall_prevalence(small: pd.DataFrame) -> None:
    table = prevalence(small)
    counts = dict(zip(table["signal"], table["k"], strict=True))
    assert counts == {"hate": 2, "threat": 1, "offensive": 1, "polarization": 2}
    hate = _row(table, signal="hate")
    assert hate["n"] == 10 and hate["rate"] == 0.2
    assert (round(hate["ci_low"], 4), round(hate["ci_high"], 4)) == (0.0567, 0.5098)


def test_by_question(small: pd.DataFrame) -> None:
    table = by_question(small)
    assert list(dict.fromkeys(table["question_id"])) == ["Q3", "Q7"]
    assert _row(table, question_id="Q3", signal="hate")[["n", "k"]].tolist() == [5, 2]
    assert _row(table, question_id="Q3", signal="threat")["k"] == 1
    assert _row(table, question_id="Q7", signal="hate")["k"] == 0
    assert _row(table, question_id="Q7", signal="offensive")["rate"] == 0.2
    assert _row(table, question_id="Q7", signal="hate")["question_text"] == "What should the city do?"


def test_by_meta_and_time(small: pd.DataFrame) -> None:
    wards = by_meta(small, "ward")
    assert _row(wards, value="Ward 1", signal="hate")[["n", "k"]].tolist() == [5, 2]
    assert _row(wards, value="Ward 1", signal="polarization")["k"] == 2
    assert _row(wards, value="Ward 2", signal="threat")[["n", "k"]].tolist() == [5, 1]
    assert detect_date_field(small) == "date"
    months, unit = over_time(small, "date")
    assert unit == "month"  # January 10 to April 9 is more than ten weeks
    assert list(dict.fromkeys(months["period"])) == ["2025-01", "2025-02", "2025-04"]
    assert _row(months, period="2025-01", signal="hate")[["n", "k"]].tolist() == [4, 2]
    assert _row(months, period="2025-02", signal="threat")[["n", "k"]].tolist() == [4, 1]
    assert _row(months, period="2025-04", signal="offensive")[["n", "k"]].tolist() == [2, 1]


def test_weekly_periods_for_short_surveys(small: pd.DataFrame) -> None:
    short = small[small["meta.date"] < "2025-03-01"]
    weeks, unit = over_time(short, "date")
    assert unit == "week starting"
    # 2025-01-10 is a Friday: its week starts Monday 2025-01-06.
    assert list(dict.fromkeys(weeks["period"])) == ["2025-01-06", "2025-01-20", "2025-02-03", "2025-02-10"]


def test_by_target(small: pd.DataFrame) -> None:
    table = by_target(small)
    assert set(table["target"]) == {"religion", "political"}  # only groups the file has
    assert _row(table, target="religion", signal="hate")[["n", "k"]].tolist() == [10, 1]
    assert _row(table, target="political", signal="polarization")["k"] == 1
    assert _row(table, target="political", signal="offensive")["k"] == 0  # r2/Q7 is not flagged


def test_review_summary(small: pd.DataFrame) -> None:
    table = review_summary(small).set_index("signal")
    hate = table.loc["hate"]
    assert (hate["flagged"], hate["flagged_reviewed"], hate["confirmed"], hate["flagged_unreviewed"]) == (
        2,
        2,
        1,
        0,
    )
    assert hate["confirmed_rate"] == 0.5
    assert (hate["ci_low"], hate["ci_high"]) == pytest.approx(wilson_interval(1, 2))
    threat = table.loc["threat"]
    assert (threat["flagged_reviewed"], threat["flagged_unreviewed"]) == (0, 1)
    assert math.isnan(threat["confirmed_rate"])
    offensive = table.loc["offensive"]
    # r6 was marked unsure: reviewed but no verdict; r2/Q7 was confirmed without a flag.
    assert (offensive["flagged_reviewed"], offensive["flagged_unsure"], offensive["found_unflagged"]) == (
        1,
        1,
        1,
    )
    assert math.isnan(offensive["confirmed_rate"])
    polarization = table.loc["polarization"]
    assert (polarization["flagged_reviewed"], polarization["confirmed"], polarization["confirmed_rate"]) == (
        1,
        1,
        1.0,
    )


def test_quotes_only_confirmed(small: pd.DataFrame) -> None:
    table = quotes(small)
    assert table.groupby("signal")["text"].apply(list).to_dict() == {
        "hate": ["They are vermin and should leave."],
        "offensive": ["Fire the useless council clowns."],
        "polarization": ["Those people are destroying our city."],
    }
    # The rejected hate flag (r2) and the unreviewed threat flag (r3) are never quoted.
    assert "Someone called my neighbour vermin." not in set(table["text"])
    assert "A note said they would shoot my dog." not in set(table["text"])


def test_build_report_writes_html_csv_json(small: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "brief" / "report.html"
    files = build_report(small, out, ReportContext("small", "keyword-test 1", "scored file"))
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html
    assert "src=" not in html.replace('src="data:', "")  # self-contained: no external resources
    assert "keyword-test 1" in html and "Wilson" in html
    assert "They are vermin and should leave." in html  # confirmed quote
    assert "A note said they would shoot my dog." not in html  # unreviewed text stays out
    payload = json.loads(files.json.read_text())
    overall = {r["signal"]: (r["k"], r["n"]) for r in payload["tables"]["overall"]}
    assert overall == {"hate": (2, 10), "threat": (1, 10), "offensive": (1, 10), "polarization": (2, 10)}
    names = sorted(p.name for p in files.csv)
    assert "report-by_question.csv" in names and "report-review.csv" in names
    csv_overall = pd.read_csv(out.with_name("report-overall.csv"))
    assert csv_overall.set_index("signal").loc["hate", "ci_high"] == pytest.approx(0.5098, abs=1e-4)


def test_tables_without_dates_or_targets(small: pd.DataFrame) -> None:
    bare = small.drop(columns=["meta.date", "target_religion", "target_political"])
    tables = compute_tables(bare)
    assert tables.date_field is None and tables.over_time.empty and tables.by_target.empty
    assert set(tables.by_meta["field"]) == {"ward"}
    with pytest.raises(ValueError, match="no meta field"):
        compute_tables(small, date_field="when")


def test_wilson_ends_stay_on_their_side_of_the_rate() -> None:
    # Computed, 0 of 3 gave a lower end of 5.6e-17: above the rate, a negative error bar for matplotlib.
    for n in range(1, 1001):
        for k in {0, 1, n // 2, n - 1, n}:
            low, high = wilson_interval(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0, (k, n, low, high)
        assert wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0


def _survey(n: int) -> pd.DataFrame:
    """``n`` scored answers to two questions; ward "Quiet" (3 answers, or all when fewer) has no flag."""
    rows = []
    for i in range(n):
        quiet = i < 3
        row = {
            "survey": "s",
            "respondent_id": f"r{i // 2}",
            "question_id": f"Q{1 + i % 2}",
            "question_text": f"Question {1 + i % 2}",
            "lang": "en",
            "non_english": False,
            "text": f"answer {i}",
            "meta.ward": "Quiet" if quiet else "Busy",
            "meta.date": f"2025-0{1 + i % 3}-1{i % 10}",
        }
        for s in ("hate", "threat", "offensive", "polarization"):
            flagged = not quiet and (s == "hate" or i % 4 == 0)  # every Busy answer is flagged for hate
            row[f"p_{s}"] = 0.9 if flagged else 0.1
            row[f"flag_{s}"] = int(flagged)
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n", [1, 4, 1000])
def test_report_of_small_and_large_surveys_with_unflagged_groups(n: int, tmp_path: Path) -> None:
    frame = _survey(n)
    files = build_report(frame, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    payload = json.loads(files.json.read_text())
    quiet = [r for r in payload["tables"]["by_meta"] if r["value"] == "Quiet"]
    assert quiet and all(r["k"] == 0 and r["ci_low"] == 0.0 for r in quiet)
    assert {r["n"] for r in payload["tables"]["overall"]} == {n}
    assert "<svg" in files.html.read_text()


def test_question_ids_are_escaped_in_the_findings(tmp_path: Path) -> None:
    frame = _survey(8)
    hostile = "<img src=x onerror=alert(1)>"
    frame["question_id"] = frame["question_id"].replace("Q2", hostile)
    build_report(frame, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    html = (tmp_path / "r.html").read_text()
    assert "<img" not in html
    assert "answers to &lt;img src=x onerror=alert(1)&gt;" in html  # the finding names it, as text
    assert "<b>Hate</b>" in html  # the findings' own markup is kept


def test_dollar_signs_in_labels_are_text_not_mathematics(tmp_path: Path) -> None:
    frame = _survey(8)
    frame["meta.ward"] = frame["meta.ward"].replace({"Quiet": "$x^2$ budget", "Busy": r"costs $\frac{$"})
    build_report(frame, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    html = (tmp_path / "r.html").read_text()
    assert ">$x^2$ budget</text>" in html  # drawn as written, not as x squared
    assert r">costs $\frac{$</text>" in html  # bad TeX no longer stops the report


def _labelled(n: int = 400, q1_labels: int = 40, q2_labels: int = 10) -> pd.DataFrame:
    """``_survey(n)`` with random-sample hate labels on Q1 and Q2 answers (none for other signals)."""
    frame = _survey(n)
    frame["sample_hate"] = float("nan")
    for question, count in (("Q1", q1_labels), ("Q2", q2_labels)):
        idx = frame.index[frame["question_id"] == question][:count]
        # the model over-flags: analysts confirm only every third flagged answer
        frame.loc[idx, "sample_hate"] = [
            float(f == 1 and i % 3 == 0) for i, f in zip(idx, frame.loc[idx, "flag_hate"], strict=True)
        ]
    return frame


def test_corrected_prevalence_beside_the_uncorrected_share(tmp_path: Path) -> None:
    from signals.prevalence import ppi_mean

    frame = _labelled()
    files = build_report(frame, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    tables = compute_tables(frame)
    hate = _row(tables.overall, signal="hate")
    labelled = frame["sample_hate"].notna()
    expected = ppi_mean(frame["p_hate"], frame.loc[labelled, "sample_hate"], frame.loc[labelled, "p_hate"])
    assert expected is not None and hate["labels"] == 50 and hate["correction"] == "corrected"
    assert (hate["corrected"], hate["corrected_low"], hate["corrected_high"]) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert hate["corrected"] < hate["rate"]  # the labels pull the over-flagging model down
    assert expected.labels_to_halve is not None and 200 <= hate["labels_to_halve"] == expected.labels_to_halve
    # labels for one signal only: the others stay uncorrected
    assert set(tables.overall.loc[tables.overall["signal"] != "hate", "correction"]) == {"no labels"}
    # per question: Q1 has 40 labels, Q2 only 10
    assert _row(tables.by_question, question_id="Q1", signal="hate")["correction"] == "corrected"
    q2 = _row(tables.by_question, question_id="Q2", signal="hate")
    assert q2["correction"] == "not enough labels" and q2["labels"] == 10 and math.isnan(q2["corrected"])

    # HTML, CSV and JSON say the same
    payload = json.loads(files.json.read_text())
    js = {r["signal"]: r for r in payload["tables"]["overall"]}
    assert js["hate"]["corrected"] == pytest.approx(hate["corrected"], abs=1e-6)
    assert js["threat"]["correction"] == "no labels" and js["threat"]["corrected"] is None
    assert js["hate"]["labels_to_halve"] == hate["labels_to_halve"]
    csv = pd.read_csv(tmp_path / "r-overall.csv").set_index("signal")
    assert csv.loc["hate", "corrected_high"] == pytest.approx(hate["corrected_high"])
    assert csv.loc["hate", "labels_to_halve"] == hate["labels_to_halve"]
    csv_q = pd.read_csv(tmp_path / "r-by_question.csv")
    assert list(csv_q.loc[csv_q["signal"] == "hate", "correction"]) == ["corrected", "not enough labels"]
    html = files.html.read_text()
    cell = f"{hate['corrected']:.1%} ({hate['corrected_low']:.1%} – {hate['corrected_high']:.1%})"
    assert cell in html and "not enough labels" in html
    assert "corrected for model errors with 50 analyst labels" in html
    assert "No analyst has labelled a random sample" not in html


def test_report_without_labels_is_marked_uncorrected(small: pd.DataFrame, tmp_path: Path) -> None:
    files = build_report(small, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    html = files.html.read_text()
    assert "No analyst has labelled a random sample" in html and "Shares are <b>uncorrected</b>" in html
    assert "Corrected for model errors, per question" not in html
    payload = json.loads(files.json.read_text())
    assert {r["correction"] for r in payload["tables"]["overall"]} == {"no labels"}
    assert {r["labels"] for r in payload["tables"]["by_question"]} == {0}
    # triage decisions (decision_<signal>) are not random-sample labels
    assert small.filter(like="decision_").notna().any().any()


def test_uncorrectable_probabilities_name_the_column() -> None:
    frame = _labelled()
    frame.loc[0, "p_hate"] = float("nan")
    with pytest.raises(ValueError, match="cannot correct hate for model errors: p_hate"):
        compute_tables(frame)


def test_newcombe_interval_for_a_difference_of_proportions() -> None:
    from signals.report import newcombe_interval

    # Newcombe (1998), "Interval estimation for the difference between independent proportions",
    # method 10: examples (a) 56/70 - 48/80, (e) 0/10 - 0/20 and (g) 10/10 - 0/20.
    assert [round(x, 4) for x in newcombe_interval(56, 70, 48, 80)] == [0.0524, 0.3339]
    assert [round(x, 4) for x in newcombe_interval(0, 10, 0, 20)] == [-0.1611, 0.2775]
    assert [round(x, 4) for x in newcombe_interval(10, 10, 0, 20)] == [0.6791, 1.0]
    low, high = newcombe_interval(48, 80, 56, 70)  # swapping the waves mirrors the interval
    assert (low, high) == pytest.approx((-0.3339, -0.0524), abs=1e-4)
    assert all(math.isnan(x) for x in newcombe_interval(1, 0, 2, 10))


def _targeted(frame: pd.DataFrame) -> pd.DataFrame:
    """Every fifth answer aimed at a religion (model's target probability 0.8), the rest at nobody."""
    return frame.assign(target_religion=[0.8 if i % 5 == 0 else 0.1 for i in range(len(frame))])


def test_corrected_by_target_time_and_meta() -> None:
    from signals.prevalence import ppi_mean

    frame = _targeted(_labelled())
    tables = compute_tables(frame)
    aimed = (frame["target_religion"] >= 0.5).astype(float)
    labelled = frame["sample_hate"].notna()
    expected = ppi_mean(
        frame["p_hate"] * aimed,
        (frame["sample_hate"] * aimed)[labelled],
        (frame["p_hate"] * aimed)[labelled],
    )
    row = _row(tables.by_target, target="religion", signal="hate")
    assert expected is not None and row["labels"] == 50 and row["correction"] == "corrected"
    assert (row["corrected"], row["corrected_low"], row["corrected_high"]) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert row["corrected_se"] == pytest.approx(expected.standard_error)
    assert _row(tables.by_target, target="religion", signal="threat")["correction"] == "no labels"
    # per ward: "Busy" holds 47 of the 50 labels, "Quiet" 3
    assert _row(tables.by_meta, value="Busy", signal="hate")["correction"] == "corrected"
    assert _row(tables.by_meta, value="Quiet", signal="hate")["correction"] == "not enough labels"
    # per period: the labels are spread thin, so no period has 30
    hate_periods = tables.over_time[tables.over_time["signal"] == "hate"]
    assert set(hate_periods["correction"]) == {"not enough labels"}
    assert hate_periods["labels"].sum() == 50


def test_compare_waves_uncorrected_and_corrected() -> None:
    from signals.prevalence import difference
    from signals.report import compare_waves, newcombe_interval

    this, other = _labelled(400, 40, 10), _labelled(300, 35, 35)
    other.loc[other["flag_hate"] == 1, "flag_hate"] = other["flag_hate"].where(other.index % 2 == 0, 0)
    table = compare_waves(this, other)
    assert list(table["scope"]) == ["overall"] * 4 + ["question"] * 8
    hate = _row(table, scope="overall", signal="hate")
    a, b = (
        _row(prevalence(this, corrected=True), signal="hate"),
        _row(prevalence(other, corrected=True), signal="hate"),
    )
    assert (hate["difference_low"], hate["difference_high"]) == newcombe_interval(
        a["k"], a["n"], b["k"], b["n"]
    )
    assert (
        hate["difference"] == pytest.approx(a["rate"] - b["rate"]) and hate["change"] == "a real change (up)"
    )
    expected = difference(a["corrected"], a["corrected_se"], b["corrected"], b["corrected_se"])
    assert (
        hate["corrected_difference"],
        hate["corrected_difference_low"],
        hate["corrected_difference_high"],
    ) == (pytest.approx(expected))
    assert hate["corrected_change"] == "within noise"  # same labels behind both: no real change
    # Q2 has 10 labels here and 35 there: no corrected comparison, and the row says why
    q2 = _row(table, scope="question", question_id="Q2", signal="hate")
    assert q2["corrected_change"] == "not enough labels in this wave" and math.isnan(
        q2["corrected_difference"]
    )
    assert _row(table, scope="overall", signal="threat")["corrected_change"] == (
        "no labels in this wave; no labels in the other"
    )
    with pytest.raises(ValueError, match="no answers"):
        compare_waves(this, other.iloc[:0])


def test_labels_for_one_signal_only_in_every_table_and_the_comparison(tmp_path: Path) -> None:
    frame, other = _targeted(_labelled()), _targeted(_labelled(300, 35, 35))
    files = build_report(
        frame, tmp_path / "r.html", ReportContext("s", "m 1", "test", compare="last year"), other=other
    )
    payload = json.loads(files.json.read_text())
    for name in ("overall", "by_question", "by_target", "over_time", "by_meta"):
        rows = payload["tables"][name]
        assert rows and {r["correction"] for r in rows if r["signal"] != "hate"} == {"no labels"}, name
        assert all(r["corrected"] is None and r["labels"] == 0 for r in rows if r["signal"] != "hate")
    assert "corrected" in {r["correction"] for r in payload["tables"]["by_target"] if r["signal"] == "hate"}
    compare = payload["compare"]["rows"]
    assert {r["corrected_change"] for r in compare if r["signal"] != "hate"} == {
        "no labels in this wave; no labels in the other"
    }
    html = files.html.read_text()
    assert "Compared with last year" in html and "Corrected for model errors, per group" in html
    assert 'no labels <span class="muted">(0 labels)' in html
    csv = pd.read_csv(tmp_path / "r-compare.csv")
    assert len(csv) == len(compare) and set(csv["signal"]) == {"hate", "threat", "offensive", "polarization"}


def test_no_compare_section_without_another_wave(small: pd.DataFrame, tmp_path: Path) -> None:
    files = build_report(small, tmp_path / "r.html", ReportContext("s", "m 1", "test"))
    assert "compare" not in json.loads(files.json.read_text())
    assert not (tmp_path / "r-compare.csv").exists() and "Compared with" not in files.html.read_text()
