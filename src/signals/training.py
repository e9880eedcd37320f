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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signals.calibration import apply_calibrator, choose_operating_points, fit_calibrator, review_load
from signals.models import ModelInfo
from signals.schema import SIGNALS, UNKNOWN, target_column

log = logging.getLogger(__name__)


@dataclass
class OperatingPoints:
    """How the two thresholds per signal are chosen on calibrated validation scores."""

    #: ``review`` threshold: the highest one keeping at least this recall (triage queue).
    target_recall: float = 0.90
    #: ``flag`` threshold: the lowest one reaching at least this precision (else best F1).
    target_precision: float = 0.80
    #: Most share of held-out civic comments (English Polis, ``CivicData.pool``) that may reach
    #: ``review`` for any signal; ``review`` thresholds are raised until it holds (0 = no budget).
    #: Analysts read every comment at ``review``: on civic text, where about 1 in 100 carries a
    #: signal, this is their cost.
    review_budget: float = 0.07


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
    #: Folder of the shared corpora holding ``polis-opendata`` ("" = ``SIGNALS_CORPORA_DIR`` or
    #: ``../shared/data``): the civic development set and pool for thresholds and evaluation.
    corpora: str = ""
    #: Use the civic development set (docs/civic-labels.md); skipped with a warning when missing.
    civic: bool = True
    #: A civic label file in the same format ("" = the committed Polis labels).
    civic_labels: str = ""
    #: With ``per_language_calibration``: languages whose Polis comments (the half never trained on,
    #: unlabelled) are the pool of that language's review budget (``operating_points.review_budget``):
    #: its ``review`` is raised until at most the budget of them reach it (German: ``["de"]``).
    civic_languages: list[str] = field(default_factory=list)
    operating_points: OperatingPoints = field(default_factory=OperatingPoints)
    #: Languages (ISO 639-1) this model serves: only the dataset rows in them are used (training,
    #: calibration, evaluation) and the manifest declares them. Empty: every row, declared English.
    languages: list[str] = field(default_factory=list)
    #: With ``languages``: a language scores a signal only when its training rows hold at least this
    #: many labels of it, this many positives among them (``ModelInfo.signals_by_language``).
    min_signal_labels: int = 300
    min_signal_positives: int = 50
    #: With ``languages``: rows of other languages added to training only (a seeded sample of their
    #: training split, never validation or test), e.g. ``{en = 6000}``: English hate about immigrants
    #: and women transfers through a multilingual encoder to languages whose corpora lack it.
    also_train_on: dict[str, int] = field(default_factory=dict)
    #: Weak hate labels for POLAR's training rows (``polar-semeval2026`` says nothing about hate): a
    #: polarized post whose target types include one of these (``TARGETS`` names, e.g.
    #: ``["race_ethnicity", "religion"]``) attacks people for a protected characteristic, hate 1; a post
    #: POLAR calls not polarized is hate 0; the rest stay unknown. Training split only: calibration,
    #: thresholds and every test figure use the corpora's own hate labels. Empty: none.
    hate_from_polar_targets: list[str] = field(default_factory=list)
    #: Signals a language must not score although its rows label them, with the reason (measured on
    #: test, e.g. ``{ ar = { hate = "test F1 at flag 0.27 against TF-IDF 0.48" } }``): left out of the
    #: manifest's ``signals_by_language`` (never a score, never a flag) and kept in
    #: ``extra.not_scored``, for trained and recalibrated models alike.
    not_served: dict[str, dict[str, str]] = field(default_factory=dict)
    #: With several ``languages``: calibration and operating points per language (on that language's
    #: validation rows) besides the pooled ones, as their base rates differ (Arabic hate 8 %, Spanish 41 %).
    per_language_calibration: bool = False
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


