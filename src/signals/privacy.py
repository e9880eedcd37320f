"""Personal-data redaction applied before a submitted text (or survey answer) is stored.

``redact(text)`` replaces e-mail addresses, URLs, phone numbers, @handles, street addresses, payment
card numbers, IP addresses and IBANs with a bracketed placeholder (``[EMAIL]``, ``[URL]``, ``[PHONE]``,
``[HANDLE]``, ``[ADDRESS]``, ``[CARD]``, ``[IP]``, ``[IBAN]``) and counts what it replaced. E-mail
addresses and URLs are found by spaCy's tokenizer on a blank English pipeline (its ``like_email`` /
``like_url`` token flags already handle trailing punctuation and bare domains); the rest is matched by
regular expressions over the raw text, because they span several tokens in ways token patterns express
worse than a regex. Card numbers must pass the Luhn check, IBANs their mod-97 check and IP addresses
Python's ``ipaddress`` parser, so ids and amounts stay.

Dates and times (``2025-01-06 10:00:00``, ``06/01/2025 10:00``, ``2025-01-06T10:00Z``) are digit groups
too, but never phone numbers: they are hidden from the phone pattern, so a survey's ``StartDate`` keeps
its time axis.

Street addresses are caught "where feasible": a house number followed by one to four capitalised words
and a street suffix ("12 Elm Street", "400 N. Main St"), the same in lower case with a spelled-out
suffix ("12 elm street"), German-style names ending in -straße, -gasse, -weg, ... before the number
("Hauptstraße 5", "Berliner Straße 12a"), French, Spanish and Italian style ("5 rue de la Paix",
"10 avenida Reforma"), or a PO box. A street name without a number ("traffic on Elm Street") is not
personal data and stays.

The placeholders are plain words in brackets, so the scorer's normaliser leaves them alone and the
model sees a neutral token where the personal data was.

>>> redact("mail jo@example.org or call +1 (555) 010-2030").text
'mail [EMAIL] or call [PHONE]'
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: Every kind of personal data ``redact`` knows, with its placeholder.
PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "url": "[URL]",
    "phone": "[PHONE]",
    "handle": "[HANDLE]",
    "address": "[ADDRESS]",
    "card": "[CARD]",
    "ip": "[IP]",
    "iban": "[IBAN]",
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)

# Phone numbers: optional +country code, then 7-15 digits in groups separated by space, dot, dash or
# parentheses. The look-arounds stop it from eating into longer digit runs (at least 7 digits are
# required, so a plain 4-digit year never matches). Dates and times are masked before it runs.
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:\+\d{1,3}[\s.-]?)?"
    r"(?:\(\d{1,4}\)[\s.-]?)?"
    r"\d{2,4}(?:[\s.-]?\d{2,4}){1,4}"
    r"(?![\w])"
)
_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?(?:[AaPp]\.?[Mm]\.?))?(?:Z|[+-]\d{2}:?\d{2})?"
# ISO dates (optionally with a time), day/month/year or month/day/year (optionally with a time), times.
_DATETIME = re.compile(
    r"(?<![\w.])(?:"
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T\s]" + _TIME + r")?"
    r"|\d{4}[./]\d{1,2}[./]\d{1,2}(?:[T\s]" + _TIME + r")?"
    r"|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}(?:,?\s+" + _TIME + r")?"
    r"|" + _TIME + r")(?![\w.:])"
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|"
    r"Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Close|Crescent|Row|Alley)"
)
# Words that start ordinary phrases ("5 cars on the road"), never a street name in lower case.
_NOT_A_NAME = (
    r"(?!(?:the|a|an|on|in|of|at|to|and|or|my|our|your|his|her|their|its|this|that|these|those|per|for|"
    r"from|with|by|down|up|across|along|every|each|more|less|than|other|new|old|cars?|people|times?|"
    r"minutes?|hours?|days?|weeks?|years?|blocks?|miles?|km|meters?|houses?|kids?|lanes?|streets?)\b)"
)
_ADDRESS = re.compile(
    # US/UK style, capitalised: "12 Elm Street", "400 N. Main St. Apt 5".
    r"\b\d{1,5}[A-Za-z]?,?\s+"
    r"(?:(?:N|S|E|W|North|South|East|West)\.?\s+)?"
    r"(?:[A-Z][\w'-]*\.?\s+){1,4}" + _STREET_SUFFIX + r"\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
    # The same in any case, with a spelled-out suffix and at most two name words: "12 elm street".
    r"|(?i:\b\d{1,5}[a-z]?,?\s+(?:" + _NOT_A_NAME + r"[a-z][\w'-]*\s+){1,2}"
    r"(?:street|avenue|road|boulevard|lane|drive|parkway|highway|crescent|terrace)\b)"
    # German/Dutch/Scandinavian style, the number after the name: "Hauptstraße 5", "Berliner Straße 12a".
    r"|(?i:\b(?-i:[A-ZÄÖÜ][\wäöüß-]*\s+)?[\wäöüß-]*"
    r"(?:straße|strasse|str\.|gasse|weg|allee|platz|damm|ufer|straat|laan|gade|gatan|vej|vägen)"
    r"\s*\d{1,4}(?:\s?[a-z]\b)?)"
    # French/Spanish/Italian/Portuguese style: "5 rue de la Paix", "10 avenida Reforma", "Calle Mayor 7".
    r"|(?i:\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+"
    r"(?:rue|avenue|boulevard|chemin|impasse|allée|quai|calle|avenida|via|viale|piazza|rua)\s+"
    r"(?:(?:de|du|des|la|le|les|l'|d'|del|della|di|do|da)\s*)*[^\W\d_][\w'-]*)"
    r"|(?i:\b(?:calle|avenida|piazza|rua)\s+(?:[^\W\d_][\w'-]*\s+){1,3}\d{1,4}\b)"
    r"|\bP\.?\s?O\.?\s+Box\s+\d+\b",
)
# 13-19 digits, optionally grouped by single spaces or dashes; kept only when the Luhn check passes.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])"
)
# Two letters, two check digits, 11-30 letters or digits, optionally in groups of four.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")


#: Which kind wins when two findings cover the same span: checked formats before the phone pattern.
_TIE_ORDER = ("email", "url", "card", "iban", "ip", "address", "handle", "phone")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits)


def _is_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class RedactionResult:
    """The redacted text and how many of each kind were replaced (kinds with none are left out)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import spacy

    # A blank pipeline is only the rule-based tokenizer: offline, fast, no model files.
    return spacy.blank("en")


