"""Text cleanup shared by training and serving: the one place text is normalised.

Applied to every text before a model sees it, at training and at scoring time, so both see the same
distribution.
"""

from __future__ import annotations

import html
import re
import unicodedata

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Normalise one text: HTML entities, Unicode NFKC, zero-width/control characters, URLs, mentions.

    >>> normalize("RT @user: Hello&amp;\u200bworld https://t.co/x")
    'RT @user: Hello&world @url'
    """
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _MENTION.sub("@user", text)
    text = _URL.sub("@url", text)
    return _WS.sub(" ", text).strip()
