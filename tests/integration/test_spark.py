"""`signals score-spark` (mlflow.pyfunc.spark_udf on local Spark) gives what `signals score` gives.

A tiny real baseline model is fitted on the survey fixture, registered in a throw-away MLflow store
and scored through ``models:/signals@challenger`` on ``local[2]``: the production path (SignalsPyfunc
loading a model directory inside Spark's Python workers), not a stand-in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from signals.cli import app
from signals.schema import SIGNALS

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "surveys"
runner = CliRunner()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture's answers plus edge cases as a CSV, and a baseline model directory fitted on them."""
    from keyword_model import KeywordModel
    from signals.models import ModelInfo
    from signals.models.baseline import BaselineModel
    from signals.surveys import extract_answers, read_table

    root = tmp_path_factory.mktemp("spark")
    table = read_table(FIXTURES / "community_survey_2025.csv", id_column="RespondentID")
    texts = [a.text for a in extract_answers(table, "s", "Q3,Q7", "RespondentID")]
    labels = (KeywordModel().predict_proba(texts) > 0.5).astype(int)
    model = BaselineModel(min_df=1, max_iter=200).fit(texts, labels)
    model_dir = root / "model"
    model.save(model_dir)
    ModelInfo(name="baseline-spark-test", version="1", format="baseline").save(model_dir)
    long_text = (
        " ".join(["The park is lovely and the library is open late."] * 30) + " Those people are vermin."
    )
    rows = texts + ["", "   ", long_text, 'Quotes "inside", commas, and\na line break', "12345"]
    frame = pd.DataFrame({"id": [f"a{i:03d}" for i in range(len(rows))], "text": rows, "ward": "Ward 1"})
    path = root / "sample.csv"
    frame.to_csv(path, index=False)
    return path, model_dir


def _cli_scores(sample: Path, model_dir: Path, out: Path) -> pd.DataFrame:
    result = runner.invoke(app, ["score", str(sample), "--output", str(out), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, dtype={"id": str})


def test_spark_scores_equal_cli_scores(
    sample: tuple[Path, Path], tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from signals import tracking
    from signals.spark import score_spark

    path, model_dir = sample
    monkeypatch.chdir(tmp_path)
    tracking.configure()
    with mlflow.start_run():
        version = tracking.log_model_dir(model_dir)
    assert version == "1"

    cli = _cli_scores(path, model_dir, tmp_path / "cli.csv").set_index("id").sort_index()
    out = tmp_path / "spark-out"
    result = score_spark(str(path), str(out), master="local[2]", model="models:/signals@challenger")
    assert result.rows == len(cli)
    spark = pd.read_parquet(out).set_index("id").sort_index()

    assert list(spark.columns) == [
        "text",
        "ward",
        *(f"p_{s}" for s in SIGNALS),
        *(f"flag_{s}" for s in SIGNALS),
        "language",
        "supported",
    ]
    assert spark.index.tolist() == cli.index.tolist()
    assert spark["language"].tolist() == cli["language"].tolist()
    assert (spark["text"].fillna("") == cli["text"].fillna("")).all()
    for s in SIGNALS:
        # The CLI writes probabilities with 6 decimals; blank texts are empty (NaN) in both.
        np.testing.assert_allclose(spark[f"p_{s}"].astype(float), cli[f"p_{s}"].astype(float), atol=5e-7)
        assert spark[f"flag_{s}"].astype("Float64").equals(cli[f"flag_{s}"].astype("Float64"))
    blank = cli["text"].fillna("").str.strip() == ""
    assert blank.sum() == 2 and spark.loc[blank, "p_hate"].isna().all()
    assert cli["flag_hate"].sum() >= 1  # the model learned something, so equality is not vacuous


def test_spark_wraps_a_model_directory_and_writes_csv(sample: tuple[Path, Path], tmp_path: Path) -> None:
    path, model_dir = sample
    out = tmp_path / "spark-csv"
    result = runner.invoke(
        app,
        ["score-spark", "--input", str(path), "--output", str(out), "--model", str(model_dir), "--master",
         "local[2]", "--format", "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    parts = sorted(out.glob("part-*.csv"))
    frame = pd.concat([pd.read_csv(p, dtype={"id": str}) for p in parts]).set_index("id").sort_index()
    cli = _cli_scores(path, model_dir, tmp_path / "cli.csv").set_index("id").sort_index()
    np.testing.assert_allclose(frame["p_threat"].astype(float), cli["p_threat"].astype(float), atol=5e-7)
    # A second run refuses to overwrite; bad columns are named.
    again = runner.invoke(
        app, ["score-spark", "--input", str(path), "--output", str(out), "--model", str(model_dir)]
    )
    assert again.exit_code == 2 and "output exists" in again.output
    bad = runner.invoke(
        app,
        ["score-spark", "--input", str(path), "--output", str(tmp_path / "x"), "--model", str(model_dir),
         "--text-column", "comment", "--master", "local[2]"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "no column 'comment'" in bad.output
    shutil.rmtree(out)
