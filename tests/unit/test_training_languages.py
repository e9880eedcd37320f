"""Which signals a routed language scores: training labels, validation labels and withheld signals."""

from __future__ import annotations

import pytest
from datasets import Dataset

from signals.schema import SIGNALS, TARGET_COLUMNS, UNKNOWN
from signals.training import TrainConfig, polar_hate_labels, signals_by_language, withhold


def rows(lang: str, hate: list[int], polarization: list[int]) -> dict[str, list[object]]:
    n = len(hate)
    columns: dict[str, list[object]] = {"lang": [lang] * n, "source": ["polar-semeval2026"] * n}
    for s in SIGNALS:
        columns[s] = hate if s == "hate" else polarization if s == "polarization" else [UNKNOWN] * n
    for t in TARGET_COLUMNS:
        columns[t] = [0] * n
    return columns


def test_a_signal_needs_both_classes_in_validation() -> None:
    config = TrainConfig(languages=["de"], min_signal_labels=4, min_signal_positives=2)
    # German hate from weak training-only labels: enough in training, none in validation.
    train = Dataset.from_dict(rows("de", [1, 1, 0, 0], [1, 1, 0, 0]))
    validation = Dataset.from_dict(rows("de", [UNKNOWN, UNKNOWN], [1, 0]))
    assert signals_by_language(config, train) == {"de": ["hate", "polarization"]}
    assert signals_by_language(config, train, validation) == {"de": ["polarization"]}


def test_withheld_signals_leave_the_manifest_with_their_reason() -> None:
    served, extra = withhold(
        {"ar": ["hate", "offensive"], "es": ["hate"]}, {"run_id": "x"}, {"ar": {"hate": "why"}}
    )
    assert served == {"ar": ["offensive"], "es": ["hate"]}
    assert extra == {"run_id": "x", "not_scored": {"ar": {"hate": "why"}}}
    with pytest.raises(ValueError, match="unknown signals"):
        withhold({}, {}, {"ar": {"hateful": "typo"}})


def test_polar_hate_labels_only_touch_polar_rows_without_hate() -> None:
    data = rows("ar", [UNKNOWN, UNKNOWN, UNKNOWN], [1, 1, 0])
    data["target_religion"] = [1, 0, 0]
    labelled = polar_hate_labels(Dataset.from_dict(data), ["religion"])
    assert list(labelled["hate"]) == [1, UNKNOWN, 0]
    with pytest.raises(ValueError, match="unknown targets"):
        polar_hate_labels(Dataset.from_dict(data), ["migrants"])
