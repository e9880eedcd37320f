"""A demo triage queue for ``make run``: invented forum comments and survey answers, and a demo analyst.

Every text here was written for this project (no corpus rows). Some carry personal data on purpose
(an e-mail address, a phone number, a street address) so the demo shows redaction at work.

>>> seed = seed_demo()          # doctest: +SKIP
>>> seed.username, seed.password  # log in at /triage with these  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from signals.db import migrate
from signals.scoring import Scorer
from signals.triage.store import NewItem, add_items
from signals.triage.users import create_user, get_user, set_password

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo-forum"
DEMO_SURVEY = "demo-city-survey-2026"
DEMO_USER = "demo"

_Q3 = "What should the city change about public transport?"
_Q7 = "How welcome do you feel in your neighbourhood, and why?"

FORUM: list[tuple[str, str]] = [
    ("f01", "Those people are destroying our city and everyone who votes for them is a traitor."),
    ("f02", "If the new shelter opens on our street someone should shoot them before they move in."),
    ("f03", "You absolute idiot, did you even read the proposal before posting?"),
    ("f04", "Great meeting yesterday, thanks to everyone who stayed for the Q&A."),
    ("f05", "Immigrants like that are vermin and should be deported, all of them."),
    ("f06", "I disagree with the council's zoning plan; it ignores traffic on Elm Street."),
    ("f07", "Contact me at jordan.lee@example.org or 555-201-3344 if you want to join the clean-up."),
    ("f08", "Someone called me a slur at the market last week and nobody said a thing. That has to change."),
    ("f09", "Damn, the library closing early again? That's stupid planning."),
    ("f10", "The other party's voters are all traitors who hate this country."),
    ("f11", "My neighbours at 42 Maple Avenue organised a lovely street party, everyone was invited."),
    ("f12", "I'll hurt you if you park in front of my garage one more time."),
]

SURVEY: list[tuple[str, str, str, str]] = [
    ("r101", "Q3", _Q3, "More buses after 10pm please, the night service is useless."),
    ("r102", "Q3", _Q3, "Keep those people off our trains, they are destroying our city."),
    ("r103", "Q3", _Q3, "The new bike lanes are great, my commute is ten minutes shorter."),
    ("r104", "Q3", _Q3, "Whoever planned the Route 9 detour is a complete idiot."),
    ("r105", "Q7", _Q7, "Very welcome. The mosque and the church run a food bank together."),
    ("r106", "Q7", _Q7, "Not welcome: people shout that we should go back where we came from."),
    ("r107", "Q7", _Q7, "Fine, but new arrivals are subhuman and should be kept out of our schools."),
    ("r108", "Q7", _Q7, "I feel at home. Call me on +1 (555) 013-9988 if the survey team wants to talk."),
]


def demo_items() -> list[NewItem]:
    """The demo comments and survey answers as ``NewItem`` objects (20 in all)."""
    items = [NewItem(DEMO_SOURCE, ext, text, {"forum": "city-talk"}) for ext, text in FORUM]
    for respondent, qid, question, answer in SURVEY:
        context = {
            "question_id": qid,
            "question_text": question,
            "respondent": {"id": respondent, "district": "north" if respondent < "r105" else "south"},
        }
        items.append(NewItem(DEMO_SURVEY, f"{respondent}-{qid}", answer, context))
    return items


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` did: items newly queued, items already there, and the demo login."""

    queued: int
    existing: int
    username: str
    password: str


def seed_demo(
    scorer: Scorer | None = None,
    *,
    url: str | None = None,
    password: str | None = None,
    second_review: bool = True,
) -> DemoSeed:
    """Migrate the database, queue the demo items (idempotent) and make sure the demo analyst exists.

    The demo analyst's password is ``password`` or a fresh random one; either way it is (re)set, so the
    returned credentials always work. ``scorer`` defaults to ``signals.scoring.load_scorer()``.
    """
    migrate(url)
    if scorer is None:
        from signals.scoring import load_scorer

        scorer = load_scorer()
    results = add_items(demo_items(), scorer, url=url, second_review=second_review, submitted_by="demo")
    queued = sum(1 for r in results if r.status == "queued")
    password = password or secrets.token_urlsafe(9)
    if get_user(DEMO_USER, url=url) is None:
        try:
            create_user(DEMO_USER, password, url=url)
        except ValueError:  # exists but was disabled
            set_password(DEMO_USER, password, url=url)
    else:
        set_password(DEMO_USER, password, url=url)
    log.info("demo queue: %d new, %d existing item(s); analyst %r", queued, len(results) - queued, DEMO_USER)
    return DemoSeed(queued, len(results) - queued, DEMO_USER, password)
