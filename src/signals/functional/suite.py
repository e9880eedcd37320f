"""The project's own functional test suite: template-generated cases, one per behaviour we promise.

A model can score well on held-out corpus rows and still fail the things users care about: flagging
"I don't hate Muslims", missing "Mu5l1ms are v3rm1n", or confusing a complaint about the council with
us-vs-them hostility. Each case here is a short text, the *functionality* it tests, the expected 0/1
decision for only the signals the case says something about (others are not evaluated) and the
identity group it mentions. ``run_suite`` scores every case through a ``Scorer`` at an operating
point and reports accuracy overall, per functionality and per group; ``SuiteResult.to_metrics`` gives
the MLflow metrics the promotion gate reads (``func_overall_acc``, ``func_<functionality>_acc``).

The templates were written for this project from scratch and are never used for training: the
training data's templates live in ``signals.functional.augment``, which never imports this module.
Its leak guard compares training texts with the suite's wording through ``eval_skeletons.txt``, which
``write_eval_skeletons`` regenerates from ``suite_cases`` (a unit test keeps the two in step).

Run it on a model directory: ``python -m signals.functional.suite models/default --out reports/func``.
"""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from signals.functional.common import (
    _BENIGN,
    _EVAL_INSTITUTIONS,
    _EVAL_PERSONS,
    _EVAL_POLICIES,
    _HATE,
    _HATE_DEHUMAN,
    _HATE_THREAT,
    _HOMOGLYPH,
    _INSULT,
    _NOT_HATE,
    _PROFANE,
    _RECLAIMED,
    _THREAT_ONLY,
    _VILIFY,
    _VILIFY_ANY,
    EVAL_GROUPS,
    EVAL_OUTGROUPS,
    FUNCTIONALITIES,
    OBFUSCATION_STYLES,
    IdentityGroup,
    _group_slots,
    _render,
    obfuscate,
)
from signals.schema import SIGNALS

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

log = logging.getLogger(__name__)

#: The evaluation texts' skeletons (``augment.skeleton``), one a line, sorted: the leak guard's input.
EVAL_SKELETONS_FILE = Path(__file__).with_name("eval_skeletons.txt")
#: The team's civic regression sentences (issue 15): ordinary civic text written by the team, not by
#: the authors of the augmentation templates (service complaints, praise, policy opinions with and
#: without group words, reports of hate experienced, safety concerns). None carries hate or a threat,
#: so none may reach ``review`` for either (``REGRESSION_SIGNALS``).
REGRESSION_FILE = Path(__file__).with_name("civic_regression.tsv")
REGRESSION_SIGNALS: tuple[str, ...] = ("hate", "threat")


# ===================================================================================================
# EVALUATION TEMPLATES — NEVER USED FOR TRAINING.
# Everything down to the "END OF EVALUATION TEMPLATES" banner defines the functional test suite.
# Do not import these names into any training or data pipeline; use `augment.augmentation_templates()`.
# The groups and slot fillers (EVAL_GROUPS, _EVAL_PERSONS, ...) are in `common`, for the leak guard.
# ===================================================================================================

