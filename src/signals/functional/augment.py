"""Augmentation templates for training, and the leak guard that keeps them apart from the suite.

``augmentation_templates`` yields Records with partial labels (source ``augmentation``) that the
transformer trainer may add to its training data: hand-written templates rendered for the
augmentation groups (different template strings and identity terms from the evaluation suite),
contrast sets (the same content asserted and rejected), and *filler-swapped twins*: every frame with
an identity-group slot rendered once more with a non-group filler ("potholes breed like rats"),
labelled not hate and not a threat, so a frame alone never predicts hate.

``evaluation_overlap`` (the leak guard) drops any text whose ``skeleton`` (identity and slot terms
masked) equals or closely matches an evaluation case. It reads the evaluation texts' skeletons from
``eval_skeletons.txt``, a data file ``suite.write_eval_skeletons`` generates: this module never
imports ``signals.functional.suite``, so training never loads the evaluation suite.
"""

from __future__ import annotations

import difflib
import functools
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

from signals.functional.common import (
    _BENIGN,
    _EVAL_INSTITUTIONS,
    _EVAL_PERSONS,
    _EVAL_POLICIES,
    _HATE,
    _HATE_DEHUMAN,
    _HATE_THREAT,
    _HOMOGLYPH,
    _NOT_HATE,
    _PROFANE,
    _RECLAIMED,
    _REJECTED,
    _UNHOMOGLYPH,
    _VILIFY,
    _VILIFY_ANY,
    EVAL_GROUPS,
    EVAL_OUTGROUPS,
    OBFUSCATION_STYLES,
    IdentityGroup,
    SlotForms,
    _group_slots,
    _render,
    obfuscate,
)
from signals.schema import Record

# ===================================================================================================
# AUGMENTATION TEMPLATES — for training-data augmentation only.
# Different template strings from the evaluation suite (``suite``) and mostly different identity terms,
# so a model trained on them is still tested on unseen wording. tests/unit/test_functional.py checks
# that no augmentation text equals or closely overlaps an evaluation text once identity terms are
# masked.
# Written from the FUNCTIONALITIES descriptions only; registers vary on purpose (forum comment, survey
# answer, rant, lower case without punctuation, the odd typo) because real feedback does.
# A template that starts with a lower-case letter is kept lower case when rendered.
# ===================================================================================================

AUGMENTATION_GROUPS: tuple[IdentityGroup, ...] = (
    IdentityGroup("sikhs", "Sikhs", "a Sikh", "Sikh", "religion"),
    IdentityGroup("catholics", "Catholics", "a Catholic", "Catholic", "religion"),
    IdentityGroup("muslim_people", "Muslim people", "a Muslim man", "Muslim", "religion"),
    IdentityGroup("jewish_people", "Jewish people", "a Jewish woman", "Jewish", "religion"),
    IdentityGroup("buddhists", "Buddhists", "a Buddhist", "Buddhist", "religion"),
    IdentityGroup("arabs", "Arabs", "an Arab", "Arab", "race_ethnicity"),
    IdentityGroup(
        "indigenous_people", "Indigenous people", "an Indigenous man", "Indigenous", "race_ethnicity"
    ),
    IdentityGroup("black_folks", "Black folks", "a Black woman", "Black", "race_ethnicity"),
    IdentityGroup("chinese_people", "Chinese people", "a Chinese student", "Chinese", "race_ethnicity"),
    IdentityGroup("latinos", "Latinos", "a Latino", "Latino", "race_ethnicity"),
    IdentityGroup("migrants", "migrants", "a migrant", "migrant", "national_origin"),
    IdentityGroup(
        "asylum_seekers", "asylum seekers", "an asylum seeker", "asylum-seeking", "national_origin"
    ),
    IdentityGroup("nigerians", "Nigerians", "a Nigerian", "Nigerian", "national_origin"),
    IdentityGroup("pakistanis", "Pakistanis", "a Pakistani", "Pakistani", "national_origin"),
    IdentityGroup("somalis", "Somalis", "a Somali", "Somali", "national_origin"),
    IdentityGroup("polish_people", "Polish people", "a Polish builder", "Polish", "national_origin"),
    IdentityGroup("lesbians", "lesbians", "a lesbian", "lesbian", "gender_sexuality"),
    IdentityGroup("gay_men", "gay men", "a gay man", "gay", "gender_sexuality"),
    IdentityGroup("bisexual_people", "bisexual people", "a bisexual man", "bisexual", "gender_sexuality"),
    IdentityGroup(
        "transgender_men", "transgender men", "a transgender man", "transgender", "gender_sexuality"
    ),
    IdentityGroup(
        "nonbinary_people", "non-binary people", "a non-binary person", "non-binary", "gender_sexuality"
    ),
    IdentityGroup("deaf_people", "deaf people", "a deaf person", "deaf", "disability"),
    IdentityGroup("autistic_people", "autistic people", "an autistic person", "autistic", "disability"),
    IdentityGroup("blind_people", "blind people", "a blind man", "blind", "disability"),
    IdentityGroup(
        "wheelchair_users", "wheelchair users", "a wheelchair user", "wheelchair-using", "disability"
    ),
)

AUGMENTATION_OUTGROUPS: tuple[IdentityGroup, ...] = (
    IdentityGroup("leftists", "leftists", "a leftist", "leftist", "political", protected=False),
    IdentityGroup("right_wingers", "right-wingers", "a right-winger", "right-wing", "political", False),
    IdentityGroup("socialists", "socialists", "a socialist", "socialist", "political", protected=False),
    IdentityGroup("nationalists", "nationalists", "a nationalist", "nationalist", "political", False),
    IdentityGroup(
        "environmentalists", "environmentalists", "an environmentalist", "green", "political", False
    ),
    IdentityGroup("developers", "property developers", "a developer", "developer", "other", protected=False),
    IdentityGroup("drivers", "car drivers", "a driver", "driver", "other", protected=False),
    IdentityGroup("boomers", "boomers", "a boomer", "boomer", "other", protected=False),
    IdentityGroup("vegans", "vegans", "a vegan", "vegan", "other", protected=False),
)

# Augmentation-only label shorthands. A threat at or an insult to one person is neither hate nor
# us-vs-them polarization: saying so explicitly teaches the model not to fire polarization on them.
_THREAT_PERSON = {"threat": 1, "hate": 0, "polarization": 0}
_INSULT_PERSON = {"offensive": 1, "hate": 0, "threat": 0, "polarization": 0}

