"""Rebuild the example briefing in docs/examples/survey-report/ from the fixture survey export.

    .venv/bin/python docs/examples/build_survey_report.py [--model DIR_OR_URI]

It runs what an analyst team runs: ``signals import`` of the (invented) community survey into a fresh
triage store, analyst decisions on most flagged answers, then ``signals report``. The decisions are
scripted from ANALYST_KEY, an illustrative reading of the invented answers, and leave a quarter of
the flagged answers unreviewed so the report shows both states. Finally headless Chromium renders the
page to docs/img/survey-report.png.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "tests" / "fixtures" / "surveys" / "community_survey_2025.csv"
OUT = ROOT / "docs" / "examples" / "survey-report"
SHOT = ROOT / "docs" / "img" / "survey-report.png"
SURVEY = "Community survey 2025"

#: What an analyst would confirm in the invented answers ("respondent/question" -> signals present).
ANALYST_KEY: dict[str, set[str]] = {
    "1004/Q3": {"polarization"},
    "1004/Q7": {"polarization"},
    "1007/Q3": {"hate"},
    "1007/Q7": {"hate"},
    "1010/Q3": {"polarization"},
    "1013/Q3": {"threat"},
    "1020/Q3": {"offensive"},
    "1024/Q3": {"polarization"},
    "1030/Q3": {"hate"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model dir or MLflow URI [champion, else models/default]")
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args()
    signals = [str(Path(sys.executable).with_name("signals"))]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'signals.db'}"
        model = ["--model", args.model] if args.model else []
        subprocess.run(
            [*signals, "import", str(EXPORT), "--text-columns", "Q3,Q7", "--id-column", "RespondentID",
             "--meta", "ward,date", "--survey", SURVEY, "--database-url", db, *model],
            check=True,
        )  # fmt: skip

        from signals.schema import SIGNALS
        from signals.triage.store import ItemFilter, query_items, record_decision

        items = query_items(ItemFilter(source=SURVEY), limit=None, url=db)  # queue order: riskiest first
        flagged = [it for it in items if any(it.flags.values())]
        for it in flagged[: max(1, round(len(flagged) * 0.75))]:
            truth = ANALYST_KEY.get(it.external_id, set())
            for signal in SIGNALS:
                if it.flags.get(signal) or signal in truth:
                    decision = "confirm" if signal in truth else "reject"
                    record_decision(it.id, signal, decision, "example-analyst", url=db)

        if OUT.exists():
            shutil.rmtree(OUT)
        subprocess.run(
            [
                *signals,
                "report",
                "--survey",
                SURVEY,
                "--output",
                str(OUT / "report.html"),
                "--database-url",
                db,
            ],
            check=True,
        )
    if not args.no_screenshot:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            sys.exit("chromium not found: apt-get install chromium (or pass --no-screenshot)")
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1000,2400", f"--screenshot={SHOT}", (OUT / "report.html").as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip
        print(f"screenshot: {SHOT}")


if __name__ == "__main__":
    main()
