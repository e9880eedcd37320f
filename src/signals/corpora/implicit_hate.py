"""Latent Hatred / implicit-hate corpus (ElSherief et al., EMNLP 2021), all three stages.

- Stage 1 (``implicit_hate_v1_stg1_posts.tsv``: post, class): ``not_hate`` / ``implicit_hate`` /
  ``explicit_hate``. Both hate classes -> hate=1; not_hate -> hate=0. The annotation asked only about
  hate, so ``offensive`` and ``polarization`` stay unknown (not_hate posts can be rude; implicit hate is
  by design often polite).
- Stage 2 (post, implicit_class, extra_implicit_class): fine classes of the implicit-hate posts.
  ``threatening`` ("threatening and intimidation") -> threat=1. ``incitement`` is Latent Hatred's
  "incitement to violence", but its definition and examples are mostly flaunting in-group power or
  promoting hateful groups ("stay white", "211000 invaders arrive"), not calls for violence, so it leaves
  threat unknown rather than teaching the model that slogans are threats. Every other class (white
  grievance, inferiority, irony, stereotypical, other) -> threat=0: the annotators had ``threatening``
  available (primary or extra) and did not pick it.
- Stage 3 (post, target, implied_statement): free-text target, mapped by keyword rules
  (``map_target``) onto the signals target groups. The named groups get 1 and the other groups 0 (the
  annotator was asked *who* is targeted); "not specified"-style answers leave all targets unknown.

Stages 2 and 3 join to stage 1 by post text (exact, then a looser alphanumeric key for rows whose
quoting differs between the stage files); rows that still do not join are counted and skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from signals.corpora._base import CorpusAdapter, parse_label, read_table
from signals.schema import TARGETS, UNKNOWN, Record

logger = logging.getLogger(__name__)

NAME = "implicit-hate"
STAGE1 = "implicit_hate_v1_stg1_posts.tsv"
STAGE2 = "implicit_hate_v1_stg2_posts.tsv"
STAGE3 = "implicit_hate_v1_stg3_posts.tsv"

_CLASSES: dict[str, int] = {"not_hate": 0, "implicit_hate": 1, "explicit_hate": 1}
_IMPLICIT_CLASSES = (
    "white_grievance",
    "incitement",
    "inferiority",
    "irony",
    "stereotypical",
    "threatening",
    "other",
)

_UNSPECIFIED = re.compile(
    r"^\W*$|not spec|no specific|impossible to determine|group is not specified|^an individual$|"
    r"^these folks$|^sfgfsfgf$|^robert$|^james craig$"
)
# Ideology phrases containing a race word ("white nationalists") must not count as a racial target.
_IDEOLOGY_WITH_RACE = re.compile(r"white (nationalis\w*|supremac\w*|genocide)|pro-white|anti-white")
_RULES: dict[str, re.Pattern[str]] = {
    "race_ethnicity": re.compile(
        r"white|whit\b|black|non-?white|colou?r|minorit|brown|asian|latin|hispanic|mexican|mestizo|"
        r"african|arab|aryan|racial|race|biracial|indigenous|native|aborigin|gyps|khazar|"
        r"fair complected|gingers|albino|blm|black lives matter|anti-white"
    ),
    "religion": re.compile(
        r"muslim|msulim|mualim|muslin|islam|moslem|jew|judai|zionis|israelite|semite|christian|catholic|"
        r"protestant|mormon|hindu|sharia|atheis|secular|religio|believer|isis|al-qaeda|al-queda|jihad|"
        r"bible|allah"
    ),
    "gender_sexuality": re.compile(
        r"wom[ae]n|female|girl|\bmen\b|\bmales?\b|\bboys\b|\bguys\b|gay|lesbian|homos|queer|lgb|lbgt|"
        r"trans(gender|sexual|geners|exual| people| folks)|feminis|womanist|heterosexual|gender|abortion"
    ),
    "national_origin": re.compile(
        r"immigra|immmigra|ommogra|migrant|refugee|illegal|alien|foreign|outsider|third world|mexican|"
        r"german|italian|russian|chinese|indian|iranian|iraqi|syrian|pakistan|palestin|israel|isral|"
        r"somali|solmali|haitian|albanian|turk|french|dutch|swed|norweg|welsh|british|britain|irish|"
        r"polish|spanish|canadian|americans?\b|europe|keralite|bihari|liberian|nigeria|rohingya|egyptian|"
        r"middle.?east|mideast|african|arabian|islanders|non-americans|america\b|usa\b|india\b|"
        r"south africans|scottish|westerners"
    ),
    "disability": re.compile(r"disab|handicap|mentally ill|autis|dwarf|hiv|aids"),
    "political": re.compile(
        r"liberal|progressive|democrat|conservative|republican|leftist|lefty|lefties|\bleft\b|"
        r"right.wing|\bthe right\b|antifa|communis|socialis|marxis|libertarian|alt.right|alt.left|"
        r"nationalis|supremac|nazi|neocon|trump|feminis|politician|government|splc|southern poverty|aclu|"
        r"black lives matter|blm|capitalis|fascis|facist|kkk|moderate|idealist|ideologue|radical|"
        r"social justice|protest|activist|anti-nationals|patriotic|aap|planned parenthood|confederate|"
        r"black panthers|obama|hillary|anti-gun|anti-lgbtq|anti gay|white genocide|pro-white|anti-white"
    ),
}


def map_target(target: str) -> dict[str, int]:
    """Map one stage-3 free-text target onto signals target groups (1 named, 0 not named, -1 unknown).

    >>> map_target("white conservatives")["political"], map_target("white conservatives")["religion"]
    (1, 0)
    >>> map_target("not specified")["religion"]
    -1
    """
    text = re.sub(r"\s+", " ", str(target).lower()).strip()
    if _UNSPECIFIED.search(text):
        return dict.fromkeys(TARGETS, UNKNOWN)
    race_text = _IDEOLOGY_WITH_RACE.sub(" ", text)
    hits = {
        group: int(bool(rule.search(race_text if group == "race_ethnicity" else text)))
        for group, rule in _RULES.items()
    }
    # A named group the rules do not know (journalists, police, poor people...) is still a target.
    hits["other"] = 0 if any(hits.values()) else 1
    return hits


def _loose_key(text: str) -> str:
    """Key that survives the stage files' differing quote escaping: lowercase letters and digits only."""
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _threat(primary: str, extra: str) -> int:
    classes = {primary, extra} - {""}
    if "threatening" in classes:
        return 1
    if "incitement" in classes:
        return UNKNOWN
    return 0