_AUG_GROUP_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "plain_hate": (
        ("{P} make me sick, every last one.", _HATE),
        ("Nobody in their right mind would hire {A}, they're useless.", _HATE),
        ("My town would be nicer with zero {P} in it.", _HATE),
        ("honestly {P} are the worst thing that ever happened to this country", _HATE),
        ("I can't stand {P}. Never could, never will.", _HATE),
        ("{P} are filthy and stupid, end of discussion.", _HATE),
        ("Fewer {P}. That's my answer to every question on this survey.", _HATE),
        ("Don't ever let {A} near your kids, they're all degenerates.", _HATE),
        ("{J} people are lazy scroungers who contribute nothing.", _HATE),
        ("Every {J} person I've ever met has been a liar and a cheat.", _HATE),
        ("i wouldnt rent my flat to {A} even if they paid double", _HATE),
        ("Why are {P} so disgusting? Genuine question.", _HATE),
        ("{P} are a disgrace and everyone knows it, they just won't say it out loud.", _HATE),
        ("The sooner {P} get banned from this forum the better, worthless lot.", _HATE),
        ("Absolutely loathe {P}. Can't be in the same room as them.", _HATE),
    ),
    "implicit_hate": (
        ("Strange that property prices dropped when {P} arrived, isn't it.", _HATE),
        ("You always know which house belongs to {A}, just follow the smell.", _HATE),
        ("Our schools were fine until the {P} turned up.", _HATE),
        ("Funny how the crime figures went up right after the {P} moved in. Just saying.", _HATE),
        ("Not saying anything, but I'd lock my car if I parked near the {J} end of town.", _HATE),
        ("Let's be honest, {P} just don't share our values and they never will.", _HATE),
        ("Would you want your daughter marrying {A}? Didn't think so.", _HATE),
        ("Nice area, shame about all the {P} though.", _HATE),
        ("We used to leave our doors unlocked round here. Then the {P} came.", _HATE),
        ("Ask yourself why every place {P} settle ends up the same way.", _HATE),
        ("Not all {P} are bad, but it's funny how it's always {P} isn't it.", _HATE),
        ("survey answer: more jobs for locals and less handouts for {P}", _HATE),
        ("{P} are welcome here as long as they stay quiet and out of sight.", _HATE),
        ("Interesting how {P} always seem to end up running the banks and the papers.", _HATE),
        ("the {J} kids in my sons class are holding everyone back and we all know why", _HATE),
        ("If {P} love their own ways so much, nobody is stopping them leaving.", _HATE),
        ("Hiring {A} is a gamble, most employers learn that the hard way.", _HATE),
        ("Keep {P} off the committee, they only ever look after their own.", _HATE),
        ("I just think {P} are better suited to cleaning jobs, that's all.", _HATE),
        ("Don't get me wrong, some {P} are fine. There's just far too many of them here now.", _HATE),
        ("Real locals know which streets to avoid since the {P} took them over. Nuff said.", _HATE),
        ("A {J} doctor? I'd ask for someone else, call me old fashioned.", _HATE),
    ),
    "dehumanisation": (
        ("{P} breed like rats.", _HATE_DEHUMAN),
        ("{P} are a cancer eating this nation alive.", _HATE_DEHUMAN),
        ("{P} are cockroaches that should be stamped out.", _HATE_DEHUMAN),
        ("{P} are parasites feeding off the rest of us.", _HATE_DEHUMAN),
        ("Those {P} are animals, no better than stray dogs.", _HATE_DEHUMAN),
        ("{P} spread through a neighbourhood like mould through a damp house.", _HATE_DEHUMAN),
        ("treat {P} like the pests they are", _HATE_DEHUMAN),
        ("{P} are a virus and this country badly needs a cure.", _HATE_DEHUMAN),
        ("Having {P} move in next door is like getting an infestation of lice.", _HATE_DEHUMAN),
        ("{P} aren't even people, they're livestock.", _HATE_DEHUMAN),
        ("The {J} swarm keeps growing, it's like locusts descending on a field.", _HATE_DEHUMAN),
        ("honestly {P} are just apes in clothes", _HATE_DEHUMAN),
        ("{P} are rodents. Simple as.", _HATE_DEHUMAN),
        ("Look at the {P} crawling all over the high street like maggots.", _HATE_DEHUMAN),
        ("{P} are leeches, bloodsuckers the lot of them.", _HATE_DEHUMAN),
        ("{P} are a disease and decent people are the immune system.", _HATE_DEHUMAN),
        ("{P} are less than human, more like beasts that learned to talk.", _HATE_DEHUMAN),
        ("{P} multiply like roaches in a dirty kitchen.", _HATE_DEHUMAN),
        ("Calling {P} people is an insult to people. They're a horde of insects.", _HATE_DEHUMAN),
        ("{P}? Basically a parasite species with phones.", _HATE_DEHUMAN),
        ("{P} are like a tumour: you cut it out or it spreads.", _HATE_DEHUMAN),
        ("when did we let the {J} hordes infest every single city", _HATE_DEHUMAN),
        ("{A} is just a rodent in a nice coat.", _HATE_DEHUMAN),
    ),
    "threat_group": (
        ("Time to grab the rifles and deal with the {P} for good.", _HATE_THREAT),
        ("Every {J} family on this road will get a brick through the window.", _HATE_THREAT),
        ("Gas the {P}, all of them.", _HATE_THREAT),
        ("Someone should burn down the {J} centre with them all inside.", _HATE_THREAT),
        ("If I see {A} on my street I'm going to beat them senseless.", _HATE_THREAT),
        ("We need to round up the {P} and shoot them.", _HATE_THREAT),
        ("Next time the {P} march through here, we'll be waiting with bats.", _HATE_THREAT),
        ("Hang the {P} from the lampposts, every one of them.", _HATE_THREAT),
        ("I'd happily run over {A} if one stepped out in front of my van.", _HATE_THREAT),
        ("{P} deserve a bullet, nothing less.", _HATE_THREAT),
        ("Let's pay the {J} shop a visit tonight and smash every window, the owner too.", _HATE_THREAT),
        ("A few {J} bodies in the street would send the right message.", _HATE_THREAT),
        ("mark my words the {P} round here will get whats coming, we know where they live", _HATE_THREAT),
        ("Torch their homes and run the {P} out of town.", _HATE_THREAT),
        ("If the government won't get rid of the {P}, we'll do it ourselves, by force.", _HATE_THREAT),
        ("Kill every last one of the {P}.", _HATE_THREAT),
        ("I'm going to stab the next {J} guy who looks at me.", _HATE_THREAT),
        ("Any {J} kid at that school had better watch out, we're coming for them.", _HATE_THREAT),
        ("Line the {P} up against a wall. You know what comes next.", _HATE_THREAT),
        ("Beat up {A} today and you'd be doing the country a favour.", _HATE_THREAT),
        ("we should form a militia and hunt down the {P} one by one", _HATE_THREAT),
        ("Survey answer: arm the locals and let them sort the {P} out with their fists.", _HATE_THREAT),
    ),
    "hate_question": (
        ("Can someone explain why {P} are allowed to live here at all?", _HATE),
        ("What is it about {P} that makes them all so dishonest?", _HATE),
        ("Who actually wants {P} as neighbours? Anyone?", _HATE),
        ("How many more {P} do we have to tolerate before someone says enough?", _HATE),
        ("why do {P} always have to ruin everything", _HATE),
        ("Wouldn't this town be better off if the {P} just disappeared?", _HATE),
        ("Is there a single {J} person who isn't a criminal?", _HATE),
        ("Do {P} even count as real citizens?", _HATE),
        ("Has anyone ever met {A} who wasn't on the take?", _HATE),
        ("Seriously, what use are {P} to anybody?", _HATE),
        ("Survey question: should {P} be allowed to vote? Obviously not.", _HATE),
        ("When will people admit that {P} are the root of every problem here?", _HATE),
    ),
    "negated_positive": (
        ("{P} are never going to be real members of this community.", _HATE),
        ("I could never trust {A}, not for a second.", _HATE),
        ("There is nothing good about {P}, nothing at all.", _HATE),
        ("No {J} person will ever be my equal.", _HATE),
        ("{P} don't deserve the same rights as the rest of us.", _HATE),
        ("I don't see {P} as people worth helping.", _HATE),
        ("Not one {J} person has ever done anything useful here.", _HATE),
        ("{P} shouldn't be allowed anywhere near our schools.", _HATE),
        ("I would never let {A} look after my children.", _HATE),
        ("{P} can't be trusted with anything important.", _HATE),
        ("Nobody needs {P} here, nobody ever did.", _HATE),
        ("i will never accept {P} as my neighbours", _HATE),
    ),
    "negated_hate": (
        ("{P} are no danger to anyone here.", _NOT_HATE),
        ("I've never had a bad experience with {A}.", _NOT_HATE),
        ("{P} never cause any trouble on our street.", _NOT_HATE),
        ("No, I have nothing against {P} at all.", _NOT_HATE),
        ("It's false that {P} are dangerous.", _NOT_HATE),
        ("{P} are not a problem for this town, never were.", _NOT_HATE),
        ("I don't think {P} are any worse than anyone else.", _NOT_HATE),
        ("Never said I dislike {P}, you're putting words in my mouth.", _NOT_HATE),
        ("{P} aren't the ones ruining this country, whatever the tabloids say.", _NOT_HATE),
        ("There's nothing wrong with being {A}.", _NOT_HATE),
        ("i dont have a problem with {P} lol why would i", _NOT_HATE),
        ("It isn't true that {P} are lazy, most of them work harder than I do.", _NOT_HATE),
        ("Hating {P} is not something I'd ever do.", _NOT_HATE),
        ("Nobody here thinks {P} should be kicked out, that's not what this thread is about.", _NOT_HATE),
        ("I wouldn't say {P} are a threat. Not even close.", _NOT_HATE),
        ("{P} don't deserve any of the abuse they get.", _NOT_HATE),
        ("Me? Against {P}? Not in a million years.", _NOT_HATE),
    ),
    "counter_speech": (
        ("People who attack {P} online should be ashamed of themselves.", _NOT_HATE),
        ("We stand with {P} against the bigots harassing them.", _NOT_HATE),
        ("If you think {P} are less human than you, the problem is you.", _NOT_HATE),
        ("Comparing {P} to rats is vile, and you should be banned for it.", _NOT_HATE),
        ("Blaming {P} every time a bus is late is lazy scapegoating. Give it a rest.", _NOT_HATE),
        ("Mods, please remove the comments attacking {P}, this is a hate campaign.", _NOT_HATE),
        ("It's not the 1950s any more, harassing {P} is not ok. Grow up.", _NOT_HATE),
        (
            "Whoever keeps posting abuse about {P} on this page: you do not speak for this community.",
            _NOT_HATE,
        ),
        ("Every time someone posts bile about {P} in here I'm going to call it out.", _NOT_HATE),
        ("If you wouldn't say it to {A}'s face, don't post it online.", _NOT_HATE),
        ("Spreading lies about {P} doesn't make you a patriot, it makes you a bully.", _NOT_HATE),
        ("the amount of hate {P} get in this group is embarrassing, do better people", _NOT_HATE),
        ("{P} are our neighbours and friends. Leave them alone.", _NOT_HATE),
        ("Survey answer: the council must do more to protect {P} from harassment.", _NOT_HATE),
        ("Anyone cheering that attack on {A} needs to take a long look in the mirror.", _NOT_HATE),
    ),
    "quoted_condemnation": (
        ('The flyer said "get rid of the {P}" - I took it down and called the police.', _NOT_HATE),
        ('I reported the account that wrote "{P} are scum" under the council post.', _NOT_HATE),
        ('Someone sprayed "{P} go home" on the bus shelter. Disgraceful, hope they catch them.', _NOT_HATE),
        ('My uncle said "{P} are all criminals" at dinner and I walked out.', _NOT_HATE),
        ('"{P} are rats" - that is what a candidate for mayor posted. Disqualify him.', _NOT_HATE),
        ('Screenshotting this for the mods: "kill the {P}". Absolutely vile.', _NOT_HATE),
        (
            'A stranger muttered "{P} should go back where they came from" and I told him to get lost.',
            _NOT_HATE,
        ),
        (
            'The article quotes a poster saying "{P} are animals". Hard to read, but it needs saying.',
            _NOT_HATE,
        ),
        ('Reporting this post: it says "{P} should be wiped out". Please remove it.', _NOT_HATE),
        ('i cant believe someone here wrote "{P} are a disease" and got 40 likes. shameful', _NOT_HATE),
        (
            'Quote from the leaflet: "stop the {J} invasion". We sent the whole stack back with a complaint.',
            _NOT_HATE,
        ),
        (
            'He shouted "filthy {P}!" at the market. Writing to the paper because this is not normal.',
            _NOT_HATE,
        ),
        ('Why is "{P} are parasites" still up on this page? I flagged it two days ago.', _NOT_HATE),
    ),
    "reported_hate": (
        ("The cab driver wouldn't let me in once he realised I'm {A}.", _NOT_HATE),
        ("Last night kids threw eggs at our door and shouted that {P} should leave.", _NOT_HATE),
        ("As {A}, I get called names on the street at least once a week.", _NOT_HATE),
        ("Somebody stuck a note on my windscreen calling me a dirty {J} freak.", _NOT_HATE),
        ("I've lost two jobs after managers found out I'm {A}.", _NOT_HATE),
        ("My daughter came home crying because classmates said {P} aren't welcome at school.", _NOT_HATE),
        ("A man spat at me on the train and said {P} like me should be put down.", _NOT_HATE),
        ("Survey: yes, as {A} I was followed home and abused twice this year.", _NOT_HATE),
        ("got called a {J} freak by some lads outside the chippy again today. tired of it tbh", _NOT_HATE),
        ("The letting agent turned me down the minute she heard I was {A}.", _NOT_HATE),
        ("Our family got a letter saying {P} would be burned out. The police are investigating.", _NOT_HATE),
        ("People online keep telling me {P} should be deported, and I'm one of them.", _NOT_HATE),
        ("At work they joke that {P} are thick and expect me to laugh, even though I'm {A}.", _NOT_HATE),
    ),
    "neutral_identity": (
        ("Why do {P} wait so long for council housing?", _BENIGN),
        ("How can the library do more for {P}?", _BENIGN),
        ("Are {P} represented on the new youth board?", _BENIGN),
        ("What do {P} in our area need most from the council?", _BENIGN),
        ("The {J} community choir meets on Thursdays at the town hall.", _BENIGN),
        ("The census counts how many {P} live in each district.", _BENIGN),
        ("My neighbour is {A} and runs the allotment committee.", _BENIGN),
        ("How many {P} live in the county? Looking for recent figures.", _BENIGN),
        ("There's a talk on {J} history at the library next week.", _BENIGN),
        ("my flatmate is {A}, we mostly argue about the dishes", _BENIGN),
        ("The survey asked whether {P} use the new bus route.", _BENIGN),
        ("{A} was elected to chair the residents' association.", _BENIGN),
        ("Are there any {J} support groups in the area?", _BENIGN),
        ("The documentary follows three {P} through a year in the city.", _BENIGN),
        ("The report included interviews with {P} about public transport.", _BENIGN),
        ("I'm {A}, a plumber by trade, and I've lived here twenty years.", _BENIGN),
        ("The school has a handful of {J} pupils this year.", _BENIGN),
        ("Question for {P} on here: how do you find the new health centre?", _BENIGN),
    ),
    "positive_identity": (
        ("Thanks go to the {J} volunteers who cleaned up the riverside.", _BENIGN),
        ("{P} have done so much for this community.", _BENIGN),
        ("Some of my best memories are festivals with {J} friends.", _BENIGN),
        ("Every {J} person I've worked with has been generous and funny, lucky me.", _BENIGN),
        ("Our street is better for its {J} families, and I'm proud of that.", _BENIGN),
        ("honestly {P} have improved this town no end, no question", _BENIGN),
        ("Big thanks to {A} who helped me fix my bike yesterday.", _BENIGN),
        ("The stall run by {P} at the fair was the best thing there.", _BENIGN),
        ("Our football club would be nothing without its {J} players.", _BENIGN),
        ("{P} bring so much energy and talent to the city.", _BENIGN),
        ("I learned a lot from my {J} colleagues this year, really grateful.", _BENIGN),
        ("Love seeing {P} represented on the new town council.", _BENIGN),
        ("Survey answer: the best thing about living here is how welcoming it is to {P}.", _BENIGN),
        ("{P} deserve every bit of respect and more.", _BENIGN),
    ),
}

