"""HateXplain (Mathew et al., AAAI 2021), the MAGPIE preprocessed copy.

Lowercased token text, majority ``label`` (0 normal, 1 offensive, 2 hatespeech) and five target flags
that MAGPIE collapsed from HateXplain's communities: ``gender`` (men, women, LGBT), ``religion``,
``race`` (includes Arab, Hispanic, Indian, Indigenous), ``economic`` and ``minority`` (HateXplain's
Refugee, Disability and "Minority" together). A flag is 1 when *any* annotator named such a community,
for every post including normal ones; HateXplain's "Other" community was dropped by MAGPIE.

Mapping choices:
- hatespeech: hate=1, offensive unknown (annotators chose one class, so "also offensive?" was never asked).
- offensive: hate=0, offensive=1; normal: hate=0, offensive=0. Threat and polarization unknown.
- targets: race/religion/gender map directly. ``minority`` mixes refugees and disability, so when it is 1
  both ``national_origin`` and ``disability`` are unknown; when 0 both are 0. ``economic`` -> ``other``=1,
  but ``other``=0 is never claimed (the "Other" community was dropped). ``political`` is unknown
  (HateXplain has no political community).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_binary, parse_label, read_table
from signals.schema import UNKNOWN, Record

NAME = "hatexplain"
FILE = "hatexplain_magpie_preprocessed.csv"

#: label -> (hate, offensive)
_LABELS: dict[str, tuple[int, int]] = {"0": (0, 0), "1": (0, 1), "2": (1, UNKNOWN)}
_FLAGS = ("label_gender", "label_religion", "label_race", "label_economic", "label_minority")


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per post; ids are ``hatexplain:<row>`` (the copy kept no post ids)."""
    if "en" not in languages:
        return
    path = folder / FILE
    frame = read_table(path, NAME, ["text", "label", *_FLAGS])
    for row, rec in enumerate(frame.itertuples(index=False)):
        values = rec._asdict()
        hate, offensive = _LABELS[parse_label(values["label"], tuple(_LABELS), path, row, "label", NAME)]
        flags = {f: parse_binary(values[f], path, row, f, NAME) for f in _FLAGS}
        minority = flags["label_minority"]
        targets = {
            "race_ethnicity": flags["label_race"],
            "religion": flags["label_religion"],
            "gender_sexuality": flags["label_gender"],
            "national_origin": UNKNOWN if minority else 0,
            "disability": UNKNOWN if minority else 0,
            "other": 1 if flags["label_economic"] else UNKNOWN,
        }
        yield Record(
            id=f"{NAME}:{row}",
            text=values["text"],
            source=NAME,
            lang="en",
            labels={"hate": hate, "offensive": offensive},
            targets=targets,
        )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=("en",),
    read=read,
    description="HateXplain (MAGPIE copy): normal / offensive / hatespeech + target communities",
)
