"""Normalisation: cleanup, de-obfuscation of evasion tricks, and no damage to ordinary text."""

from __future__ import annotations

import pytest

from signals.normalize import deobfuscate, explain, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT @someone: Hello&amp;world https://t.co/x", "RT @user: Hello&world @url"),
        ("zero\u200bwidth\u200d joiners\ufeff", "zerowidth joiners"),
        ("tabs\tand\x07bells\nnewlines", "tabs and bells newlines"),
        ("\uff48\uff41\uff54\uff45 full width", "hate full width"),  # NFKC folds full-width letters
        ("\U0001d421\U0001d41a\U0001d42d\U0001d41e", "hate"),  # mathematical bold
    ],
)
def test_cleanup(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("k i l l them all", "kill them all"),
        ("k.i.l.l them", "kill them"),
        ("d-u-m-b people", "dumb people"),
        ("you 1d10t", "you idiot"),
        ("ban all m*slims", "ban all muslims"),
        ("f**k you", "fuck you"),
        ("what a b!tch", "what a bitch"),
        ("sh!t happens!", "shit happens!"),
        ("r3t4rd", "retard"),
        ("kiiiiill them", "kill them"),
        ("you are \u0430n \u0456di\u043et", "you are an idiot"),  # Cyrillic а, і, о inside Latin words
        ("\u0399\u0394\u0399\u039fT", "I\u0394IOT"),  # Greek capitals folded where they look Latin
        ("\u0455tu\u0440id", "stupid"),  # Cyrillic ѕ and р
    ],
)
def test_deobfuscation(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Call me on 555-0100 or write to jo.d0e@example.com.",
        "I'm fine, you're fine, it's 3pm and I paid $100 (or 99.50 EUR).",
        "covid19 cases in 2020, mp3 files, b2b sales, a 4x4 car, the 80s, 24/7 service",
        "Plan B is fine; see e.g. Dr. A. B. Smith's report, grade A+ work in C++ and C#.",
        "Idiot! is a word too, as is sooooo good",
        "Кот сидит на окне",  # real Russian stays Russian
        "Η γάτα κάθεται",  # real Greek stays Greek
        "1 2 3 go, 5 stars, room 4b",
        "We love our trans and gay neighbours, and our Muslim and Jewish friends.",
    ],
)
def test_ordinary_text_is_not_damaged(text: str) -> None:
    assert deobfuscate(text) == text


def test_explain_lists_changes() -> None:
    text, changes = explain("k i l l the 1d10ts")
    assert text == "kill the idiots"
    assert [(c.original, c.replacement, c.kind) for c in changes] == [
        ("k i l l", "kill", "spacing"),
        ("1d10ts", "idiots", "leet"),
    ]


@pytest.mark.parametrize("text", ["you 1d10t", "k i l l all m*slims", "plain text, nothing to do"])
def test_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
