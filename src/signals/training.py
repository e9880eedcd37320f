"""The training pipeline: config -> fit -> calibrate -> evaluate -> MLflow run -> ``challenger``.

An experiment is a TOML config plus ``key=value`` overrides (``TrainConfig``); every value becomes an
MLflow param. The pipeline is the same for every model family: the family only fits and saves itself,
and the pipeline calibrates each signal on validation, chooses the ``review``/``flag`` operating points
(``signals.calibration``), evaluates on validation and test through the same ``Scorer`` that serves, runs
the functional suite and bias metrics, logs everything and registers the model as ``challenger``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signals.calibration import choose_thresholds, fit_calibrator
from signals.models import ModelInfo
from signals.schema import SIGNALS, TARGET_COLUMNS

log = logging.getLogger(__name__)


@dataclass
class OperatingPoints:
    """How the two thresholds per signal are chosen on calibrated validation scores."""

    #: ``review`` threshold: the highest one keeping at least this recall (triage queue).
    target_recall: float = 0.90
    #: ``flag`` threshold: the lowest one reaching at least this precision (else best F1).
    target_precision: float = 0.80


@dataclass
class TrainConfig:
    """One experiment. Loaded from TOML by ``load_config``; every field is logged to MLflow."""

    #: Run and model name, e.g. ``baseline.v1``.
    name: str = "baseline.v1"
    #: Model family: ``baseline`` (TF-IDF + linear) or ``minilm`` (fine-tuned MiniLM, ONNX artifact).
    model: str = "baseline"
    #: The unified dataset written by ``signals data build``.
    dataset: str = "data/processed"
    #: Analyst label exports (``signals labels export``) merged into training; a slice is held back.
    labels: list[str] = field(default_factory=list)
    #: Share of analyst labels held back for evaluation (never trained on).
    labels_holdout: float = 0.2
    #: Cap on training rows (0 = all); for smoke runs.
    max_train_rows: int = 0
    #: Seed for everything random in the pipeline.
    seed: int = 13
    #: Run the functional suite and bias metrics (off only for smoke tests).
    evaluate_functional: bool = True
    #: Register the model as ``signals`` and set the ``challenger`` alias.
    register: bool = True
    operating_points: OperatingPoints = field(default_factory=OperatingPoints)
    #: Parameters of ``signals.models.baseline.BaselineModel``.
    baseline: dict[str, Any] = field(default_factory=dict)
    #: Parameters of the transformer trainer (``signals.models.transformer``).
    transformer: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _set_path(data: dict[str, Any], dotted: str, raw: str) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare strings need no quotes on the command line
    node[keys[-1]] = value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a TOML config and apply ``a.b=value`` overrides (values parsed as TOML, else text).

    >>> load_config(None, ["max_train_rows=10", "baseline.max_features=500"]).max_train_rows
    10
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        _set_path(data, key.strip(), raw.strip())
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown config field(s) {sorted(unknown)}; known: {sorted(known)}")
    ops = data.pop("operating_points", {})
    unknown_ops = set(ops) - {f.name for f in dataclasses.fields(OperatingPoints)}
    if unknown_ops:
        raise ValueError(f"unknown operating_points field(s) {sorted(unknown_ops)}")
    return TrainConfig(operating_points=OperatingPoints(**ops), **data)


def label_matrix(rows: Any) -> np.ndarray:
    """(n, len(SIGNALS)) int array with -1 for unknown, from a Dataset or list of row dicts."""
    return np.stack([np.asarray(rows[s], dtype=int) for s in SIGNALS], axis=1)


@dataclass
class TrainResult:
    run_id: str
    version: str | None
    model_dir: Path
    metrics: dict[str, float]
    seconds: float


def _load_splits(config: TrainConfig) -> Any:
    from datasets import concatenate_datasets

    from signals.dataset import load_dataset_dict

    dd = load_dataset_dict(config.dataset)
    extra_eval = None
    if config.labels:
        from datasets import load_from_disk

        parts = [load_from_disk(p) for p in config.labels]
        labels = concatenate_datasets(parts).shuffle(seed=config.seed)
        n_hold = int(round(len(labels) * config.labels_holdout))
        extra_eval = labels.select(range(n_hold)) if n_hold else None
        train_labels = labels.select(range(n_hold, len(labels)))
        cols = list(dd["train"].column_names)
        dd["train"] = concatenate_datasets(
            [dd["train"], train_labels.select_columns(cols).cast(dd["train"].features)]
        )
    if config.max_train_rows and len(dd["train"]) > config.max_train_rows:
        dd["train"] = dd["train"].shuffle(seed=config.seed).select(range(config.max_train_rows))
    return dd, extra_eval


def _fit(config: TrainConfig, dd: Any, workdir: Path) -> tuple[Any, str]:
    """Fit the configured family; returns (fitted model with predict_proba/save, manifest format)."""
    texts = list(dd["train"]["text"])
    if config.model == "baseline":
        from signals.models.baseline import BaselineModel

        model = BaselineModel(**config.baseline).fit(texts, label_matrix(dd["train"]))
        return model, "baseline"
    if config.model == "minilm":
        from signals.models.transformer import fit_transformer

        return fit_transformer(config.transformer, dd, workdir, seed=config.seed), "onnx"
    raise ValueError(f"unknown model family {config.model!r}; use 'baseline' or 'minilm'")


def evaluate_split(scorer: Any, rows: Any, thresholds: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per-signal metrics of a scorer on a split (calibrated probabilities)."""
    from signals.evaluation import signal_metrics

    probs = scorer.predict_proba(list(rows["text"]))
    return signal_metrics(label_matrix(rows), probs, thresholds)