# Survey answers that ask for something for a group, or describe a group's needs: the commonest way real
# civic feedback names a group, and not hate. Written without looking at the civic regression sentences
# (signals/functional/civic_regression.tsv); a test keeps the two apart. Rendered as neutral_identity.
_AUG_CIVIC_REQUESTS: tuple[str, ...] = (
    "More funding for the services that support {P}, please.",
    "{P} in this city deserve the same access to decent housing as everyone else.",
    "Please make sure {P} are asked before the new community centre is designed.",
    "I'd like the council to hire more {J} staff so its services look like the people who use them.",
    "{J} residents should have a seat on the planning board.",
    "The health centre needs staff who are trained to work with {P}.",
    "The library could host events about {J} history and culture.",
    "Schools should teach children about the lives of {P} in this town.",
    "There should be a helpline for {P} who face harassment.",
    "{P} pay their taxes too, and the services should work for them.",
    "Affordable flats near the tram would help a lot of {J} families.",
    "Make the summer festival welcoming for {P} as well.",
    "As {A}, I would like more evening buses so I can get to my shift.",
    "I'm {A} and the new cycle lanes have made my commute much safer.",
    "{J} shop owners need the same support grants as the rest of the high street.",
    "Let {P} have a say in how the park budget is spent.",
    "{P} are part of this city, so the survey should ask what they need.",
    "The council should print its leaflets in formats that suit {P}.",
    "When {P} report abuse, the police should take it seriously.",
    "{P} struggle to find work here; a job fair aimed at them would help.",
    "Fund the {J} youth project, it keeps a lot of teenagers busy.",
    "{J} children deserve good schools just like every other child.",
    "The mayor should meet {J} community leaders more than once a year.",
    "The city website should be easier to use for {P}.",
    "Give {P} more of a voice in the council's equality plan.",
    "Health visitors often miss {P}; outreach should reach them too.",
    "Our estate has more {P} now and I think that's a good thing.",
    "More {J} teachers and nurses would be great for this area.",
    "As {A} I feel mostly welcome here, but the council could do more on jobs.",
    "{P} should be able to get legal advice for free, like other low-income residents.",
    "more support for {P} pls, the waiting lists are ridiculous",
    "jobs and training for {P} would help the whole neighbourhood",
    "Could the council put up signs in the park that work for {P} too?",
    "The after-school club should be open to {J} kids without a long waiting list.",
    "Consult {P} about the new bus routes, they use them more than most.",
    "Protect the {J} community garden from the redevelopment, it matters to people.",
    # who the speaker is, said in passing or with pride: on the Polis comments the v4 students ranked
    # such self-descriptions ("I identify as ...", "... lives matter") among their surest hate
    "I'm {A}, and to me every resident of this town counts.",
    "{J} lives matter here as much as anywhere else.",
    "I identify as {A} and I feel at home in this neighbourhood.",
    "Speaking as {A} and a parent: we need a safer crossing outside the school.",
    "I am {A}. I love this place and want it to do well.",
    "{P} are our neighbours, our co-workers and our friends.",
    "Proud to be {A} and proud of this city.",
    "As {A} who has lived here for twenty years, I'd keep the market where it is.",
)

# Short answers that name a group and say nothing about it: what a survey gets when it asks who is
# most affected, who needs support, or who the respondent is. The minilm3.v9 students scored a bare
# group name as hate (33 of the 39 groups' plural forms at review, "Elderly people" 0.94): most short
# template texts that name a group attack it ("{P} are scum", "{P} breed like rats"). Rendered as
# neutral_identity, for every augmentation group, like the civic requests above.
_AUG_GROUP_ANSWERS: tuple[str, ...] = (
    "{P}",
    "{P}.",
    "{J} families",
    "{J} residents.",
    "Mostly {P}.",
    "{P}, I think.",
    "Probably {P} and older people.",
    "{P} and carers",
    "The {J} community",
    "{J} kids and teenagers",
    "{P}, students and pensioners.",
    "I'd say {P}",
    "{P} on the east side",
    "{J} neighbours",
    "{J} elders and their families",
    "Myself. I'm {A}.",
    "{J} women and children",
    "{P} mainly",
    "young {P}",
    "{P} and anyone on a low income",
)

# Reclaimed, in-group self-reference: (group key, text). Speakers use a reclaimed or in-group term
# about themselves or their own community: not hate.
_AUG_RECLAIMED: tuple[tuple[str, str], ...] = (
    ("lesbians", "Me and the other dykes from softball are doing the pub quiz on Friday, come along!"),
    ("lesbians", "Dyke march is on Saturday, bring snacks and sunscreen."),
    ("lesbians", "as a proud dyke i fully approve of this haircut thread"),
    ("lesbians", "Baby dyke energy today, just bought my first flannel shirt lol"),
    ("bisexual_people", "Bi, queer as anything, and honestly loving life right now."),
    ("bisexual_people", "We queers have to look out for each other, DM me if you need a sofa to sleep on."),
    ("gay_men", "Us old queens have taken over the jumble sale again, so expect glitter on everything."),
    ("gay_men", "Just a bunch of homos watching Eurovision, best night of the year."),
    ("gay_men", "I'm a big gay fairy and I've never been happier."),
    ("gay_men", "We're here, we're queer, and this year we're running the allotment show."),
    ("transgender_men", "Queer trans guy here, happy to answer questions about the clinic waiting list."),
    ("nonbinary_people", "Queer, enby and tired of forms that only have two boxes."),
    (
        "wheelchair_users",
        "Crip life means planning every trip around lifts, but us crips are great planners.",
    ),
    ("wheelchair_users", "Fellow crips: the new ramp at the library is finally open!"),
    ("autistic_people", "Proud autie here, the quiet hour at the supermarket is a game changer."),
    ("autistic_people", "As an aspie I found the survey questions too vague, please be more literal."),
    ("deaf_people", "Us Deafies are meeting at the cafe on Thursday, signing only, all welcome."),
    ("blind_people", "Blindie meetup this weekend, my guide dog is more excited than I am."),
    ("gay_men", "Proud faggot here, and no, you don't get to use that word, only us."),
    ("lesbians", "My wife and I are the token dykes at the book club and we love it."),
    ("transgender_men", "Just a couple of queer trans lads doing the park run, come say hi."),
    ("nonbinary_people", "Enby queers unite, the zine fair needs volunteers on Sunday."),
)

# Templates with no identity group. {T}: a person referred to in the third person; {N}: a name or
# form of address used vocatively; {X}: an everyday thing (profanity aimed at no one); {I}: an
# institution with {Y}: a policy.
_AUG_PERSONS: tuple[str, ...] = (
    "the bus driver",
    "your boss",
    "that commenter",
    "the caretaker",
    "the ref",
    "my ex",
    "that mod",
    "Dave",
    "Priya",
    "the guy upstairs",
    "my brother-in-law",
    "the delivery driver",
    "our team captain",
    "the site manager",
    "that streamer",
    "the cashier",
    # Officials and the press: threats against them are what targeted-violence work looks for, and the
    # civic rows (comments about councils and their decisions, all "no threat") otherwise teach that
    # a sentence about an official cannot be one.
    "the council leader",
    "our MP",
    "the planning officer",
    "the city manager",
    "that journalist",
    "the police chief",
)
#: {L}: places in town for the safety-concern templates.
_AUG_PLACES: tuple[str, ...] = (
    "the leisure centre",
    "the chemist",
    "the church hall",
    "the primary school",
    "the retail park",
    "the old cinema",
    "the bowling green",
    "the garden centre",
)
_AUG_NAMES: tuple[str, ...] = ("Dave", "Priya", "Marco", "Kevin", "Sandra", "Tom", "Leah", "mate", "pal")
_AUG_THINGS: tuple[str, ...] = (
    "the printer",
    "my laptop",
    "this weather",
    "the traffic",
    "the wifi",
    "the train",
    "my phone",
    "the washing machine",
    "the boiler",
    "the kettle",
    "the car",
    "the dishwasher",
)
_AUG_INSTITUTIONS: tuple[str, ...] = (
    "the parish council",
    "the housing office",
    "the district",
    "the police board",
    "the school board",
    "the transport authority",
    "the health trust",
    "the planning committee",
)
_AUG_POLICIES: tuple[str, ...] = (
    "speed limit plan",
    "rent cap",
    "opening hours",
    "recycling rules",
    "parking charges",
    "new bus timetable",
    "library cuts",
    "tree felling scheme",
)

