"""HatEval 2019 (SemEval-2019 Task 5, Basile et al.): English and Spanish tweets, train + dev.

Tab separated with bare quotes inside tweets, so it is read with ``quoting=csv.QUOTE_NONE``.
Columns ``id, text, HS, TR, AG``:
- ``HS`` hateful against immigrants or women -> hate (1/0).
- ``AG`` is *aggressiveness* (only annotated when HS=1), not a threat: threat stays unknown.
- ``TR`` says whether the target is an individual or a generic group, not which group, so it is not used.
- The corpus was collected about immigrants and women, but the files do not say which one each tweet is
  about, so target groups stay unknown; offensive and polarization are not annotated either.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_binary, read_table
from signals.schema import Record

NAME = "hateval2019"
#: language -> files, in the order they are read.
FILES: dict[str, tuple[str, ...]] = {
    "en": ("train_en.tsv", "dev_en.tsv"),
    "es": ("train_es.tsv", "dev_es.tsv"),
}


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per tweet; ids are ``hateval2019:<lang>:<published id>``."""
    for lang, files in FILES.items():
        if lang not in languages:
            continue
        for name in files:
            path = folder / name
            frame = read_table(path, NAME, ["id", "text", "HS"], sep="\t", quoting=csv.QUOTE_NONE)
            for row, (tweet_id, text, hs) in enumerate(
                zip(frame["id"], frame["text"], frame["HS"], strict=True)
            ):
                yield Record(
                    id=f"{NAME}:{lang}:{str(tweet_id).strip() or f'{name}-{row}'}",
                    text=text,
                    source=NAME,
                    lang=lang,
                    labels={"hate": parse_binary(hs, path, row, "HS", NAME)},
                )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=tuple(FILES),
    read=read,
    description="HatEval 2019 (en, es; train + dev): hate against immigrants and women",
)
