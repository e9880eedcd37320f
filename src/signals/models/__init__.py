"""Model artifacts: one directory per model, described by a ``signals.json`` manifest.

Every model family (``baseline`` TF-IDF + linear, scored by ``ngram`` with numpy alone; ``onnx``
fine-tuned MiniLM) saves itself into a directory holding its files plus the manifest, and
``load_model_dir`` dispatches on the manifest's ``format``. Label names, thresholds and calibration
travel inside the artifact, so a scorer never needs the training config. MLflow pyfunc models wrap the
same directory.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from signals.models import ngram
from signals.schema import SIGNALS, TARGETS

MANIFEST = "signals.json"


class SignalModel(Protocol):
    """What a scorer needs from a model: raw (uncalibrated) per-signal probabilities."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), len(SIGNALS))`` in ``SIGNALS`` order."""
        ...


@dataclass
class ModelInfo:
    """The manifest of a model directory.

    ``thresholds`` has two operating points, ``review`` (high recall) and ``flag`` (high precision),
    each mapping signal -> probability threshold on the *calibrated* scale. ``calibration`` maps a
    signal to a JSON-able calibrator description (see ``signals.calibration``); empty means identity.
    ``languages`` are the languages (ISO 639-1) the model scores; texts in others are not scored
    (``Score.supported`` false). A manifest without the field is an English model.
    """

    name: str
    version: str
    format: str
    signals: list[str] = field(default_factory=lambda: list(SIGNALS))
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    thresholds: dict[str, dict[str, float]] = field(
        default_factory=lambda: {"review": {s: 0.3 for s in SIGNALS}, "flag": {s: 0.5 for s in SIGNALS}}
    )
    calibration: dict[str, Any] = field(default_factory=dict)
    languages: list[str] = field(default_factory=lambda: ["en"])
    #: Per language, the signals the model scores for it; a language missing here (or an empty map)
    #: scores every signal. A signal left out is absent from that text's scores and never flagged.
    signals_by_language: dict[str, list[str]] = field(default_factory=dict)
    #: Other models in sub-folders of this directory, each for languages this one does not score:
    #: ``[{"path": "multilingual", "languages": ["es", "ar"], "sha256": "<sha256 of its weights_file>"}]``.
    #: The scorer routes a text in one of those languages to that model (``signals.scoring``).
    routes: list[dict[str, Any]] = field(default_factory=list)
    #: Per language, its own calibration (signal -> calibrator) and operating points (``review``/``flag``
    #: -> signal -> threshold), for a model of several languages whose base rates differ; a language
    #: missing here uses ``calibration`` and ``thresholds``.
    calibration_by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    thresholds_by_language: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path) -> ModelInfo:
        path = Path(directory) / MANIFEST
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a signals model directory (no {MANIFEST})")
        data = json.loads(path.read_text())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


#: The file holding a model's weights, per format: what a route's ``sha256`` is the hash of.
WEIGHTS_FILES = {"onnx": "model.onnx", "baseline": ngram.MODEL_FILE}
#: Weights files of directories written before their format changed (read when the current one is absent).
LEGACY_WEIGHTS_FILES = {"baseline": ngram.LEGACY_FILE}


def weights_file(directory: str | Path) -> Path:
    """The weights file of a model directory (``WEIGHTS_FILES`` by the manifest's format)."""
    info = ModelInfo.load(Path(directory))
    if info.format not in WEIGHTS_FILES:
        raise ValueError(f"{directory}: unknown model format {info.format!r}")
    path = Path(directory) / WEIGHTS_FILES[info.format]
    legacy = Path(directory) / LEGACY_WEIGHTS_FILES.get(info.format, WEIGHTS_FILES[info.format])
    return legacy if not path.is_file() and legacy.is_file() else path


def load_model_dir(directory: str | Path) -> tuple[SignalModel, ModelInfo]:
    """Load a model directory written by any model family, dispatching on the manifest's format."""
    directory = Path(directory)
    info = ModelInfo.load(directory)
    if info.format == "baseline":
        if weights_file(directory).name == LEGACY_WEIGHTS_FILES["baseline"]:
            from signals.models.baseline import BaselineModel  # scikit-learn: only for such old files

            return BaselineModel.load_legacy(directory), info
        return ngram.NgramModel.load(directory), info
    if info.format == "onnx":
        from signals.models.onnx import OnnxModel

        return OnnxModel.load(directory), info
    raise ValueError(f"{directory}: unknown model format {info.format!r}")