# Templates over protected groups. Placeholders: {P} plural, {A} person with article, {J} adjective.
_EVAL_GROUP_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "plain_hate": (
        ("I hate {P}.", _HATE),
        ("{P} are disgusting and I want nothing to do with them.", _HATE),
        ("Honestly, {P} are the most worthless people in this country.", _HATE),
    ),
    "implicit_hate": (
        ("Funny how the neighbourhood went downhill as soon as {P} started moving in.", _HATE),
        ("We never had these problems before there were so many {P} around.", _HATE),
        ("Let's just say I hold on to my wallet whenever {A} sits next to me.", _HATE),
    ),
    "dehumanisation": (
        ("{P} are vermin.", _HATE_DEHUMAN),
        ("{P} are nothing but a plague on this town.", _HATE_DEHUMAN),
        ("{P} are animals, not human beings.", _HATE_DEHUMAN),
    ),
    "threat_group": (
        ("{P} should all be shot.", _HATE_THREAT),
        ("I'm going to burn down every house where {P} live.", _HATE_THREAT),
        ("Someone needs to round up {P} and hang them.", _HATE_THREAT),
    ),
    "hate_question": (
        ("Why are {P} so useless at everything?", _HATE),
        ("Isn't it obvious that {P} are a danger to decent people?", _HATE),
        ("Why should we put up with {P} in this country at all?", _HATE),
    ),
    "negated_positive": (
        ("{P} will never be equal to the rest of us.", _HATE),
        ("I have zero respect for {P}.", _HATE),
        ("{P} are not welcome here and never will be.", _HATE),
    ),
    "negated_hate": (
        ("I don't hate {P}.", _NOT_HATE),
        ("{P} are not vermin, they are people like anyone else.", _NOT_HATE),
        ("I would never say that {P} are worse than anybody else.", _NOT_HATE),
    ),
    "counter_speech": (
        ("Calling {P} vermin is disgusting, and nobody in this town should tolerate it.", _NOT_HATE),
        ("Stop blaming {P} for everything, it's lazy and it's cruel.", _NOT_HATE),
        ("Hatred of {P} has no place in our community.", _NOT_HATE),
    ),
    "quoted_condemnation": (
        (
            'Someone spray-painted "{P} are parasites" on the library wall and it needs cleaning today.',
            _NOT_HATE,
        ),
        ('Posting things like "all {P} are criminals" is spreading hate. Please stop.', _NOT_HATE),
        (
            'My uncle said "{P} should be banned from this country" and I told him how wrong that is.',
            _NOT_HATE,
        ),
    ),
    "reported_hate": (
        ("Someone at the bus stop shouted insults at me because I'm {A}.", _NOT_HATE),
        (
            "A man on the train told me that {P} like me don't belong here, and nobody said anything.",
            _NOT_HATE,
        ),
        ("At work I keep hearing nasty jokes about {P}, and as {A} it really hurts.", _NOT_HATE),
    ),
    "neutral_identity": (
        ("There are a lot of {P} living on our street.", _BENIGN),
        ("The library is holding an information evening for {P} next Tuesday.", _BENIGN),
        ("I am {A} and I work as a nurse in the city centre.", _BENIGN),
    ),
    "positive_identity": (
        ("{P} make this town a better place.", _BENIGN),
        ("I'm proud to have so many {P} in our community.", _BENIGN),
        ("My {J} colleagues are some of the kindest people I know.", _BENIGN),
    ),
}

# Reclaimed, in-group self-reference: (group key, text). Only groups with a widely reclaimed term.
_EVAL_RECLAIMED: tuple[tuple[str, str], ...] = (
    ("gay_people", "I'm queer and proud, and our picnic in the park is on Saturday."),
    ("gay_people", "Us dykes are running the bake sale at the community centre this year."),
    ("gay_people", "As a flaming queen I can confirm the new dance studio is fabulous."),
    ("trans_people", "Us queer folks are organising a clothing swap next weekend."),
    ("trans_people", "Just a trans girl and her very loud cat, saying hi to the forum."),
    ("disabled_people", "Crip pride! The new ramps mean I can finally get into the library."),
    ("disabled_people", "Me and my fellow crips are starting a disability arts group."),
    ("women", "Me and my girls are having a bad bitch brunch this weekend."),
    ("roma", "I'm a proud Gypsy and I love telling people about my family's traditions."),
    ("immigrants", "Us fobs stick together, we're hosting a potluck for new arrivals."),
)

