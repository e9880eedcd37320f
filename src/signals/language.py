"""Language identification: ``detect(text)`` names the language of every text the project scores.

The identifier is py3langid (a naive Bayes over byte n-grams; its model ships inside the wheel, nothing
is downloaded), restricted to ``LANGUAGES``: the languages the shared corpora hold that it tells apart
on them (docs/languages.md has the figures), plus French. Its answer goes through fixed rules, so an
English answer is never routed away from English:

* **script**: a text whose letters are mostly in a non-Latin script is never English. Arabic-script
  text that is short or uncertain is Arabic; other scripts take the identifier's best language.
* **other scripts** (rule ``script``): a text written mostly in a script that none of ``LANGUAGES``
  uses (``OTHER_SCRIPTS``) gets that script's language, whatever its length, instead of the
  identifier's nearest guess (it read Burmese and Thai as Khmer and Korean as Chinese, and they were
  scored as such). Burmese (``my``, Myanmar letters) is scored by the polarization route; the others
  (Thai ``th``, Korean ``ko``, Japanese kana ``ja``, Hebrew, Greek, Tamil, Georgian, ...) no model
  scores. Punjabi in Gurmukhi gets ``pa-Guru``: the Punjabi model reads Shahmukhi (Arabic script) only.
* **short**: fewer than ``MIN_LETTERS`` letters ("No.", "More trees.") cannot be told apart: the
  deployment's default language (``DEFAULT_LANGUAGE``, English).
* **capitals**: text written mostly in capitals is lower-cased before identification (capitals are
  rare in the identifier's training text and pull English towards other languages).
* **mixed**: a mixed-language text gets one language, the one of the majority of the text: the
  identifier sums the evidence of every n-gram of the whole text, so the language of most of its
  letters wins; when the parts are balanced the confidence is low and the next rule applies.
* **Hausa** (rule ``words``): the identifier does not know Hausa either (it reads it as English or
  Swahili). A text of which at least ``HAUSA_SHARE`` of the words, two different ones at least, are
  Hausa function words (``HAUSA_WORDS``, short words English seldom uses) is Hausa. Code-switched
  posts that are mostly English stay English (docs/languages.md has the rule's figures per corpus).
* **uncertain**: the identifier's confidence (its probability over ``LANGUAGES``) under
  ``MIN_CONFIDENCE`` gives the default language.
* **identified**: otherwise, the identifier's language.

>>> detect("Los inmigrantes son una plaga y hay que echarlos.").language
'es'
>>> detect("THE BUS IS ALWAYS LATE AND NOBODY CARES").language
'en'
>>> detect("No.")
Detection(language='en', confidence=0.0, rule='short')

``python -m signals.language --measure`` measures the identifier on the shared corpora and the Polis
comments (their language is known) and prints the table of docs/languages.md.
"""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The language a text gets when it cannot be told (short, uncertain): the deployment's language.
DEFAULT_LANGUAGE = "en"

#: Languages the identifier chooses among (ISO 639-1). Left out, though a corpus holds them: Hausa and
#: Burmese (py3langid does not know them; the rules ``words`` and ``script`` tell them) and Punjabi (the
#: POLAR rows are in Shahmukhi, read as Urdu: Punjabi is scored only when the caller says so).
LANGUAGES: tuple[str, ...] = (
    "en", "es", "ar", "de", "fr", "it", "pl", "tr", "ru", "zh", "hi", "bn", "fa", "ur", "sw", "te",
    "ne", "am", "km", "or",
)  # fmt: skip

#: Languages told by the rules before the identifier (it does not know them): ``detect`` may return them.
RULE_LANGUAGES: tuple[str, ...] = ("my", "ha")

#: Scripts no language of ``LANGUAGES`` is written in, with the language a text in them gets (rule
#: ``script``): its own ISO 639-1 code. Burmese is served; no model declares the others, so they are
#: answered as unsupported. Gurmukhi is ``pa-Guru`` since the Punjabi route was trained on Shahmukhi only.
OTHER_SCRIPTS: dict[str, tuple[str, str]] = {
    "Myanmar": ("\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f", "my"),
    "Greek": ("\u0370-\u03ff\u1f00-\u1fff", "el"),
    "Armenian": ("\u0530-\u058f", "hy"),
    "Hebrew": ("\u0590-\u05ff", "he"),
    "Gurmukhi": ("\u0a00-\u0a7f", "pa-Guru"),
    "Gujarati": ("\u0a80-\u0aff", "gu"),
    "Tamil": ("\u0b80-\u0bff", "ta"),
    "Kannada": ("\u0c80-\u0cff", "kn"),
    "Malayalam": ("\u0d00-\u0d7f", "ml"),
    "Sinhala": ("\u0d80-\u0dff", "si"),
    "Thai": ("\u0e00-\u0e7f", "th"),
    "Lao": ("\u0e80-\u0eff", "lo"),
    "Tibetan": ("\u0f00-\u0fff", "bo"),
    "Georgian": ("\u10a0-\u10ff", "ka"),
    "Hangul": ("\u1100-\u11ff\u3130-\u318f\uac00-\ud7af", "ko"),
    "Kana": ("\u3040-\u30ff", "ja"),
}

