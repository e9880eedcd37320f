"""Schema validation, calibration and operating points, and the scorer's windows and spans."""

from __future__ import annotations

import numpy as np
import pytest

from signals.calibration import apply_calibrator, choose_thresholds, fit_calibrator
from signals.schema import DATASET_COLUMNS, SIGNALS, UNKNOWN, Record
from signals.scoring import Scorer, priority, windows


def test_record_masks_unknown_and_round_trips() -> None:
    rec = Record(id="x-1", text="hi", source="test", labels={"hate": 1}, targets={"religion": 0})
    assert rec.labels == {"hate": 1, "threat": UNKNOWN, "offensive": UNKNOWN, "polarization": UNKNOWN}
    row = rec.to_row()
    assert list(row) == list(DATASET_COLUMNS)
    assert Record.from_row(row) == rec


@pytest.mark.parametrize(("labels", "message"), [({"hat": 1}, "unknown signal"), ({"hate": 2}, "must be -1")])
def test_record_rejects_bad_labels(labels: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Record(id="x", text="t", source="s", labels=labels)


def test_calibration_is_monotone_and_thresholds_meet_targets() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    raw = np.clip(0.35 * y + rng.normal(0.3, 0.2, 2000), 0, 1)
    cal = fit_calibrator(y, raw)
    p = apply_calibrator(cal, raw)
    order = np.argsort(raw)
    assert np.all(np.diff(p[order]) >= -1e-9)
    t = choose_thresholds(y, p, target_recall=0.9, target_precision=0.8)
    assert t["review"] <= t["flag"]
    assert (p[y == 1] >= t["review"]).mean() >= 0.9
    flagged = p >= t["flag"]
    assert y[flagged].mean() >= 0.8
    assert (
        apply_calibrator(None, raw) is not None and fit_calibrator(np.ones(5), raw[:5])["kind"] == "identity"
    )


def test_priority_prefers_risk_then_uncertainty() -> None:
    p = np.array([[0.95, 0, 0, 0], [0.5, 0, 0, 0], [0.02, 0, 0, 0]])
    pr = priority(p)
    assert pr[0] > pr[1] > pr[2]


def test_windows_cover_text_and_respect_size() -> None:
    text = " ".join(f"Sentence number {i} is about the park." for i in range(200))
    wins = windows(text, 300)
    assert all(e - b <= 300 for b, e in wins)
    assert wins[0][0] == 0 and wins[-1][1] == len(text)
    assert all(a[1] <= b[0] for a, b in zip(wins, wins[1:], strict=False))


def test_hateful_sentence_at_end_of_long_text_is_flagged_with_span(fake_scorer: Scorer) -> None:
    benign = " ".join(
        "The council should fix the library roof and extend the opening hours." for _ in range(180)
    )
    hateful = "Refugees are vermin."
    text = f"{benign} {hateful}"
    assert len(text.split()) > 2000
    res = fake_scorer.score(text, spans=True)
    assert res.flags["hate"]
    top = res.spans[0]
    assert hateful in text[top.begin : top.end]
    assert top.scores["hate"] >= 0.5
    # Without spans requested, long text is still windowed and flagged.
    assert fake_scorer.score(text).flags["hate"]


def test_score_answers_in_the_shape_asked(fake_scorer: Scorer) -> None:
    one = fake_scorer.score("you idiot")
    many = fake_scorer.score(["you idiot", "nice park"])
    assert one.flags["offensive"] and isinstance(many, list) and len(many) == 2
    assert not many[1].flags["offensive"] and set(one.scores) == set(SIGNALS)
    assert fake_scorer.score([]) == []


def test_long_text_is_scored_sentence_by_sentence(fake_scorer: Scorer) -> None:
    # Packed windows would put the last sentence together with its benign neighbours.
    benign = " ".join(f"The bus on route {i} was late again this morning." for i in range(40))
    text = f"{benign} Refugees are vermin."
    spans = fake_scorer.score(text, spans=True).spans
    assert len(spans) == 41
    assert text[spans[0].begin : spans[0].end] == "Refugees are vermin."
    # A text that fits in one window keeps one span, the whole text.
    short = "The bus was late. Refugees are vermin."
    assert [(sp.begin, sp.end) for sp in fake_scorer.score(short, spans=True).spans] == [(0, len(short))]


def test_unpacked_windows_are_the_sentences() -> None:
    text = "One short sentence. " * 5 + "x" * 120
    assert windows(text, 50, pack=False)[:5] == windows(text.strip(), 20)[:5]
    assert len(windows(text, 50, pack=False)) == 5 + 3  # the 120-character sentence cut in three


@pytest.mark.parametrize(
    "text",
    [
        "Fix the road. Thanks!",
        "  leading and trailing spaces.  ",
        "Line one\nline two.\n\n",
        "\u00a0non-breaking\u2003spaces\u3000around\u00a0",
        "   ",
        "",
        "One.Two? Three!\tFour\u2026 five",
    ],
)
def test_a_text_that_fits_one_window_is_its_sentences_packed(text: str) -> None:
    from signals.scoring import sentence_spans

    sentences = sentence_spans(text)
    packed = [(sentences[0][0], sentences[-1][1])] if sentences else []
    assert windows(text, max(len(text), 1)) == packed


def test_short_texts_are_scored_without_loading_spacy() -> None:
    import subprocess
    import sys

    child = (
        "import sys\n"
        "from signals.scoring import windows\n"
        "assert windows('Fix the road. Thanks!', 100) == [(0, 21)]\n"
        "assert 'spacy' not in sys.modules\n"
        "windows('Fix the road. Thanks! ' * 10, 100)\n"
        "assert 'spacy' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
