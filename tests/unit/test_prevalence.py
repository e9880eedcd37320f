"""Prediction-powered prevalence: coverage in simulation, and the edge cases of few or uniform labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signals.prevalence import labels_to_halve, ppi_mean
from signals.report import wilson_interval


def _survey(rng: np.random.Generator, n_answers: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Known truth and a miscalibrated model: negatives score Beta(2, 6) (13 % of them flagged at 0.5)."""
    prevalence = rng.uniform(0.01, 0.2)
    truth = (rng.random(n_answers) < prevalence).astype(float)
    probs = np.where(truth == 1, rng.beta(5, 2, n_answers), rng.beta(2, 6, n_answers))
    return truth, probs


def test_corrected_intervals_cover_the_truth_where_wilson_on_flags_does_not() -> None:
    rng = np.random.default_rng(18)
    surveys, n_labels = 500, 200
    covered = {"probability": 0, "flag": 0, "wilson": 0}
    widths = []
    for _ in range(surveys):
        truth, probs = _survey(rng)
        flags = (probs >= 0.5).astype(float)
        share = truth.mean()  # the survey's actual prevalence
        sample = rng.choice(len(truth), n_labels, replace=False)
        for name, f in (("probability", probs), ("flag", flags)):
            est = ppi_mean(f, truth[sample], f[sample])
            assert est is not None and est.labels == n_labels
            covered[name] += est.ci_low <= share <= est.ci_high
            widths.append(est.ci_high - est.ci_low)
        low, high = wilson_interval(int(flags.sum()), len(flags))
        covered["wilson"] += low <= share <= high
    coverage = {k: v / surveys for k, v in covered.items()}
    assert coverage["probability"] >= 0.93, coverage
    assert coverage["flag"] >= 0.93, coverage
    assert coverage["wilson"] < 0.5, coverage  # classify-and-count is biased by the model's mistakes
    assert float(np.mean(widths)) < 0.1  # covering by being informative, not by spanning [0, 1]


def test_no_labels_gives_none() -> None:
    assert ppi_mean([0.2, 0.4], [], []) is None


def test_one_label_gives_a_wide_interval_without_nan() -> None:
    est = ppi_mean([0.1] * 50, [1], [0.1])
    assert est is not None
    values = [est.estimate, est.ci_low, est.ci_high]
    assert not any(math.isnan(v) for v in values)
    assert est.estimate == pytest.approx(1.0)
    assert est.ci_low < 0.1 and est.ci_high == 1.0


def test_labels_all_equal_to_the_flags_give_a_point_without_nan() -> None:
    flags = [0, 0, 1, 0] * 25
    est = ppi_mean(flags, [0, 1, 0, 0], [0, 1, 0, 0])
    assert est is not None
    assert est.estimate == pytest.approx(0.25)
    assert est.rectifier == 0.0 and est.variance_rectifier == 0.0
    assert est.ci_low < 0.25 < est.ci_high  # the model term over all answers still has its spread
    assert est.labels_to_halve is None  # labels cannot shrink a term that is already zero


def test_constant_predictions_and_labels() -> None:
    est = ppi_mean([0.0] * 10, [0, 0, 0], [0.0] * 3)
    assert est is not None
    assert (est.estimate, est.ci_low, est.ci_high) == (0.0, 0.0, 0.0)


def test_estimate_and_interval_are_clipped_to_the_unit_range() -> None:
    est = ppi_mean([0.9] * 100, [0, 0], [0.9, 0.95])
    assert est is not None
    assert 0.0 <= est.ci_low <= est.estimate <= est.ci_high <= 1.0


def test_labels_to_halve_is_four_times_when_the_rectifier_dominates() -> None:
    assert labels_to_halve(0.0, 0.01, 100, 10_000) == 400
    # the model term takes a share of the budget: more than 4 n
    assert labels_to_halve(0.001, 0.01, 100, 10_000) == math.ceil(0.01 * 100 / (0.011 / 4 - 0.001))
    assert labels_to_halve(0.01, 0.01, 100, 10_000) is None  # the model term alone exceeds a quarter
    assert labels_to_halve(0.0, 0.01, 100, 300) is None  # more labels than answers


def test_labels_to_halve_matches_the_simulated_width() -> None:
    rng = np.random.default_rng(3)
    truth, probs = _survey(rng, 20_000)
    sample = rng.choice(len(truth), 200, replace=False)
    est = ppi_mean(probs, truth[sample], probs[sample])
    assert est is not None and est.labels_to_halve is not None
    more = rng.choice(len(truth), est.labels_to_halve, replace=False)
    wider = ppi_mean(probs, truth[more], probs[more])
    assert wider is not None
    ratio = (wider.ci_high - wider.ci_low) / (est.ci_high - est.ci_low)
    assert 0.4 < ratio < 0.6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0.1, 0.2], [1], [0.1, 0.2]), "1 labels but 2 labelled predictions"),
        (([0.1, 1.5], [1], [0.1]), "within"),
        (([0.1, float("nan")], [1], [0.1]), "NaN"),
        (([0.1], [1, 0], [0.1, 0.2]), "only 1 answers"),
    ],
)
def test_bad_input_is_refused(args: tuple[list[float], list[float], list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ppi_mean(*args)