#: Share of a text's non-Latin characters that must be in one of ``OTHER_SCRIPTS`` for its language
#: (Japanese mixes kana with Chinese characters: its kana are seldom under a third).
OTHER_SCRIPT_SHARE = 0.3

#: Hausa function words and frequent short words, seldom English (rule ``words``; from POLAR's Hausa
#: training rows, checked against every corpus's English rows).
HAUSA_WORDS: frozenset[str] = frozenset(
    (
        "da", "ba", "ne", "ce", "dan", "yan", "kuma", "sai", "su", "shi", "mu", "duk", "wani", "kawai",
        "wannan", "amma", "ku", "mai", "sun", "ga", "idan", "masu", "suna", "wanda", "mana", "dai", "yayi",
        "akwai", "zai", "yana", "tana", "mutane", "cikin", "bai", "basu", "sosai", "kenan", "kaga", "gaskiya",
        "yanzu", "kun", "muna", "zan", "ake", "aka", "tare", "saboda", "domin", "yadda", "lokacin", "shine",
        "itace", "sune", "kowa", "komai", "abin", "wasu", "ita", "ya", "yar", "ai", "kai", "ko",
    )
)  # fmt: skip

#: Share of a text's words that must be ``HAUSA_WORDS`` (and two different ones at least) for Hausa.
HAUSA_SHARE = 0.25

#: Fewer letters than this: too short to tell (rule ``short``).
MIN_LETTERS = 12

#: Below this confidence the identifier is not trusted (rule ``uncertain``).
MIN_CONFIDENCE = 0.9

#: Rules, in the order they are tried (see the module docstring).
RULES: tuple[str, ...] = ("script", "short", "words", "uncertain", "identified")

# Letters outside the Latin script (Greek onwards, minus Latin Extended Additional; CJK included).
_NON_LATIN = re.compile(r"[\u0370-\u1DFF\u1F00-\u1FFF\u2C00-\u2DFF\u3040-\uD7FF\uF900-\uFAFF\uFB50-\uFEFF]")
_OTHER_SCRIPTS = {code: re.compile(f"[{ranges}]") for ranges, code in OTHER_SCRIPTS.values()}
_ASCII_LETTERS = string.ascii_letters.encode()
_ASCII_UPPER = string.ascii_uppercase.encode()
_ASCII_LOWER = string.ascii_lowercase.encode()
_WORD = re.compile(r"[^\W\d_]+")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")


@dataclass(frozen=True)
class Detection:
    """The language of one text (ISO 639-1), the identifier's confidence and the rule that decided."""

    language: str
    confidence: float
    rule: str


#: Bytes of text that decide the identifier's state: its automaton's longest n-gram prefix
#: (``tests/unit/test_language.py`` checks the wheel's model against it).
IDENTIFIER_WINDOW = 6

#: Up to this many texts are identified one by one, byte by byte (the same answers; a batch's array
#: set-up costs more than a lone text's walk).
SMALL_BATCH = 2

#: Texts, and characters, identified together at most: the batch's arrays take about 60 bytes a
#: character, so a survey's answers are taken in chunks of a few MB.
IDENTIFIER_BATCH = 256
IDENTIFIER_CHARS = 100_000


