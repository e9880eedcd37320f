"""Long text: a hateful sentence at the end of a ~2,000-word benign comment must be found and located.

The scorer splits long text into sentence windows (``signals.scoring.windows``) and takes the maximum
per signal; the window carrying the sentence is the first evidence span. Checked with the keyword test
model (mechanics) and with the shipped champion in ``models/default`` (the real thing).
"""

from __future__ import annotations

import pytest

from signals.scoring import DEFAULT_MODEL_DIR, Scorer, load_scorer

BENIGN = [
    "The library opening hours on weekends are too short for working parents.",
    "I would like more bike lanes on the road to the train station, because it feels unsafe at rush hour.",
    "Thank you to the staff at the community centre, who were friendly and patient with my questions.",
    "The new recycling schedule is confusing and the leaflet did not explain which bin goes out when.",
    "Our street lights have been broken for three weeks, and nobody answered the two reports we sent.",
    "Parking near the clinic is expensive, so many older residents simply skip their appointments.",
    "The park renovation looks great, although the playground could use more shade in summer.",
    "Please publish the council meeting minutes sooner, since people want to follow the budget debate.",
    "Bus number 14 is often late in the morning and the timetable at the stop is out of date.",
    "I appreciated the online form, but it logged me out twice before I could submit my answer.",
]
HATEFUL = "Those immigrants are vermin and should all be deported."


def long_comment() -> tuple[str, int]:
    """About 2,000 benign words followed by the hateful sentence; returns (text, its offset)."""
    parts: list[str] = []
    words = 0
    i = 0
    while words < 2000:
        sentence = BENIGN[i % len(BENIGN)]
        parts.append(sentence)
        words += len(sentence.split())
        i += 1
    benign = " ".join(parts)
    text = f"{benign} {HATEFUL}"
    return text, len(benign) + 1


def _assert_located(scorer: Scorer) -> None:
    text, offset = long_comment()
    assert len(text.split()) >= 2000
    score = scorer.score(text, spans=True)
    assert score.review["hate"], score.scores
    top = score.spans[0]
    assert top.begin <= offset and top.end >= offset + len(HATEFUL), (top, offset)
    assert top.scores["hate"] == pytest.approx(score.scores["hate"])
    # Without the final sentence the same comment is not sent to review for hate.
    benign_score = scorer.score(text[: offset - 1])
    assert not benign_score.review["hate"], benign_score.scores


def test_keyword_model_finds_the_last_sentence(fake_scorer: Scorer) -> None:
    _assert_located(fake_scorer)


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "signals.json").is_file(), reason="no shipped champion")
def test_shipped_champion_finds_the_last_sentence() -> None:
    scorer = load_scorer(DEFAULT_MODEL_DIR)
    assert scorer.window_chars <= 1000
    _assert_located(scorer)