def _digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def find_personal_data(text: str, kinds: Iterable[str] = KINDS) -> list[tuple[int, int, str]]:
    """Character spans ``(begin, end, kind)`` of personal data in ``text``, sorted and non-overlapping.

    Where two findings overlap the longer one wins (an e-mail address is not also a handle, a URL's
    digits are not a phone number).
    """
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown personal-data kind(s) {sorted(unknown)}; expected some of {KINDS}")
    found: list[tuple[int, int, str]] = []
    if wanted & {"email", "url"}:
        for tok in _tokenizer()(text):
            if "email" in wanted and tok.like_email:
                found.append((tok.idx, tok.idx + len(tok.text), "email"))
            elif "url" in wanted and tok.like_url and not tok.like_num:
                found.append((tok.idx, tok.idx + len(tok.text), "url"))
    if "address" in wanted:
        found += [(m.start(), m.end(), "address") for m in _ADDRESS.finditer(text)]
    if "phone" in wanted:
        # Dates and times become underscores (same length, so offsets hold): never part of a phone.
        undated = _DATETIME.sub(lambda m: "_" * len(m[0]), text)
        found += [(m.start(), m.end(), "phone") for m in _PHONE.finditer(undated) if 7 <= _digits(m[0]) <= 15]
    if "card" in wanted:
        found += [(m.start(), m.end(), "card") for m in _CARD.finditer(text) if _is_card(m[0])]
    if "ip" in wanted:
        for pattern in (_IPV4, _IPV6):
            found += [(m.start(), m.end(), "ip") for m in pattern.finditer(text) if _is_ip(m[0])]
    if "iban" in wanted:
        found += [(m.start(), m.end(), "iban") for m in _IBAN.finditer(text) if _is_iban(m[0])]
    if "handle" in wanted:
        found += [(m.start(), m.end(), "handle") for m in _HANDLE.finditer(text)]
    # Longest first (a checked kind before a phone number of the same length), then keep spans that do
    # not overlap one already kept.
    found.sort(key=lambda f: (-(f[1] - f[0]), _TIE_ORDER.index(f[2]), f[0]))
    kept: list[tuple[int, int, str]] = []
    for begin, end, kind in found:
        if all(end <= b or begin >= e for b, e, _ in kept):
            kept.append((begin, end, kind))
    return sorted(kept)


