"""Prevalence corrected for model errors: prediction-powered inference for a mean.

A classify-and-count share (flagged answers / answers) is biased by the model's mistakes, and its
Wilson interval covers sampling noise only. When analysts label a *uniform random sample* of the same
answers, the model's error can be measured on the sample and subtracted (Angelopoulos et al., 2023,
"Prediction-powered inference", Science 382)::

    theta_hat = mean(f(X_i), all N answers) + mean(Y_j - f(X_j), n labelled answers)
    variance  = var(f, all N) / N + var(Y - f, labelled) / n

with a normal 95 % interval, clipped to [0, 1]. ``f`` is the model's calibrated probability for the
signal (or its 0/1 flag: any prediction in [0, 1] works); ``Y`` is the analyst's label (confirm 1,
reject 0). The second term (the *rectifier*) removes the model's bias whatever it is; a better model
only makes the interval narrower.

The correction is valid only when the labelled answers are a uniform random sample of the answers
estimated over. Decisions made in the risk-ranked triage queue are not: they over-represent
high-scoring answers. The triage store keeps the two apart (``sampled`` on decisions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054

#: Variance assumed for the rectifier ``Y - f`` (within [-1, 1]) when fewer than two labels leave it
#: unmeasured: the largest a quantity in [-1, 1] can have, so one label gives a wide, honest interval.
MAX_RECTIFIER_VARIANCE = 1.0


@dataclass(frozen=True)
class Corrected:
    """A corrected prevalence with its 95 % interval and what the labels behind it buy.

    ``labels_to_halve`` is the total number of labels (from the same random sample) that would halve
    the interval's width, computed from the two variance terms; ``None`` when more labels alone cannot
    halve it (the model-variance term over all answers is already more than a quarter of the total, the
    labels agree with the model exactly, or it would need more labels than there are answers).
    """

    estimate: float
    ci_low: float
    ci_high: float
    labels: int
    answers: int
    model_mean: float  # mean prediction over all answers: the uncorrected, model-only estimate
    rectifier: float  # mean(Y - f) on the labelled answers: the measured model bias (negated)
    variance_model: float  # var(f) / N
    variance_rectifier: float  # var(Y - f) / n
    labels_to_halve: int | None

    @property
    def standard_error(self) -> float:
        """The estimate's standard error, ``sqrt(variance_model + variance_rectifier)``."""
        return math.sqrt(self.variance_model + self.variance_rectifier)


def difference(
    estimate: float, standard_error: float, other: float, other_standard_error: float, z: float = Z95
) -> tuple[float, float, float]:
    """Difference of two independent estimates (e.g. two survey waves' corrected prevalences).

    Returns ``(estimate - other, low, high)`` with the normal interval ``± z * sqrt(se1² + se2²)``,
    clipped to [-1, 1]. The waves' answers and labels are drawn independently, so the variances add.

    >>> [round(x, 4) for x in difference(0.30, 0.02, 0.25, 0.015)]
    [0.05, 0.001, 0.099]
    """
    diff = estimate - other
    half = z * math.sqrt(standard_error**2 + other_standard_error**2)
    return (diff, max(-1.0, diff - half), min(1.0, diff + half))


def _variance(values: np.ndarray) -> float:
    return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0


def _as_unit_array(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: every value must be a number (no NaN)")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name}: values must lie within [0, 1]")
    return arr


def ppi_mean(
    predictions: ArrayLike, labels: ArrayLike, labelled_predictions: ArrayLike, z: float = Z95
) -> Corrected | None:
    """Prediction-powered estimate of a prevalence; ``None`` when there are no labels.

    ``predictions``: the model's prediction for every one of the N answers; ``labels`` (0/1) and
    ``labelled_predictions``: the analysts' labels and the model's predictions for the n answers of the
    uniform random sample, in the same order.
    """
    f_all = _as_unit_array(predictions, "predictions")
    y = _as_unit_array(labels, "labels")
    f_lab = _as_unit_array(labelled_predictions, "labelled predictions")
    if len(y) != len(f_lab):
        raise ValueError(f"{len(y)} labels but {len(f_lab)} labelled predictions")
    n, big_n = len(y), len(f_all)
    if n == 0:
        return None
    if big_n < n:
        raise ValueError(f"{n} labels but only {big_n} answers: the labelled answers are among the answers")
    residual = y - f_lab
    model_mean = float(f_all.mean())
    rectifier = float(residual.mean())
    var_model = _variance(f_all) / big_n
    var_rect = (_variance(residual) if n > 1 else MAX_RECTIFIER_VARIANCE) / n
    se = math.sqrt(var_model + var_rect)  # = Corrected.standard_error
    estimate = model_mean + rectifier
    return Corrected(
        estimate=min(1.0, max(0.0, estimate)),
        ci_low=min(1.0, max(0.0, estimate - z * se)),
        ci_high=min(1.0, max(0.0, estimate + z * se)),
        labels=n,
        answers=big_n,
        model_mean=model_mean,
        rectifier=rectifier,
        variance_model=var_model,
        variance_rectifier=var_rect,
        labels_to_halve=labels_to_halve(var_model, var_rect, n, big_n),
    )


def labels_to_halve(
    variance_model: float, variance_rectifier: float, labels: int, answers: int
) -> int | None:
    """Labels needed for half the interval width: solve ``vm + vr * n / n' = (vm + vr) / 4`` for n'.

    About ``4 n`` when the rectifier term dominates; ``None`` when unreachable (see ``Corrected``).
    """
    target = (variance_model + variance_rectifier) / 4
    room = target - variance_model  # what the rectifier term may still be
    if variance_rectifier <= 0 or room <= 0:
        return None
    needed = math.ceil(variance_rectifier * labels / room)
    return needed if needed <= answers else None
