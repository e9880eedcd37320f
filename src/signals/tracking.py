"""MLflow: experiment set-up, run logging, the pyfunc model, registry aliases.

The tracking store is ``sqlite:///mlflow.db`` with artifacts under ``mlruns/`` (MLflow 3's file store is
in maintenance mode); both are overridable (``SIGNALS_MLFLOW_URI``, ``SIGNALS_MLFLOW_ARTIFACTS``).
Models are registered as ``signals``; promotion moves the ``champion`` alias (never registry stages),
new models get ``challenger``.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The registry's names and the store settings are defined once, in signals.registry (light to import).
from signals.registry import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT,
    MODEL_NAME,
    artifact_root,
    sqlite_path,
    tracking_uri,
)
from signals.registry import champion_uri as champion_uri  # re-exported: tracking.champion_uri()

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: The serving side of the pyfunc model: what a fresh environment needs to load it.
PYFUNC_REQUIREMENTS = ["signals", "numpy", "pandas", "scikit-learn", "onnxruntime", "tokenizers", "spacy"]


def configure(uri: str | None = None, artifacts: str | None = None) -> str:
    """Point MLflow at the store and make sure the ``signals`` experiment exists; returns its id."""
    import mlflow

    uri = tracking_uri(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        mlflow.set_experiment(EXPERIMENT)
        return str(experiment.experiment_id)
    location = Path(artifact_root(artifacts)).resolve().as_uri()
    experiment_id = mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return str(experiment_id)


def git_commit() -> str:
    """The current git commit (with ``-dirty`` when the tree has changes), or ``unknown``."""
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested config into MLflow params (``baseline.max_features`` -> value as text)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_params(value, prefix=f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


def score_frame(scorer: Any, frame: pd.DataFrame, text_column: str = "text") -> pd.DataFrame:
    """``p_<signal>`` and ``flag_<signal>`` columns for a frame's text column (the batch contract)."""
    import pandas as pd

    from signals.batch import output_columns

    texts = ["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in frame[text_column]]
    return output_columns(scorer.score(texts), index=frame.index)


def log_model_dir(model_dir: Path, register: bool = True) -> str | None:
    """Log a model directory as the run's pyfunc model; register it and point ``challenger`` at it.

    Returns the registered version, or ``None`` when ``register`` is false.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    from signals.pyfunc import SignalsPyfunc
    from signals.scoring import load_scorer

    example = pd.DataFrame(
        {"text": ["I disagree with the council's zoning plan.", "Those people are vermin."]}
    )
    output = score_frame(load_scorer(model_dir), example)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=SignalsPyfunc(),
        artifacts={"model_dir": str(model_dir)},
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=PYFUNC_REQUIREMENTS,
        registered_model_name=MODEL_NAME if register else None,
    )
    if not register:
        return None
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    log.info("registered %s version %s as %s", MODEL_NAME, version, CHALLENGER)
    return version


def alias_version(alias: str, uri: str | None = None) -> str | None:
    """The registered version an alias points at, or ``None`` (no store, no model, no alias)."""
    uri = tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None and not path.exists():
        return None
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def promote(version: str | None = None, uri: str | None = None) -> str:
    """Point ``champion`` at ``version`` (default: the current challenger); returns the version."""
    import mlflow

    uri = tracking_uri(uri)
    version = version or alias_version(CHALLENGER, uri)
    if version is None:
        raise LookupError("no challenger to promote: train a model first (signals train)")
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.get_model_version(MODEL_NAME, version)  # raises a clear MlflowException when missing
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
    log.info("promoted %s version %s to %s", MODEL_NAME, version, CHAMPION)
    return version


def download_model_dir(model_uri: str, uri: str | None = None) -> Path:
    """Download a registered/run model and return the signals model directory inside it.

    Reads the configured store only: a sqlite store that does not exist is an error, never created.
    Servers call this through ``signals.registry.download`` (a child process), never directly.
    """
    uri = tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"no MLflow store at {path} (set SIGNALS_MLFLOW_URI)")
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, tracking_uri=uri))
    candidates = [p.parent for p in local.rglob("signals.json")]
    if not candidates:
        raise FileNotFoundError(f"{model_uri} holds no signals model directory")
    return candidates[0]


def _version_run_data(version: str, uri: str | None) -> Any:
    """The ``RunData`` (params, metrics, tags) of the run behind a registered version, or ``None``."""
    import mlflow

    uri = tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version(MODEL_NAME, version)
    return client.get_run(mv.run_id).data if mv.run_id else None


def run_params(version: str, uri: str | None = None) -> dict[str, str]:
    """The parameters of the run that produced a registered version (its ``dataset``, config, ...)."""
    data = _version_run_data(version, uri)
    return dict(data.params) if data else {}


def run_metrics(version: str, uri: str | None = None) -> dict[str, float]:
    """The metrics of the run that produced a registered version (for the promotion gate)."""
    data = _version_run_data(version, uri)
    return dict(data.metrics) if data else {}
