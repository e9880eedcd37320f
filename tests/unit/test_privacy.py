"""Redaction of personal data before storage: what is caught, what is left alone."""

from __future__ import annotations

import pytest

from signals.privacy import KINDS, find_personal_data, redact, redact_values


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("write to jo.lee@example.org today", "write to [EMAIL] today", {"email": 1}),
        ("see https://example.com/a?b=1. and www.city.gov", "see [URL]. and [URL]", {"url": 2}),
        ("call +1 (555) 010-2030 or 555-201-3344", "call [PHONE] or [PHONE]", {"phone": 2}),
        ("UK: +44 20 7946 0958", "UK: [PHONE]", {"phone": 1}),
        ("thanks @jo_b and @city.council", "thanks [HANDLE] and [HANDLE]", {"handle": 2}),
        ("I live at 42 Maple Avenue, come by", "I live at [ADDRESS], come by", {"address": 1}),
        ("Visit 400 N. Main St. Apt 5 today", "Visit [ADDRESS] today", {"address": 1}),
        ("write to PO Box 123", "write to [ADDRESS]", {"address": 1}),
    ],
)
def test_redacts_each_kind(text: str, expected: str, counts: dict[str, int]) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.counts == counts
    assert result.total == sum(counts.values())


@pytest.mark.parametrize(
    "text",
    [
        "Traffic on Elm Street has been bad since 2019.",
        "The meeting is on 2024-05-12 at 10:30, rated 3.5 of 5.",
        "Those people are destroying our city.",
        "Turnout was 12,500 people in 2023",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text).text == text
    assert redact(text).counts == {}


def test_email_is_not_also_a_handle_or_url() -> None:
    spans = find_personal_data("mail ana@example.org now")
    assert [kind for _, _, kind in spans] == ["email"]


def test_kinds_can_be_chosen() -> None:
    text = "mail ana@example.org or call 555-201-3344"
    assert redact(text, kinds=["phone"]).text == "mail ana@example.org or call [PHONE]"
    with pytest.raises(ValueError, match="unknown personal-data kind"):
        redact(text, kinds=["ssn"])
    assert set(KINDS) == {"email", "url", "phone", "handle", "address"}


def test_redact_values_walks_nested_context() -> None:
    value = {"question": "Q1", "respondent": {"email": "a@b.org", "notes": ["call 555-201-3344", 3]}}
    cleaned, counts = redact_values(value)
    assert cleaned == {"question": "Q1", "respondent": {"email": "[EMAIL]", "notes": ["call [PHONE]", 3]}}
    assert counts == {"email": 1, "phone": 1}