_AUG_PLAIN_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "threat_individual": (
        ("Watch your back, {N}, I'm coming for you.", _THREAT_PERSON),
        ("One more word and I'll put {T} in hospital.", _THREAT_PERSON),
        ("I swear I will kill you if you come near my kids.", _THREAT_PERSON),
        ("{T} is going to regret this when I catch up with them.", _THREAT_PERSON),
        ("I've got {T}'s home address and I'm paying a visit tonight.", _THREAT_PERSON),
        ("{T} turns up at training one more time and I'll break their legs.", _THREAT_PERSON),
        ("Someone needs to shut {T} up permanently, and I'm volunteering.", _THREAT_PERSON),
        ("I'm going to smash {T}'s face in next time I see them.", _THREAT_PERSON),
        ("{T} had better sleep with one eye open from now on.", _THREAT_PERSON),
        ("gonna wait for {T} outside after work, see how brave they are then", _THREAT_PERSON),
        ("Tell {T} I've got a baseball bat with their name on it.", _THREAT_PERSON),
        ("I will make {T} pay for this, and it will hurt.", _THREAT_PERSON),
        ("If I ever run into {T} in a dark car park, they won't be walking away.", _THREAT_PERSON),
        ("{T} has no idea what's coming. I've got their address now.", _THREAT_PERSON),
        ("keep it up and {T} will be picking their teeth up off the pavement", _THREAT_PERSON),
        ("Going to slash {T}'s tyres tonight and then wait for them at the door.", _THREAT_PERSON),
        ("{T} won't be laughing when I put a knife in them.", _THREAT_PERSON),
        ("{N}, I'll find out where you live.", _THREAT_PERSON),
        ("{N}, you will regret this when I catch you.", _THREAT_PERSON),
        ("Keep talking, {N}, and see what happens to your car. And to you.", _THREAT_PERSON),
        ("{N} i swear to god im going to end you", _THREAT_PERSON),
        ("Say that to my face, {N}, and you'll be eating through a straw for a month.", _THREAT_PERSON),
        ("Last warning, {N}. Next time it's not words, it's my fists.", _THREAT_PERSON),
        ("{N}, I've tracked down your address. See you very soon.", _THREAT_PERSON),
        ("Sleep well tonight {N}. While you still can.", _THREAT_PERSON),
        ("{N}, touch my bike again and I'll burn your house down with you in it.", _THREAT_PERSON),
        ("{N} ur dead when i get hold of you", _THREAT_PERSON),
        ("I'll find out where you work and make sure you never walk again.", _THREAT_PERSON),
        ("Post my photo again and I'll come round and break your jaw.", _THREAT_PERSON),
        ("you better hope the police find you before i do", _THREAT_PERSON),
    ),
    "profanity_untargeted": (
        ("Bloody hell, the queue at the post office was endless.", _PROFANE),
        ("The fireworks were damn impressive this year.", _PROFANE),
        ("Ugh, shitty drizzle all week again.", _PROFANE),
        ("{X} broke down again, for fuck's sake.", _PROFANE),
        ("Fucking hell, {X} is driving me mad today.", _PROFANE),
        ("what a shit day, {X} packed in and i missed my lunch", _PROFANE),
        ("Jesus Christ, {X} is a bloody nightmare this morning.", _PROFANE),
        ("Damn, {X} decided to die right in the middle of my meeting.", _PROFANE),
        ("Holy shit, {X} actually worked first time.", _PROFANE),
        ("{X} is being a pain in the arse again.", _PROFANE),
        ("Holy crap, that concert was unreal.", _PROFANE),
        ("fuck me that was a good burger", _PROFANE),
        ("Survey answer: the park is great but the bloody parking is a nightmare.", _PROFANE),
        ("Oh shit, I left my keys at the pub.", _PROFANE),
        ("Well that was a fucking disaster of a barbecue, the rain came out of nowhere.", _PROFANE),
        ("Damn, I love this town in the autumn.", _PROFANE),
        ("Pissing it down again. Typical.", _PROFANE),
        ("Christ on a bike, the bins haven't been emptied in three weeks.", _PROFANE),
    ),
    "insult_person": (
        ("{T} is a spineless weasel.", _INSULT_PERSON),
        ("Go away, you dim-witted buffoon.", _INSULT_PERSON),
        ("Only an imbecile like {T} could mess this up.", _INSULT_PERSON),
        ("{T} is the most useless idiot I've ever had the misfortune of dealing with.", _INSULT_PERSON),
        ("honestly {T} is a total clown, cant do anything right", _INSULT_PERSON),
        ("{T} has the brains of a doorknob.", _INSULT_PERSON),
        ("What a pathetic excuse for a grown adult {T} is.", _INSULT_PERSON),
        ("{T} is an arrogant prick and everyone at work knows it.", _INSULT_PERSON),
        ("Has {T} ever had a single original thought? Absolute moron.", _INSULT_PERSON),
        ("{T} is a lying, lazy, good-for-nothing waste of space.", _INSULT_PERSON),
        ("I've met smarter houseplants than {T}.", _INSULT_PERSON),
        ("Can someone tell {T} they're a complete tosser?", _INSULT_PERSON),
        ("{T} couldn't organise a piss-up in a brewery, the incompetent fool.", _INSULT_PERSON),
        ("Survey comment: {T} is rude, useless and a total embarrassment.", _INSULT_PERSON),
        ("{T} is a smug, self-important little twat.", _INSULT_PERSON),
        ("typical {T}, thick as two short planks", _INSULT_PERSON),
        ("Every time {T} opens their mouth the whole room gets dumber.", _INSULT_PERSON),
        ("{N}, you are an absolute muppet.", _INSULT_PERSON),
        ("Shut up {N}, nobody asked you, you clueless idiot.", _INSULT_PERSON),
        ("{N} ur such a loser lmao", _INSULT_PERSON),
        ("Honestly {N}, you're the dumbest person on this forum.", _INSULT_PERSON),
        ("Get a grip, {N}, you whiny little brat.", _INSULT_PERSON),
        ("{N}, you're a joke. A sad, pathetic joke.", _INSULT_PERSON),
        ("Nice one {N}, you absolute plank.", _INSULT_PERSON),
        ("You utter halfwit, read the thread before replying.", _INSULT_PERSON),
        ("You're a bellend and your opinions are garbage.", _INSULT_PERSON),
        ("What an ignorant, self-absorbed numpty you are.", _INSULT_PERSON),
    ),
    "civil_disagreement": (
        ("I'm not convinced {I}'s {Y} is the right call.", _BENIGN),
        ("Could {I} explain the {Y}? I have some concerns about it.", _BENIGN),
        ("I respectfully disagree with {I} on the {Y}.", _BENIGN),
        ("The {Y} seems rushed to me. Did {I} consult residents at all?", _BENIGN),
        ("i get why {I} wants the {Y} but i think it will hurt small businesses", _BENIGN),
        ("Survey answer: I oppose the {Y}. {I} should look at the evidence again.", _BENIGN),
        ("With respect, {I} has got the {Y} wrong this time.", _BENIGN),
        ("I voted against the {Y}, but I accept {I}'s decision.", _BENIGN),
        ("Has {I} considered how the {Y} affects older residents?", _BENIGN),
        ("Not a fan of the {Y}. Hope {I} rethinks it before the next meeting.", _BENIGN),
        ("I think {I} means well, but the {Y} needs more work.", _BENIGN),
        ("The {Y} is a mistake in my view, and I'll say so at the consultation.", _BENIGN),
        ("Disappointed by {I}'s handling of the {Y}, honestly expected better.", _BENIGN),
        ("Would love to see {I} publish the costs behind the {Y} before going ahead.", _BENIGN),
    ),
    # Survey answers about danger: death, attack and violence words with nobody threatened. Students
    # fine-tuned one more epoch from minilm3.v9 sent such answers to threat `review` (its threat point
    # was 0.24 in one such run, and real comments about councils rarely talk of roads or crime).
    # {L}: a place in town. Written after reading the civic regression sentences: the leak-guard test
    # keeps the wording apart, and docs/minilm.md says what that leaves them worth as evidence.
    "safety_concern": (
        ("The corner by {L} is dangerous, drivers never slow down there.", _BENIGN),
        ("The broken steps by {L} will put somebody in hospital before long.", _BENIGN),
        ("Our street has become a rat run and the speeding past {L} is frightening.", _BENIGN),
        ("Teenagers are getting robbed for their phones outside {L}.", _BENIGN),
        ("The pedestrian lights near {L} change far too quickly for older people.", _BENIGN),
        ("Dumped mattresses block the footpath by {L}, so people have to walk in the road.", _BENIGN),
        ("I feel unsafe waiting at the bus stop by {L} at night.", _BENIGN),
        ("The river bank behind {L} has no railings, one day a child will drown there.", _BENIGN),
        ("Drivers treat the road past {L} like a racetrack, it's terrifying with a pushchair.", _BENIGN),
        ("There was another stabbing near {L}, we need more youth services.", _BENIGN),
        ("The gate of the play area by {L} is broken and toddlers can run onto the road.", _BENIGN),
        ("Dogs off the lead near {L} have bitten two children this year.", _BENIGN),
        ("Police should patrol around {L} on Saturday nights, there are fights every week.", _BENIGN),
        ("Nobody gritted the hill up to {L} and two neighbours fell and broke bones.", _BENIGN),
        ("the junction at {L} is lethal, sort it out before someone dies", _BENIGN),
        ("Vans park on the double yellows by {L} and children can't see the traffic.", _BENIGN),
        ("E-scooters on the pavement near {L} nearly knocked my mum over twice this week.", _BENIGN),
        ("Burglars are targeting houses near {L} while people are at work.", _BENIGN),
        (
            "The stairwell of the car park at {L} has no lights, you could be attacked and no one would see.",
            _BENIGN,
        ),
        ("Please put speed bumps on the road to {L} before a child gets killed.", _BENIGN),
        ("Gangs hang around the subway under {L} and shout at people walking through.", _BENIGN),
        ("The fire exit at {L} is chained shut, that could kill people in a fire.", _BENIGN),
        ("Motorists keep running the red light by {L}, somebody will die.", _BENIGN),
        ("is anyone going to do something about the drug dealing near {L}? scary place now", _BENIGN),
    ),
    # Violence words used figuratively, as civic feedback uses them about schemes, budgets and
    # places: nobody is threatened. {Y}: a policy, {L}: a place in town.
    "violent_idiom": (
        ("Scrap the {Y}, just kill it off and start again.", _BENIGN),
        ("The {Y} is dead in the water, bury it.", _BENIGN),
        ("Time to axe the {Y} once and for all.", _BENIGN),
        ("The {Y} will murder footfall in the town centre.", _BENIGN),
        ("The {Y} is a slap in the face for pensioners.", _BENIGN),
        ("We'll fight the {Y} all the way to the next election.", _BENIGN),
        ("The {Y} got absolutely slaughtered at the public meeting.", _BENIGN),
        ("Shoot down the {Y}, it's half-baked.", _BENIGN),
        ("honestly the {Y} is killing me, sort it out", _BENIGN),
        ("The {Y} needs to be torn up and thrown in the bin.", _BENIGN),
        ("Bulldoze the empty units at {L} and put a park there.", _BENIGN),
        ("The new café at {L} is a knockout, the cakes are to die for.", _BENIGN),
        ("The parkrun at {L} nearly killed me but I loved it.", _BENIGN),
        ("Our quiz team got hammered at {L} last night, great fun though.", _BENIGN),
        ("Blow the cobwebs off {L} and give it a proper refurb.", _BENIGN),
        ("The queues at {L} are murder on a Saturday.", _BENIGN),
        ("The {Y} has been butchered by the committee, nothing is left of the original idea.", _BENIGN),
        ("The choir absolutely smashed the concert at {L}.", _BENIGN),
        ("The rents by {L} are daylight robbery.", _BENIGN),
        ("Gut the old pool at {L} and rebuild it properly.", _BENIGN),
        ("The youth team crushed it at the tournament, so proud of them.", _BENIGN),
        ("I'd kill for a bus that actually turns up on time.", _BENIGN),
        ("Let's hit the ground running with the new library at {L}.", _BENIGN),
        ("Give the new skate park a shot, the kids will love it.", _BENIGN),
    ),
    "polarization_vilify": (
        ("Outsiders like them will never understand people like us.", _VILIFY_ANY),
        ("It's us against them now, and they started it.", _VILIFY_ANY),
        ("That lot from across the bridge are all the same, lazy and bitter.", _VILIFY_ANY),
        ("City people look down on us and they always will.", _VILIFY_ANY),
        ("The other lot want to destroy everything we stand for.", _VILIFY_ANY),
        ("You're either with us or you're one of them.", _VILIFY_ANY),
        ("Their side lies, our side tells the truth. Simple.", _VILIFY_ANY),
        (
            "those people have never done an honest days work and they want to tell us how to live",
            _VILIFY_ANY,
        ),
        ("Anyone who supports {I}'s {Y} is an enemy of this town.", _VILIFY),
        ("Only traitors and idiots back the {Y}. Remember who they are at the next election.", _VILIFY),
        ("The clowns who pushed the {Y} through hate ordinary people like us.", _VILIFY),
    ),
}