_EVAL_PLAIN_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "threat_individual": (
        ("If {T} shows up at the meeting again I will smash his face in.", _THREAT_ONLY),
        ("I know where {T} lives and I'm going to make sure he gets hurt.", _THREAT_ONLY),
        ("{T} deserves a bullet and I'll be the one to give it.", _THREAT_ONLY),
        ("I'm going to find you and break your legs.", _THREAT_ONLY),
        ("Keep talking and I will stab you.", _THREAT_ONLY),
        ("Say that again and you won't walk home tonight.", _THREAT_ONLY),
    ),
    "profanity_untargeted": (
        ("Holy shit, the bus was late again this morning.", _PROFANE),
        ("This fucking weather is ruining my weekend.", _PROFANE),
        ("Damn, that concert in the park was bloody brilliant.", _PROFANE),
        ("The new playground is fucking awesome, thanks to whoever built it.", _PROFANE),
        ("Shit, I forgot to fill in the survey last week.", _PROFANE),
        ("What the hell happened to the parking on Main Street?", _PROFANE),
        ("Crap, the library closes at five now? That's a pain in the ass.", _PROFANE),
        ("Fuck yeah, the pool is finally open again!", _PROFANE),
        ("Bugger, I missed the recycling lorry again.", _PROFANE),
        ("The roadworks on Elm Street are a total clusterfuck.", _PROFANE),
        ("Goddammit, my bike got a flat on the way to the market.", _PROFANE),
        ("That storm last night was scary as shit.", _PROFANE),
    ),
    "insult_person": (
        ("{T} is a complete moron and should shut up.", _INSULT),
        ("Only a brain-dead loser like {T} would write that.", _INSULT),
        ("You are an absolute idiot.", _INSULT),
        ("Nobody cares what you think, you pathetic clown.", _INSULT),
        ("Shut your mouth, you useless piece of garbage.", _INSULT),
        ("You're too stupid to understand a bus timetable.", _INSULT),
    ),
    "civil_disagreement": (
        ("I disagree with {I}'s {Y}.", _BENIGN),
        ("I think {I} got the {Y} wrong, and I'd like them to reconsider.", _BENIGN),
        ("With respect, {I}'s {Y} does not work for families on our side of town.", _BENIGN),
    ),
    # Survey answers about danger: death and violence words, and no one threatened.
    "safety_concern": (
        ("The bend on Station Road is lethal, we need a barrier before someone dies.", _BENIGN),
        ("Somebody will be killed on that roundabout if nothing changes.", _BENIGN),
        ("I'm scared to let my kids cycle to school with lorries flying past.", _BENIGN),
        ("The alley behind the shops is a magnet for muggers after dark.", _BENIGN),
        ("Please fix the broken railing on the bridge, a child could fall through.", _BENIGN),
        ("Burglaries have doubled on our estate and nobody from the council has said a word.", _BENIGN),
        ("Boy racers are going to kill a pedestrian on the high street one of these nights.", _BENIGN),
        ("The park is full of needles and broken glass, it isn't safe for toddlers.", _BENIGN),
        ("I was nearly hit by a van on the crossing by the post office yesterday.", _BENIGN),
        ("We need more lighting on the canal towpath, people have been attacked there.", _BENIGN),
        ("Fireworks get thrown at buses every November, someone will lose an eye.", _BENIGN),
        ("The fire doors in our block are propped open and the alarms don't work.", _BENIGN),
    ),
    "violent_idiom": (
        ("The council should kill this parking scheme before it does any more damage.", _BENIGN),
        ("Axe the garden waste charge, nobody wants to pay it.", _BENIGN),
        ("This new bakery absolutely slays, best croissants in town.", _BENIGN),
        ("I'd murder a decent coffee after that bus journey.", _BENIGN),
        ("Our under-12s smashed it at the county finals, well done everyone!", _BENIGN),
        ("Let's fight for a proper youth centre on the east side.", _BENIGN),
        ("The roadworks are killing local businesses on the high street.", _BENIGN),
        ("Knock down the derelict depot and build homes there.", _BENIGN),
        ("The mayor really shot herself in the foot with that budget.", _BENIGN),
        ("We beat the recycling target this year, great news.", _BENIGN),
        ("Take a sledgehammer to the planning rules, they're hopeless.", _BENIGN),
        ("Strangle the red tape, not the small shops.", _BENIGN),
    ),
    "polarization_vilify": (
        ("Those people are destroying our city.", _VILIFY_ANY),
        ("People from the other side of the river are ruining everything for the rest of us.", _VILIFY_ANY),
        ("The newcomers don't care about this town, they only take from it.", _VILIFY_ANY),
    ),
}

