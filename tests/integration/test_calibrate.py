"""`signals calibrate`: a trained model's operating points refitted as a new run, the model kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus_fixtures import corpora_dir
from signals import tracking
from signals.dataset import build_dataset
from signals.scoring import load_scorer
from signals.training import load_config, recalibrate, train

pytestmark = pytest.mark.slow

CIVIC_LABELS = Path(__file__).resolve().parents[1] / "fixtures" / "civic" / "labels.csv"


def test_recalibrate_keeps_the_model_and_registers_a_new_run(tmp_path: Path, mlflow_store: str) -> None:
    dataset = tmp_path / "processed"
    build_dataset(corpora_dir(), dataset)
    overrides = [f"dataset={dataset}", "baseline.min_df=1", "evaluate_functional=false"]
    config = load_config("training/configs/baseline.v1.toml", overrides)
    trained = train(config, artifacts=str(tmp_path / "mlruns"))

    # The fixture civic labels stand in for the committed ones, so the civic set is used.
    civic = load_config("training/configs/baseline.v1.toml", [*overrides, f"civic_labels={CIVIC_LABELS}"])
    result = recalibrate(trained.model_dir, civic, artifacts=str(tmp_path / "mlruns"))

    assert result.version != trained.version
    assert tracking.alias_version(tracking.CHALLENGER) == result.version
    manifest = json.loads((result.model_dir / "signals.json").read_text())
    assert manifest["extra"]["recalibrated_from"].startswith("baseline.v1+")
    assert manifest["version"] != json.loads((trained.model_dir / "signals.json").read_text())["version"]
    assert any(k.startswith("civic_") for k in result.metrics)
    # same estimator: the raw scores are identical, only calibration and thresholds may change
    texts = ["you idiot", "lovely park", "those people are vermin"]
    before, after = load_scorer(trained.model_dir), load_scorer(result.model_dir)
    assert np.allclose(before.model.predict_proba(texts), after.model.predict_proba(texts))


def test_evaluate_cli_names_a_missing_dataset(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from signals.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--dataset", str(tmp_path / "nowhere"), "--no-functional"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "nowhere" in said and "Traceback" not in result.output


def test_evaluate_table_rows_cover_corpora_civic_suite_and_bias() -> None:
    from signals.evaluation import evaluation_rows

    metrics = {
        "test.hatexplain_hate_flag_f1": 0.7,
        "test.hatexplain_hate_review_recall": 0.9,
        "test_hate_pr_auc": 0.71,
        "civic_hate_review_recall": 1.0,
        "civic_review_load": 0.08,
        "func_overall_acc": 0.8,
        "func_plain_hate_acc": 0.6,
        "func_es_benign_group_acc": 0.0,  # a language suite's functionality: not the English suite's
        "bias_test_hate_final": 0.8,
    }
    rows = evaluation_rows(metrics)
    sets = [r[0] for r in rows]
    assert "test: hatexplain" in sets and "civic dev" in sets and "functional suite" in sets
    assert ["civic dev", "review load (any signal)", "", "", "", "", "0.080"] in rows
    assert any("lowest plain_hate 0.600" in r[1] for r in rows)
    assert "civic regression" not in sets
    regression = evaluation_rows(
        {"civic_regression_hate_reviewed": 10.0, "civic_regression_threat_reviewed": 0.0}
    )
    assert regression[-1] == ["civic regression", "sentences @ review", "10", "0", "-", "-", ""]


def test_soup_cli_refuses_what_it_cannot_average(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from signals.cli import app

    runner = CliRunner()
    lone = runner.invoke(app, ["soup", "models/default"])
    assert lone.exit_code == 2 and "at least two" in " ".join(lone.output.split())
    missing = runner.invoke(app, ["soup", "models/default", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in " ".join(missing.output.split())
    assert "Traceback" not in lone.output + missing.output
