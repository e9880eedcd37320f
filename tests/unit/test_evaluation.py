"""Per-signal metrics over masked labels, their flat MLflow form, and the plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from signals.evaluation import (
    flat_metrics,
    operating_points,
    plot_confusion_matrices,
    plot_pr_curves,
    signal_metrics,
)
from signals.schema import SIGNALS

# Six rows. hate: all known, 3 positives. threat: known only on rows 0-3 (rows 4-5 masked and their
# scores deliberately misleading). offensive: all known but one class. polarization: nothing known.
Y = np.array(
    [
        [1, 1, 0, -1],
        [1, 0, 0, -1],
        [0, 0, 0, -1],
        [1, 1, 0, -1],
        [0, -1, 0, -1],
        [0, -1, 0, -1],
    ]
)
P = np.array(
    [
        [0.9, 0.8, 0.1, 0.5],
        [0.4, 0.3, 0.2, 0.5],
        [0.6, 0.1, 0.3, 0.5],
        [0.7, 0.6, 0.9, 0.5],
        [0.2, 0.99, 0.1, 0.5],
        [0.1, 0.95, 0.1, 0.5],
    ]
)
POINTS = {"review": {s: 0.35 for s in SIGNALS}, "flag": {s: 0.65 for s in SIGNALS}}


@pytest.fixture(scope="module")
def metrics() -> dict:
    return signal_metrics(Y, P, POINTS)


def test_hate_metrics_equal_hand_computed_values(metrics: dict) -> None:
    hate = metrics["hate"]
    assert hate["n"] == 6 and hate["positives"] == 3
    # positives score 0.9, 0.4, 0.7; negatives 0.6, 0.2, 0.1: 8 of 9 pairs ordered right
    assert hate["roc_auc"] == pytest.approx(8 / 9)
    # ranking 0.9+ 0.7+ 0.6- 0.4+ ...: AP = (1/1 + 2/2 + 3/4) / 3
    assert hate["pr_auc"] == pytest.approx((1 + 1 + 0.75) / 3)
    # flag @ 0.65 predicts rows 0 and 3: both positive -> precision 1, recall 2/3, F1 0.8
    flag = hate["points"]["flag"]
    assert flag == {
        "threshold": 0.65,
        "precision": pytest.approx(1.0),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(0.8),
        "predicted_positive": 2,
    }
    # review @ 0.35 predicts rows 0-3: 3 of 4 right, all positives found
    review = hate["points"]["review"]
    assert review["precision"] == pytest.approx(0.75)
    assert review["recall"] == pytest.approx(1.0)
    assert review["f1"] == pytest.approx(2 * 0.75 / 1.75)


def test_masked_rows_are_excluded(metrics: dict) -> None:
    threat = metrics["threat"]
    assert threat["n"] == 4 and threat["positives"] == 2
    # over the known rows the ranking is perfect; counting the masked rows (0.99, 0.95) as negatives
    # would drop ROC-AUC to 0.5
    assert threat["roc_auc"] == pytest.approx(1.0)
    assert threat["pr_auc"] == pytest.approx(1.0)
    assert threat["points"]["review"]["predicted_positive"] == 2


def test_one_class_and_empty_splits_give_none(metrics: dict) -> None:
    offensive = metrics["offensive"]
    assert offensive["n"] == 6 and offensive["positives"] == 0
    assert offensive["roc_auc"] is None and offensive["pr_auc"] is None
    # row 3 is predicted positive but there are no positives: precision 0, recall undefined
    assert offensive["points"]["flag"]["precision"] == 0.0
    assert offensive["points"]["flag"]["recall"] is None
    polarization = metrics["polarization"]
    assert polarization["n"] == 0 and polarization["roc_auc"] is None
    assert polarization["points"]["flag"] == {
        "threshold": 0.65,
        "precision": None,
        "recall": None,
        "f1": None,
        "predicted_positive": 0,
    }


def test_plain_threshold_dict_is_one_default_point() -> None:
    m = signal_metrics(Y, P, {"hate": 0.65})
    assert list(m["hate"]["points"]) == ["default"]
    assert m["hate"]["points"]["default"]["recall"] == pytest.approx(2 / 3)
    assert m["threat"]["points"]["default"]["threshold"] == 0.5  # missing signals default to 0.5
    assert signal_metrics(Y, P)["hate"]["points"]["default"]["threshold"] == 0.5


def test_bad_thresholds_and_shapes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown signal"):
        operating_points({"spam": 0.5})
    with pytest.raises(ValueError, match="mix"):
        operating_points({"flag": {"hate": 0.5}, "hate": 0.5})
    with pytest.raises(ValueError, match="shape"):
        signal_metrics(Y[:, :3], P[:, :3])
    with pytest.raises(ValueError, match="-1"):
        signal_metrics(np.full_like(Y, 2), P)


def test_flat_metrics_keys_values_and_no_none(metrics: dict) -> None:
    flat = flat_metrics(metrics, "val")
    assert flat["val_hate_pr_auc"] == pytest.approx(metrics["hate"]["pr_auc"])
    assert flat["val_hate_flag_f1"] == pytest.approx(0.8)
    assert flat["val_threat_n"] == 4.0
    assert flat["val_hate_review_threshold"] == 0.35
    assert "val_offensive_roc_auc" not in flat and "val_offensive_flag_recall" not in flat
    assert flat["val_macro_roc_auc"] == pytest.approx((8 / 9 + 1.0) / 2)  # over defined signals only
    assert all(isinstance(v, float) and not math.isnan(v) for v in flat.values())
    assert all(k.startswith("val_") for k in flat)


def test_plots_are_written(tmp_path: Path) -> None:
    pr = plot_pr_curves(Y, P, tmp_path / "plots" / "pr.png", thresholds=POINTS, title="tiny")
    cm = plot_confusion_matrices(Y, P, POINTS["flag"], tmp_path / "cm.png")
    for path in (pr, cm):
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000


def test_recall_at_budget_shares_the_budget_between_hate_and_polarization() -> None:
    from signals.evaluation import civic_metrics, flat_civic_metrics, recall_at_budget
    from signals.schema import SIGNALS

    hate, pol = SIGNALS.index("hate"), SIGNALS.index("polarization")
    rng = np.random.default_rng(0)
    n = 100
    P = np.zeros((n + 6, len(SIGNALS)))
    P[:n, hate], P[:n, pol] = rng.random(n) * 0.5, rng.random(n) * 0.5  # the random draw, all below 0.5
    P[n:, hate] = [0.9, 0.8, 0.3, 0, 0, 0]  # hate positives; the third one sits among the draw
    P[n:, pol] = [0, 0, 0, 0.95, 0.7, 0.45]
    Y = np.zeros_like(P, dtype=int)
    Y[n : n + 3, hate] = 1
    Y[n + 3 :, pol] = 1
    sample = np.r_[np.ones(n, bool), np.zeros(6, bool)]
    above = lambda j, t: int((P[:n, j] >= t).sum())  # noqa: E731
    # Without budget for the low ones: 2 of 3 hate and 2 of 3 polarization at a near-zero load ...
    assert recall_at_budget(Y, P, sample, 0.0) == {"hate": 2 / 3, "polarization": 2 / 3}
    # ... and the third of either only when the budget pays for the draw rows above it.
    need_hate, need_pol = above(hate, 0.3), above(pol, 0.45)
    both = int(((P[:n, hate] >= 0.3) | (P[:n, pol] >= 0.45)).sum())
    assert recall_at_budget(Y, P, sample, both / n) == {"hate": 1.0, "polarization": 1.0}
    cheaper = min(need_hate, need_pol)
    got = recall_at_budget(Y, P, sample, cheaper / n)
    assert sorted(got.values()) == [2 / 3, 1.0]
    Y2 = Y.copy()
    Y2[:, pol] = 0  # a signal without positives is left out
    assert recall_at_budget(Y2, P, sample, 0.0) == {"hate": 2 / 3}
    points = {"review": {s: 0.99 for s in SIGNALS}, "flag": {s: 0.99 for s in SIGNALS}}
    flat = flat_civic_metrics(civic_metrics(Y, P, points, sample, budget=both / n))
    assert flat["civic_hate_budget_recall"] == flat["civic_polarization_budget_recall"] == 1.0
    assert "civic_threat_budget_recall" not in flat