def config_splits(config: TrainConfig) -> Any:
    """``(splits, held-back analyst labels or None)``: the config's dataset in its ``languages`` (plus
    ``also_train_on`` in train), its label exports added to train, train capped at ``max_train_rows``."""
    from datasets import concatenate_datasets

    from signals.dataset import load_dataset_dict

    dd = load_dataset_dict(config.dataset)
    if config.languages:
        wanted = set(config.languages)
        extra = []
        train_langs = np.asarray(dd["train"]["lang"])
        rng = np.random.default_rng(config.seed)
        for lang, n in sorted(config.also_train_on.items()):
            pool = np.flatnonzero(train_langs == lang)
            extra += sorted(rng.choice(pool, size=min(n, len(pool)), replace=False).tolist())
        for split in list(dd):
            langs = dd[split]["lang"]
            keep = [i for i, lang in enumerate(langs) if lang in wanted]
            dd[split] = dd[split].select(keep + (extra if split == "train" else []))
    extra_eval = None
    rows = [r.to_row() for path in config.labels for r in load_label_export(path)]
    if rows:
        from datasets import Dataset

        labels = Dataset.from_list(rows, features=dd["train"].features).shuffle(seed=config.seed)
        n_hold = int(round(len(labels) * config.labels_holdout))
        extra_eval = labels.select(range(n_hold)) if n_hold else None
        train_labels = labels.select(range(n_hold, len(labels)))
        dd["train"] = concatenate_datasets([dd["train"], train_labels])
    if config.hate_from_polar_targets:
        dd["train"] = polar_hate_labels(dd["train"], config.hate_from_polar_targets)
    if config.max_train_rows and len(dd["train"]) > config.max_train_rows:
        dd["train"] = dd["train"].shuffle(seed=config.seed).select(range(config.max_train_rows))
    return dd, extra_eval


def polar_hate_labels(train: Any, targets: Sequence[str]) -> Any:
    """``train`` with POLAR's rows given weak hate labels (``TrainConfig.hate_from_polar_targets``).

    >>> from datasets import Dataset
    >>> rows = Dataset.from_dict({"source": ["polar-semeval2026"] * 3 + ["hateval2019"],
    ...     "hate": [-1, -1, -1, 0], "polarization": [1, 1, 0, 1],
    ...     "target_religion": [1, 0, 0, 1], "target_political": [0, 1, 0, 0]})
    >>> list(polar_hate_labels(rows, ["religion"])["hate"])
    [1, -1, 0, 0]
    """
    from signals.corpora.polar_semeval2026 import NAME as POLAR
    from signals.schema import TARGETS

    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise ValueError(f"hate_from_polar_targets names unknown targets {unknown}; known: {list(TARGETS)}")
    columns = [target_column(t) for t in targets]

    def label(row: dict[str, Any]) -> dict[str, Any]:
        if row["source"] != POLAR or row["hate"] != UNKNOWN:
            return {"hate": row["hate"]}
        if row["polarization"] == 0:
            return {"hate": 0}
        protected = row["polarization"] == 1 and any(row[c] == 1 for c in columns)
        return {"hate": 1 if protected else UNKNOWN}

    labelled = train.map(label)
    hate = np.asarray(labelled["hate"])
    polar = np.asarray(labelled["source"]) == POLAR
    log.info(
        "POLAR training rows: %d hate 1, %d hate 0, %d unknown (targets %s)",
        int((hate[polar] == 1).sum()),
        int((hate[polar] == 0).sum()),
        int((hate[polar] == UNKNOWN).sum()),
        ", ".join(targets),
    )
    return labelled


def load_label_export(path: str | Path) -> list[Any]:
    """The Records of one analyst label export (``signals labels export``), with a clear error."""
    from signals.triage.export import load_labels

    if not (Path(path) / "labels.parquet").is_file():
        hint = "run signals labels export"
        raise FileNotFoundError(f"{path} is not a label export (no labels.parquet): {hint}")
    return load_labels(path)


def signals_by_language(config: TrainConfig, train: Any, validation: Any = None) -> dict[str, list[str]]:
    """Per served language, the signals its training rows label well enough to score (empty: all).

    A signal whose corpus rows in a language are missing (POLAR German says nothing about hate) is
    not scored for that language: the network still outputs it, but the scorer leaves it out. With
    ``validation``, its rows in the language must also hold both classes of the signal: calibration
    and operating points are fitted there, and labels that exist in training only (the weak POLAR
    hate labels, ``hate_from_polar_targets``) cannot check a score.
    """
    if not config.languages:
        return {}
    y = label_matrix(train)
    langs = np.asarray(train["lang"])
    y_val = label_matrix(validation) if validation is not None else None
    val_langs = np.asarray(validation["lang"]) if validation is not None else None
    out: dict[str, list[str]] = {}
    for lang in config.languages:
        rows = y[langs == lang]
        checked = y_val[val_langs == lang] if y_val is not None else None
        out[lang] = [
            s
            for j, s in enumerate(SIGNALS)
            if (rows[:, j] >= 0).sum() >= config.min_signal_labels
            and (rows[:, j] == 1).sum() >= config.min_signal_positives
            and (checked is None or ((checked[:, j] == 1).any() and (checked[:, j] == 0).any()))
        ]
    return out


