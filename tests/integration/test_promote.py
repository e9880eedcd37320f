"""`signals promote`: the gate's rival is the registry champion, else the shipped models/default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_fixtures import corpora_dir
from signals import tracking
from signals.cli import app
from signals.dataset import build_dataset
from signals.training import load_config, train

pytestmark = pytest.mark.slow


def test_first_promotion_must_beat_the_shipped_model(tmp_path: Path, mlflow_store: str) -> None:
    dataset = tmp_path / "processed"
    build_dataset(corpora_dir(), dataset)
    config = load_config("training/configs/baseline.v1.toml", [f"dataset={dataset}", "baseline.min_df=1"])
    version = train(config, artifacts=str(tmp_path / "mlruns")).version
    assert version is not None and tracking.alias_version(tracking.CHAMPION) is None
    runner = CliRunner()

    # The shipped model is evaluated on the challenger's dataset: without it, a clear error.
    moved = tmp_path / "elsewhere"
    shutil.move(dataset, moved)
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "cannot evaluate the shipped model" in said and "signals data build" in said
    shutil.move(moved, dataset)

    # A baseline fitted on a few fixture rows does not beat the shipped MiniLM on the functional suite.
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2, result.output
    assert "does not beat the shipped model" in " ".join(result.output.split())
    assert "func_overall_acc" in result.output
    assert tracking.alias_version(tracking.CHAMPION) is None

    result = runner.invoke(app, ["promote", "--force"])
    assert result.exit_code == 0, result.output
    assert tracking.alias_version(tracking.CHAMPION) == version