class _ByteNaiveBayes:
    """py3langid's classifier over many texts at once, with its model and its answers.

    py3langid walks an automaton over each text's bytes in a Python loop (about 30 µs per English
    answer). Its state after a byte depends only on the last ``IDENTIFIER_WINDOW`` bytes, so here
    every byte of a batch takes its state in ``IDENTIFIER_WINDOW`` vectorized steps, and the
    n-gram counts of all texts meet the naive Bayes table in one pass. The automaton's 9.8 million
    transitions are kept in 2 bytes and 1 bit each (py3langid: 4 bytes; 21 MB instead of 39), the
    table only for ``LANGUAGES`` (py3langid keeps all 142), and py3langid's own copy is let go.
    """

    def __init__(self, identifier: Any) -> None:
        moves = np.frombuffer(identifier.tk_nextmove, dtype=np.uint32)
        if int(moves.max()) >= 1 << 17:
            raise ValueError("py3langid's automaton has more states than 17 bits hold")
        # the 16-bit halves of each move, read in place (no 39 MB temporaries at start-up)
        halves = moves.view(np.uint16).reshape(-1, 2)[:, :: 1 if sys.byteorder == "little" else -1]
        self.low = halves[:, 0].copy()
        self.high = np.packbits(halves[:, 1].astype(np.uint8), bitorder="little")
        self.row_base = np.frombuffer(identifier.tk_row, dtype=np.uint16).astype(np.int32) << 8
        self.feature = np.asarray(identifier.tk_output, dtype=np.int32)  # state's n-gram, -1: none
        self.log_likelihood = np.ascontiguousarray(identifier.nb_ptc)  # float16, LANGUAGES' columns
        self.log_prior = np.asarray(identifier.nb_pc, dtype=np.float32)
        self.classes: list[str] = list(identifier.nb_classes)
        # the same arrays for the byte-by-byte walk of a lone text (memoryviews index fast in Python)
        self._walk = (self.low.data, self.high.tobytes(), self.row_base.data, self.feature.data)

    def next_state(self, index: np.ndarray) -> np.ndarray:
        """The automaton's transitions at ``index`` (``row_base[state] + byte``)."""
        high = (self.high[index >> 3] >> (index & 7).astype(np.uint8)) & 1
        return self.low[index].astype(np.int32) | (high.astype(np.int32) << 16)

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(language, probability)`` of each text, as py3langid's normalized ``classify`` gives."""
        if len(texts) <= SMALL_BATCH:
            return [self._classify_one(t) for t in texts]
        encoded = [_identifier_bytes(t) for t in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.int32)
        owner = np.repeat(np.arange(len(encoded)), lengths)
        position = np.arange(len(data)) - (np.cumsum(lengths) - lengths)[owner]
        padded = np.concatenate([np.zeros(IDENTIFIER_WINDOW - 1, np.int32), data])
        state = np.zeros(len(data), dtype=np.int32)
        for step in range(IDENTIFIER_WINDOW):
            back = IDENTIFIER_WINDOW - 1 - step  # this step reads the byte this far behind
            moved = self.next_state(self.row_base[state] + padded[step : step + len(data)])
            state = np.where(position >= back, moved, state)  # before its text's start: not read
        feature = self.feature[state].astype(np.int64)
        hit = feature >= 0
        # (text, n-gram) pairs in text order: one row of counts per text that has any
        pairs, counts = np.unique(owner[hit] * len(self.log_likelihood) + feature[hit], return_counts=True)
        text_of, gram = np.divmod(pairs, len(self.log_likelihood))
        evidence = np.log1p(counts.astype(np.float32))[:, None] * self.log_likelihood[gram].astype(np.float32)
        first = np.flatnonzero(np.r_[True, text_of[1:] != text_of[:-1]]) if len(pairs) else pairs
        scores = np.zeros((len(encoded), len(self.classes)), dtype=np.float32)  # no n-gram: all alike
        if len(pairs):
            scores[text_of[first]] = np.add.reduceat(evidence, first, axis=0) + self.log_prior
        return self._best(scores, lengths)

    def _best(self, scores: np.ndarray, lengths: np.ndarray) -> list[tuple[str, float]]:
        """Each row's language and probability: py3langid's scores scaled by 1/sqrt(bytes), softmax."""
        scores = scores * (1.0 / np.sqrt(np.maximum(lengths, 1)))[:, None]
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        best = scores.argmax(axis=1)
        return [(self.classes[b], float(scores[i, b])) for i, b in enumerate(best)]

    def _classify_one(self, text: str) -> tuple[str, float]:
        """``classify`` of one text by a walk over its bytes, as py3langid does (no array set-up)."""
        raw = _identifier_bytes(text)
        low, high, row_base, feature = self._walk
        state, counts = 0, dict[int, int]()
        for byte in raw:
            i = row_base[state] + byte
            state = low[i] | (((high[i >> 3] >> (i & 7)) & 1) << 16)
            if (f := feature[state]) >= 0:
                counts[f] = counts.get(f, 0) + 1
        scores = np.zeros((1, len(self.classes)), dtype=np.float32)  # no n-gram: every language alike
        if counts:
            grams = np.fromiter(counts, dtype=np.int64, count=len(counts))
            weights = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            scores[0] = weights @ self.log_likelihood[grams].astype(np.float32) + self.log_prior
        return self._best(scores, np.array([len(raw)]))[0]


