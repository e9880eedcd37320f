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
    assert set(KINDS) == {"email", "url", "phone", "handle", "address", "card", "ip", "iban"}


def test_redact_values_walks_nested_context() -> None:
    value = {"question": "Q1", "respondent": {"email": "a@b.org", "notes": ["call 555-201-3344", 3]}}
    cleaned, counts = redact_values(value)
    assert cleaned == {"question": "Q1", "respondent": {"email": "[EMAIL]", "notes": ["call [PHONE]", 3]}}
    assert counts == {"email": 1, "phone": 1}


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        # Payment cards: Luhn-valid, 13-19 digits, grouped by spaces or dashes or not at all.
        ("card 4111 1111 1111 1111 thanks", "card [CARD] thanks", {"card": 1}),
        ("paid with 5500-0000-0000-0004.", "paid with [CARD].", {"card": 1}),
        ("amex 378282246310005", "amex [CARD]", {"card": 1}),
        # IP addresses, v4 and v6.
        ("logged from 192.168.1.20.", "logged from [IP].", {"ip": 1}),
        ("v6 2001:db8::8a2e:370:7334 or ::1 here", "v6 [IP] or [IP] here", {"ip": 2}),
        # IBANs, grouped or not; the mod-97 check decides.
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please", {"iban": 1}),
        ("to GB82WEST12345698765432", "to [IBAN]", {"iban": 1}),
        # Street addresses in lower case and outside the US.
        ("I live at 12 elm street now", "I live at [ADDRESS] now", {"address": 1}),
        (
            "Wir wohnen in der Hauptstraße 5 seit Jahren",
            "Wir wohnen in der [ADDRESS] seit Jahren",
            {"address": 1},
        ),
        ("Berliner Straße 12a, Hinterhaus", "[ADDRESS], Hinterhaus", {"address": 1}),
        ("j'habite au 5 rue de la Paix depuis", "j'habite au [ADDRESS] depuis", {"address": 1}),
    ],
)
def test_redacts_cards_ips_ibans_and_more_addresses(text: str, expected: str, counts: dict[str, int]) -> None:
    result = redact(text)
    assert result.text == expected
    assert result.counts == counts


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-06 10:00:00",
        "Started 2025-01-06 10:00:00, ended 2025-01-06T10:25:13Z",
        "06/01/2025 10:00",
        "on 06.01.2025, 10:00 and 1/6/25",
        "2025/01/06 09:30",
        "order 4111 1111 1111 1112 is not a card (Luhn fails)",
        "5 cars on the road, 3 people in the lane, during 5 years",
        "It took 10:30 minutes; version 3.11 of the plan",
    ],
)
def test_dates_times_and_near_misses_stay(text: str) -> None:
    assert redact(text).text == text


def test_a_phone_number_next_to_a_date_is_still_redacted() -> None:
    assert redact("2025-01-06 10:00 call 555-201-3344").text == "2025-01-06 10:00 call [PHONE]"
    assert redact("2025-01-06 555-201-3344").text == "2025-01-06 [PHONE]"


def test_qualtrics_meta_keeps_its_time_axis() -> None:
    meta = {"StartDate": "2025-01-06 10:00:00", "EndDate": "06/01/2025 10:04", "Phone": "555-201-3344"}
    cleaned, counts = redact_values(meta)
    assert cleaned == {"StartDate": "2025-01-06 10:00:00", "EndDate": "06/01/2025 10:04", "Phone": "[PHONE]"}
    assert counts == {"phone": 1}


def test_redact_values_redacts_keys_and_loses_nothing() -> None:
    value = {"jo@example.org": "called back", "ana@example.org": {"555-201-3344": "mobile"}, "ward": "3"}
    cleaned, counts = redact_values(value)
    assert cleaned == {"[EMAIL]": "called back", "[EMAIL] (2)": {"[PHONE]": "mobile"}, "ward": "3"}
    assert counts == {"email": 2, "phone": 1}


def test_feedback_is_stored_redacted(database_url: str) -> None:
    from datetime import timedelta

    from signals.db import migrate
    from signals.feedback import count_feedback, load_feedback, store_feedback

    url = database_url
    migrate(url)
    store_feedback(
        "Mail jo@example.org or call 555-201-3344, idiot\x00", {"TOXICITY": 1.0}, source="test", url=url
    )
    [row] = load_feedback(url)
    assert row["text"] == "Mail [EMAIL] or call [PHONE], idiot\ufffd"  # no NUL: PostgreSQL refuses it
    assert row["scores"] == {"TOXICITY": 1.0} and row["created"].utcoffset() == timedelta(0)
    assert count_feedback(url) == 1


def test_record_identifiers_keep_their_digits_but_not_their_emails() -> None:
    # A survey tool's 7-digit respondent id is a record number; redacted as a phone number it could no
    # longer match a spreadsheet of decisions keyed by respondent and question.
    context = {
        "respondent_id": "2025001",
        "question_id": "5551234567",
        "meta": {"respondent_id": "0151 496 0000"},
        "note": "ring 2025001",
    }
    out, counts = redact_values(context)
    assert out["respondent_id"] == "2025001" and out["question_id"] == "5551234567"
    assert out["meta"]["respondent_id"] == "[PHONE]" and out["note"] == "ring [PHONE]"
    assert counts == {"phone": 2}
    out, counts = redact_values({"respondent_id": "jo@example.org"})
    assert out == {"respondent_id": "[EMAIL]"} and counts == {"email": 1}