_AUG_OUTGROUP_TEMPLATES: dict[str, tuple[tuple[str, Mapping[str, int]], ...]] = {
    "civil_disagreement": (
        ("I see things differently from {P}, but they make some fair points.", _BENIGN),
        ("I'm not with {P} on most things, but I'm happy to hear them out.", _BENIGN),
        ("My brother is {A} and we disagree about nearly everything, we still get on fine.", _BENIGN),
        ("{P} have a point about housing, even if I don't agree with their solution.", _BENIGN),
        ("I'd vote differently from {P}, but I respect that they care about the town.", _BENIGN),
        ("Had a long chat with {A} at the fete, agreed on less than I hoped but it was friendly.", _BENIGN),
        ("i think {P} are wrong about this but its a fair debate to have", _BENIGN),
        ("Disagree with {P} on the budget, agree with them on the parks. That's politics.", _BENIGN),
        ("Can {P} and the rest of us find some middle ground on this?", _BENIGN),
        ("{P} make a decent argument, I just weigh things differently.", _BENIGN),
        ("Survey answer: I'd like more debates where {P} and their critics talk calmly.", _BENIGN),
        ("Not convinced by what {P} are proposing, would like to see more detail.", _BENIGN),
    ),
    "polarization_vilify": (
        ("{P} hate this country and want to see it burn.", _VILIFY),
        ("Never trust {P}, they are liars to the core.", _VILIFY),
        ("{P} are the enemy within, and it's us or them now.", _VILIFY),
        ("Every problem in this country traces back to {P}.", _VILIFY),
        ("There's no talking to {P}, they're brainwashed zombies.", _VILIFY),
        ("{P} would sell their own mothers to win an argument.", _VILIFY),
        ("It's simple: decent people on one side, {P} on the other.", _VILIFY),
        ("{P} are destroying everything our parents built.", _VILIFY),
        ("never met {A} who wasnt a smug hypocrite", _VILIFY),
        ("{P} don't care about ordinary people, only about themselves.", _VILIFY),
        ("If you side with {P}, you're no friend of mine.", _VILIFY),
        ("{P} are a cult, and a dangerous one.", _VILIFY),
        ("Survey answer: this town would be fine if {P} stopped poisoning every debate.", _VILIFY),
        ("{P} are traitors, plain and simple.", _VILIFY),
        ("Us normal folk pay for everything while {P} laugh at us.", _VILIFY),
        ("Whatever {P} want, do the opposite. They're always wrong and always lying.", _VILIFY),
        ("{P} are rotting this country from the inside.", _VILIFY),
        ("lol imagine being {A}, total brain rot", _VILIFY),
        ("There's no such thing as a good {J}, only quiet ones.", _VILIFY),
        ("{P} have declared war on normal people and it's time we noticed.", _VILIFY),
        ("We'll never get anywhere while {P} are allowed near power.", _VILIFY),
        ("{P} are leeches living off the taxpayer.", _VILIFY),
    ),
}

# Obfuscated hate: (clear base, key word). Each base is rendered for every group, the style rotating.
_AUG_OBFUSCATION_BASES: tuple[tuple[str, str], ...] = (
    ("{P} are scum.", "scum"),
    ("Kick out the {P}, they are trash.", "trash"),
    ("{P} are subhuman.", "subhuman"),
    ("Those filthy {P} ruin everything.", "filthy"),
    ("I despise {P} with all my heart.", "despise"),
    ("Can't stand {P}, parasites the lot of them.", "parasites"),
    ("Get the {P} out, they're rats.", "rats"),
    ("{P} are worthless garbage.", "garbage"),
    ("{P} are degenerate freaks.", "degenerate"),
    ("Nobody wants stinking {P} round here.", "stinking"),
    ("{P} are inbred idiots.", "inbred"),
    ("{P} are filth, pure and simple.", "filth"),
    ("Honestly {P} are maggots.", "maggots"),
    ("{P} are dirty animals.", "animals"),
)

