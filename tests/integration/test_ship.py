"""`signals ship`: a trained model replaces models/default only through the gate, keeping the routes."""

from __future__ import annotations

import hashlib
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


def test_ship_a_route_for_other_languages(tmp_path: Path, mlflow_store: str) -> None:
    dataset = tmp_path / "processed"
    build_dataset(corpora_dir(), dataset)
    english = _baseline(dataset, tmp_path)
    shipped = tmp_path / "default"
    shutil.copytree(english, shipped)
    # A TF-IDF model declared for Spanish and Italian stands in for one trained on those rows.
    candidate = tmp_path / "candidate"
    shutil.copytree(english, candidate)
    manifest = json.loads((candidate / "signals.json").read_text())
    manifest.update(name="polar-baseline.v1", version="polar-baseline.v1+x", languages=["es", "it"])
    (candidate / "signals.json").write_text(json.dumps(manifest))
    runner = CliRunner()

    result = runner.invoke(app, ["ship", str(candidate), "--to", str(shipped), "--route", "polar"])
    assert result.exit_code == 0, result.output
    routes = json.loads((shipped / "signals.json").read_text())["routes"]
    digest = hashlib.sha256((shipped / "polar" / "baseline.npz").read_bytes()).hexdigest()
    assert routes == [{"path": "polar", "languages": ["es", "it"], "sha256": digest}]
    scorer = load_scorer(shipped)
    es = scorer.score("Los políticos de la izquierda son traidores.", languages="es")
    assert es.supported and es.model_version == "polar-baseline.v1+x"
    assert scorer.score("These people are vermin.", languages="en").model_version == scorer.version

    # A second route comes after the first; replacing the first keeps it first.
    polish = tmp_path / "polish"
    shutil.copytree(candidate, polish)
    (polish / "signals.json").write_text(json.dumps({**manifest, "languages": ["pl"], "version": "pl+x"}))
    assert runner.invoke(app, ["ship", str(polish), "--to", str(shipped), "--route", "polish"]).exit_code == 0
    routes = json.loads((shipped / "signals.json").read_text())["routes"]
    assert [r["path"] for r in routes] == ["polar", "polish"]

    # Replacing the route goes through the gate on its languages' rows: the same model passes.
    everything = tmp_path / "processed-all"
    build_dataset(corpora_dir(), everything, languages=("all",))
    again = runner.invoke(
        app, ["ship", str(candidate), "--to", str(shipped), "--route", "polar", "--dataset", str(everything)]
    )
    assert again.exit_code == 0, again.output
    assert json.loads((shipped / "signals.json").read_text())["routes"] == routes
    assert not list(shipped.glob(".polar.*"))

    # A language the main model or another route already scores, and a name that is not a folder.
    manifest["languages"] = ["en"]
    (candidate / "signals.json").write_text(json.dumps(manifest))
    clash = runner.invoke(app, ["ship", str(candidate), "--to", str(shipped), "--route", "other"])
    assert clash.exit_code == 2 and "'en', which the main model" in " ".join(clash.output.split())
    manifest["languages"] = ["it"]
    (candidate / "signals.json").write_text(json.dumps(manifest))
    clash = runner.invoke(app, ["ship", str(candidate), "--to", str(shipped), "--route", "other"])
    assert clash.exit_code == 2 and "route 'polar'" in " ".join(clash.output.split())
    bad = runner.invoke(app, ["ship", str(candidate), "--to", str(shipped), "--route", "../up"])
    assert bad.exit_code == 2 and "plain folder name" in " ".join(bad.output.split())
    assert json.loads((shipped / "signals.json").read_text())["routes"] == routes

    # Weights changed behind the manifest's back are refused when the route loads.
    (shipped / "polar" / "baseline.npz").write_bytes(b"not the shipped weights")
    with pytest.raises(ValueError, match="is not the manifest's"):
        load_scorer(shipped).score("Los políticos son traidores.", languages="es")
