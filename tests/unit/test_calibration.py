"""Beta calibration keeps order and distinctness; review thresholds respect a civic review budget."""

from __future__ import annotations

from typing import Any

import numpy as np

from signals.calibration import apply_calibrator, choose_operating_points, fit_calibrator, review_load


def test_beta_calibration_is_strictly_monotone_and_keeps_distinct_scores() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    raw = np.clip(0.4 * y + rng.normal(0.3, 0.2, 3000), 1e-4, 1 - 1e-4)
    cal = fit_calibrator(y, raw)
    assert cal["kind"] == "beta" and cal["a"] >= 0 and cal["b"] >= 0
    grid = np.linspace(0.001, 0.999, 1000)
    p = apply_calibrator(cal, grid)
    assert np.all(np.diff(p) > 0)
    assert len(np.unique(np.round(p, 6))) >= 990  # an isotonic staircase would give a few dozen
    # and it does calibrate: in a high bin the observed rate matches the mean prediction
    pc = apply_calibrator(cal, raw)
    high = pc > 0.7
    assert abs(y[high].mean() - pc[high].mean()) < 0.05


def test_a_non_monotone_fit_drops_the_negative_term() -> None:
    # scores that are informative only at the top end
    y = np.array([0] * 50 + [1] * 10 + [0] * 40)
    raw = np.concatenate([np.linspace(0.01, 0.5, 50), np.linspace(0.9, 0.99, 10), np.linspace(0.5, 0.89, 40)])
    cal = fit_calibrator(y, raw)
    assert cal["kind"] in ("beta", "identity")
    p = apply_calibrator(cal, np.sort(raw))
    assert np.all(np.diff(p) >= 0)


def _labelled(rng: np.random.Generator, signals: list[str], spread: float) -> dict[str, Any]:
    """Validation-like rows: 10 % positives, scores that separate them only partly."""
    y = (rng.random(4000) < 0.1).astype(int)
    return {s: (y, np.clip(0.5 * y + rng.normal(0.25, spread, 4000), 0, 1)) for s in signals}


def test_review_budget_caps_the_share_of_civic_comments_in_review() -> None:
    rng = np.random.default_rng(2)
    signals = ["a", "b"]
    labelled = _labelled(rng, signals, 0.25)
    civic = rng.uniform(0, 0.6, (1000, 2))  # benign text the model is unsure about
    free = choose_operating_points(labelled, signals)
    assert review_load(civic, free["review"], signals) > 0.3
    capped = choose_operating_points(labelled, signals, civic_sample=civic, review_budget=0.1)
    assert review_load(civic, capped["review"], signals) <= 0.1
    assert all(capped["review"][s] >= free["review"][s] for s in signals)
    assert all(capped["flag"][s] >= capped["review"][s] for s in signals)
    # without a budget nothing moves
    assert choose_operating_points(labelled, signals, civic_sample=civic) == free


def test_review_budget_never_raises_review_past_flag() -> None:
    # Signal "a" carries every civic comment: the budget alone would raise its review past its flag and
    # drag flag up with it. The search stops at flag instead, and the budget is then not met.
    rng = np.random.default_rng(2)
    signals = ["a", "b"]
    labelled = _labelled(rng, signals, 0.2)
    civic = np.column_stack([rng.uniform(0.3, 1.0, 1000), rng.uniform(0.0, 0.1, 1000)])
    free = choose_operating_points(labelled, signals)
    assert free["review"]["a"] < free["flag"]["a"] - 0.1
    capped = choose_operating_points(labelled, signals, civic_sample=civic, review_budget=0.05)
    assert capped["flag"] == free["flag"]  # the high-precision point stays where validation put it
    assert free["review"]["a"] < capped["review"]["a"] <= capped["flag"]["a"]  # raised as far as it may go
    assert review_load(civic, capped["review"], signals) > 0.05  # ... which does not meet the budget


class _ScoreInText:
    """A model whose raw score for every signal is the number a text ends with."""

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.array([[float(t.split()[-1])] * 4 for t in texts]).reshape(-1, 4)


def test_a_language_pool_holds_its_review_load_to_the_budget() -> None:
    from signals.schema import SIGNALS
    from signals.training import OperatingPoints, civic_scores, operating_points_for

    rng = np.random.default_rng(3)
    y = np.full((400, 4), -1)
    polarized = rng.integers(0, 2, 400)  # half, as in POLAR
    y[:, SIGNALS.index("polarization")] = polarized
    raw = np.where(polarized[:, None] == 1, rng.uniform(0.6, 1, (400, 4)), rng.uniform(0, 0.95, (400, 4)))
    calibration = {s: {"kind": "identity"} for s in SIGNALS}
    texts = [f"comment {v:.4f}" for v in rng.uniform(0, 1, 1000) ** 3]
    ops = OperatingPoints(review_budget=0.07)
    scores = civic_scores(_ScoreInText(), calibration, texts, ["polarization"])
    free = operating_points_for(_ScoreInText(), calibration, y, raw, None, ops)
    held = operating_points_for(_ScoreInText(), calibration, y, raw, None, ops, scores)
    assert np.all(scores[:, SIGNALS.index("hate")] == 0)  # not served there: never in review
    # validation alone puts review where 90 % of the polarized rows stay in: too many comments reach it
    assert review_load(scores, free["review"], SIGNALS) > 0.1
    assert review_load(scores, held["review"], SIGNALS) <= 0.07
    assert held["review"]["polarization"] > free["review"]["polarization"]
    assert held["flag"] == free["flag"]


def test_a_language_without_polis_comments_has_no_pool() -> None:
    import pytest

    from corpus_fixtures import corpora_dir
    from signals.training import TrainConfig, language_pool

    with pytest.raises(ValueError, match="no Polis comments in 'fr'"):
        language_pool(TrainConfig(corpora=str(corpora_dir())), "fr")