def read(folder: Path, languages: Sequence[str]) -> Iterator[Record]:
    """Yield one Record per stage-1 post (ids ``implicit-hate:<stage-1 row>``), enriched by stages 2/3."""
    if "en" not in languages:
        return
    p1, p2, p3 = folder / STAGE1, folder / STAGE2, folder / STAGE3
    stage1 = read_table(p1, NAME, ["post", "class"], sep="\t")
    stage2 = read_table(p2, NAME, ["post", "implicit_class", "extra_implicit_class"], sep="\t")
    stage3 = read_table(p3, NAME, ["post", "target"], sep="\t")

    exact_index: dict[str, int] = {}
    loose_index: dict[str, int] = {}
    for row, post in enumerate(stage1["post"]):
        exact_index.setdefault(post, row)
        loose_index.setdefault(_loose_key(post), row)

    def locate(post: str) -> int | None:
        found = exact_index.get(post)
        return found if found is not None else loose_index.get(_loose_key(post))

    threats: dict[int, int] = {}
    unmatched2 = 0
    allowed2 = (*_IMPLICIT_CLASSES, "")
    for row, (post, primary, extra) in enumerate(
        zip(stage2["post"], stage2["implicit_class"], stage2["extra_implicit_class"], strict=True)
    ):
        primary = parse_label(primary, allowed2, p2, row, "implicit_class", NAME)
        extra = parse_label(extra, allowed2, p2, row, "extra_implicit_class", NAME)
        target_row = locate(post)
        if target_row is None:
            unmatched2 += 1
            continue
        value = _threat(primary, extra)
        # A post listed twice keeps the strongest evidence (1 over unknown over 0).
        previous = threats.get(target_row)
        if previous is None or value == 1 or (previous == 0 and value == UNKNOWN):
            threats[target_row] = value

    targets: dict[int, dict[str, int]] = {}
    unmatched3 = 0
    for post, target in zip(stage3["post"], stage3["target"], strict=True):
        target_row = locate(post)
        if target_row is None:
            unmatched3 += 1
            continue
        mapped = map_target(target)
        if target_row in targets:  # union of the groups named for the same post
            mapped = {g: max(v, targets[target_row][g]) for g, v in mapped.items()}
        targets[target_row] = mapped
    if unmatched2 or unmatched3:
        logger.info(
            "%s: %d stage-2 and %d stage-3 rows did not join to stage 1 and were skipped",
            NAME,
            unmatched2,
            unmatched3,
        )

    for row, (post, cls) in enumerate(zip(stage1["post"], stage1["class"], strict=True)):
        hate = _CLASSES[parse_label(cls, tuple(_CLASSES), p1, row, "class", NAME)]
        yield Record(
            id=f"{NAME}:{row}",
            text=post,
            source=NAME,
            lang="en",
            labels={"hate": hate, "threat": threats.get(row, UNKNOWN)},
            targets=targets.get(row, {}),
        )


ADAPTER = CorpusAdapter(
    name=NAME,
    languages=("en",),
    read=read,
    description="Latent Hatred: hate classes, implicit classes (threat), free-text targets",
)