def withhold(
    served: dict[str, list[str]], extra: dict[str, Any], not_served: dict[str, dict[str, str]]
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """``served`` without ``not_served`` (``TrainConfig.not_served``), and ``extra`` with its reasons.

    >>> withhold({"ar": ["hate", "offensive"]}, {}, {"ar": {"hate": "lost to TF-IDF"}})
    ({'ar': ['offensive']}, {'not_scored': {'ar': {'hate': 'lost to TF-IDF'}}})
    """
    unknown = sorted({s for reasons in not_served.values() for s in reasons} - set(SIGNALS))
    if unknown:
        raise ValueError(f"not_served names unknown signals {unknown}; the signals are {list(SIGNALS)}")
    if not not_served:
        return served, extra
    kept = {lang: [s for s in names if s not in not_served.get(lang, {})] for lang, names in served.items()}
    not_scored = {lang: dict(reasons) for lang, reasons in extra.get("not_scored", {}).items()}
    for lang, reasons in not_served.items():
        not_scored.setdefault(lang, {}).update(reasons)
    return kept, {**extra, "not_scored": not_scored}


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


@dataclass
class CivicData:
    """The civic development set (texts, labels, which rows are the random draw) and the unlabelled pool.

    ``pool`` is the English Polis comments of the half never trained on (``in_training_half``): the
    population the review budget is fitted on.
    """

    texts: list[str]
    labels: np.ndarray
    sample: np.ndarray
    pool: list[str]

    @classmethod
    def load(cls, corpora: str | Path = "", labels: Path | None = None) -> CivicData:
        """The committed civic labels (or the label file ``labels``) joined to the Polis comments."""
        from signals.corpora import corpora_dir
        from signals.corpora.polis_opendata import in_training_half, load_civic_dev, read_comments

        folder = corpora_dir(corpora)
        examples = load_civic_dev(folder, labels)
        return cls(
            texts=[e.record.text for e in examples],
            labels=np.array([[e.record.labels[s] for s in SIGNALS] for e in examples], dtype=int),
            sample=np.array([e.draw == "random" for e in examples], dtype=bool),
            pool=[r.text for r in read_comments(folder) if not in_training_half(r.id)],
        )


def load_civic(config: TrainConfig) -> CivicData | None:
    """``CivicData.load`` for a config, or ``None`` with a warning when the Polis files are missing."""
    from signals.corpora import CorpusError

    try:
        return CivicData.load(config.corpora, Path(config.civic_labels) if config.civic_labels else None)
    except CorpusError as exc:
        log.warning("no civic development set (%s): thresholds from validation only", exc)
        return None


def operating_points_for(
    model: Any,
    calibration: dict[str, Any],
    y_val: np.ndarray,
    raw_val: np.ndarray,
    civic: CivicData | None,
    ops: OperatingPoints,
    pool: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """``review``/``flag`` per signal on calibrated validation scores pooled with the labelled civic rows.

    With a civic set and a budget, ``review`` is raised until at most ``ops.review_budget`` of the civic
    pool reaches it for any signal (``signals.calibration.choose_operating_points``). ``pool``: the
    calibrated scores of another pool (a language's Polis comments, ``civic_scores``) in its place.
    """

    def calibrated(raw: np.ndarray) -> np.ndarray:
        return np.stack([apply_calibrator(calibration[s], raw[:, j]) for j, s in enumerate(SIGNALS)], axis=1)

    def by_signal(y: np.ndarray, p: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {s: (y[y[:, j] >= 0, j], p[y[:, j] >= 0, j]) for j, s in enumerate(SIGNALS)}

    civic_labelled = None
    if civic is not None:
        p_civic = calibrated(np.asarray(model.predict_proba(civic.texts), dtype=float))
        civic_labelled = by_signal(civic.labels, p_civic)
        if pool is None and ops.review_budget > 0:
            pool = civic_scores(model, calibration, civic.pool)
    return choose_operating_points(
        by_signal(y_val, calibrated(raw_val)),
        SIGNALS,
        target_recall=ops.target_recall,
        target_precision=ops.target_precision,
        civic_sample=pool,
        review_budget=ops.review_budget or None,
        civic_labelled=civic_labelled,
    )


def civic_scores(
    model: Any, calibration: dict[str, Any], texts: Sequence[str], served: Sequence[str] | None = None
) -> np.ndarray:
    """Calibrated scores of civic ``texts``; a signal not in ``served`` scores 0 (it is never reviewed)."""
    raw = np.asarray(model.predict_proba(list(texts)), dtype=float)
    return np.stack(
        [
            apply_calibrator(calibration[s], raw[:, j])
            if served is None or s in served
            else np.zeros(len(raw))
            for j, s in enumerate(SIGNALS)
        ],
        axis=1,
    )


def language_pool(config: TrainConfig, language: str) -> list[str]:
    """The unlabelled Polis comments in ``language`` of the half never trained on: its civic pool."""
    from signals.corpora import corpora_dir
    from signals.corpora.polis_opendata import in_training_half, read_comments

    pool = [
        r.text for r in read_comments(corpora_dir(config.corpora), (language,)) if not in_training_half(r.id)
    ]
    if not pool:
        raise ValueError(f"civic_languages: no Polis comments in {language!r} to fit its review budget on")
    return pool


def train(config: TrainConfig, tracking_uri: str | None = None, artifacts: str | None = None) -> TrainResult:
    """Run one experiment end to end and return the run id, registered version and metrics."""
    import mlflow

    started = time.perf_counter()
    dd, extra_eval = _start(config, tracking_uri, artifacts)
    with mlflow.start_run(run_name=config.name) as run, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        _log_config(config, dd)
        t0 = time.perf_counter()
        model, fmt = _fit(config, dd, workdir)
        mlflow.log_metric("fit_seconds", time.perf_counter() - t0)
        if config.model == "baseline":
            mlflow.log_params({f"model.{k}": v for k, v in model.get_params().items()})
        extra = {"run_id": run.info.run_id, "targets_trained": config.model != "baseline"}
        return _calibrate_and_log(
            model, model.save, fmt, config, dd, extra_eval, workdir, extra, started, artifacts
        )


def recalibrate(
    model: str | Path,
    config: TrainConfig,
    tracking_uri: str | None = None,
    artifacts: str | None = None,
) -> TrainResult:
    """Refit a trained model's calibration and operating points with ``config``'s rules, as a new run.

    The network or estimator is kept as it is (its files are copied); calibration is refitted on
    validation and the thresholds chosen again (civic set, review budget), then the model is evaluated
    and registered like a trained one, with ``recalibrated_from`` naming the source version. For new
    operating rules or new civic labels without a retrain. ``model`` is a directory or MLflow URI.
    """
    import shutil

    import mlflow

    from signals.models import load_model_dir
    from signals.registry import resolve

    started = time.perf_counter()
    directory = resolve(model)
    fitted, source = load_model_dir(directory)
    config = dataclasses.replace(config, name=source.name)
    dd, extra_eval = _start(config, tracking_uri, artifacts)
    with (
        mlflow.start_run(run_name=f"{source.name} recalibrated") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        _log_config(config, dd)
        mlflow.set_tags({"recalibrated_from": source.version, "model_family": source.format})
        mlflow.log_params({"recalibrated_from": source.version})

        def copy_files(target: Path) -> None:
            shutil.copytree(directory, target, dirs_exist_ok=True)

        extra = {
            **source.extra,
            "run_id": run.info.run_id,
            "recalibrated_from": source.version,
        }
        return _calibrate_and_log(
            fitted,
            copy_files,
            source.format,
            config,
            dd,
            extra_eval,
            Path(tmp),
            extra,
            started,
            artifacts,
            served=source.signals_by_language,
        )


def soup(
    models: Sequence[str | Path],
    config: TrainConfig,
    tracking_uri: str | None = None,
    artifacts: str | None = None,
) -> TrainResult:
    """The weight average of trained students (seeds of one recipe), calibrated and thresholded with
    ``config``'s rules and evaluated as a new run (``recalibrate`` of the averaged network).

    ``models`` are directories or MLflow URIs (``signals.models.warm_start.average_models``).
    """
    from signals.models.transformer import TransformerConfig
    from signals.models.warm_start import average_models
    from signals.registry import resolve

    directories = [resolve(m, tracking_uri) for m in models]
    recipe = TransformerConfig(**config.transformer)
    with tempfile.TemporaryDirectory() as tmp:
        averaged = average_models(directories, Path(tmp) / "soup", recipe)
        return recalibrate(averaged, config, tracking_uri=tracking_uri, artifacts=artifacts)


def _start(config: TrainConfig, tracking_uri: str | None, artifacts: str | None) -> tuple[Any, Any]:
    from signals import tracking

    tracking.configure(tracking_uri, artifacts)
    return config_splits(config)


def _log_config(config: TrainConfig, dd: Any) -> None:
    import mlflow

    from signals import tracking
    from signals.dataset import dataset_fingerprint

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


def _calibrate_and_log(
    model: Any,
    save: Any,
    fmt: str,
    config: TrainConfig,
    dd: Any,
    extra_eval: Any,
    workdir: Path,
    extra: dict[str, Any],
    started: float,
    artifacts: str | None,
    served: dict[str, list[str]] | None = None,
) -> TrainResult:
    """Calibrate, choose operating points, save, evaluate, log and register (inside the active run).

    ``served``: the signals scored per language (default: what the training rows label well enough,
    ``signals_by_language``); a recalibration keeps its source's, a signal withdrawn by hand included.
    """
    import mlflow

    from signals import tracking
    from signals.scoring import Scorer

    run_id = extra["run_id"]
    # Calibrate each signal on validation, then choose the operating points (validation, the labelled
    # civic comments and the civic review budget).
    val = dd["validation"]
    y_val = label_matrix(val)
    raw = np.asarray(model.predict_proba(list(val["text"])), dtype=float)
    calibration = {
        s: fit_calibrator(y_val[y_val[:, j] >= 0, j], raw[y_val[:, j] >= 0, j]) for j, s in enumerate(SIGNALS)
    }
    civic = load_civic(config) if config.civic else None
    thresholds = operating_points_for(model, calibration, y_val, raw, civic, config.operating_points)
    calibration_by_language: dict[str, dict[str, Any]] = {}
    thresholds_by_language: dict[str, dict[str, dict[str, float]]] = {}
    served = signals_by_language(config, dd["train"], val) if served is None else served
    served, extra = withhold(served, extra, config.not_served)
    language_loads: dict[str, float] = {}
    if config.per_language_calibration and len(config.languages) > 1:
        val_langs = np.asarray(val["lang"])
        for lang in config.languages:
            rows = val_langs == lang
            y_l, raw_l = y_val[rows], raw[rows]
            calibration_by_language[lang] = {
                s: fit_calibrator(y_l[y_l[:, j] >= 0, j], raw_l[y_l[:, j] >= 0, j])
                for j, s in enumerate(SIGNALS)
            }
            pool = None
            if lang in config.civic_languages:
                texts = language_pool(config, lang)
                pool = civic_scores(model, calibration_by_language[lang], texts, served.get(lang))
            thresholds_by_language[lang] = operating_points_for(
                model, calibration_by_language[lang], y_l, raw_l, None, config.operating_points, pool
            )
            if pool is not None:
                language_loads[f"civic_{lang}_review_load"] = review_load(
                    pool, thresholds_by_language[lang]["review"], SIGNALS
                )

    model_dir = workdir / "model"
    save(model_dir)
    info = ModelInfo(
        name=config.name,
        version=f"{config.name}+{run_id[:8]}",
        format=fmt,
        thresholds=thresholds,
        calibration=calibration,
        languages=list(config.languages) or ["en"],
        signals_by_language=served,
        calibration_by_language=calibration_by_language,
        thresholds_by_language=thresholds_by_language,
        extra=extra,
    )
    info.save(model_dir)
    scorer = Scorer(*_reload(model_dir))

    plots = workdir / "plots"
    metrics, report = evaluate(
        scorer,
        dd,
        extra_eval,
        functional=config.evaluate_functional,
        plots_dir=plots,
        workdir=workdir,
        civic=civic,
    )
    report["thresholds"] = thresholds
    metrics.update(language_loads)
    metrics["train_seconds"] = time.perf_counter() - started
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
    mlflow.log_artifacts(str(plots), artifact_path="plots")
    (workdir / "evaluation.json").write_text(json.dumps(report, indent=2, default=str))
    mlflow.log_artifact(str(workdir / "evaluation.json"))
    info.metrics = {
        k: v
        for k, v in metrics.items()
        if k.startswith(("val_", "test_", "civic_", "func_overall")) and not k.startswith("test.")
    }
    info.save(model_dir)
    version = tracking.log_model_dir(model_dir, register=config.register)
    kept = Path(artifacts or tracking.artifact_root()) / "models" / run_id
    _copy_tree(model_dir, kept)
    return TrainResult(run_id, version, kept, metrics, time.perf_counter() - started)


def _reload(model_dir: Path) -> tuple[Any, ModelInfo]:
    from signals.models import load_model_dir

    return load_model_dir(model_dir)


def _copy_tree(src: Path, dst: Path) -> None:
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, dirs_exist_ok=True)


def evaluate(
    scorer: Any,
    dd: Any,
    extra_eval: Any = None,
    functional: bool = True,
    plots_dir: Path | None = None,
    workdir: Path | None = None,
    civic: CivicData | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Evaluate a scorer the same way for training and for the gate.

    Per-signal metrics on validation (``val_*``) and test (``test_*``) at the scorer's own thresholds,
    on each corpus's own test rows (``test.<corpus>_*``), on the civic development set (``civic_*``,
    with the review load) when given, on held-back analyst labels (``analyst_*``) when given, and, when
    ``functional``, the functional
    suite (``func_*``) and per-identity bias metrics on test (``bias_*``). With ``plots_dir``, PR curves
    and confusion matrices are drawn there; with an active MLflow run and ``workdir``, the functional
    suite's per-case table is logged as an artifact.
    """
    from signals import evaluation

    thresholds = scorer.info.thresholds
    metrics: dict[str, float] = {}
    report: dict[str, Any] = {}
    if plots_dir is not None:
        plots_dir.mkdir(parents=True, exist_ok=True)
    splits = [("validation", "val", dd["validation"]), ("test", "test", dd["test"])]
    if extra_eval is not None and len(extra_eval):
        splits.append(("analyst_holdout", "analyst", extra_eval))
    test_probs = None
    by_language = getattr(getattr(scorer, "info", None), "calibration_by_language", None)
    for split, prefix, rows in splits:
        if by_language and "lang" in rows.column_names:
            # Each language calibrated with its own map, as served.
            probs = scorer.predict_proba(list(rows["text"]), [str(g) for g in rows["lang"]])
        else:
            probs = scorer.predict_proba(list(rows["text"]))
        y = label_matrix(rows)
        split_metrics = evaluation.signal_metrics(y, probs, thresholds)
        report[split] = split_metrics
        metrics.update(evaluation.flat_metrics(split_metrics, prefix))
        if plots_dir is not None and prefix != "analyst":
            evaluation.plot_pr_curves(y, probs, plots_dir / f"pr_curves_{prefix}.png")
            evaluation.plot_confusion_matrices(
                y, probs, thresholds["flag"], plots_dir / f"confusion_{prefix}.png"
            )
        if split == "test":
            test_probs = probs
            by_source = evaluation.per_source_metrics(list(rows["source"]), y, probs, thresholds)
            report["test_by_source"] = by_source
            for source, source_metrics in by_source.items():
                metrics.update(evaluation.flat_metrics(source_metrics, f"test.{source}"))
            langs = [str(lang) for lang in rows["lang"]] if "lang" in rows.column_names else []
            if len(set(langs)) > 1:
                # A multilingual corpus's rows per language: test.<source>.<lang>_*.
                # At the language's own operating points when the model has them.
                own = getattr(scorer.info, "thresholds_by_language", {}) or {}
                keys = np.asarray([f"{s}.{lang}" for s, lang in zip(rows["source"], langs, strict=True)])
                lang_of = np.asarray(langs)
                report["test_by_source_language"] = {}
                for key in sorted(set(keys)):
                    rows_k = keys == key
                    lang = str(lang_of[rows_k][0])
                    key_metrics = evaluation.signal_metrics(
                        y[rows_k], probs[rows_k], own.get(lang, thresholds)
                    )
                    report["test_by_source_language"][key] = key_metrics
                    metrics.update(evaluation.flat_metrics(key_metrics, f"test.{key}"))
    if civic is not None:
        civic_report = evaluation.civic_metrics(
            civic.labels, scorer.predict_proba(civic.texts), thresholds, civic.sample
        )
        report["civic"] = civic_report
        metrics.update(evaluation.flat_civic_metrics(civic_report))
    if hasattr(scorer, "signals_for"):
        # The Spanish and Arabic suites (signals.functional.languages), for the languages it scores.
        from signals.functional import languages as language_suites

        suites = language_suites.run(scorer)
        if suites:
            report["functional_languages"] = suites
            metrics.update(language_suites.to_metrics(suites))
    if functional:
        from signals import bias
        from signals.functional import suite as suite_module

        suite = suite_module.run_suite(scorer)
        metrics.update(suite.to_metrics())
        report["functional"] = suite.to_metrics()
        regression = suite_module.regression_reviewed(scorer)
        report["civic_regression"] = regression
        metrics.update(suite_module.regression_metrics(regression))
        suite_bias = bias.suite_bias_report(suite)
        metrics.update(suite_bias.to_metrics(prefix="bias_func"))
        report["bias_functional"] = suite_bias.to_dict()
        assert test_probs is not None
        test_bias = bias.split_bias_report(dd["test"], test_probs)
        metrics.update(test_bias.to_metrics(prefix="bias_test"))
        report["bias_test"] = test_bias.to_dict()
        if workdir is not None:
            import mlflow

            tables = workdir / "tables"
            tables.mkdir(exist_ok=True)
            suite.write_csv(tables)
            suite_bias.to_frame().to_csv(tables / "bias_functional.csv", index=False)
            test_bias.to_frame().to_csv(tables / "bias_test.csv", index=False)
            if mlflow.active_run() is not None:
                mlflow.log_artifacts(str(tables), artifact_path="tables")
    return metrics, report


def evaluate_model(
    model: str | Path | None = None,
    dataset: str | Path = "data/processed",
    corpora: str | Path = "",
    functional: bool = True,
    civic: bool = True,
) -> tuple[dict[str, float], dict[str, Any]]:
    """``evaluate`` for a model directory or MLflow URI (``None``: the champion, else the shipped model).

    What ``signals evaluate`` prints: each corpus's test split, the civic development set with review
    load, the functional suite and the bias metrics, all at the model's own thresholds.
    """
    from signals.dataset import load_dataset_dict
    from signals.scoring import load_scorer

    scorer = load_scorer(model)
    dd = load_dataset_dict(dataset)
    civic_data = None
    if civic:
        civic_data = CivicData.load(corpora)
    metrics, report = evaluate(scorer, dd, None, functional=functional, civic=civic_data)
    report["model"] = {"name": scorer.name, "version": scorer.version}
    return metrics, report


def leave_one_corpus_out(config: TrainConfig) -> list[dict[str, Any]]:
    """The leave-one-corpus-out matrix of the baseline family: train without corpus C, test on C.

    For every corpus in the training split, a baseline (``config.baseline``) is fitted on the other
    corpora's training rows, calibrated and given thresholds on their validation rows, and tested on C's
    own test rows; the same is done once with every corpus for reference. A corpus that scores well only
    when its own rows were in training does not transfer, and text like the users' will behave like an
    unseen corpus. Returns one row per held-out corpus and signal: ``corpus, signal, positives,
    pr_auc_out, pr_auc_in, f1_flag_out, f1_flag_in``. Slow (one fit per corpus): on demand, not in CI.
    """
    from signals.evaluation import signal_metrics
    from signals.models.baseline import BaselineModel

    if config.model != "baseline":
        raise ValueError("the leave-one-corpus-out matrix is for the baseline family (model = 'baseline')")
    dd, _ = config_splits(config)
    train_src = np.asarray(dd["train"]["source"])
    val_src = np.asarray(dd["validation"]["source"])
    test_src = np.asarray(dd["test"]["source"])
    train_y, val_y, test_y = (label_matrix(dd[k]) for k in ("train", "validation", "test"))
    train_x, val_x, test_x = (list(dd[k]["text"]) for k in ("train", "validation", "test"))
    corpora = sorted(set(test_src) - {"augmentation"})

    def fit(exclude: str | None) -> tuple[Any, dict[str, Any], dict[str, dict[str, float]]]:
        keep = np.where(train_src != exclude)[0]
        model = BaselineModel(**config.baseline).fit([train_x[i] for i in keep], train_y[keep])
        vkeep = np.where(val_src != exclude)[0]
        raw = np.asarray(model.predict_proba([val_x[i] for i in vkeep]), dtype=float)
        yv = val_y[vkeep]
        cal = {s: fit_calibrator(yv[yv[:, j] >= 0, j], raw[yv[:, j] >= 0, j]) for j, s in enumerate(SIGNALS)}
        return model, cal, operating_points_for(model, cal, yv, raw, None, config.operating_points)

    def test_on(fitted: tuple[Any, dict[str, Any], dict[str, dict[str, float]]], corpus: str) -> Any:
        model, cal, thresholds = fitted
        tkeep = np.where(test_src == corpus)[0]
        raw = np.asarray(model.predict_proba([test_x[i] for i in tkeep]), dtype=float)
        p = np.stack([apply_calibrator(cal[s], raw[:, j]) for j, s in enumerate(SIGNALS)], axis=1)
        return signal_metrics(test_y[tkeep], p, thresholds)

    everything = fit(None)
    rows: list[dict[str, Any]] = []
    for corpus in corpora:
        log.info("leave-one-corpus-out: training without %s", corpus)
        out, inside = test_on(fit(corpus), corpus), test_on(everything, corpus)
        for s in SIGNALS:
            if out[s]["n"] == 0:
                continue
            rows.append(
                {
                    "corpus": corpus,
                    "signal": s,
                    "positives": out[s]["positives"],
                    "pr_auc_out": out[s]["pr_auc"],
                    "pr_auc_in": inside[s]["pr_auc"],
                    "f1_flag_out": out[s]["points"]["flag"]["f1"],
                    "f1_flag_in": inside[s]["points"]["flag"]["f1"],
                }
            )
    return rows


def shipped_model_metrics(dataset: str | Path, functional: bool = True) -> dict[str, float] | None:
    """The shipped model's (``models/default``) metrics on ``dataset``, evaluated now like a challenger.

    Until the registry has a champion, the shipped model is what ``signals score`` and the service
    use, so it is the rival a first promotion must beat. ``None`` when no model is shipped; a missing
    dataset raises ``DatasetNotBuiltError``.
    """
    from signals.dataset import load_dataset_dict
    from signals.scoring import DEFAULT_MODEL_DIR, load_scorer

    if not (DEFAULT_MODEL_DIR / "signals.json").is_file():
        return None
    dd = load_dataset_dict(dataset)
    civic = load_civic(TrainConfig())
    metrics, _ = evaluate(load_scorer(DEFAULT_MODEL_DIR), dd, None, functional=functional, civic=civic)
    return metrics


@dataclass
class Promotion:
    """What ``promote_if_better`` decided: the gate against the rival and whether the alias moved."""

    version: str
    rival: str
    gate: Any  # signals.gate.GateResult; None when nothing was compared
    promoted: bool


SHIPPED_RIVAL = "the shipped model (models/default)"


def promote_if_better(
    version: str,
    challenger_metrics: dict[str, float],
    rival_metrics: Callable[[str | None], dict[str, float] | None],
    *,
    force: bool = False,
    promote: bool = True,
    tracking_uri: str | None = None,
) -> Promotion:
    """The promotion policy, for ``signals promote`` and ``signals retrain`` alike.

    The rival is the registry's champion, else (no champion yet) the shipped ``models/default``, which
    is what every scorer uses until then. ``rival_metrics(champion_version)`` measures it (``None``
    for the shipped model): logged run metrics, or an evaluation on the challenger's data. The
    challenger moves to ``champion`` only when ``signals.gate.compare`` passes, or with ``force``
    (``force`` without a registry champion skips measuring the shipped model); ``promote=False`` only
    reports the gate. A version that already is the champion is left as it is.
    """
    from signals import tracking
    from signals.gate import compare

    current = tracking.alias_version(tracking.CHAMPION, tracking_uri)
    if current == version:
        return Promotion(version, f"champion {current}", None, promoted=False)
    rival = f"champion {current}" if current else SHIPPED_RIVAL
    champion = None if force and not current else rival_metrics(current)
    gate = compare(champion, challenger_metrics) if champion is not None or not force else None
    passed = force or gate is None or gate.passed
    if promote and passed:
        tracking.promote(version, tracking_uri)
    return Promotion(version, rival, gate, promoted=promote and passed)


@dataclass
class RetrainResult:
    """What ``retrain`` did: the export used, the challenger, both sides' metrics and the gate."""

    labels_path: Path
    n_labels: int
    train: TrainResult
    champion_metrics: dict[str, float]
    gate: Any
    promoted: bool


def retrain(
    config: TrainConfig,
    labels_path: str | Path | None = None,
    promote: bool = True,
    tracking_uri: str | None = None,
    artifacts: str | None = None,
) -> RetrainResult:
    """Merge the corpora with the analysts' labels, train a challenger and promote it only through the gate.

    Without ``labels_path`` the analysts' decisions are exported first (``signals labels export``).
    The challenger and the current champion (registry champion, else the shipped model) are evaluated
    on the same frozen validation/test splits, the same held-back slice of analyst labels and the
    functional suite; ``promote_if_better`` decides. The MLflow run records the export.
    """
    from signals import tracking
    from signals.gate import compare
    from signals.scoring import load_scorer

    if labels_path is None:
        from signals.triage.export import export_labels

        exported = export_labels()
        labels_path, n_labels = Path(exported.path), int(exported.n_rows)
    else:
        labels_path = Path(labels_path)
        n_labels = len(load_label_export(labels_path))
    config = dataclasses.replace(config, labels=[*config.labels, str(labels_path)])
    tracking.configure(tracking_uri, artifacts)
    # The rival is loaded before training registers the challenger (the champion alias does not move).
    champion = load_scorer()
    result = train(config, tracking_uri=tracking_uri, artifacts=artifacts)
    dd, extra_eval = config_splits(config)
    civic = load_civic(config) if config.civic else None
    champion_metrics, _ = evaluate(
        champion, dd, extra_eval, functional=config.evaluate_functional, civic=civic
    )
    if result.version is None:  # not registered: nothing to promote, the gate is only reported
        return RetrainResult(
            labels_path, n_labels, result, champion_metrics, compare(champion_metrics, result.metrics), False
        )
    decision = promote_if_better(
        result.version,
        result.metrics,
        lambda _current: champion_metrics,
        promote=promote,
        tracking_uri=tracking_uri,
    )
    gate = decision.gate if decision.gate is not None else compare(champion_metrics, result.metrics)
    return RetrainResult(labels_path, n_labels, result, champion_metrics, gate, decision.promoted)
