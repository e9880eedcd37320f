"""MLflow tracking into a temporary store: pyfunc model, registration, aliases, champion default."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from signals import tracking
from signals.scoring import load_scorer


def test_log_register_promote_and_load(keyword_model_dir: Path, mlflow_store: str) -> None:
    tracking.configure()
    assert tracking.champion_uri() is None
    with pytest.raises(LookupError):
        tracking.promote()

    with mlflow.start_run():
        mlflow.log_metric("val_hate_pr_auc", 0.5)
        v1 = tracking.log_model_dir(keyword_model_dir)
    assert v1 == "1"
    assert tracking.alias_version(tracking.CHALLENGER) == "1"
    assert tracking.alias_version(tracking.CHAMPION) is None

    assert tracking.promote() == "1"
    assert tracking.champion_uri() == "models:/signals@champion"
    assert tracking.run_metrics("1")["val_hate_pr_auc"] == 0.5

    # The pyfunc honours the batch contract, and the default scorer is now the registry champion.
    model = mlflow.pyfunc.load_model("models:/signals@champion")
    out = model.predict(pd.DataFrame({"text": ["you idiot", "nice day"]}))
    assert list(out.columns[:4]) == ["p_hate", "p_threat", "p_offensive", "p_polarization"]
    assert out["flag_offensive"].tolist() == [1, 0]
    scorer = load_scorer()
    assert scorer.name == "keyword-test"

    with mlflow.start_run():
        v2 = tracking.log_model_dir(keyword_model_dir)
    assert v2 == "2" and tracking.alias_version(tracking.CHALLENGER) == "2"
    assert tracking.alias_version(tracking.CHAMPION) == "1"


def test_flatten_params_nests_with_dots() -> None:
    flat = tracking.flatten_params({"a": 1, "b": {"c": "x", "d": {"e": [1, 2]}}})
    assert flat == {"a": "1", "b.c": "x", "b.d.e": "[1, 2]"}


def test_no_store_means_no_champion(tmp_path: Path) -> None:
    assert tracking.champion_uri(f"sqlite:///{tmp_path / 'absent.db'}") is None
