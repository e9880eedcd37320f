"""Personal-data redaction applied before a submitted text (or survey answer) is stored.

``redact(text)`` replaces e-mail addresses, URLs, phone numbers, @handles and street addresses with a
bracketed placeholder (``[EMAIL]``, ``[URL]``, ``[PHONE]``, ``[HANDLE]``, ``[ADDRESS]``) and counts
what it replaced. E-mail addresses and URLs are found by spaCy's tokenizer on a blank English
pipeline (its ``like_email`` / ``like_url`` token flags already handle trailing punctuation and
bare domains); phone numbers, handles and street addresses are matched by regular expressions over the
raw text, because they span several tokens in ways token patterns express worse than a regex.

Street addresses are caught "where feasible": a house number followed by one to four capitalised words
and a street suffix ("12 Elm Street", "400 N. Main St"), or a PO box. A street name without a number
("traffic on Elm Street") is not personal data and stays.

The placeholders are plain words in brackets, so the scorer's normaliser leaves them alone and the
model sees a neutral token where the personal data was.

>>> redact("mail jo@example.org or call +1 (555) 010-2030").text
'mail [EMAIL] or call [PHONE]'
"""

from __future__ import annotations

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
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)

# Phone numbers: optional +country code, then 7-15 digits in groups separated by space, dot, dash or
# parentheses. The look-arounds stop it from eating into longer digit runs (ids, dates are not phones:
# at least 7 digits are required and a plain 4-digit year never matches).
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:\+\d{1,3}[\s.-]?)?"
    r"(?:\(\d{1,4}\)[\s.-]?)?"
    r"\d{2,4}(?:[\s.-]?\d{2,4}){1,4}"
    r"(?![\w])"
)
# Dates look like digit groups too; a phone candidate that is a date is left alone.
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Terrace|"
    r"Square|Sq|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Close|Crescent|Row|Alley)"
)
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+"
    r"(?:(?:N|S|E|W|North|South|East|West)\.?\s+)?"
    r"(?:[A-Z][\w'-]*\.?\s+){1,4}" + _STREET_SUFFIX + r"\b\.?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Unit|#)\.?\s*\w+)?"
    r"|\bP\.?\s?O\.?\s+Box\s+\d+\b",
)


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
        found += [
            (m.start(), m.end(), "phone")
            for m in _PHONE.finditer(text)
            if 7 <= _digits(m[0]) <= 15 and not _DATE.fullmatch(m[0])
        ]
    if "handle" in wanted:
        found += [(m.start(), m.end(), "handle") for m in _HANDLE.finditer(text)]
    # Longest first, then keep spans that do not overlap one already kept.
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
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


def redact_values(value: Any, kinds: Iterable[str] = KINDS) -> tuple[Any, dict[str, int]]:
    """Redact every string inside a JSON-like value (dicts, lists, strings); returns it and the counts.

    Used for submission context and survey respondent metadata, where free text can hide anywhere.
    Dictionary keys are left as they are (they are field names, not data).
    """
    counts: Counter[str] = Counter()
    kinds = tuple(kinds)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            result = redact(v, kinds)
            counts.update(result.counts)
            return result.text
        if isinstance(v, Mapping):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return v

    return walk(value), dict(counts)