# Contrast sets: the same hateful claim or attitude asserted (hate) and negated, refuted, quoted or
# reported (not hate), so a model learns that the frame decides, not the word. Each (content, frame)
# pair is rendered for a few augmentation groups in rotation. Claims: (phrase, dehumanising).
_AUG_CLAIMS: tuple[tuple[str, bool], ...] = (
    ("vermin", True),
    ("a plague", True),
    ("parasites", True),
    ("animals", True),
    ("rats", True),
    ("cockroaches", True),
    ("a disease", True),
    ("a cancer", True),
    ("leeches", True),
    ("an infestation", True),
    ("locusts", True),
    ("a virus", True),
    ("savages", True),
    ("subhuman", True),
    ("beasts", True),
    ("filth", True),
    ("lazy", False),
    ("dirty", False),
    ("dangerous", False),
    ("criminals", False),
    ("thieves", False),
    ("liars", False),
    ("stupid", False),
    ("a burden on everyone", False),
    ("a danger to our children", False),
    ("inferior", False),
    ("scroungers", False),
    ("useless", False),
    ("not real citizens", False),
    ("degenerates", False),
)
# Frames: (functionality, template). {C} a claim, {V}/{VP} an attitude verb, {T} a person.
_AUG_CLAIM_FRAMES: tuple[tuple[str, str], ...] = (
    # Bare minimal pairs first: only the negation or the condemning verb tells them apart, so the
    # model cannot lean on a frame's other words (it learns long frames by heart).
    ("plain_hate", "{P} are {C}."),
    ("plain_hate", "All {P} are {C}."),
    ("plain_hate", "{P} are {C}, all of them."),
    ("negated_hate", "{P} are not {C}."),
    ("negated_hate", "{P} aren't {C}."),
    ("negated_hate", "{P} are not {C}. They are human beings."),
    ("counter_speech", "Calling {P} {C} is wrong."),
    ("counter_speech", "Don't call {P} {C}."),
    ("counter_speech", "It is hateful to call {P} {C}."),
    ("plain_hate", "Let's be clear: {P} are {C}."),
    ("plain_hate", "{P} are {C}, and everyone round here knows it."),
    ("plain_hate", "Everyone knows {P} are {C}."),
    ("plain_hate", "facts are facts, {P} are {C}"),
    ("plain_hate", "{P} really are {C}, I've seen it with my own eyes."),
    ("plain_hate", "The truth nobody wants to say is that {P} are {C}."),
    ("plain_hate", "Survey answer: {P} are {C}."),
    ("plain_hate", "i'll say it: {P} are {C}"),
    ("plain_hate", "Of course {P} are {C}, just look at them."),
    ("plain_hate", "Proof again today that {P} are {C}."),
    ("plain_hate", "To me {P} will always be {C}."),
    ("plain_hate", "{P} have always been {C} and they always will be."),
    ("plain_hate", "Face it, {P} are {C} and no amount of PR changes that."),
    # hate that contains a negation word ("not", "don't", "no", "never", "nothing"), so a negation
    # word alone never means safe; "are {C}, not people" against "are people, not {C}" below
    ("plain_hate", "{P} are not real people, they are {C}."),
    ("plain_hate", "{P} are not welcome here because they are {C}."),
    ("plain_hate", "I don't see {P} as equals. They're {C}."),
    ("plain_hate", "Nobody can tell me {P} aren't {C}."),
    ("plain_hate", "{P} are {C}, not people like you and me."),
    ("plain_hate", "Don't kid yourself, {P} are {C}."),
    ("plain_hate", "{P} are nothing more than {C}."),
    ("plain_hate", "There's no denying {P} are {C}."),
    ("plain_hate", "{P} will never be anything but {C}."),
    ("plain_hate", "{P} are {C}, no doubt about it."),
    ("negated_hate", "It's simply not true that {P} are {C}."),
    ("negated_hate", "{P} aren't {C}, and anyone who says so is wrong."),
    ("negated_hate", "No, {P} are not {C}. Stop spreading that."),
    ("negated_hate", "I've never believed {P} are {C}."),
    ("negated_hate", "Whoever told you {P} are {C} was lying."),
    ("negated_hate", "Nobody decent thinks {P} are {C}."),
    ("negated_hate", "i dont buy that {P} are {C} at all"),
    ("negated_hate", "{P} aren't {C}. They're our neighbours."),
    ("negated_hate", "{P} are people like you and me, not {C}."),
    ("negated_hate", "There's no truth in saying {P} are {C}."),
    ("negated_hate", "No, {P} are not {C}; they're ordinary families trying to get by."),
    ("negated_hate", "{P} are not {C}, whatever that leaflet says. They're human beings."),
    ("counter_speech", "Saying {P} are {C} is plain bigotry."),
    ("counter_speech", "People who claim {P} are {C} should be ashamed of themselves."),
    ("counter_speech", "The idea that {P} are {C} is a lie bigots have told for decades."),
    ("counter_speech", "Calling {P} {C} is hateful, and it has to stop."),
    ("counter_speech", "Anyone who calls {P} {C} should be reported, full stop."),
    ("counter_speech", "Referring to {P} as {C} is bigotry, and this forum should say so."),
    ("quoted_condemnation", 'Someone scrawled "{P} are {C}" on our fence. The police have been told.'),
    ("quoted_condemnation", 'The comment said "{P} are {C}". Reported it to the mods.'),
    (
        "quoted_condemnation",
        "Heard a man on the bus say {P} are {C}. I told him to be ashamed of himself.",
    ),
    ("quoted_condemnation", "A flyer through our door claimed {P} are {C}. Binned it and rang the council."),
    ("reported_hate", "As {A}, I'm tired of being told {P} are {C}."),
)
# Counterfactual pairs: one sentence asserting a claim and the same sentence negating it. Both sides
# share opener, closer and group, so only the negation carries the label. Verdicts condemn calling a
# group by a claim (counter-speech); an endorsing twin ("... is fair enough") taught a model that
# "calling X <claim> is <a word it had not seen>" is hate, so there is none.
_AUG_PAIR_OPENERS: tuple[str, ...] = (
    "",
    "Let's be clear: ",
    "Honestly, ",
    "i'll say it, ",
    "Survey answer: ",
    "The truth is, ",
    "Look, ",
    "For the record, ",
)
_AUG_PAIR_CLOSERS: tuple[str, ...] = (
    "",
    ", and everyone round here knows it",
    ", I've seen it with my own eyes",
    ", full stop",
    ", whatever the papers say",
    ", and that's the truth",
)
_AUG_VERDICTS: tuple[str, ...] = (
    "is hateful",
    "is bigotry",
    "is wrong",
    "is vile",
    "has to stop",
    "is shameful",
    "is cruel",
    "is unacceptable",
    "is beneath us",
    "should get you banned",
)
_AUG_PAIRS_PER_CLAIM = 6
# Praise in the same asserting frames as the claims: naming a group and generalising about it is not
# what makes a text hate.
_AUG_PRAISE: tuple[str, ...] = (
    "kind",
    "hard-working",
    "generous",
    "great neighbours",
    "good for this town",
    "an asset to the community",
    "welcome here",
    "honest people",
    "brilliant cooks",
    "part of what makes this place great",
)
# Attitudes: (present, past participle). Asserted about a group they are hate; disowned or
# condemned they are not.
_AUG_ATTITUDES: tuple[tuple[str, str], ...] = (
    ("hate", "hated"),
    ("despise", "despised"),
    ("detest", "detested"),
    ("loathe", "loathed"),
    ("resent", "resented"),
    ("can't bear", "been repelled by"),
    ("am disgusted by", "been disgusted by"),
)
_AUG_ATTITUDE_FRAMES: tuple[tuple[str, str], ...] = (
    ("plain_hate", "I {V} {P}."),
    ("plain_hate", "Honestly? I really {V} {P}."),
    ("plain_hate", "I truly {V} {P} and I don't care who knows it."),
    ("plain_hate", "{P}. I {V} every last one of them."),
    ("plain_hate", "i {V} all {P} so much"),
    ("plain_hate", "Me, I've always {VP} {P}."),
    ("plain_hate", "Survey answer: I {V} all {P}, simple as that."),
    ("negated_hate", "I have never {VP} {P} and I never will."),
    ("quoted_condemnation", "My uncle told me he has always {VP} {P}. I think that's shameful."),
    ("counter_speech", "Kids at school say they {V} {P}, and the teachers need to deal with it."),
    ("counter_speech", "Why would anyone {V} {P}? They're our neighbours."),
)
# Implicit hate: blaming a group for decline, against the same decline blamed on something else.
_AUG_DECLINE: tuple[str, ...] = (
    "This street was safe",
    "Our schools were fine",
    "The park used to be clean",
    "Nobody locked their bikes round here",
    "The high street was thriving",
    "You could walk home at night without worrying",
    "House prices were stable",
    "We had none of this trouble",
    "Crime was never an issue here",
)
_AUG_DECLINE_GROUP: tuple[str, ...] = (
    "until the {P} moved in",
    "before all the {P} arrived",
    "and then the {P} showed up",
    "before this town filled up with {P}",
    "until {P} started taking over",
    "until {P} started arriving in their hundreds",
    "before there were {P} on every corner",
    "until there were {P} everywhere you look",
)
# A group's presence told without blame is not hate: the decline sentences above must not teach that
# any sentence counting a group's members is.
_AUG_PRESENCE: tuple[str, ...] = (
    "Lots of {P} live round here now.",
    "More {P} have moved onto our road this year.",
    "There are more {P} in town than there used to be.",
    "Quite a few {P} started coming to the Saturday market.",
    "A lot of the new families on the estate are {P}.",
    "Since the nineties plenty of {P} have settled in this area.",
    "The number of {P} in the district has grown, says the census.",
    "half the street is {P} these days",
)
_AUG_DECLINE_OTHER: tuple[str, ...] = (
    "until the council cut the bus service",
    "before the factory closed",
    "until the new bypass was built",
    "before the rents doubled",
    "until the police station closed",
    "before the youth club shut",
)
# Threats at one person: a harm and a frame promising it.
_AUG_HARMS: tuple[str, ...] = (
    "see that {T} ends up in hospital",
    "put {T} in the ground",
    "hurt {T} badly",
    "put {T} in a wheelchair",
    "break every bone in {T}'s body",
    "make {T} bleed",
)
_AUG_HARM_FRAMES: tuple[str, ...] = (
    "I am planning to {H}.",
    "Next week I'll {H}, count on it.",
    "Mark my words, I will {H}.",
    "Trust me, I'll {H} before the month is out.",
)

# Conditional threats: "if {T} does this again, I'll do that to them".
_AUG_PROVOCATIONS: tuple[str, ...] = (
    "comes near my house again",
    "says one more word about my family",
    "touches my car again",
    "turns up at my door",
    "reports me to the council again",
    "parks in my space one more time",
)
_AUG_RETALIATIONS: tuple[str, ...] = (
    "I'll knock their teeth out",
    "I'll break their nose",
    "they'll leave in an ambulance",
    "I'll cave their head in",
    "I'm going to put them in hospital",
    "I will make them bleed",
)


# Filler-swapped twins: every frame with an identity-group slot is also rendered with a non-group
# filler in that slot (services and objects, places, weather, officials' decisions) and labelled not
# hate and not a threat. Without them a frame used only for hate ("{P} breed like rats") is a
# shortcut: the model learns the frame, not that it is aimed at a protected group.


@dataclass(frozen=True)
class Filler:
    """A non-group filler for the {P} plural, {A} singular-with-article and {J} adjective slots."""

    key: str
    plural: str
    person: str
    adj: str
    kind: str  # "service", "place", "weather", "decision" or "animal"


# Interleaved by kind, so consecutive renderings of one frame get fillers of every kind.
TWIN_FILLERS: tuple[Filler, ...] = (
    Filler("potholes", "potholes", "a pothole", "pothole", "service"),
    Filler("car_parks", "car parks", "a car park", "car-park", "place"),
    Filler("rainstorms", "rainstorms", "a rainstorm", "rainy", "weather"),
    Filler("parking_rules", "new parking rules", "a new parking rule", "parking-rule", "decision"),
    Filler("bins", "bins", "a wheelie bin", "bin", "service"),
    Filler("shopping_centres", "shopping centres", "a shopping centre", "shopping-centre", "place"),
    Filler("gales", "gales", "a gale", "windy", "weather"),
    Filler("budget_cuts", "budget cuts", "a budget cut", "budget-cut", "decision"),
    Filler("buses", "buses", "a bus", "bus", "service"),
    Filler("downtown_streets", "downtown streets", "a downtown street", "downtown", "place"),
    Filler("heatwaves", "heatwaves", "a heatwave", "heatwave", "weather"),
    Filler("seagulls", "seagulls", "a seagull", "seagull", "animal"),
    Filler("rezoning_plans", "rezoning plans", "a rezoning plan", "rezoning", "decision"),
    Filler("streetlights", "streetlights", "a streetlight", "streetlight", "service"),
    Filler("library_car_parks", "library car parks", "a library car park", "multi-storey", "place"),
    Filler("hailstorms", "hailstorms", "a hailstorm", "hailstorm", "weather"),
    Filler("council_tax_rises", "council tax rises", "a council tax rise", "council-tax", "decision"),
    Filler("parking_meters", "parking meters", "a parking meter", "parking-meter", "service"),
    Filler("retail_parks", "retail parks", "a retail park", "retail-park", "place"),
    Filler("floods", "floods", "a flood", "flood", "weather"),
    Filler("feral_cats", "feral cats", "a feral cat", "feral-cat", "animal"),
    Filler("low_traffic_schemes", "low-traffic schemes", "a low-traffic scheme", "low-traffic", "decision"),
    Filler("cycle_lanes", "new cycle lanes", "a new cycle lane", "cycle-lane", "service"),
    Filler("underpasses", "underpasses", "an underpass", "underpass", "place"),
    Filler("thunderstorms", "thunderstorms", "a thunderstorm", "thunderstorm", "weather"),
    Filler("fare_increases", "fare increases", "a fare increase", "fare-increase", "decision"),
    Filler("speed_bumps", "speed bumps", "a speed bump", "speed-bump", "service"),
    Filler("industrial_estates", "industrial estates", "an industrial estate", "industrial-estate", "place"),
    Filler("fog_banks", "fog banks", "a fog bank", "foggy", "weather"),
    Filler("wasps", "wasps", "a wasp", "wasp", "animal"),
    Filler("library_closures", "library closures", "a library closure", "library-closure", "decision"),
    Filler("traffic_lights", "traffic lights", "a set of traffic lights", "traffic-light", "service"),
    Filler("motorway_services", "motorway services", "a motorway service station", "motorway", "place"),
    Filler("cold_snaps", "cold snaps", "a cold snap", "frosty", "weather"),
    Filler("road_closures", "road closures", "a road closure", "road-closure", "decision"),
    Filler("possums", "possums", "a possum", "possum", "animal"),
    Filler("escooters", "e-scooters", "an e-scooter", "e-scooter", "service"),
    Filler("roundabouts", "roundabouts", "a roundabout", "roundabout", "place"),
    Filler("drizzly_days", "drizzly days", "a drizzly day", "drizzly", "weather"),
    Filler("bus_lane_fines", "bus lane fines", "a bus lane fine", "bus-lane", "decision"),
    Filler("wind_turbines", "wind turbines", "a wind turbine", "wind-farm", "service"),
    Filler("shopfronts", "empty shopfronts", "an empty shopfront", "shopfront", "place"),
    Filler("downpours", "downpours", "a downpour", "downpour", "weather"),
    Filler("pigeons", "pigeons", "a pigeon", "pigeon", "animal"),
    Filler("planning_decisions", "planning decisions", "a planning decision", "planning", "decision"),
)
#: What a twin says: not hate, not a threat; the other signals stay unknown.
_TWIN = {"hate": 0, "threat": 0}
# A threat frame whose only group slot is an adjective still threatens people ("I'm going to stab the
# next {J} guy"): its twin is labelled not hate only.
_TWIN_NOT_HATE = {"hate": 0}


