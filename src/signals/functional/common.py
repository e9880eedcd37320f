"""Shared vocabulary of the functional suite and the augmentation templates.

Both halves of ``signals.functional`` import this module and nothing else of each other's: the
functionality names, the identity-group record, the expected-label shorthands, the identity and slot
terms the evaluation suite uses (the leak guard masks them), and the obfuscation transformations.
No template text lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# ---------------------------------------------------------------------------------------------------
# Shared vocabulary: functionalities and identity groups
# ---------------------------------------------------------------------------------------------------

#: Functionality name -> what it checks. Names become metric keys ``func_<name>_acc``.
FUNCTIONALITIES: dict[str, str] = {
    "plain_hate": "explicit derogation of a protected group",
    "implicit_hate": "hate without slurs or insults: insinuation, stereotype, exclusion",
    "dehumanisation": "comparing a protected group to vermin, disease or animals",
    "threat_group": "threat or call for violence against a protected group",
    "threat_individual": "threat against one person, no identity involved",
    "hate_question": "hate phrased as a question ('Why are X so ...?')",
    "negated_positive": "hate as a negated positive statement ('I have no respect for X')",
    "negated_hate": "negated hateful statement ('I don't hate X')",
    "counter_speech": "speaking out against hate towards a group",
    "quoted_condemnation": "quoting hate in order to condemn or report it",
    "reported_hate": "describing hate one experienced oneself",
    "neutral_identity": "neutral mention of an identity",
    "positive_identity": "positive statement about an identity",
    "reclaimed_self_reference": "in-group, reclaimed use of a term about oneself",
    "profanity_untargeted": "profanity aimed at no one",
    "insult_person": "insult at a person, no identity involved",
    "obfuscated_hate": "hate with leet, spacing, asterisks or homoglyph spellings",
    "civil_disagreement": "civil disagreement with an institution or political side",
    "safety_concern": "a complaint about danger, crime or road safety: no threat, whatever its words",
    "violent_idiom": "violent words used figuratively ('kill the scheme', 'axe the tax'): no threat",
    "polarization_vilify": "vilifying a political or social out-group (us vs. them)",
}

#: Functionalities whose cases expect ``hate = 1``; an always-0 model must fail all of them.
HATE_FUNCTIONALITIES: tuple[str, ...] = (
    "plain_hate",
    "implicit_hate",
    "dehumanisation",
    "threat_group",
    "hate_question",
    "negated_positive",
    "obfuscated_hate",
)


@dataclass(frozen=True)
class IdentityGroup:
    """An identity group and the surface forms templates need.

    ``plural`` ("Muslims"), ``person`` with article ("a Muslim"), ``adj`` ("Muslim", used as
    "my Muslim neighbours"), ``target`` is the ``schema.TARGETS`` category, ``protected`` tells whether
    attacks on it count as hate (political and social out-groups are not protected characteristics:
    vilifying them is polarization, not hate).
    """

    key: str
    plural: str
    person: str
    adj: str
    target: str
    protected: bool = True


# ---------------------------------------------------------------------------------------------------
# The evaluation suite's identity groups and slot fillers. Here, not in ``suite``, because the leak
# guard (``augment.skeleton``) masks them; the suite's templates stay in ``suite``.
# ---------------------------------------------------------------------------------------------------

#: Protected groups of the evaluation suite (the augmentation templates use other ones).
EVAL_GROUPS: tuple[IdentityGroup, ...] = (
    IdentityGroup("muslims", "Muslims", "a Muslim", "Muslim", "religion"),
    IdentityGroup("jews", "Jews", "a Jewish person", "Jewish", "religion"),
    IdentityGroup("black_people", "Black people", "a Black person", "Black", "race_ethnicity"),
    IdentityGroup("asian_people", "Asian people", "an Asian person", "Asian", "race_ethnicity"),
    IdentityGroup("immigrants", "immigrants", "an immigrant", "immigrant", "national_origin"),
    IdentityGroup("refugees", "refugees", "a refugee", "refugee", "national_origin"),
    IdentityGroup("women", "women", "a woman", "female", "gender_sexuality"),
    IdentityGroup("trans_people", "trans people", "a trans person", "trans", "gender_sexuality"),
    IdentityGroup("gay_people", "gay people", "a gay person", "gay", "gender_sexuality"),
    IdentityGroup("disabled_people", "disabled people", "a disabled person", "disabled", "disability"),
    IdentityGroup("mexicans", "Mexicans", "a Mexican", "Mexican", "national_origin"),
    IdentityGroup("roma", "Roma", "a Roma person", "Roma", "race_ethnicity"),
    IdentityGroup("christians", "Christians", "a Christian", "Christian", "religion"),
    IdentityGroup("hindus", "Hindus", "a Hindu", "Hindu", "religion"),
)

#: Political and social out-groups for the polarization functionalities (not protected: hate = 0).
EVAL_OUTGROUPS: tuple[IdentityGroup, ...] = (
    IdentityGroup("liberals", "liberals", "a liberal", "liberal", "political", protected=False),
    IdentityGroup("conservatives", "conservatives", "a conservative", "conservative", "political", False),
    IdentityGroup("landlords", "landlords", "a landlord", "landlord", "other", protected=False),
    IdentityGroup("cyclists", "cyclists", "a cyclist", "cyclist", "other", protected=False),
)

# Evaluation templates with no identity group fill {T} with a person, {I} an institution, {Y} a policy.
_EVAL_PERSONS: tuple[str, ...] = ("the councillor", "my neighbour", "that reporter", "the landlord")
_EVAL_INSTITUTIONS: tuple[str, ...] = (
    "the council",
    "the school board",
    "the mayor",
    "the transit authority",
)
_EVAL_POLICIES: tuple[str, ...] = (
    "zoning plan",
    "budget proposal",
    "parking changes",
    "bin collection schedule",
)

# ---------------------------------------------------------------------------------------------------
# Expected-label shorthands. Only the listed signals are evaluated for a case (or labelled for an
# augmentation row).
# ---------------------------------------------------------------------------------------------------

_HATE = {"hate": 1, "threat": 0}
_HATE_DEHUMAN = {"hate": 1, "polarization": 1}
_HATE_THREAT = {"hate": 1, "threat": 1}
_NOT_HATE = {"hate": 0, "threat": 0}
_BENIGN = {"hate": 0, "threat": 0, "offensive": 0, "polarization": 0}
_THREAT_ONLY = {"threat": 1, "hate": 0}
_INSULT = {"offensive": 1, "hate": 0}
_PROFANE = {"hate": 0, "threat": 0, "polarization": 0}
_VILIFY = {"polarization": 1, "hate": 0, "threat": 0}
_VILIFY_ANY = {"polarization": 1, "threat": 0}
_RECLAIMED = {"hate": 0, "threat": 0}
# A claim about a group negated or condemned: neither hate nor us-vs-them vilification of the group.
_REJECTED = {"hate": 0, "threat": 0, "polarization": 0}


# ---------------------------------------------------------------------------------------------------
# Obfuscation helpers (shared by both halves: they are transformations, not templates)
# ---------------------------------------------------------------------------------------------------

OBFUSCATION_STYLES: tuple[str, ...] = ("leet", "spacing", "asterisks", "homoglyph")

_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
# Cyrillic letters that look like Latin ones; NFKC does not fold them.
_LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441"}
_HOMOGLYPH = str.maketrans(_LOOKALIKES)
_UNHOMOGLYPH = str.maketrans({cyrillic: latin for latin, cyrillic in _LOOKALIKES.items()})
_VOWELS = set("aeiou")


def obfuscate(word: str, style: str) -> str:
    """Disguise one word: ``leet`` (v3rm1n), ``spacing`` (v e r m i n), ``asterisks`` (v*rm*n), ``homoglyph``.

    >>> obfuscate("vermin", "asterisks")
    'v*rm*n'
    """
    if style == "leet":
        return word.translate(_LEET)
    if style == "spacing":
        return " ".join(word)
    if style == "asterisks":
        # keep the first letter so the word stays readable, star the inner vowels
        return word[0] + "".join("*" if ch in _VOWELS else ch for ch in word[1:])
    if style == "homoglyph":
        return word.translate(_HOMOGLYPH)
    raise ValueError(f"unknown obfuscation style {style!r}; expected one of {OBFUSCATION_STYLES}")


def _render(template: str, **slots: str) -> str:
    text = template.format(**slots)
    return text[0].upper() + text[1:] if text else text


class SlotForms(Protocol):
    """What fills the group slots of a template: an ``IdentityGroup`` or a non-group filler."""

    @property
    def plural(self) -> str: ...

    @property
    def person(self) -> str: ...

    @property
    def adj(self) -> str: ...


def _group_slots(group: SlotForms) -> dict[str, str]:
    """The {P} plural, {A} person-with-article and {J} adjective slots of a template."""
    return {"P": group.plural, "A": group.person, "J": group.adj}