# Templates over political/social out-groups ({P}: "liberals", "landlords"...).
_EVAL_OUTGROUP_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "civil_disagreement": (
        ("I vote differently from most {P}, but I respect their views on housing.", _BENIGN),
        ("I disagree with {P} about taxes, and that's fine in a democracy.", _BENIGN),
    ),
    "polarization_vilify": (
        ("{P} are destroying this city and they don't care who gets hurt.", _VILIFY),
        ("Every single one of the {P} is a traitor to this country.", _VILIFY),
        ("You can't reason with {P}, they are the enemy and always will be.", _VILIFY),
    ),
}

# Obfuscated hate: base sentences whose key word is disguised one of four ways.
_EVAL_OBFUSCATION_BASES: tuple[tuple[str, str], ...] = (
    ("I hate {P}.", "hate"),
    ("{P} are vermin.", "vermin"),
    ("{P} are filthy parasites.", "parasites"),
)

# END OF EVALUATION TEMPLATES ========================================================================


# ---------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One functional test case.

    ``expected`` maps only the evaluated signals to 0/1; signals left out are not scored for this case.
    ``group`` is an identity-group key (``None`` when the text names no group).
    """

    id: str
    text: str
    functionality: str
    expected: Mapping[str, int]
    group: str | None = None

    def __post_init__(self) -> None:
        if self.functionality not in FUNCTIONALITIES:
            raise ValueError(f"case {self.id}: unknown functionality {self.functionality!r}")
        bad = set(self.expected) - set(SIGNALS)
        if bad or not self.expected:
            raise ValueError(f"case {self.id}: expected labels must name signals of {SIGNALS}, got {bad}")


def suite_groups() -> tuple[IdentityGroup, ...]:
    """Every identity group the evaluation suite uses: protected groups, then political/social ones."""
    return EVAL_GROUPS + EVAL_OUTGROUPS


def suite_cases() -> list[Case]:
    """Build the functional suite: deterministic, in a fixed order, ids stable across runs.

    >>> cases = suite_cases()
    >>> cases[0].text, cases[0].expected
    ('I hate Muslims.', {'hate': 1, 'threat': 0})
    """
    cases: list[Case] = []
    for functionality, templates in _EVAL_GROUP_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            for group in EVAL_GROUPS:
                text = _render(template, **_group_slots(group))
                cases.append(
                    Case(f"{functionality}-{t}-{group.key}", text, functionality, expected, group.key)
                )
    for g, group in enumerate(EVAL_GROUPS):
        for s, style in enumerate(OBFUSCATION_STYLES):
            base, word = _EVAL_OBFUSCATION_BASES[(g + s) % len(_EVAL_OBFUSCATION_BASES)]
            clear = _render(base, **_group_slots(group))
            text = (
                clear.translate(_HOMOGLYPH)
                if style == "homoglyph"
                else clear.replace(word, obfuscate(word, style))
            )
            cases.append(
                Case(f"obfuscated_hate-{style}-{group.key}", text, "obfuscated_hate", _HATE, group.key)
            )
    for i, (group_key, text) in enumerate(_EVAL_RECLAIMED):
        cases.append(
            Case(
                f"reclaimed_self_reference-{i}-{group_key}",
                text,
                "reclaimed_self_reference",
                _RECLAIMED,
                group_key,
            )
        )
    for functionality, templates in _EVAL_PLAIN_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            if "{I}" in template:
                for k, inst in enumerate(_EVAL_INSTITUTIONS):
                    policy = _EVAL_POLICIES[(k + t) % len(_EVAL_POLICIES)]
                    text = _render(template, I=inst, Y=policy)
                    cases.append(Case(f"{functionality}-{t}-{k}", text, functionality, expected))
            elif "{T}" in template:
                for k, person in enumerate(_EVAL_PERSONS):
                    text = _render(template, T=person)
                    cases.append(Case(f"{functionality}-{t}-{k}", text, functionality, expected))
            else:
                cases.append(Case(f"{functionality}-{t}", template, functionality, expected))
    for functionality, templates in _EVAL_OUTGROUP_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            for group in EVAL_OUTGROUPS:
                text = _render(template, **_group_slots(group))
                cases.append(
                    Case(f"{functionality}-og{t}-{group.key}", text, functionality, expected, group.key)
                )
    return cases


def eval_skeletons() -> list[str]:
    """The distinct skeletons (``augment.skeleton``) of every suite case and every case of the
    per-language suites (``signals.functional.languages``), sorted."""
    from signals.functional import languages
    from signals.functional.augment import skeleton

    return sorted({skeleton(c.text) for c in suite_cases()} | {skeleton(c.text) for c in languages.CASES})


def write_eval_skeletons(path: str | Path = EVAL_SKELETONS_FILE) -> Path:
    """Write ``eval_skeletons()`` one a line to ``path`` (by default the package's data file).

    Run after changing an evaluation template or an identity term:
    ``python -c "from signals.functional.suite import write_eval_skeletons; write_eval_skeletons()"``.
    """
    path = Path(path)
    path.write_text("".join(f"{line}\n" for line in eval_skeletons()), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# Running the suite
# ---------------------------------------------------------------------------------------------------


def regression_rows() -> list[dict[str, str]]:
    """The civic regression sentences: ``{"category", "text"}`` rows of ``REGRESSION_FILE``."""
    with REGRESSION_FILE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def regression_reviewed(scorer: Any) -> dict[str, list[tuple[float, str]]]:
    """Per signal of ``REGRESSION_SIGNALS``, the regression sentences at or above the scorer's ``review``
    point, as ``(probability, text)``, highest first: each is an analyst's wasted read.

    Their counts are the metrics ``civic_regression_<signal>_reviewed`` (``regression_metrics``), which
    the promotion gate holds to the champion's.
    """
    rows = regression_rows()
    p = np.asarray(scorer.predict_proba([r["text"] for r in rows]), dtype=float)
    review = scorer.info.thresholds["review"]
    out = {}
    for signal in REGRESSION_SIGNALS:
        col = p[:, SIGNALS.index(signal)]
        hits = np.where(col >= review[signal])[0]
        out[signal] = sorted(((float(col[i]), rows[i]["text"]) for i in hits), reverse=True)
    return out


def regression_metrics(reviewed: Mapping[str, Sequence[tuple[float, str]]]) -> dict[str, float]:
    """``civic_regression_<signal>_reviewed``: how many regression sentences reach ``review``.

    >>> regression_metrics({"hate": [(0.9, "Too many potholes.")], "threat": []})
    {'civic_regression_hate_reviewed': 1.0, 'civic_regression_threat_reviewed': 0.0}
    """
    return {f"civic_regression_{s}_reviewed": float(len(hits)) for s, hits in reviewed.items()}


class SuiteScorer(Protocol):
    """What ``run_suite`` needs: calibrated per-signal probabilities (``signals.scoring.Scorer``)."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def _resolve_thresholds(scorer: Any, threshold: str | float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(threshold, str):
        info = getattr(scorer, "info", None)
        points = getattr(info, "thresholds", None) or {}
        if threshold not in points:
            raise ValueError(f"unknown operating point {threshold!r}; the model has {sorted(points)}")
        return {s: float(points[threshold][s]) for s in SIGNALS}
    if isinstance(threshold, Mapping):
        missing = set(SIGNALS) - set(threshold)
        if missing:
            raise ValueError(f"threshold mapping lacks signals {sorted(missing)}")
        return {s: float(threshold[s]) for s in SIGNALS}
    return {s: float(threshold) for s in SIGNALS}


@dataclass
class SuiteResult:
    """Outcome of ``run_suite``: the cases, the calibrated probabilities and the decisions taken.

    A case is correct when every evaluated signal's decision (probability >= threshold) equals the
    expected label.
    """

    cases: list[Case]
    probs: np.ndarray
    thresholds: dict[str, float]
    operating_point: str = "flag"
    model: str = ""
    decisions: np.ndarray = field(init=False)
    correct: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.probs = np.asarray(self.probs, dtype=float)
        if self.probs.shape != (len(self.cases), len(SIGNALS)):
            raise ValueError(f"probs shape {self.probs.shape} != ({len(self.cases)}, {len(SIGNALS)})")
        cut = np.array([self.thresholds[s] for s in SIGNALS])
        self.decisions = (self.probs >= cut).astype(int)
        self.correct = np.array(
            [
                all(self.decisions[i, SIGNALS.index(s)] == v for s, v in case.expected.items())
                for i, case in enumerate(self.cases)
            ],
            dtype=bool,
        )

    @property
    def overall_accuracy(self) -> float:
        return float(self.correct.mean()) if len(self.cases) else float("nan")

    def _accuracy_by(self, key: str) -> dict[str, float]:
        totals: dict[str, list[int]] = {}
        for case, ok in zip(self.cases, self.correct, strict=True):
            name = getattr(case, key)
            if name is None:
                continue
            totals.setdefault(name, []).append(int(ok))
        return {name: float(np.mean(v)) for name, v in totals.items()}

    @property
    def per_functionality(self) -> dict[str, float]:
        """Accuracy per functionality, in ``FUNCTIONALITIES`` order."""
        acc = self._accuracy_by("functionality")
        return {f: acc[f] for f in FUNCTIONALITIES if f in acc}

    @property
    def per_group(self) -> dict[str, float]:
        """Accuracy over all cases mentioning each identity group."""
        return self._accuracy_by("group")

    def to_metrics(self, prefix: str = "func") -> dict[str, float]:
        """Flat metrics for MLflow: ``func_overall_acc``, ``func_<functionality>_acc``, ``funcgroup_<g>_acc``.

        Per-group keys use a separate ``funcgroup_`` prefix so that every ``func_<x>_acc`` key is a
        functionality (the promotion gate relies on that).
        """
        out = {f"{prefix}_overall_acc": self.overall_accuracy}
        out.update({f"{prefix}_{name}_acc": acc for name, acc in self.per_functionality.items()})
        out.update({f"{prefix}group_{name}_acc": acc for name, acc in self.per_group.items()})
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per case: text, functionality, group, expected/prob/decision per signal, correct."""
        out = []
        for i, case in enumerate(self.cases):
            row: dict[str, Any] = {
                "id": case.id,
                "functionality": case.functionality,
                "group": case.group or "",
                "text": case.text,
                "correct": bool(self.correct[i]),
            }
            for j, s in enumerate(SIGNALS):
                row[f"expected_{s}"] = case.expected.get(s, "")
                row[f"prob_{s}"] = round(float(self.probs[i, j]), 4)
                row[f"pred_{s}"] = int(self.decisions[i, j])
            out.append(row)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Per-case predictions as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per functionality (and ``overall``): n cases, n correct, accuracy."""
        out = []
        for name in self.per_functionality:
            mask = np.array([c.functionality == name for c in self.cases])
            out.append(
                {
                    "functionality": name,
                    "n": int(mask.sum()),
                    "correct": int(self.correct[mask].sum()),
                    "accuracy": float(self.correct[mask].mean()),
                }
            )
        out.append(
            {
                "functionality": "overall",
                "n": len(self.cases),
                "correct": int(self.correct.sum()),
                "accuracy": self.overall_accuracy,
            }
        )
        return out

    def write_csv(self, directory: str | Path) -> list[Path]:
        """Write ``functional_cases.csv`` (per case) and ``functional_summary.csv``; returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, rows in (
            ("functional_cases.csv", self.rows()),
            ("functional_summary.csv", self.summary_rows()),
        ):
            path = directory / name
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            paths.append(path)
        return paths

    def to_table(self) -> Table:
        """A rich table: accuracy per functionality, with its description."""
        from rich.table import Table

        title = (
            f"Functional suite ({self.operating_point} threshold){' - ' + self.model if self.model else ''}"
        )
        table = Table(title=title)
        table.add_column("functionality")
        table.add_column("tests")
        table.add_column("n", justify="right")
        table.add_column("accuracy", justify="right")
        for row in self.summary_rows():
            acc = row["accuracy"]
            style = "red" if acc < 0.5 else ("yellow" if acc < 0.8 else "green")
            table.add_row(
                row["functionality"],
                FUNCTIONALITIES.get(row["functionality"], "all cases"),
                str(row["n"]),
                f"[{style}]{acc:.1%}[/]",
            )
        return table


def run_suite(
    scorer: SuiteScorer,
    threshold: str | float | Mapping[str, float] = "flag",
    cases: Sequence[Case] | None = None,
) -> SuiteResult:
    """Score the functional suite and decide each case at an operating point.

    ``threshold`` is an operating point of the model's manifest (``"flag"`` or ``"review"``), one
    probability for all signals, or a mapping signal -> probability.

    >>> result = run_suite(load_scorer("models/default"))  # doctest: +SKIP
    >>> result.to_metrics()["func_overall_acc"]            # doctest: +SKIP
    """
    cases = list(cases) if cases is not None else suite_cases()
    thresholds = _resolve_thresholds(scorer, threshold)
    probs = np.asarray(scorer.predict_proba([c.text for c in cases]), dtype=float)
    name = getattr(scorer, "name", "")
    result = SuiteResult(
        cases,
        probs,
        thresholds,
        operating_point=threshold if isinstance(threshold, str) else "custom",
        model=name if isinstance(name, str) else "",
    )
    log.info("functional suite: %d cases, overall accuracy %.3f", len(cases), result.overall_accuracy)
    return result


def evaluate_model_dir(
    path: str | Path, threshold: str = "flag", out_dir: str | Path | None = None
) -> dict[str, float]:
    """Run the functional suite and its per-group bias metrics on a model directory (or MLflow URI).

    Returns the flat metrics (``func_*`` and ``bias_func_*``); with ``out_dir``, also writes the
    per-case and summary CSVs and ``bias_functional.csv`` there, for logging as MLflow artifacts.
    """
    from signals.bias import bias_frame, bias_metrics, suite_bias_report
    from signals.scoring import load_scorer

    scorer = load_scorer(path)
    result = run_suite(scorer, threshold=threshold)
    report = suite_bias_report(result)
    metrics = result.to_metrics()
    metrics.update(bias_metrics(report, prefix="bias_func"))
    if out_dir is not None:
        result.write_csv(out_dir)
        bias_frame(report).to_csv(Path(out_dir) / "bias_functional.csv", index=False)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m signals.functional.suite MODEL_DIR [--threshold flag] [--out DIR]``: print the tables."""
    from rich.console import Console

    from signals.bias import bias_table, suite_bias_report
    from signals.scoring import load_scorer

    parser = argparse.ArgumentParser(prog="python -m signals.functional.suite", description=main.__doc__)
    parser.add_argument("model", help="model directory (with signals.json) or MLflow model URI")
    parser.add_argument("--threshold", default="flag", help="operating point: flag or review")
    parser.add_argument("--out", default=None, help="directory for the CSV artifacts")
    args = parser.parse_args(argv)
    console = Console()
    try:
        scorer = load_scorer(args.model)
        result = run_suite(scorer, threshold=args.threshold)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    console.print(result.to_table())
    report = suite_bias_report(result)
    console.print(bias_table(report))
    if args.out:
        result.write_csv(args.out)
        from signals.bias import bias_frame

        bias_frame(report).to_csv(Path(args.out) / "bias_functional.csv", index=False)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