class _GroupRendering(NamedTuple):
    """One rendering of a frame for an identity group, kept open so a twin can swap the filler."""

    rid: str  # ends with f"-{group.key}"
    template: str  # only the group slots {P}, {A}, {J} are still open
    labels: Mapping[str, int]
    group: IdentityGroup
    obfuscation: tuple[str, str] | None = None  # (key word, style) disguised after rendering

    def render(self, forms: SlotForms) -> str:
        clear = _aug_render(self.template, **_group_slots(forms))
        if self.obfuscation is None:
            return clear
        word, style = self.obfuscation
        if word not in clear:
            raise ValueError(f"obfuscation template {self.template!r} does not contain its key word {word!r}")
        return (
            clear.translate(_HOMOGLYPH)
            if style == "homoglyph"
            else clear.replace(word, obfuscate(word, style))
        )

    @property
    def text(self) -> str:
        return self.render(self.group)


def _open(template: str, **slots: str) -> str:
    """Fill every slot but the group slots {P}, {A}, {J}, which stay open."""
    return template.format(**slots, P="{P}", A="{A}", J="{J}")


def _contrast_frames() -> Iterator[_GroupRendering | tuple[str, str, Mapping[str, int]]]:
    """The contrast sets above, deterministic; ids name the functionality.

    A combination about a group is a ``_GroupRendering``; one without a group is ``(id, text, labels)``.
    Unfiltered: ``augmentation_templates`` drops the combinations the leak guard matches.
    """
    groups = AUGMENTATION_GROUPS
    k = 0  # rotates through the groups across all renderings

    def pick(count: int) -> list[IdentityGroup]:
        nonlocal k
        chosen = [groups[(k + i) % len(groups)] for i in range(count)]
        k += count
        return chosen

    for c, (claim, dehumanising) in enumerate(_AUG_CLAIMS):
        for f, (functionality, frame) in enumerate(_AUG_CLAIM_FRAMES):
            asserted = functionality == "plain_hate"
            labels = _REJECTED if functionality in ("negated_hate", "counter_speech") else _NOT_HATE
            if asserted:
                functionality, labels = (
                    ("dehumanisation", _HATE_DEHUMAN) if dehumanising else (functionality, _HATE)
                )
            # three groups per asserting frame, two per rejecting one: each claim is about as often
            # hate as not, so the words alone predict nothing
            for group in pick(3 if asserted else 2):
                rid = f"aug-{functionality}-claim{c}-{f}-{group.key}"
                yield _GroupRendering(rid, _open(frame, C=claim), labels, group)
    for c, (claim, dehumanising) in enumerate(_AUG_CLAIMS):
        hate = ("dehumanisation", _HATE_DEHUMAN) if dehumanising else ("plain_hate", _HATE)
        for j in range(_AUG_PAIRS_PER_CLAIM):
            opener = _AUG_PAIR_OPENERS[(c + j) % len(_AUG_PAIR_OPENERS)]
            closer = _AUG_PAIR_CLOSERS[(c * 5 + j) % len(_AUG_PAIR_CLOSERS)]
            (group,) = pick(1)
            for (functionality, labels), copula in ((hate, "are"), (("negated_hate", _REJECTED), "are not")):
                template = f"{opener}{{P}} {copula} {claim}{closer}."
                yield _GroupRendering(f"aug-{functionality}-pair{c}-{j}-{group.key}", template, labels, group)
        for v, verdict in enumerate(_AUG_VERDICTS):
            (group,) = pick(1)
            template = f"Calling {{P}} {claim} {verdict}."
            yield _GroupRendering(
                f"aug-counter_speech-verdict{c}-{v}-{group.key}", template, _REJECTED, group
            )
    for c, praise in enumerate(_AUG_PRAISE):
        for f, (functionality, frame) in enumerate(_AUG_CLAIM_FRAMES):
            if functionality == "plain_hate":
                for group in pick(2):
                    rid = f"aug-positive_identity-praise{c}-{f}-{group.key}"
                    yield _GroupRendering(rid, _open(frame, C=praise), _BENIGN, group)
    for v, (verb, participle) in enumerate(_AUG_ATTITUDES):
        for f, (functionality, frame) in enumerate(_AUG_ATTITUDE_FRAMES):
            labels = _HATE if functionality == "plain_hate" else _NOT_HATE
            for group in pick(2):
                rid = f"aug-{functionality}-attitude{v}-{f}-{group.key}"
                yield _GroupRendering(rid, _open(frame, V=verb, VP=participle), labels, group)
    for d, decline in enumerate(_AUG_DECLINE):
        for b, blame in enumerate(_AUG_DECLINE_GROUP):
            for group in pick(3):
                rid = f"aug-implicit_hate-decline{d}-{b}-{group.key}"
                yield _GroupRendering(rid, f"{decline} {blame}.", _HATE, group)
        for b, cause in enumerate(_AUG_DECLINE_OTHER):
            yield f"aug-civil_disagreement-decline{d}-{b}", f"{decline} {cause}.", _BENIGN
    for n, presence in enumerate(_AUG_PRESENCE):
        for group in pick(8):
            yield _GroupRendering(f"aug-neutral_identity-presence{n}-{group.key}", presence, _BENIGN, group)
    persons = _AUG_PERSONS
    for h, harm in enumerate(_AUG_HARMS):
        for f, frame in enumerate(_AUG_HARM_FRAMES):
            for i in range(3):
                person = persons[(h * len(_AUG_HARM_FRAMES) + f + i * 5) % len(persons)]
                text = _aug_render(frame.format(H=harm), T=person)
                yield f"aug-threat_individual-harm{h}-{f}-{i}", text, _THREAT_PERSON
    for p, provocation in enumerate(_AUG_PROVOCATIONS):
        for r, retaliation in enumerate(_AUG_RETALIATIONS):
            person = persons[(p * len(_AUG_RETALIATIONS) + r) % len(persons)]
            text = _aug_render(f"If {{T}} {provocation}, {retaliation}.", T=person)
            yield f"aug-threat_individual-if{p}-{r}", text, _THREAT_PERSON


def _contrast_templates() -> Iterator[tuple[str, str, Mapping[str, int], IdentityGroup | None]]:
    """(id, text, labels, group) of the contrast sets, rendered (``_contrast_frames``), unfiltered."""
    for row in _contrast_frames():
        if isinstance(row, _GroupRendering):
            yield row.rid, row.text, row.labels, row.group
        else:
            rid, text, labels = row
            yield rid, text, labels, None


# END OF AUGMENTATION TEMPLATES ======================================================================


def _record(rid: str, text: str, expected: Mapping[str, int], group: IdentityGroup | None) -> Record:
    # A target is known only where the text attacks a group; elsewhere it stays unknown (masked).
    targets = {group.target: 1} if group is not None and expected.get("hate") == 1 else {}
    return Record(id=rid, text=text, source="augmentation", labels=dict(expected), targets=targets)


def _template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _aug_render(template: str, **slots: str) -> str:
    # Lower-case templates imitate unpunctuated casual comments: keep them lower case.
    return template.format(**slots) if template[:1].islower() else _render(template, **slots)


def _plain_fills(template: str, t: int) -> list[dict[str, str]]:
    """Slot fillers for a template without identity group: one dict per rendered text."""
    slots = _template_slots(template)
    if "I" in slots:
        n = len(_AUG_POLICIES)
        return [{"I": inst, "Y": _AUG_POLICIES[(k + t) % n]} for k, inst in enumerate(_AUG_INSTITUTIONS)]
    if "Y" in slots:
        return [{"Y": policy} for policy in _AUG_POLICIES]
    if "T" in slots:
        return [{"T": person} for person in _AUG_PERSONS]
    if "N" in slots:
        return [{"N": name} for name in _AUG_NAMES]
    if "X" in slots:
        return [{"X": thing} for thing in _AUG_THINGS]
    if "L" in slots:
        return [{"L": place} for place in _AUG_PLACES]
    if slots:
        raise ValueError(f"augmentation template {template!r} uses unknown slots {sorted(slots)}")
    return [{}]


def augmentation_templates() -> Iterator[Record]:
    """Yield augmentation Records with partial labels (source ``augmentation``), deterministic.

    Only the signals a template says something about carry a label; the others stay unknown (-1) so
    the masked loss ignores them. Never mixes with the evaluation suite: separate strings and terms.
    Group templates are rendered for every augmentation group, the rest for every filler of their
    slot; ids are ``aug-<functionality>-...`` and stable across runs. Last come the filler-swapped
    twins of every group rendering (``twin_templates``), ids ``aug-twin-<functionality>-...``.

    >>> recs = list(augmentation_templates())
    >>> recs[0].source, recs[0].labels["hate"]
    ('augmentation', 1)
    """
    from signals.normalize import normalize

    written = list(_written_templates())
    yield from written
    # Generated combinations can land on an evaluation sentence ("... that {P} are vermin" contains
    # "{P} are vermin"): the leak guard drops those here, so every yielded row is guard-clean. A
    # combination that repeats an earlier row (after normalisation) is dropped too.
    seen = {normalize(r.text) for r in written}
    for rid, text, expected, maybe_group in _guard_clean_contrast():
        key = normalize(text)
        if key not in seen:
            seen.add(key)
            yield _record(rid, text, expected, maybe_group)
    for record in twin_templates():
        key = normalize(record.text)
        if key not in seen:
            seen.add(key)
            yield record


