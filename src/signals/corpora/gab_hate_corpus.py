"""Gab Hate Corpus (Kennedy et al.), train split only (the test split is a reserved evaluation set).

Columns ``text, hd, cv, vo`` (majority of annotators), every row labelled for all three:
- ``hd`` "assault on human dignity" (identity-based hate) -> hate.
- ``cv`` "call for violence" -> threat; a call for violence against an identity group is also hate per
  the signals definition, so hate = hd OR cv.
- ``vo`` "vulgarity / offensive language" -> offensive.
GHC only codes ``cv`` inside hate-based rhetoric, so a non-identity threat against one person may sit in
cv=0 (a known, documented source of threat-label noise). GHC's identity list includes political
ideology, which the signals ``hate`` excludes; it cannot be separated with the published columns.
Targets and polarization are unknown (this mirror has no target columns).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_binary, read_table
from signals.schema import Record

NAME = "gab-hate-corpus"
FILE = "ghc_train.tsv"


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per Gab post; ids are ``gab-hate-corpus:<row>``."""
    if "en" not in languages:
        return
    path = folder / FILE
    frame = read_table(path, NAME, ["text", "hd", "cv", "vo"], sep="\t")
    for row, (text, hd, cv, vo) in enumerate(
        zip(frame["text"], frame["hd"], frame["cv"], frame["vo"], strict=True)
    ):
        hd_v = parse_binary(hd, path, row, "hd", NAME)
        cv_v = parse_binary(cv, path, row, "cv", NAME)
        vo_v = parse_binary(vo, path, row, "vo", NAME)
        yield Record(
            id=f"{NAME}:{row}",
            text=text,
            source=NAME,
            lang="en",
            labels={"hate": max(hd_v, cv_v), "threat": cv_v, "offensive": vo_v},
        )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=("en",),
    read=read,
    description="Gab Hate Corpus (train): human-dignity assault, call for violence, vulgarity",
)