def _identifier_bytes(text: str) -> bytes:
    """A text as py3langid reads it: lower-cased when all in capitals, NFC, UTF-8."""
    return unicodedata.normalize("NFC", text.lower() if text.isupper() else text).encode(
        "utf8", "surrogatepass"
    )


@functools.cache
def _identifier() -> _ByteNaiveBayes:
    """py3langid's model restricted to ``LANGUAGES``, loaded once (about 0.5 s, 30 MB)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    model = _ByteNaiveBayes(identifier)
    del identifier
    _release_freed_memory()  # py3langid's own copy, and the decompressed model file's buffers
    return model


def load_identifier() -> None:
    """Load the identifier now rather than on the first text.

    Building its compact model holds py3langid's full one for a moment (about 90 MB more). A process
    that does it before loading its models has that moment on a small heap: ``load_scorer`` does, and a
    server's start-up peak fell from 304 to 227 MB (docs/benchmarks.md).
    """
    _identifier()


def _release_freed_memory() -> None:
    """Give memory freed on the C heap back to the system (glibc ``malloc_trim``; elsewhere nothing)."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


#: Script subtags kept by ``normalize_code``: the language's model does not read that script, so
#: ``pa-Guru`` (Punjabi in Gurmukhi) must not reach the Punjabi model, trained on Shahmukhi.
UNREAD_SCRIPTS: frozenset[str] = frozenset({"guru"})


def normalize_code(code: str) -> str:
    """A client's language tag as an ISO 639-1 code: ``"en-US"``, ``"EN_gb"`` -> ``"en"``.

    A script subtag in ``UNREAD_SCRIPTS`` is kept (``"pa-guru"`` -> ``"pa-Guru"``): no model scores it.

    >>> normalize_code(" es-MX "), normalize_code("pa-Arab"), normalize_code("PA_guru")
    ('es', 'pa', 'pa-Guru')
    """
    parts = code.strip().lower().replace("_", "-").split("-")
    if len(parts) > 1 and parts[1] in UNREAD_SCRIPTS:
        return f"{parts[0]}-{parts[1].title()}"
    return parts[0]


def detect(text: str, default: str = DEFAULT_LANGUAGE) -> Detection:
    """The language of ``text`` by the rules of this module (``default`` for short or uncertain text)."""
    return detect_many([text], default)[0]


def detect_many(texts: Sequence[str], default: str = DEFAULT_LANGUAGE) -> list[Detection]:
    """``detect`` for each of ``texts``, the identifier run once over all those that need it."""
    found: list[Detection | None] = []
    asked: list[tuple[int, str, bool, int]] = []  # index, text to identify, foreign script, letters
    for i, text in enumerate(texts):
        raw = text.encode() if text.isascii() else None
        if raw is not None:  # most English answers: no other script, letters counted in C
            letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
            foreign_script, non_latin = False, 0
        else:
            letters = sum(map(str.isalpha, text))
            non_latin = len(_NON_LATIN.findall(text)) if letters else 0
            foreign_script = letters > 0 and 2 * non_latin > letters
        if foreign_script:
            counts = {code: len(pattern.findall(text)) for code, pattern in _OTHER_SCRIPTS.items()}
            code = max(counts, key=counts.__getitem__)
            if counts[code] >= OTHER_SCRIPT_SHARE * non_latin:
                found.append(Detection(code, round(counts[code] / non_latin, 4), "script"))
                continue
        if letters < MIN_LETTERS and not foreign_script:
            found.append(Detection(default, 0.0, "short"))
            continue
        if not foreign_script and (hausa := _hausa_share(text)) >= HAUSA_SHARE:
            found.append(Detection("ha", round(hausa, 4), "words"))
            continue
        if raw is not None:  # deleting the capitals leaves less than deleting the small letters
            capitals = len(raw.translate(None, _ASCII_UPPER)) < len(raw.translate(None, _ASCII_LOWER))
        else:
            capitals = sum(map(str.isupper, text)) > sum(map(str.islower, text))
        if capitals:
            text = text.lower()
        found.append(None)
        asked.append((i, text, foreign_script, letters))
    identifier = _identifier()
    answers: list[tuple[str, float]] = []
    chunk: list[str] = []
    chars = 0
    for _, text, _, _ in asked:
        chunk.append(text)
        chars += len(text)
        if len(chunk) == IDENTIFIER_BATCH or chars >= IDENTIFIER_CHARS:
            answers += identifier.classify(chunk)
            chunk, chars = [], 0
    answers += identifier.classify(chunk)
    for (i, text, foreign_script, letters), (language, probability) in zip(asked, answers, strict=True):
        found[i] = _identified(text, language, round(probability, 4), foreign_script, letters, default)
    return [d for d in found if d is not None]


