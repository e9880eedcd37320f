"""Davidson et al. 2017 (ICWSM), "Automated Hate Speech Detection and the Problem of Offensive Language".

English tweets, one majority ``class`` per tweet: 0 hate speech, 1 offensive language, 2 neither.
Annotators picked exactly one class, so a hate tweet was never also asked "is it offensive?": for class 0
``offensive`` is unknown, not 0. The corpus says nothing about threats, polarization or target groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, CorpusFormatError, parse_label, read_table
from signals.schema import UNKNOWN, Record

NAME = "davidson2017"
FILE = "labeled_data.csv"

#: class -> (hate, offensive)
_CLASS_LABELS: dict[str, tuple[int, int]] = {
    "0": (1, UNKNOWN),
    "1": (0, 1),
    "2": (0, 0),
}


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per tweet; ids are ``davidson2017:<row index of the published file>``."""
    if "en" not in languages:
        return
    path = folder / FILE
    frame = read_table(path, NAME, ["class", "tweet"])
    index_col = frame.columns[0]
    if index_col in ("class", "tweet"):
        raise CorpusFormatError(f"{NAME}: {path} lacks its leading (unnamed) row-index column")
    for row, (idx, cls, tweet) in enumerate(
        zip(frame[index_col], frame["class"], frame["tweet"], strict=True)
    ):
        hate, offensive = _CLASS_LABELS[parse_label(cls, tuple(_CLASS_LABELS), path, row, "class", NAME)]
        yield Record(
            id=f"{NAME}:{str(idx).strip() or row}",
            text=tweet,
            source=NAME,
            lang="en",
            labels={"hate": hate, "offensive": offensive},
        )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=("en",),
    read=read,
    description="Davidson 2017 tweets: hate / offensive / neither",
)
