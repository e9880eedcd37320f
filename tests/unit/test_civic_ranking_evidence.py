"""The figures behind issue 15's civic-bar evidence (training/civic_ranking_evidence.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "training" / "civic_ranking_evidence.py"
_SPEC = importlib.util.spec_from_file_location("civic_ranking_evidence", _PATH)
assert _SPEC and _SPEC.loader
evidence = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(evidence)


def test_the_bar_is_the_score_of_the_positive_recall_0_8_must_still_catch():
    # 5 positives: recall 0.8 must catch the 4th (0.4); 20 random negatives at 0.00-0.19.
    civic = np.array([0.9, 0.8, 0.6, 0.4, 0.1] + [i / 100 for i in range(20)])
    labels = np.array([1] * 5 + [0] * 20)
    sample = np.array([False] * 5 + [True] * 20)
    regression = np.array([0.5, 0.4, 0.39, 0.0])
    row = evidence.bar_row("x", 0.5, civic, labels, sample, regression)
    assert row["regression at the bar"] == 2  # 0.5 and 0.4 reach the 4th positive's 0.4
    assert row["random above the bar"] == "0.000"
    # the random draw's top 5 % starts at its 95th percentile (0.1805): four positives are above it
    assert row["positives in the top 5%"] == "4/5"
    assert row["civic AUC"] == "0.905"  # the 5th positive (0.1) is under 9.5 of 20 negatives


def test_a_civic_set_without_positives_is_an_error():
    with pytest.raises(ValueError, match="positives"):
        evidence.bar_row("x", 0.5, np.zeros(3), np.zeros(3, int), np.ones(3, bool), np.zeros(2))