@functools.cache
def _guard_clean_contrast() -> tuple[tuple[str, str, Mapping[str, int], IdentityGroup | None], ...]:
    """The contrast rows the leak guard lets through (computed once)."""
    contrast = list(_contrast_templates())
    leaks = set(evaluation_overlap([text for _, text, _, _ in contrast]))
    return tuple(row for i, row in enumerate(contrast) if i not in leaks)


def _written_group_renderings() -> Iterator[_GroupRendering]:
    """The hand-written group templates and obfuscation bases, for every augmentation group."""
    for functionality, templates in _AUG_GROUP_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            for group in AUGMENTATION_GROUPS:
                yield _GroupRendering(f"aug-{functionality}-{t}-{group.key}", template, expected, group)
    for t, template in enumerate(_AUG_CIVIC_REQUESTS):
        for group in AUGMENTATION_GROUPS:
            yield _GroupRendering(f"aug-neutral_identity-civic{t}-{group.key}", template, _BENIGN, group)
    for t, template in enumerate(_AUG_GROUP_ANSWERS):
        for group in AUGMENTATION_GROUPS:
            yield _GroupRendering(f"aug-neutral_identity-answer{t}-{group.key}", template, _BENIGN, group)
    for b, (base, word) in enumerate(_AUG_OBFUSCATION_BASES):
        for g, group in enumerate(AUGMENTATION_GROUPS):
            style = OBFUSCATION_STYLES[(g + b) % len(OBFUSCATION_STYLES)]
            rid = f"aug-obfuscated_hate-{b}-{style}-{group.key}"
            yield _GroupRendering(rid, base, _HATE, group, (word, style))


def _written_templates() -> Iterator[Record]:
    """The hand-written augmentation templates, rendered (``augmentation_templates`` adds the rest)."""
    for rendering in _written_group_renderings():
        yield _record(rendering.rid, rendering.text, rendering.labels, rendering.group)
    groups = {group.key: group for group in AUGMENTATION_GROUPS}
    for i, (group_key, text) in enumerate(_AUG_RECLAIMED):
        rid = f"aug-reclaimed_self_reference-{i}-{group_key}"
        yield _record(rid, text, _RECLAIMED, groups[group_key])
        # the same message typed fast: lower case, no punctuation (few such texts exist otherwise)
        casual = re.sub(r"\s+", " ", re.sub(r"[^\w\s'-]", "", text.lower())).strip()
        if casual != text:
            yield _record(f"{rid}-casual", casual, _RECLAIMED, groups[group_key])
    for functionality, templates in _AUG_PLAIN_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            fills = _plain_fills(template, t)
            for k, slots in enumerate(fills):
                rid = f"aug-{functionality}-{t}-{k}" if len(fills) > 1 else f"aug-{functionality}-{t}"
                yield _record(rid, _aug_render(template, **slots), expected, None)
    for functionality, templates in _AUG_OUTGROUP_TEMPLATES.items():
        for t, (template, expected) in enumerate(templates):
            for group in AUGMENTATION_OUTGROUPS:
                text = _aug_render(template, **_group_slots(group))
                yield _record(f"aug-{functionality}-og{t}-{group.key}", text, expected, group)


def _group_renderings() -> Iterator[_GroupRendering]:
    """Every rendering of a frame for an augmentation group: written, obfuscated and contrast."""
    yield from _written_group_renderings()
    for row in _contrast_frames():
        if isinstance(row, _GroupRendering):
            yield row


def _twin_labels(rendering: _GroupRendering) -> Mapping[str, int]:
    functionality = rendering.rid.split("-")[1]
    if functionality == "threat_group" and _template_slots(rendering.template) <= {"J"}:
        return _TWIN_NOT_HATE
    return _TWIN


@functools.cache
def _twins() -> tuple[tuple[str, str, Mapping[str, int]], ...]:
    """(id, text, labels) of the twins the leak guard lets through (computed once)."""
    from signals.normalize import normalize

    rows = []
    seen: set[str] = set()
    for n, rendering in enumerate(_group_renderings()):
        # one twin per group rendering: consecutive renderings of a frame get different fillers; a
        # twin that repeats an earlier one (two frames can read the same) takes the next filler
        for k in range(len(TWIN_FILLERS)):
            filler = TWIN_FILLERS[(n + k) % len(TWIN_FILLERS)]
            text = rendering.render(filler)
            if normalize(text) not in seen:
                break
        else:
            continue
        seen.add(normalize(text))
        stem = rendering.rid.removeprefix("aug-").removesuffix(f"-{rendering.group.key}")
        rows.append((f"aug-twin-{stem}-{filler.key}", text, _twin_labels(rendering)))
    leaks = set(evaluation_overlap([text for _, text, _ in rows]))
    return tuple(row for i, row in enumerate(rows) if i not in leaks)


def twin_templates() -> Iterator[Record]:
    """Filler-swapped twins: each group rendering of a frame once more with a non-group filler.

    "{P} breed like rats" about Sikhs is hate; about potholes it is not. Every frame with a {P}, {A}
    or {J} slot (written templates, obfuscation bases, contrast frames) gets one twin per group it is
    rendered for, the filler rotating through ``TWIN_FILLERS``. Twins are labelled ``hate = 0`` and
    ``threat = 0`` (only ``hate = 0`` for a threat frame whose sole group slot is an adjective, which
    still threatens people), name no target, and the ones the leak guard matches are dropped. Ids are
    ``aug-twin-<the group rendering's id, less "aug-" and the group key>-<filler key>``, e.g.
    ``aug-twin-dehumanisation-0-potholes``: the part after ``aug-twin-`` starts with the
    functionality of the frame, not of the twin.
    """
    for rid, text, labels in _twins():
        yield Record(id=rid, text=text, source="augmentation", labels=dict(labels))


# ---------------------------------------------------------------------------------------------------
# Leak guard: compare texts with identity terms masked
# ---------------------------------------------------------------------------------------------------


def _identity_terms() -> list[str]:
    terms: set[str] = set()
    slotted: tuple[SlotForms, ...] = (
        EVAL_GROUPS + EVAL_OUTGROUPS + AUGMENTATION_GROUPS + AUGMENTATION_OUTGROUPS + TWIN_FILLERS
    )
    for g in slotted:
        terms.update({g.plural, g.person, g.adj})
    terms.update(_EVAL_PERSONS + _EVAL_INSTITUTIONS + _EVAL_POLICIES)
    terms.update(_AUG_PERSONS + _AUG_INSTITUTIONS + _AUG_POLICIES + _AUG_NAMES + _AUG_THINGS)
    return sorted((t.lower() for t in terms), key=len, reverse=True)


@functools.cache
def _skeleton_re() -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in _identity_terms()) + r")\b")


#: A run of this many consecutive skeleton words shared with an evaluation case makes a text a leak.
LEAK_RUN_WORDS = 5
#: The package data file with the evaluation texts' skeletons (``suite.write_eval_skeletons``).
EVAL_SKELETONS_RESOURCE = "eval_skeletons.txt"


def skeleton(text: str) -> str:
    """Lower-cased text with identity and slot terms replaced by ``xx`` and punctuation dropped.

    Cyrillic look-alike letters are read as Latin ones and a word typed letter by letter is joined, so
    a disguised copy has the same skeleton as the plain one. Two texts with the same skeleton differ
    only in which group or slot filler they mention.

    >>> skeleton("I hate Muslims!") == skeleton("i hate Sikhs")
    True
    """
    out = _skeleton_re().sub(" xx ", text.translate(_UNHOMOGLYPH).lower())
    out = re.sub(r"[^\w\s]", " ", out)
    # a word typed letter by letter ("v e r m i n", "p*r*s*t*s") is one word, not a run of words
    out = re.sub(r"\b\w(?: \w\b){2,}", lambda m: m.group(0).replace(" ", ""), out)
    return re.sub(r"\s+", " ", out).strip()


@functools.cache
def evaluation_skeletons() -> tuple[str, ...]:
    """The evaluation texts' skeletons, read from the package's ``eval_skeletons.txt`` (sorted)."""
    data = resources.files("signals.functional").joinpath(EVAL_SKELETONS_RESOURCE)
    return tuple(line for line in data.read_text(encoding="utf-8").splitlines() if line)


def evaluation_overlap(
    texts: Iterable[str],
    min_ratio: float = 0.8,
    fuzzy: bool = True,
    against: Iterable[str] | None = None,
) -> list[int]:
    """Indices of ``texts`` that equal or closely match an evaluation case once identity terms are masked.

    Training pipelines call this to drop any text that would leak the functional suite into training.
    On the skeletons (``skeleton``: identity and slot terms masked, homoglyphs undone, no punctuation)
    a text leaks when it

    * equals an evaluation skeleton, or
    * (``fuzzy``) has a ``difflib.SequenceMatcher.ratio`` ``>= min_ratio`` with one, or shares a run
      of ``LEAK_RUN_WORDS`` consecutive words with one, or contains a whole evaluation skeleton of at
      least three words ("x are vermin" inside "honestly x are vermin"): a near copy with a word
      added or a clause swapped is still the suite's wording.

    The evaluation skeletons come from ``evaluation_skeletons()`` (a data file), so the guard never
    loads the suite. The fuzzy comparison costs a few milliseconds per distinct skeleton: fine for
    augmentation sets (texts that differ only in their group share one); for a whole corpus pass
    ``fuzzy=False`` (exact skeleton matches only). ``against`` compares with other evaluation texts
    instead (for example the civic regression sentences), skeletonised the same way.
    """
    eval_skeletons = evaluation_skeletons() if against is None else tuple({skeleton(t) for t in against})
    exact = set(eval_skeletons)
    eval_words = [(other, other.split()) for other in eval_skeletons]
    verdicts: dict[str, bool] = {}

    def leaks(sk: str) -> bool:
        if sk in exact:
            return True
        if not fuzzy:
            return False
        words = sk.split()
        padded = f" {sk} "
        chars = difflib.SequenceMatcher(a=sk, autojunk=False)
        runs = difflib.SequenceMatcher(a=words, autojunk=False)
        for other, other_words in eval_words:
            if len(other_words) >= 3 and f" {other} " in padded:
                return True
            runs.set_seq2(other_words)
            if runs.find_longest_match(0, len(words), 0, len(other_words)).size >= LEAK_RUN_WORDS:
                return True
            chars.set_seq2(other)
            if (
                chars.real_quick_ratio() >= min_ratio
                and chars.quick_ratio() >= min_ratio
                and chars.ratio() >= min_ratio
            ):
                return True
        return False

    hits = []
    for i, text in enumerate(texts):
        sk = skeleton(text)
        if sk not in verdicts:
            verdicts[sk] = leaks(sk)
        if verdicts[sk]:
            hits.append(i)
    return hits
