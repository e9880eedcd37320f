"""Acceptance, end to end through the CLI: import two waves of a synthetic survey into the triage store,
draw a random sample of each, label it from the known truth with `import-decisions --sampled`, then
`signals report --compare`: HTML, CSV and JSON show the same corrected and uncorrected shares and
intervals, to the digit the page shows.

The fixture (tests/fixtures/surveys/city_survey_*.csv, built by build_waves.py) has answers the keyword
model flags rightly, misses and flags wrongly, so the corrected shares differ from the flag counts.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from signals.cli import app
from signals.schema import SIGNALS

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "surveys"
WAVES = {"city-2024": FIXTURES / "city_survey_2024.csv", "city-2025": FIXTURES / "city_survey_2025.csv"}
TRUTH = FIXTURES / "city_survey_truth.csv"
TITLES = {"hate": "Hate", "threat": "Threat", "offensive": "Offensive", "polarization": "Polarization"}


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (whitespace collapsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _table(html: str, first_header: str, after: str = "") -> list[list[str]]:
    """The first table (after the text ``after``) whose first header cell is ``first_header``."""
    for table in _tables(html[html.index(after) :] if after else html):
        if table and table[0] and table[0][0] == first_header:
            return table
    raise AssertionError(f"no table headed {first_header!r} after {after!r}")


def pct(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.1%}"


def interval(low: Any, high: Any) -> str:
    return f"{pct(low)} – {pct(high)}"


def points(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    p = round(float(x) * 100, 1)
    return "0.0" if p == 0 else f"{p:+.1f}"


def corrected_cell(r: Any) -> str:
    if r["correction"] != "corrected":
        return str(r["correction"])
    return f"{pct(r['corrected'])} ({interval(r['corrected_low'], r['corrected_high'])})"


def _run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    return result


@pytest.fixture
def store(keyword_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both waves imported, an 80-answer random sample of each drawn and labelled from the truth."""
    db = f"sqlite:///{tmp_path / 'signals.db'}"
    monkeypatch.setenv("SIGNALS_DATABASE_URL", db)
    monkeypatch.chdir(tmp_path)
    truth = pd.read_csv(TRUTH, dtype={"wave": str, "respondent_id": str})
    from signals.triage.store import ItemFilter, query_items

    for survey, export in WAVES.items():
        result = _run(
            "import", str(export), "--text-columns", "Q2,Q4", "--id-column", "RespondentID",
            "--meta", "ward,date", "--survey", survey, "--model", str(keyword_model_dir),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        result = _run("triage", "sample", "--source", survey, "--n", "80", "--seed", "18")
        assert result.exit_code == 0, result.output
        drawn = query_items(ItemFilter(source=survey, sample=True), limit=None, url=db)
        assert len(drawn) == 80
        known = truth[truth["wave"] == survey[-4:]].set_index(["respondent_id", "question_id"])
        rows = [
            {
                "respondent_id": it.context["respondent_id"],
                "question_id": it.question_id,
                "signal": s,
                "decision": "confirm"
                if known.loc[(it.context["respondent_id"], it.question_id), s]
                else "reject",
            }
            for it in drawn
            for s in SIGNALS
        ]
        labels = tmp_path / f"{survey}-labels.csv"
        pd.DataFrame(rows).to_csv(labels, index=False)
        result = _run(
            "triage", "import-decisions", str(labels), "--source", survey, "--analyst", "ana", "--sampled"
        )
        assert result.exit_code == 0, result.output
        assert "320 random-sample labels recorded" in result.output
    return db


def test_import_sample_label_report_compare_agree_in_html_csv_and_json(
    store: str, keyword_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "brief" / "report.html"
    result = _run("report", "--survey", "city-2025", "--compare", "city-2024", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "compared with city-2024" in result.output
    html = out.read_text(encoding="utf-8")
    payload = json.loads(out.with_suffix(".json").read_text())
    csv = {
        name: pd.read_csv(out.with_name(f"report-{name}.csv"), dtype={"question_id": str})
        for name in ("overall", "by_question", "by_meta", "compare")
    }

    # 1. Overall: uncorrected and corrected shares with intervals, the same in all three.
    rows = {r[0].split(" ")[0]: r for r in _table(html, "Signal (what it means)")[1:]}
    js = {r["signal"]: r for r in payload["tables"]["overall"]}
    for r in csv["overall"].to_dict("records"):
        s, j = r["signal"], js[r["signal"]]
        cells = rows[TITLES[s]]
        assert r["correction"] == j["correction"] == "corrected"  # 80 labels of every signal
        assert cells[1] == f"{r['k']} of {r['n']}" == f"{j['k']} of {j['n']}"
        assert cells[2] == pct(r["rate"]) == pct(j["rate"])
        assert cells[3] == interval(r["ci_low"], r["ci_high"]) == interval(j["ci_low"], j["ci_high"])
        assert cells[4] == corrected_cell(r) == corrected_cell(j)
        assert cells[5] == str(r["labels"]) == str(j["labels"]) == "80"
    # the corrected intervals cover the fixture's true shares of its common signals (its truth file)
    truth = pd.read_csv(TRUTH, dtype={"wave": str})
    for s in ("hate", "polarization"):
        share = truth.loc[truth["wave"] == "2025", s].mean()
        assert js[s]["corrected_low"] <= share <= js[s]["corrected_high"], (s, share, js[s])

    # 2. Corrected per question and per ward: 80 labels split over two, so both sides are corrected or
    # say why not, identically.
    for name, table_header, key in (("by_question", "Question", "question_id"), ("by_meta", "ward", "value")):
        table = _table(html, table_header, after=f"Corrected for model errors, per {table_header.lower()}")
        header = table[0]
        cells = {(row[0], header[i]): row[i] for row in table[1:] for i in range(1, len(header))}
        frame = csv[name]
        json_rows = {(r[key], r["signal"]): r for r in payload["tables"][name]}
        for r in frame.to_dict("records"):
            shown = cells[(str(r[key]), TITLES[r["signal"]])]
            assert shown.startswith(corrected_cell(r)), (shown, r)
            assert corrected_cell(json_rows[(r[key], r["signal"])]) == corrected_cell(r)
            assert f"({r['labels']} labels" in shown
        assert "corrected" in set(frame["correction"])

    # 3. Compared with the other wave: uncorrected (Newcombe) and corrected (PPI) differences.
    assert "Compared with city-2024" in html
    assert payload["compare"]["with"] == "city-2024" and payload["compare"]["answers"] > 200
    cmp_rows = payload["compare"]["rows"]
    assert len(cmp_rows) == len(csv["compare"]) == 4 * 3  # overall and two questions, four signals
    uncorrected = _table(html, "Signal", after="Compared with city-2024")
    corrected = _table(html, "Signal", after="Corrected for model errors in each wave")
    for j, r, u, c in zip(
        cmp_rows, csv["compare"].to_dict("records"), uncorrected[1:], corrected[1:], strict=True
    ):
        assert u[0] == c[0] == TITLES[r["signal"]] == TITLES[j["signal"]]
        assert u[1] == c[1] == ("all answers" if r["scope"] == "overall" else r["question_id"])
        assert u[2] == f"{pct(r['rate'])} ({r['k']} of {r['n']})"
        assert u[3] == f"{pct(j['other_rate'])} ({j['other_k']} of {j['other_n']})"
        assert u[4] == points(r["difference"]) == points(j["difference"])
        span = f"{points(r['difference_low'])} to {points(r['difference_high'])}"
        assert u[5] == span == f"{points(j['difference_low'])} to {points(j['difference_high'])}"
        assert (
            u[6]
            == r["change"]
            == j["change"]
            in {"a real change (up)", "a real change (down)", "within noise"}
        )
        if r["corrected_change"] in ("a real change (up)", "a real change (down)", "within noise"):
            assert c[2] == pct(r["corrected"]) == pct(j["corrected"])
            assert c[4] == points(r["corrected_difference"]) == points(j["corrected_difference"])
            assert (
                c[5] == f"{points(r['corrected_difference_low'])} to {points(r['corrected_difference_high'])}"
            )
            assert (
                c[5] == f"{points(j['corrected_difference_low'])} to {points(j['corrected_difference_high'])}"
            )
        assert c[6] == r["corrected_change"] == j["corrected_change"]
    overall_hate = next(r for r in cmp_rows if r["scope"] == "overall" and r["signal"] == "hate")
    # hate rose from 3 % to 14 % of answers in the fixture: the corrected comparison sees it
    assert overall_hate["corrected_change"] == "a real change (up)"
    assert overall_hate["corrected_difference_low"] > 0
    assert re.search(r"<b>Hate</b> compared with city-2024: [\d.]+% now", html)

    # 4. The other wave as a scored file, and others that cannot be compared with.
    scored = tmp_path / "wave-2024.csv"
    result = _run(
        "import", str(WAVES["city-2024"]), "--text-columns", "Q2,Q4", "--id-column", "RespondentID",
        "--meta", "ward,date", "--survey", "city-2024", "--model", str(keyword_model_dir),
        "--output", str(scored),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "r.html"
    result = _run("report", "--survey", "city-2025", "--compare", str(scored), "--output", str(out))
    assert result.exit_code == 0, result.output
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["compare"]["source"] == "scored file wave-2024.csv"
    # a scored file holds no labels: the corrected comparison says so, the uncorrected one stands
    rows = payload["compare"]["rows"]
    assert {r["corrected_change"] for r in rows} == {"no labels in the other"}
    assert all(r["difference_low"] <= r["difference"] <= r["difference_high"] for r in rows)

    empty = tmp_path / "empty.csv"
    empty.write_text(scored.read_text().splitlines()[0] + "\n")
    not_scored = tmp_path / "plain.csv"
    not_scored.write_text("a,b\n1,2\n")
    for other, message in (
        ("no-such-wave", "--compare no-such-wave: no answers of survey 'no-such-wave' in the store"),
        (str(tmp_path / "missing.csv"), "input file not found"),
        (str(empty), "has no answers"),
        (str(not_scored), "is not a scored survey file"),
    ):
        result = _run("report", "--survey", "city-2025", "--compare", other, "--output", str(out))
        assert result.exit_code == 2, (other, result.output)
        assert message in " ".join(result.output.split()), (other, result.output)
        assert "Traceback" not in result.output
