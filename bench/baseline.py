"""Baseline fit time and validation quality on the built dataset, plus classifier variants.

Run: ``python -m bench baseline`` after ``signals data build``. Fits ``BaselineModel()`` with its
defaults on ``train`` (timed end to end), scores ``validation`` (raw, uncalibrated: ranking metrics do
not change under the monotone calibration), then refits only the per-signal classifiers of a few
variants on the same features, so the comparison costs one vectorizing pass. Results go to the log.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from signals.evaluation import signal_metrics
from signals.models.baseline import BaselineModel
from signals.models.ngram import MODEL_FILE, NgramModel
from signals.schema import SIGNALS

log = logging.getLogger("bench.baseline")

VARIANTS: list[dict[str, Any]] = [
    {"classifier": "logreg", "C": 4.0},
    {"classifier": "sgd", "alpha": 4e-5},
]


def _labels(rows: Any) -> np.ndarray:
    return np.stack([np.asarray(rows[s], dtype=int) for s in SIGNALS], axis=1)


def _line(name: str, metrics: dict[str, Any], seconds: float) -> str:
    parts = [
        f"{s} roc {metrics[s]['roc_auc'] or float('nan'):.3f} ap {metrics[s]['pr_auc'] or float('nan'):.3f}"
        for s in SIGNALS
    ]
    return f"{name:<32} {seconds:6.0f}s  " + " | ".join(parts)


def main(dataset: str = "data/processed") -> None:
    from datasets import load_from_disk

    dd = load_from_disk(dataset)
    train_texts, val_texts = list(dd["train"]["text"]), list(dd["validation"]["text"])
    y_train, y_val = _labels(dd["train"]), _labels(dd["validation"])

    started = time.perf_counter()
    model = BaselineModel().fit(train_texts, y_train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    probs = model.predict_proba(val_texts)
    predict_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        size_mb = (Path(tmp) / MODEL_FILE).stat().st_size / 1e6
        started = time.perf_counter()
        NgramModel.load(tmp)
        load_seconds = time.perf_counter() - started
    log.info(
        "defaults: fit %.0fs on %d rows, %d features; predict %.2f ms/text; file %.1f MB; load %.1fs",
        fit_seconds,
        len(train_texts),
        model.n_features_,
        1000 * predict_seconds / len(val_texts),
        size_mb,
        load_seconds,
    )
    log.info("%s", _line("defaults " + str({"C": model.C}), signal_metrics(y_val, probs), fit_seconds))

    x_train = model.vectorizer_.transform(train_texts)
    x_val = model.vectorizer_.transform(val_texts)
    for params in VARIANTS:
        base = BaselineModel(**params)._make_classifier()
        started = time.perf_counter()
        probs = np.zeros((len(val_texts), len(SIGNALS)))
        for j in range(len(SIGNALS)):
            known = y_train[:, j] != -1
            clf = clone(base).fit(x_train[known], y_train[known, j])
            probs[:, j] = clf.predict_proba(x_val)[:, 1]
        seconds = time.perf_counter() - started
        log.info("%s", _line(str(params), signal_metrics(y_val, probs), seconds) + " (classifiers only)")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
