"""Per-signal calibration and operating points.

Calibration maps a model's raw probability to an estimate of P(signal | text) fitted on validation
(isotonic regression, stored as its step points so serving needs only numpy). Two operating points are
chosen per signal on the calibrated validation scores:

* ``review`` (high recall, feeds the triage queue): the highest threshold whose recall is at least
  ``target_recall`` (default 0.90);
* ``flag`` (high precision): the lowest threshold whose precision is at least ``target_precision``
  (default 0.80); when no threshold reaches it, the threshold that maximises F1.

``flag`` is never below ``review``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# scikit-learn is imported inside the fitting functions: serving only applies calibrators (numpy), and
# importing sklearn (with scipy and pandas) would add about 140 MB to the serving process.

IDENTITY: dict[str, Any] = {"kind": "identity"}


def fit_calibrator(y_true: np.ndarray, p_raw: np.ndarray) -> dict[str, Any]:
    """Fit an isotonic calibrator on known labels; returns a JSON-able description.

    >>> cal = fit_calibrator(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> cal["kind"]
    'isotonic'
    """
    from sklearn.isotonic import IsotonicRegression

    y_true = np.asarray(y_true)
    p_raw = np.asarray(p_raw, dtype=float)
    if len(np.unique(y_true)) < 2:
        return dict(IDENTITY)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p_raw, y_true)
    return {
        "kind": "isotonic",
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
    }


def apply_calibrator(calibrator: dict[str, Any] | None, p_raw: np.ndarray) -> np.ndarray:
    """Map raw probabilities through a calibrator description (identity when ``None``).

    A tiny monotone blend with the raw score breaks isotonic ties, so ranking within a step is kept.
    """
    p_raw = np.asarray(p_raw, dtype=float)
    if not calibrator or calibrator.get("kind") == "identity":
        return p_raw
    if calibrator["kind"] == "isotonic":
        calibrated = np.interp(p_raw, calibrator["x"], calibrator["y"])
        return np.clip(0.999 * calibrated + 0.001 * p_raw, 0.0, 1.0)
    raise ValueError(f"unknown calibrator kind {calibrator['kind']!r}")


def choose_thresholds(
    y_true: np.ndarray,
    p: np.ndarray,
    target_recall: float = 0.90,
    target_precision: float = 0.80,
) -> dict[str, float]:
    """Choose ``review`` and ``flag`` thresholds for one signal (rules in the module docstring)."""
    from sklearn.metrics import precision_recall_curve

    y_true = np.asarray(y_true)
    p = np.asarray(p, dtype=float)
    if len(np.unique(y_true)) < 2:
        return {"review": 0.5, "flag": 0.5}
    precision, recall, thresholds = precision_recall_curve(y_true, p)
    # precision/recall have one more entry than thresholds; drop the final (recall=0) point.
    precision, recall = precision[:-1], recall[:-1]
    ok_recall = np.where(recall >= target_recall)[0]
    review = float(thresholds[ok_recall[-1]]) if len(ok_recall) else float(thresholds[0])
    ok_precision = np.where(precision >= target_precision)[0]
    if len(ok_precision):
        flag = float(thresholds[ok_precision[0]])
    else:
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        flag = float(thresholds[int(np.argmax(f1))])
    return {"review": review, "flag": max(flag, review)}
