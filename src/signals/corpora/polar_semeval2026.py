"""SemEval-2026 Task 9 POLAR: polarization in 22 languages, train split only (dev is reserved).

Layout: ``subtask{1,2,3}/train/<iso639-3>.csv``, all with ``id, text`` and joined here by ``id``.
- Subtask 1 ``polarization`` 0/1 -> polarization.
- Subtask 2 target types -> targets: political, racial/ethnic -> race_ethnicity, religious -> religion,
  gender/sexual -> gender_sexuality, other. POLAR has no national-origin or disability type (migrants
  land in racial/ethnic or other), so those two stay unknown. Non-polarized posts carry all-zero types:
  kept as 0 (the annotators say nobody is targeted).
- Subtask 3 manifestations (stereotype, vilification, dehumanization, extreme language, lack of empathy,
  invalidation) are forms of polarization, not separate signals: a post with any manifestation is
  polarized; they fill polarization only where subtask 1 lacks the post, and disagreements are logged.
A language whose files are missing is skipped with a warning (partial copies stay usable).
POLAR says nothing about hate, threats or offensive language: those stay unknown. (Dehumanising a
political out-group is polarization but not identity hate, so manifestations are not mapped to hate.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_binary, read_table
from signals.schema import Record

logger = logging.getLogger(__name__)

NAME = "polar-semeval2026"

#: ISO 639-1 code -> the ISO 639-3 file stem POLAR uses.
LANGUAGES: dict[str, str] = {
    "am": "amh",
    "ar": "arb",
    "bn": "ben",
    "de": "deu",
    "en": "eng",
    "fa": "fas",
    "ha": "hau",
    "hi": "hin",
    "it": "ita",
    "km": "khm",
    "my": "mya",
    "ne": "nep",
    "or": "ori",
    "pa": "pan",
    "pl": "pol",
    "ru": "rus",
    "es": "spa",
    "sw": "swa",
    "te": "tel",
    "tr": "tur",
    "ur": "urd",
    "zh": "zho",
}
TARGET_TYPES: dict[str, str] = {
    "political": "political",
    "racial/ethnic": "race_ethnicity",
    "religious": "religion",
    "gender/sexual": "gender_sexuality",
    "other": "other",
}
MANIFESTATIONS = (
    "stereotype",
    "vilification",
    "dehumanization",
    "extreme_language",
    "lack_of_empathy",
    "invalidation",
)


def _stage(folder: Path, subtask: int, stem: str) -> Path:
    return folder / f"subtask{subtask}" / "train" / f"{stem}.csv"


def _read_language(folder: Path, lang: str, stem: str) -> Iterator[Record]:
    p1, p2, p3 = (_stage(folder, s, stem) for s in (1, 2, 3))
    if not p1.is_file() and not p3.is_file():
        # A partial copy (e.g. only some languages) is usable; say what is missing and go on.
        logger.warning("%s: no subtask 1 or 3 file for %s (%s); language skipped", NAME, lang, p1)
        return

    polar: dict[str, int] = {}
    texts: dict[str, str] = {}
    order: list[str] = []
    if p1.is_file():
        frame = read_table(p1, NAME, ["id", "text", "polarization"])
        for row, (rid, text, value) in enumerate(
            zip(frame["id"], frame["text"], frame["polarization"], strict=True)
        ):
            polar[rid] = parse_binary(value, p1, row, "polarization", NAME)
            if rid not in texts:
                texts[rid] = text
                order.append(rid)

    targets: dict[str, dict[str, int]] = {}
    if p2.is_file():
        frame = read_table(p2, NAME, ["id", *TARGET_TYPES])
        for row, values in enumerate(frame.to_dict("records")):
            targets[values["id"]] = {
                group: parse_binary(values[col], p2, row, col, NAME) for col, group in TARGET_TYPES.items()
            }
    else:
        logger.info("%s: no subtask 2 file for %s; targets unknown", NAME, lang)

    manifest: dict[str, int] = {}
    if p3.is_file():
        frame = read_table(p3, NAME, ["id", "text", *MANIFESTATIONS])
        for row, values in enumerate(frame.to_dict("records")):
            rid = values["id"]
            manifest[rid] = max(parse_binary(values[c], p3, row, c, NAME) for c in MANIFESTATIONS)
            if rid not in texts:
                texts[rid] = values["text"]
                order.append(rid)

    disagreements = sum(1 for rid, m in manifest.items() if rid in polar and polar[rid] != m)
    if disagreements:
        logger.warning(
            "%s/%s: %d posts have manifestations that disagree with subtask 1; subtask 1 wins",
            NAME,
            lang,
            disagreements,
        )
    for rid in order:
        yield Record(
            id=f"{NAME}:{rid}",
            text=texts[rid],
            source=NAME,
            lang=lang,
            labels={"polarization": polar.get(rid, manifest.get(rid, -1))},
            targets=targets.get(rid, {}),
        )


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per POLAR post in the requested languages; ids are ``polar-semeval2026:<id>``."""
    for lang, stem in LANGUAGES.items():
        if lang in languages:
            yield from _read_language(folder, lang, stem)


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=tuple(LANGUAGES),
    read=read,
    description="SemEval-2026 POLAR (train, 22 languages): polarization, target types, manifestations",
)
