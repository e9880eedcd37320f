"""Shared test fixtures: a deterministic keyword model, scorers and model directories built from it.

The keyword model is a test double for the model families: it scores by word lists so expectations in
tests are obvious, and it saves/loads like a real model directory (format ``keyword``), registered
for tests only through ``signals.models`` dispatch monkeypatching in ``keyword_model_dir``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from signals.models import ModelInfo
from signals.schema import SIGNALS, TARGETS
from signals.scoring import Scorer

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "hate": ("vermin", "subhuman", "deport them all"),
    "threat": ("kill", "shoot", "hurt you"),
    "offensive": ("idiot", "stupid", "damn"),
    "polarization": ("those people", "traitors", "destroying our city"),
}


class KeywordModel:
    """Probability 0.9 for a signal when one of its keywords occurs, else 0.05."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), len(SIGNALS)), 0.05)
        for i, text in enumerate(texts):
            low = text.lower()
            for j, signal in enumerate(SIGNALS):
                if any(k in low for k in KEYWORDS[signal]):
                    out[i, j] = 0.9
        return out

    def predict_targets(self, texts: Sequence[str]) -> np.ndarray:
        return np.full((len(texts), len(TARGETS)), 0.1)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "keywords.json").write_text(json.dumps(KEYWORDS))

    @classmethod
    def load(cls, directory: Path) -> KeywordModel:
        return cls()


def keyword_info() -> ModelInfo:
    return ModelInfo(
        name="keyword-test",
        version="1",
        format="keyword",
        thresholds={"review": {s: 0.3 for s in SIGNALS}, "flag": {s: 0.5 for s in SIGNALS}},
    )


@pytest.fixture
def fake_scorer() -> Scorer:
    """A scorer over the keyword model (flags a signal when one of its keywords occurs)."""
    return Scorer(KeywordModel(), keyword_info())


@pytest.fixture
def keyword_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model directory of the keyword model, loadable by ``load_model_dir`` / ``load_scorer``."""
    import signals.models as models

    original = models.load_model_dir

    def load(directory: str | Path) -> tuple[object, ModelInfo]:
        info = ModelInfo.load(Path(directory))
        if info.format == "keyword":
            return KeywordModel.load(Path(directory)), info
        return original(directory)

    monkeypatch.setattr(models, "load_model_dir", load)
    monkeypatch.setattr("signals.scoring.load_model_dir", load)
    directory = tmp_path / "keyword-model"
    KeywordModel().save(directory)
    keyword_info().save(directory)
    return directory


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away MLflow store (sqlite + artifacts under tmp_path); returns the tracking URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("SIGNALS_MLFLOW_URI", uri)
    monkeypatch.setenv("SIGNALS_MLFLOW_ARTIFACTS", str(tmp_path / "mlruns"))
    return uri