def train(config: TrainConfig, tracking_uri: str | None = None, artifacts: str | None = None) -> TrainResult:
    """Run one experiment end to end and return the run id, registered version and metrics."""
    import mlflow

    from signals import evaluation, tracking
    from signals.dataset import dataset_fingerprint
    from signals.scoring import Scorer

    started = time.perf_counter()
    tracking.configure(tracking_uri, artifacts)
    dd, extra_eval = _load_splits(config)
    with mlflow.start_run(run_name=config.name) as run, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mlflow.log_params(tracking.flatten_params(config.to_dict()))
        mlflow.set_tags(
            {
                "git_commit": tracking.git_commit(),
                "dataset_fingerprint": dataset_fingerprint(config.dataset),
                "dataset_path": str(config.dataset),
                "label_exports": json.dumps(config.labels),
                "model_family": config.model,
            }
        )
        mlflow.log_params({f"rows_{k}": len(v) for k, v in dd.items()})
        t0 = time.perf_counter()
        model, fmt = _fit(config, dd, workdir)
        mlflow.log_metric("fit_seconds", time.perf_counter() - t0)
        if config.model == "baseline":
            mlflow.log_params({f"model.{k}": v for k, v in model.get_params().items()})

        # Calibrate each signal on validation, then choose the operating points on calibrated scores.
        val = dd["validation"]
        y_val = label_matrix(val)
        raw = np.asarray(model.predict_proba(list(val["text"])), dtype=float)
        calibration, thresholds = {}, {"review": {}, "flag": {}}
        from signals.calibration import apply_calibrator

        for j, signal in enumerate(SIGNALS):
            known = y_val[:, j] >= 0
            calibration[signal] = fit_calibrator(y_val[known, j], raw[known, j])
            calibrated = apply_calibrator(calibration[signal], raw[known, j])
            points = choose_thresholds(
                y_val[known, j],
                calibrated,
                target_recall=config.operating_points.target_recall,
                target_precision=config.operating_points.target_precision,
            )
            thresholds["review"][signal] = points["review"]
            thresholds["flag"][signal] = points["flag"]

        model_dir = workdir / "model"
        model.save(model_dir)
        info = ModelInfo(
            name=config.name,
            version=f"{config.name}+{run.info.run_id[:8]}",
            format=fmt,
            thresholds=thresholds,
            calibration=calibration,
            extra={"run_id": run.info.run_id, "targets_trained": config.model != "baseline"},
        )
        info.save(model_dir)
        scorer = Scorer(*_reload(model_dir))

        metrics: dict[str, float] = {}
        report: dict[str, Any] = {"thresholds": thresholds}
        plots = workdir / "plots"
        plots.mkdir()
        for split, prefix in (("validation", "val"), ("test", "test")):
            rows = dd[split]
            probs = scorer.predict_proba(list(rows["text"]))
            y = label_matrix(rows)
            split_metrics = evaluation.signal_metrics(y, probs, thresholds)
            report[split] = split_metrics
            metrics.update(evaluation.flat_metrics(split_metrics, prefix))
            evaluation.plot_pr_curves(y, probs, plots / f"pr_curves_{prefix}.png")
            evaluation.plot_confusion_matrices(
                y, probs, thresholds["flag"], plots / f"confusion_{prefix}.png"
            )
            if split == "test":
                test_probs, test_rows = probs, rows
        if extra_eval is not None and len(extra_eval):
            probs = scorer.predict_proba(list(extra_eval["text"]))
            split_metrics = evaluation.signal_metrics(label_matrix(extra_eval), probs, thresholds)
            report["analyst_holdout"] = split_metrics
            metrics.update(evaluation.flat_metrics(split_metrics, "analyst"))
        if config.evaluate_functional:
            metrics.update(_functional_and_bias(scorer, test_rows, test_probs, workdir, report))
        metrics["train_seconds"] = time.perf_counter() - started
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.log_artifacts(str(plots), artifact_path="plots")
        (workdir / "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
        mlflow.log_artifact(str(workdir / "evaluation.json"))
        info.metrics = {k: v for k, v in metrics.items() if k.startswith(("val_", "test_", "func_overall"))}
        info.save(model_dir)
        version = tracking.log_model_dir(model_dir, register=config.register)
        kept = Path(artifacts or tracking.artifact_root()) / "models" / run.info.run_id
        _copy_tree(model_dir, kept)
        return TrainResult(run.info.run_id, version, kept, metrics, time.perf_counter() - started)


def _reload(model_dir: Path) -> tuple[Any, ModelInfo]:
    from signals.models import load_model_dir

    return load_model_dir(model_dir)


def _copy_tree(src: Path, dst: Path) -> None:
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, dirs_exist_ok=True)


def _functional_and_bias(
    scorer: Any, test_rows: Any, test_probs: np.ndarray, workdir: Path, report: dict[str, Any]
) -> dict[str, float]:
    """Functional suite and per-identity bias metrics, logged as metrics and table artifacts."""
    import mlflow

    from signals import bias, functional

    out: dict[str, float] = {}
    suite = functional.run_suite(scorer)
    out.update(suite.to_metrics())
    suite_path = workdir / "functional_suite.csv"
    suite.to_frame().to_csv(suite_path, index=False)
    mlflow.log_artifact(str(suite_path))
    membership = np.stack([np.asarray(test_rows[c], dtype=int) == 1 for c in TARGET_COLUMNS], axis=1)
    result = bias.bias_report(label_matrix(test_rows), test_probs, membership)
    out.update(result.to_metrics())
    report["bias"] = result.to_dict()
    return out
