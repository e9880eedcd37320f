"""L-HSAB (Mulki et al., ALW 2019): Levantine Arabic tweets, ``Tweet`` and ``Class``.

Read with the default (minimal) CSV quoting: ``QUOTE_NONE`` mis-splits three multi-line tweets.
Classes are exclusive: ``normal`` -> hate=0, offensive=0; ``abusive`` (offensive, aggressive or
insulting language) -> offensive=1, hate=0; ``hate`` (abusive language aimed at a group's identity) ->
hate=1 and offensive=1: the corpus defines hate as a kind of abusive language, so a hate tweet is
abusive too (offensive = abusive or hate; issue 17).
Threat, polarization and targets are not annotated. ``lang`` is ``ar`` (ISO 639-1 for Arabic; the
dialect is Levantine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_label, read_table
from signals.schema import Record

NAME = "l-hsab-arabic"
FILE = "L-HSAB.tsv"

#: Class -> (hate, offensive)
_CLASSES: dict[str, tuple[int, int]] = {"normal": (0, 0), "abusive": (0, 1), "hate": (1, 1)}


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per tweet; ids are ``l-hsab-arabic:<row>``."""
    if "ar" not in languages:
        return
    path = folder / FILE
    frame = read_table(path, NAME, ["Tweet", "Class"], sep="\t")
    for row, (text, cls) in enumerate(zip(frame["Tweet"], frame["Class"], strict=True)):
        hate, offensive = _CLASSES[parse_label(cls, tuple(_CLASSES), path, row, "Class", NAME)]
        yield Record(
            id=f"{NAME}:{row}",
            text=text,
            source=NAME,
            lang="ar",
            labels={"hate": hate, "offensive": offensive},
        )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=("ar",),
    read=read,
    description="L-HSAB Levantine Arabic tweets: normal / abusive / hate",
)
