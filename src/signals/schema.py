"""The signal table, Record and Score: the single source of label names.

Every other module (corpora adapters, dataset, models, scoring, serving, triage, reports) imports the
names from here, so training and serving can never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signals.language import DEFAULT_LANGUAGE

#: The four signals, in the order every model output column uses.
SIGNALS: tuple[str, ...] = ("hate", "threat", "offensive", "polarization")

#: What each signal means (see docs/data.md for how each corpus maps onto them).
SIGNAL_DEFINITIONS: dict[str, str] = {
    "hate": (
        "attacks, demeans, dehumanises or excludes people for a protected characteristic (race, "
        "ethnicity, national origin, immigration status, religion, gender, gender identity, sexual "
        "orientation, disability); includes threats against such groups"
    ),
    "threat": "threatens or calls for violence against a person or group, whoever the target",
    "offensive": "insulting, abusive or profane language that is not (only) identity-based",
    "polarization": (
        "us-vs-them hostility: vilifying, stereotyping, dehumanising or denying empathy to an "
        "out-group (political, ethnic, religious, social)"
    ),
}

#: Auxiliary multi-label target groups.
TARGETS: tuple[str, ...] = (
    "race_ethnicity",
    "religion",
    "gender_sexuality",
    "national_origin",
    "disability",
    "political",
    "other",
)

TARGET_LABELS: dict[str, str] = {
    "race_ethnicity": "race/ethnicity",
    "religion": "religion",
    "gender_sexuality": "gender/sexuality",
    "national_origin": "national origin/immigration",
    "disability": "disability",
    "political": "political",
    "other": "other",
}

#: Value of a label the source corpus says nothing about. Never read it as 0.
UNKNOWN = -1


def target_column(target: str) -> str:
    """Dataset column name for a target group, e.g. ``target_column("religion") == "target_religion"``."""
    return f"target_{target}"


TARGET_COLUMNS: tuple[str, ...] = tuple(target_column(t) for t in TARGETS)

#: Column order of the unified dataset (HF DatasetDict under data/processed/).
DATASET_COLUMNS: tuple[str, ...] = ("id", "text", "source", "lang", *SIGNALS, *TARGET_COLUMNS)


def _check_values(values: Mapping[str, int], names: tuple[str, ...], what: str) -> dict[str, int]:
    unknown_names = set(values) - set(names)
    if unknown_names:
        raise ValueError(f"unknown {what} name(s): {sorted(unknown_names)}; expected {names}")
    out = {n: int(values.get(n, UNKNOWN)) for n in names}
    bad = {n: v for n, v in out.items() if v not in (UNKNOWN, 0, 1)}
    if bad:
        raise ValueError(f"{what} values must be -1 (unknown), 0 or 1, got {bad}")
    return out


@dataclass(frozen=True)
class Record:
    """One labelled text in the unified schema.

    ``labels`` and ``targets`` map a name to 1, 0 or ``UNKNOWN`` (-1); names left out are unknown.

    >>> r = Record(id="d-1", text="hello", source="davidson2017", labels={"hate": 0})
    >>> r.labels["threat"]
    -1
    """

    id: str
    text: str
    source: str
    lang: str = "en"
    labels: Mapping[str, int] = field(default_factory=dict)
    targets: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _check_values(self.labels, SIGNALS, "signal"))
        object.__setattr__(self, "targets", _check_values(self.targets, TARGETS, "target"))

    def to_row(self) -> dict[str, Any]:
        """Flatten into one dataset row with the columns of ``DATASET_COLUMNS``."""
        row: dict[str, Any] = {"id": self.id, "text": self.text, "source": self.source, "lang": self.lang}
        row.update(self.labels)
        row.update({target_column(t): v for t, v in self.targets.items()})
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Record:
        """Inverse of ``to_row``."""
        return cls(
            id=str(row["id"]),
            text=str(row["text"]),
            source=str(row["source"]),
            lang=str(row.get("lang", "en")),
            labels={s: int(row[s]) for s in SIGNALS if s in row},
            targets={t: int(row[target_column(t)]) for t in TARGETS if target_column(t) in row},
        )


@dataclass(frozen=True)
class Span:
    """Evidence: character offsets ``[begin, end)`` into the scored text and per-signal scores there."""

    begin: int
    end: int
    scores: dict[str, float]


@dataclass(frozen=True)
class Score:
    """What a scorer says about one text.

    ``scores`` are calibrated probabilities per signal; ``review`` marks scores at or above the
    high-recall threshold (triage queue), ``flags`` those at or above the high-precision threshold.
    ``priority`` orders the triage queue; ``targets`` are target-group probabilities (empty when the
    model has no target head); ``spans`` is the evidence, most relevant first. ``language`` is the
    text's language (``signals.language``); ``supported`` is false when the model has none for it, and
    then ``scores``, ``targets`` and ``spans`` are empty and no signal is flagged or sent to review:
    an English model's guess about another language means nothing. ``operating_point`` says which
    thresholds decided ``review``/``flags``: ``global`` or a source's own (``source:NAME``). ``model_version``
    is the version of the model that scored the text: a routed language's own model, not the
    manifest's (empty when unsupported).
    """

    scores: dict[str, float]
    review: dict[str, bool]
    flags: dict[str, bool]
    priority: float = 0.0
    targets: dict[str, float] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    operating_point: str = "global"
    language: str = DEFAULT_LANGUAGE
    supported: bool = True
    model_version: str = ""
