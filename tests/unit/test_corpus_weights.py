from pathlib import Path

import numpy as np
import pytest

from signals.models.transformer import corpus_weights

CIVIC = Path(__file__).resolve().parents[1] / "fixtures" / "civic"


def test_rarer_corpora_weigh_more_per_row_and_mean_is_one() -> None:
    sources = np.array(["big"] * 16 + ["small"] * 4)
    w = corpus_weights(sources, 0.5)
    assert w.mean() == pytest.approx(1.0)
    # n ** -0.5: a row of the 4-row corpus weighs twice a row of the 16-row corpus
    assert w[-1] / w[0] == pytest.approx(2.0)


def test_factor_scales_one_corpus_before_rescaling() -> None:
    sources = np.array(["big"] * 16 + ["small"] * 4)
    w = corpus_weights(sources, 0.5, {"small": 3.0})
    assert w.mean() == pytest.approx(1.0)
    assert w[-1] / w[0] == pytest.approx(6.0)


def test_negative_factor_refused_absent_corpus_warned(caplog: pytest.LogCaptureFixture) -> None:
    sources = np.array(["a", "b"])
    with pytest.raises(ValueError, match="must not be negative"):
        corpus_weights(sources, 0.5, {"a": -1.0})
    # A dataset built without that corpus still trains (the config is shared), with a warning.
    w = corpus_weights(sources, 0.5, {"c": 2.0})
    assert w.tolist() == pytest.approx([1.0, 1.0])
    assert "not in the training rows ['c']" in caplog.text


def test_sampling_keeps_every_analyst_label() -> None:
    from signals.models.transformer_data import KEPT_SOURCES, _sample_rows
    from signals.triage.export import LABEL_SOURCE

    assert frozenset({LABEL_SOURCE}) == KEPT_SOURCES
    sources = np.array(["big"] * 800 + ["small"] * 200 + ["analyst"] * 10)
    rows = _sample_rows(sources, 100, np.random.default_rng(0), KEPT_SOURCES)
    picked = sources[rows]
    # the corpora shrink in proportion to the limit; the analysts' labels come on top, all of them
    assert (picked == "big").sum() == 80 and (picked == "small").sum() == 20
    assert (picked == "analyst").sum() == 10 and len(set(rows)) == len(rows) == 110
    # without kept sources they would be sampled down like a corpus
    assert (sources[_sample_rows(sources, 101, np.random.default_rng(0))] == "analyst").sum() == 1


def test_weak_civic_negatives_that_name_a_group_weigh_more() -> None:
    from signals.models.transformer_data import civic_negative_weights

    texts = ["Fix the potholes.", "I identify as a Muslim woman.", "Refugees are welcome here."]
    assert civic_negative_weights(texts, 1.0).tolist() == [1.0, 1.0, 1.0]
    assert civic_negative_weights(texts, 0.5, 4.0).tolist() == [0.5, 2.0, 2.0]


def test_weak_civic_negatives_label_only_the_signals_named() -> None:
    from corpus_fixtures import corpora_dir
    from signals.models.transformer import TransformerConfig
    from signals.models.transformer_data import civic_negative_rows
    from signals.schema import SIGNALS

    files = {"dev_labels": CIVIC / "labels.csv", "train_labels": CIVIC / "train_labels.csv"}
    texts, labels, _ = civic_negative_rows(str(corpora_dir()), **files)
    assert texts and (labels == [0 if s in ("hate", "threat") else -1 for s in SIGNALS]).all()
    _, labels, _ = civic_negative_rows(str(corpora_dir()), ["hate", "threat", "polarization"], **files)
    assert (labels[:, SIGNALS.index("polarization")] == 0).all()
    assert (labels[:, SIGNALS.index("offensive")] == -1).all()
    with pytest.raises(ValueError, match="civic_negative_signals names unknown"):
        TransformerConfig.from_dict({"civic_negative_signals": ["hate", "toxicity"]})


def test_civic_training_labels_keep_all_four_signals() -> None:
    from corpus_fixtures import corpora_dir
    from signals.models.transformer_data import civic_labelled_rows

    texts, labels, targets = civic_labelled_rows(
        str(corpora_dir()), CIVIC / "train_labels.csv", CIVIC / "labels.csv"
    )
    assert len(texts) == 2 and texts[0].startswith("Thank you to the library staff")
    assert (labels == 0).all() and (targets == -1).all()
