"""`signals ship`: a trained model replaces models/default only through the gate, keeping the routes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_fixtures import corpora_dir
from signals.cli import app
from signals.dataset import build_dataset
from signals.scoring import load_scorer
from signals.training import load_config, train

pytestmark = pytest.mark.slow


def _baseline(dataset: Path, tmp_path: Path, *overrides: str) -> Path:
    config = load_config(
        "training/configs/baseline.v1.toml",
        [f"dataset={dataset}", "baseline.min_df=1", "evaluate_functional=false", *overrides],
    )
    return train(config, artifacts=str(tmp_path / "mlruns")).model_dir


def test_ship_gates_and_keeps_the_routes(tmp_path: Path, mlflow_store: str) -> None:
    dataset = tmp_path / "processed"
    build_dataset(corpora_dir(), dataset)
    good = _baseline(dataset, tmp_path)
    # A model that learnt next to nothing: heavily regularised.
    weak = _baseline(dataset, tmp_path, "baseline.C=0.00001", "name=weak")
    # The shipped directory: the good model, routing Spanish to a second model in a sub-folder.
    shipped = tmp_path / "default"
    shutil.copytree(good, shipped)
    shutil.copytree(good, shipped / "spanish")
    manifest = json.loads((shipped / "signals.json").read_text())
    manifest["routes"] = [{"path": "spanish", "languages": ["es"], "sha256": ""}]
    (shipped / "signals.json").write_text(json.dumps(manifest))
    runner = CliRunner()
    common = ["--to", str(shipped), "--dataset", str(dataset), "--corpora", str(corpora_dir())]

    result = runner.invoke(app, ["ship", str(weak), *common])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "does not beat the model in" in said and "func_overall_acc" in said
    assert json.loads((shipped / "signals.json").read_text())["version"] == manifest["version"]

    # The same model as shipped passes (equal within the tolerance) and is judged with the routes: no
    # per-language check fails for languages the trained run never declared.
    result = runner.invoke(app, ["ship", str(good), *common])
    assert result.exit_code == 0, result.output
    assert "missing in challenger" not in result.output

    result = runner.invoke(app, ["ship", str(weak), *common, "--force"])
    assert result.exit_code == 0, result.output
    shipped_now = json.loads((shipped / "signals.json").read_text())
    assert shipped_now["name"] == "weak" and shipped_now["routes"] == manifest["routes"]
    scorer = load_scorer(shipped)
    assert scorer.version.startswith("weak") and set(scorer.languages) >= {"en", "es"}

    result = runner.invoke(app, ["ship", str(tmp_path / "nowhere"), *common])
    assert result.exit_code == 2 and "not a model directory" in " ".join(result.output.split())
