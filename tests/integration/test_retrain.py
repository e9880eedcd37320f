"""`signals retrain`: analysts' decisions -> label export -> challenger -> gate against the champion."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from corpus_fixtures import corpora_dir
from signals import tracking
from signals.cli import app
from signals.dataset import build_dataset
from signals.db import migrate
from signals.scoring import Scorer
from signals.training import load_config, retrain
from signals.triage.export import export_labels
from signals.triage.store import NewItem, add_items, record_decision

pytestmark = pytest.mark.slow

FIXTURES = corpora_dir()
TEXTS = [
    ("Those people are vermin and should be deported.", {"hate": "confirm", "polarization": "confirm"}),
    ("The bus timetable changed again, please publish it earlier.", {"hate": "reject", "threat": "reject"}),
    ("I will find you and hurt you.", {"threat": "confirm", "hate": "reject"}),
    ("You idiot, read the plan before complaining.", {"offensive": "confirm", "hate": "unsure"}),
    ("Thanks to the librarians for the reading club.", {"offensive": "reject"}),
]


def test_retrain_merges_labels_and_gates(tmp_path: Path, fake_scorer: Scorer, mlflow_store: str) -> None:
    dataset = tmp_path / "processed"
    build_dataset(FIXTURES, dataset)
    db = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(db)
    stored = add_items([NewItem("forum", f"x{i}", t) for i, (t, _) in enumerate(TEXTS)], fake_scorer, url=db)
    for res, (_, decisions) in zip(stored, TEXTS, strict=True):
        for signal, decision in decisions.items():
            record_decision(res.id, signal, decision, "ana", url=db)
    export = export_labels(tmp_path / "labels", url=db)
    assert export.n_rows == len(TEXTS)

    config = load_config(
        "training/configs/baseline.v1.toml",
        [f"dataset={dataset}", "baseline.min_df=1", "labels_holdout=0.4"],
    )
    result = retrain(config, export.path, artifacts=str(tmp_path / "mlruns"))

    assert result.n_labels == len(TEXTS)
    run = mlflow.MlflowClient().get_run(result.train.run_id)
    assert str(export.path) in run.data.tags["label_exports"]
    # 3 of 5 analyst rows are trained on, 2 held back and evaluated as their own slice.
    train_rows = int(run.data.params["rows_train"])
    base_rows = len(__import__("datasets").load_from_disk(str(dataset / "train")))
    assert train_rows == base_rows + 3
    assert any(k.startswith("analyst_") for k in result.train.metrics)
    # Both sides are measured on the same data (the fixture splits are too small for every AUC).
    assert "val_hate_n" in result.champion_metrics and "func_overall_acc" in result.champion_metrics
    # Promotion follows the gate, never the other way round.
    assert result.promoted == result.gate.passed
    champion = tracking.alias_version(tracking.CHAMPION)
    assert (champion == result.train.version) if result.promoted else champion is None


def test_retrain_cli_rejects_a_folder_that_is_not_an_export(tmp_path: Path, mlflow_store: str) -> None:
    result = CliRunner().invoke(app, ["retrain", "--labels", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a label export" in result.output
