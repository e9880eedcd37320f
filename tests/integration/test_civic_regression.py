"""The shipped model on ordinary civic text: the team's regression sentences and the plateau check.

``signals/functional/civic_regression.tsv`` (``suite.regression_rows``) holds 343 sentences written by
the team, not by the authors of the augmentation templates and not from templates: service complaints
("Too many potholes."), praise, policy opinions with and without group words, reports of hate
experienced, safety concerns. None carries hate or a threat, so none may reach ``review`` for either:
each would be an analyst's wasted read, and a pothole complaint ranked as hate is how the previous model
lost its users' trust. Every evaluation counts them (``civic_regression_<signal>_reviewed``) and the
promotion gate never lets a model with more of them replace the shipped one.

The shipped model (``minilm3.v9+11af80c0``, beta calibration, fp32 heads) passes the threat and the
plateau checks. Ten sentences still reach ``review`` for hate (issue 15, docs/minilm.md "Civic
training labels"), and so do 9 of the functional suite's 14 plural group names said alone ("Muslims"),
so those two checks are strict expected failures: each turns into a failure the day a model that
passes it is shipped, and its marker must then go.
"""

from __future__ import annotations

import numpy as np
import pytest

from signals.functional.suite import regression_reviewed, regression_rows
from signals.schema import SIGNALS
from signals.scoring import DEFAULT_MODEL_DIR, Scorer, load_scorer

CATEGORIES = {
    "service_complaint",
    "praise",
    "policy_opinion_no_groups",
    "policy_opinion_with_groups",
    "reported_hate",
    "safety_concern",
}


@pytest.fixture(scope="module")
def shipped() -> Scorer:
    if not (DEFAULT_MODEL_DIR / "signals.json").is_file():
        pytest.fail(f"no shipped model in {DEFAULT_MODEL_DIR}")
    return load_scorer(DEFAULT_MODEL_DIR)


def test_regression_set_is_what_it_claims() -> None:
    rows = regression_rows()
    assert len(rows) >= 300
    assert {r["category"] for r in rows} == CATEGORIES
    texts = [r["text"].strip().lower() for r in rows]
    assert len(set(texts)) == len(texts), "duplicate regression sentences"


SHIPPED_FAILS = pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 15: 10 regression sentences reach review for hate with minilm3.v9",
)


@pytest.mark.parametrize("signal", [pytest.param("hate", marks=SHIPPED_FAILS), "threat"])
def test_no_civic_regression_sentence_reaches_review(shipped: Scorer, signal: str) -> None:
    hits = regression_reviewed(shipped)[signal]
    threshold = shipped.info.thresholds["review"][signal]
    assert not hits, f"{len(hits)} sentences reach review for {signal} (>= {threshold:.3f}): {hits[:10]}"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 15: 9 of the suite's 14 plural group names reach review for hate with minilm3.v9",
)
def test_an_answer_that_only_names_a_group_is_not_hate(shipped: Scorer) -> None:
    # A survey asking who is most affected gets answers such as "Muslims" or "Jewish people": no
    # hate. The suite's groups (``EVAL_GROUPS``), which no augmentation template names, alone.
    from signals.functional.common import EVAL_GROUPS

    names = [group.plural for group in EVAL_GROUPS]
    p = shipped.predict_proba(names)[:, SIGNALS.index("hate")]
    threshold = shipped.info.thresholds["review"]["hate"]
    hits = sorted(
        ((float(q), name) for q, name in zip(p, names, strict=True) if q >= threshold), reverse=True
    )
    assert not hits, f"{len(hits)} group names alone reach review for hate (>= {threshold:.3f}): {hits}"


def distinct_texts(n: int = 1000) -> list[str]:
    """``n`` distinct, ordinary texts: the regression sentences, then pairs of them."""
    base = [r["text"] for r in regression_rows()]
    texts = list(base)
    step = 1
    while len(texts) < n:  # each sentence followed by the one `step` places on: distinct pairs
        texts += [f"{a} {base[(i + step) % len(base)]}" for i, a in enumerate(base)]
        step += 1
    texts = texts[:n]
    assert len(set(texts)) == len(texts)
    return texts


def test_scores_have_no_plateaus(shipped: Scorer) -> None:
    # Step-wise (isotonic) calibration put many different answers on exactly the same probability, so
    # triage priority could not order them and a threshold on a step moved whole blocks of answers.
    # Compared at 6 significant digits, the precision the issue saw plateaus at (0.640184, 0.812629).
    texts = distinct_texts(1000)
    probs = shipped.predict_proba(texts)
    for j, signal in enumerate(SIGNALS):
        values = significant(probs[:, j])
        shared = len(values) - len(np.unique(values))
        assert shared / len(values) < 0.01, f"{signal}: {shared} of {len(values)} texts share a probability"
    priorities = significant(np.array([s.priority for s in shipped.score(texts)]))
    assert (len(priorities) - len(np.unique(priorities))) / len(priorities) < 0.01


def significant(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits."""
    return np.array([float(f"{v:.{digits}g}") for v in values])