def redact(text: str, kinds: Iterable[str] = KINDS) -> RedactionResult:
    """Replace personal data in ``text`` by placeholders; see the module docstring for what is found.

    >>> r = redact("I live at 12 Elm Street, ask @jo_b")
    >>> r.text, r.counts
    ('I live at [ADDRESS], ask [HANDLE]', {'address': 1, 'handle': 1})
    """
    spans = find_personal_data(text, kinds)
    if not spans:
        return RedactionResult(text, {})
    parts: list[str] = []
    pos = 0
    counts: Counter[str] = Counter()
    for begin, end, kind in spans:
        parts.append(text[pos:begin])
        parts.append(PLACEHOLDERS[kind])
        counts[kind] += 1
        pos = end
    parts.append(text[pos:])
    return RedactionResult("".join(parts), dict(counts))


#: Top-level context keys that hold identifiers a survey tool or forum assigned (``2025001``, ``Q3``):
#: a long number there is a record number, not a phone number. Other kinds are still redacted (a
#: respondent id can be an e-mail address).
ID_KEYS: frozenset[str] = frozenset({"respondent_id", "question_id", "external_id"})


def redact_values(value: Any, kinds: Iterable[str] = KINDS) -> tuple[Any, dict[str, int]]:
    """Redact every string inside a JSON-like value (dicts, lists, strings); returns it and the counts.

    Used for submission context and survey respondent metadata, where free text can hide anywhere,
    dictionary keys included (``{"jo@example.org": "called"}``). Two keys that redact to the same text
    are both kept: the second becomes ``"[EMAIL] (2)"``, so nothing is lost. The identifiers under
    ``ID_KEYS`` at the top level keep their digits:

    >>> redact_values({"respondent_id": "2025001", "note": "call 2025001"})[0]
    {'respondent_id': '2025001', 'note': 'call [PHONE]'}
    """
    counts: Counter[str] = Counter()
    kinds = tuple(kinds)
    id_kinds = tuple(k for k in kinds if k != "phone")

    def text(v: str, of: tuple[str, ...] = kinds) -> str:
        result = redact(v, of)
        counts.update(result.counts)
        return result.text

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return text(v)
        if isinstance(v, Mapping):
            out: dict[Any, Any] = {}
            for k, x in v.items():
                key = text(k) if isinstance(k, str) else k
                base, n = key, 1
                while key in out:
                    n += 1
                    key = f"{base} ({n})"
                out[key] = walk(x)
            return out
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return v

    if isinstance(value, Mapping):
        ids = {k: text(v, id_kinds) for k, v in value.items() if k in ID_KEYS and isinstance(v, str)}
        rest = walk({k: v for k, v in value.items() if k not in ids})
        return {**ids, **rest}, dict(counts)
    return walk(value), dict(counts)