def _identified(
    text: str, language: str, confidence: float, foreign_script: bool, letters: int, default: str
) -> Detection:
    """The rules that follow the identifier's answer (``script`` for short or uncertain, ``uncertain``)."""
    if foreign_script and (letters < MIN_LETTERS or confidence < MIN_CONFIDENCE):
        if 2 * len(_ARABIC.findall(text)) > letters:
            return Detection("ar", confidence, "script")
        if language != DEFAULT_LANGUAGE:
            return Detection(language, confidence, "script")
    if confidence < MIN_CONFIDENCE:
        return Detection(default, confidence, "uncertain")
    return Detection(language, confidence, "identified")


def _hausa_share(text: str) -> float:
    """Share of the words of ``text`` that are ``HAUSA_WORDS`` (0 with fewer than two different ones)."""
    # "@user" and "@url" stand for mentions and links (``signals.normalize``), "##url" in POLAR's rows
    words = _WORD.findall(text.lower())
    if len(HAUSA_WORDS.intersection(words)) < 2:  # most texts: one set operation, no loop
        return 0.0
    words = [w for w in words if w not in ("user", "url")]
    return sum(w in HAUSA_WORDS for w in words) / len(words)


def _known_texts(corpora: str) -> dict[tuple[str, str], list[str]]:
    """Texts whose language is known, by ``(language, source)``: every shared corpus and Polis."""
    from pathlib import Path

    from signals.corpora import ALL_LANGUAGES, corpora_dir, iter_records
    from signals.corpora.polis_opendata import NAME, conversation_language, read_comments

    root = Path(corpora_dir(corpora))
    groups: dict[tuple[str, str], list[str]] = {}
    for record in iter_records(root, ALL_LANGUAGES):
        groups.setdefault((record.lang, record.source), []).append(record.text)
    polis = [p.name for p in (root / NAME).iterdir() if p.is_dir()] if (root / NAME).is_dir() else []
    polis_languages = sorted({lang for c in polis if (lang := conversation_language(c)) is not None})
    for record in read_comments(root, polis_languages) if polis_languages else ():
        groups.setdefault((record.lang, record.source), []).append(record.text)
    return groups


def measure_table(corpora: str = "", sample: int = 0, seed: int = 13) -> str:
    """Markdown table: per language and source, the share of texts ``detect`` tags with their language.

    English rows are measured twice, as written and in capitals (``text.upper()``). ``sample`` caps
    the texts per row (a seeded draw; 0 takes all). The reserved evaluation sets are not read: only the
    shared corpora's training files and the Polis comments.
    """
    import random
    from collections import Counter

    lines = [
        "| language | source | texts | tagged correctly | rules (short / uncertain / script) | "
        "most frequent other tags |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for (lang, source), texts in sorted(_known_texts(corpora).items()):
        if sample and len(texts) > sample:
            texts = random.Random(seed).sample(texts, sample)
        variants = [("", texts)] + ([(" (capitals)", [t.upper() for t in texts])] if lang == "en" else [])
        for suffix, batch in variants:
            found = detect_many(batch)
            rules = Counter(d.rule for d in found)
            wrong = Counter(d.language for d in found if d.language != lang).most_common(3)
            share = sum(d.language == lang for d in found) / max(len(found), 1)
            note = "" if lang in LANGUAGES + RULE_LANGUAGES else " (not in the identifier's set)"
            lines.append(
                f"| {lang}{note} | {source}{suffix} | {len(found):,} | {share:.2%} | "
                f"{rules['short']} / {rules['uncertain']} / {rules['script']} | "
                + (", ".join(f"{code} {n}" for code, n in wrong) or "-")
                + " |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m signals.language --measure``: the per-language table of docs/languages.md."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m signals.language", description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help="measure on the shared corpora and Polis")
    parser.add_argument("--corpora", default="", help="shared corpora folder (default ../shared/data)")
    parser.add_argument("--sample", type=int, default=0, help="at most this many texts per row (0: all)")
    parser.add_argument("text", nargs="*", help="texts to identify (one line each)")
    args = parser.parse_args(argv)
    if args.measure:
        print(measure_table(args.corpora, args.sample))
        return 0
    for text in args.text:
        d = detect(text)
        print(f"{d.language}\t{d.confidence:.3f}\t{d.rule}\t{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
