"""Per-signal calibration and operating points.

Calibration maps a model's raw probability to an estimate of P(signal | text) fitted on validation. It
is **beta calibration** (Kull et al. 2017): ``sigmoid(a * ln p - b * ln(1 - p) + c)`` with ``a, b >= 0``,
a smooth, strictly increasing map (Platt scaling on the logit is the case ``a == b``). Step-wise isotonic
regression was used before: fitted on a few thousand validation rows it collapses distinct texts onto a
few values (plateaus), so triage priority could no longer rank them and a threshold on a plateau moved
whole blocks of answers. Serving applies the stored three numbers with numpy only.

Two operating points are chosen per signal on calibrated scores (``choose_operating_points``):

* ``review`` (high recall, feeds the triage queue): the highest threshold whose recall is at least
  ``target_recall`` (default 0.90), then, when a **review budget** is given with unlabelled-by-choice
  civic text (a uniform sample of real comments), raised signal by signal until at most that share of
  the civic comments reaches ``review`` for any signal; each step raises the threshold of the signal
  that loses the least recall (on validation plus on the labelled civic positives, the two counting
  equally) per civic comment taken out of review. A ``review`` threshold is never raised past the
  signal's ``flag``: when every signal has reached its ``flag`` the search stops, and the budget is then
  not met (the civic review load is measured and reported, and the promotion gate checks it);
* ``flag`` (high precision): the lowest threshold whose precision on validation is at least
  ``target_precision`` (default 0.80); when no threshold reaches it, the threshold that maximises F1.

``flag`` is never below ``review``.

A **source offset** (``fit_offset`` / ``apply_offset``) adapts calibrated scores to one source (a survey,
a forum) whose base rate differs from the corpora: ``sigmoid(logit(p) + offset)``, one number per signal
fitted by maximum likelihood on that source's labels. A shift on the logit is strictly increasing, so
the order of answers (and the triage queue) is kept; ``signals.sources`` uses it with
``choose_thresholds`` for per-source operating points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# scikit-learn is imported inside the fitting functions: serving only applies calibrators (numpy), and
# importing sklearn (with scipy and pandas) would add about 140 MB to the serving process.

IDENTITY: dict[str, Any] = {"kind": "identity"}

_EPS = 1e-6


def _beta_features(p_raw: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_raw, dtype=float), _EPS, 1 - _EPS)
    return np.stack([np.log(p), -np.log1p(-p)], axis=1)


def fit_calibrator(y_true: np.ndarray, p_raw: np.ndarray) -> dict[str, Any]:
    """Fit a beta calibrator on known labels; returns a JSON-able description.

    A coefficient that would come out negative (a non-monotone map) is dropped and the rest refitted,
    as in the reference implementation; with one class only, the identity is returned.

    >>> cal = fit_calibrator(np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9]))
    >>> cal["kind"], cal["a"] >= 0 and cal["b"] >= 0
    ('beta', True)
    """
    from sklearn.linear_model import LogisticRegression

    y_true = np.asarray(y_true).astype(int)
    if len(y_true) == 0 or len(np.unique(y_true)) < 2:
        return dict(IDENTITY)
    x = _beta_features(p_raw)
    keep = [0, 1]
    coef = np.zeros(2)
    intercept = 0.0
    for _ in range(2):
        # Nearly unregularised: three parameters on thousands of rows need no shrinkage, and a strong
        # penalty would flatten the map towards the base rate.
        lr = LogisticRegression(C=1e4, max_iter=1000).fit(x[:, keep], y_true)
        coef = np.zeros(2)
        coef[keep] = lr.coef_[0]
        intercept = float(lr.intercept_[0])
        negative = [k for k in keep if coef[k] < 0]
        if not negative:
            break
        keep = [k for k in keep if k not in negative]
        if not keep:
            return dict(IDENTITY)
    if coef.sum() <= 0:
        return dict(IDENTITY)
    return {"kind": "beta", "a": float(coef[0]), "b": float(coef[1]), "c": intercept}


def apply_calibrator(calibrator: Mapping[str, Any] | None, p_raw: np.ndarray) -> np.ndarray:
    """Map raw probabilities through a calibrator description (identity when ``None``).

    ``isotonic`` descriptions (models trained before beta calibration) are still applied, with a tiny
    monotone blend of the raw score that breaks ties within a step.

    >>> apply_calibrator({"kind": "beta", "a": 1.0, "b": 1.0, "c": 0.0}, np.array([0.2, 0.7])).round(3)
    array([0.2, 0.7])
    """
    p_raw = np.asarray(p_raw, dtype=float)
    if not calibrator or calibrator.get("kind") == "identity":
        return p_raw
    if calibrator["kind"] == "beta":
        z = _beta_features(p_raw) @ np.array([calibrator["a"], calibrator["b"]]) + calibrator["c"]
        return np.asarray(1.0 / (1.0 + np.exp(-z)))
    if calibrator["kind"] == "isotonic":
        calibrated = np.interp(p_raw, calibrator["x"], calibrator["y"])
        return np.clip(0.999 * calibrated + 0.001 * p_raw, 0.0, 1.0)
    raise ValueError(f"unknown calibrator kind {calibrator['kind']!r}")


def apply_offset(p: np.ndarray, offset: float) -> np.ndarray:
    """Shift probabilities by ``offset`` on the logit scale (strictly increasing; 0 is the identity).

    >>> apply_offset(np.array([0.2, 0.5]), 0.0).round(3), apply_offset(np.array([0.5]), np.log(3)).round(3)
    (array([0.2, 0.5]), array([0.75]))
    """
    p = np.asarray(p, dtype=float)
    if offset == 0.0:
        return p
    q = np.clip(p, _EPS, 1 - _EPS)
    z = np.log(q) - np.log1p(-q) + offset
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def fit_offset(y_true: np.ndarray, p: np.ndarray, max_abs: float = 8.0) -> float:
    """The logit shift ``c`` maximising the likelihood of ``y_true`` under ``sigmoid(logit(p) + c)``.

    One parameter, a concave log-likelihood: Newton's method from 0 converges in a few steps. At the
    optimum the shifted probabilities sum to the number of positives, so the source's mean probability
    matches its observed rate. With one class only (no finite optimum) the shift is 0; it is bounded to
    ``±max_abs`` (a factor of about 3000 on the odds).

    >>> y = np.array([1, 1, 0, 1]); p = np.array([0.3, 0.6, 0.2, 0.4])
    >>> c = fit_offset(y, p); round(float(apply_offset(p, c).sum()), 3)
    3.0
    """
    y_true = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    if len(y_true) == 0 or y_true.min() == y_true.max():
        return 0.0
    z = np.log(p) - np.log1p(-p)
    c = 0.0
    for _ in range(100):
        q = 1.0 / (1.0 + np.exp(-(z + c)))
        grad = float((y_true - q).sum())
        hess = float((q * (1 - q)).sum())
        if hess <= 0:
            break
        step = grad / hess
        c = float(np.clip(c + step, -max_abs, max_abs))
        if abs(step) < 1e-10 or abs(c) == max_abs:
            break
    return c


def _review_for_recall(y: np.ndarray, p: np.ndarray, target_recall: float) -> float:
    """The highest threshold keeping recall >= target on (y, p) (the lowest positive score if none)."""
    pos = np.sort(p[y == 1])
    if len(pos) == 0:
        return 0.5
    # Recall at threshold t is the share of positives >= t; keep ceil(target * n) of them.
    keep = int(np.ceil(target_recall * len(pos) - 1e-9))
    return float(pos[len(pos) - max(keep, 1)])


def _flag_for_precision(y: np.ndarray, p: np.ndarray, target_precision: float) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    ok = np.where(precision >= target_precision)[0]
    if len(ok):
        return float(thresholds[ok[0]])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def choose_thresholds(
    y_true: np.ndarray,
    p: np.ndarray,
    target_recall: float = 0.90,
    target_precision: float = 0.80,
) -> dict[str, float]:
    """``review`` and ``flag`` thresholds for one signal without a review budget.

    >>> choose_thresholds(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.5, 0.9]), 0.9, 0.9)
    {'review': 0.5, 'flag': 0.9}
    """
    y_true = np.asarray(y_true).astype(int)
    p = np.asarray(p, dtype=float)
    if len(np.unique(y_true)) < 2:
        return {"review": 0.5, "flag": 0.5}
    review = _review_for_recall(y_true, p, target_recall)
    flag = _flag_for_precision(y_true, p, target_precision)
    return {"review": review, "flag": max(flag, review)}


def review_load(p_civic: np.ndarray, review: Mapping[str, float], signals: Sequence[str]) -> float:
    """Share of civic comments whose score reaches ``review`` for any signal (columns in ``signals`` order).

    >>> review_load(np.array([[0.9, 0.0], [0.1, 0.2]]), {"a": 0.5, "b": 0.5}, ["a", "b"])
    0.5
    """
    p_civic = np.asarray(p_civic, dtype=float)
    if len(p_civic) == 0:
        return 0.0
    hits = np.zeros(len(p_civic), dtype=bool)
    for j, s in enumerate(signals):
        hits |= p_civic[:, j] >= review[s]
    return float(hits.mean())


def choose_operating_points(
    labelled: Mapping[str, tuple[np.ndarray, np.ndarray]],
    signals: Sequence[str],
    target_recall: float = 0.90,
    target_precision: float = 0.80,
    civic_sample: np.ndarray | None = None,
    review_budget: float | None = None,
    civic_labelled: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, dict[str, float]]:
    """``{"review": {signal: t}, "flag": {signal: t}}`` for every signal (rules in the module docstring).

    ``labelled[signal]`` is ``(y, p)``: known labels and calibrated scores of the validation rows;
    ``civic_labelled[signal]`` the same for the labelled civic comments. Both are pooled for the
    recall target of ``review``; ``flag`` is chosen on validation (see the comment in the code).
    ``civic_sample`` is an ``(n, len(signals))`` array of calibrated scores on a uniform
    sample of civic comments; with ``review_budget`` the ``review`` thresholds are raised until at most
    that share of it reaches review. Each step of that search raises the signal whose next step costs
    the least recall, counted as the recall lost on validation plus the recall lost on the civic
    positives: the two sets count equally, so a civic positive (there are few) weighs as much as many
    corpus rows.
    """
    groups = [labelled] + ([civic_labelled] if civic_labelled else [])
    review: dict[str, float] = {}
    flag: dict[str, float] = {}
    for s in signals:
        y = np.concatenate([np.asarray(g[s][0]) for g in groups])
        p = np.concatenate([np.asarray(g[s][1], dtype=float) for g in groups])
        review[s] = choose_thresholds(y, p, target_recall, target_precision)["review"]
        # flag: the precision target on validation alone. Civic text carries a signal about 1 time in
        # 100, so a precision target over rows pooled with it is a precision target on civic text,
        # reachable only at a recall near 0 (it put polarization's flag at 0.91 and its F1 on the POLAR
        # test split at 0.02). Civic precision at flag is measured and reported instead.
        y_val, p_val = np.asarray(labelled[s][0]), np.asarray(labelled[s][1], dtype=float)
        flag[s] = choose_thresholds(y_val, p_val, target_recall, target_precision)["flag"]
    if civic_sample is not None and review_budget is not None and len(civic_sample):
        review = _fit_review_budget(
            groups, signals, review, np.asarray(civic_sample, float), review_budget, ceilings=flag
        )
    return {"review": review, "flag": {s: max(flag[s], review[s]) for s in signals}}


def _fit_review_budget(
    groups: Sequence[Mapping[str, tuple[np.ndarray, np.ndarray]]],
    signals: Sequence[str],
    review: dict[str, float],
    civic: np.ndarray,
    budget: float,
    ceilings: Mapping[str, float] | None = None,
) -> dict[str, float]:
    # A signal's review is never raised past its ceiling (its flag threshold): raising it further would
    # drag flag up with it (flag >= review) and trade the high-precision point for the budget. One run
    # (minilm3.v4 seed 14) lost polarization that way: review and flag at 0.85, POLAR test F1 at flag
    # 0.08. When every signal is at its ceiling the search stops and the budget is not met (reported).
    review = dict(review)
    top = {s: np.inf if ceilings is None else max(float(ceilings[s]), review[s]) for s in signals}

    def recall_lost(s: str, low: float, high: float) -> float:
        lost = 0.0
        for g in groups:
            y, p = np.asarray(g[s][0]), np.asarray(g[s][1], dtype=float)
            pos = y == 1
            if pos.any():
                lost += float(((p >= low) & (p < high) & pos).sum()) / float(pos.sum())
        return lost

    while review_load(civic, review, signals) > budget:
        best: tuple[float, str, float] | None = None
        for j, s in enumerate(signals):
            above = np.sort(civic[civic[:, j] >= review[s], j])
            if len(above) == 0:
                continue
            # The next threshold takes the lowest civic comment of this signal out of review.
            nxt = float(np.nextafter(above[0], np.inf))
            if nxt > top[s]:
                continue
            freed = int((above < nxt).sum())
            cost = recall_lost(s, review[s], nxt) / freed
            if best is None or cost < best[0]:
                best = (cost, s, nxt)
        if best is None:
            break
        review[best[1]] = best[2]
    return review
