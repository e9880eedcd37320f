"""The functional suite: coverage, determinism, scoring logic and separation from augmentation data."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from signals.functional import augment, common, suite
from signals.models import ModelInfo
from signals.normalize import normalize
from signals.schema import SIGNALS, UNKNOWN, Record
from signals.scoring import Scorer

GROUP_FUNCTIONALITIES = (
    "plain_hate",
    "implicit_hate",
    "dehumanisation",
    "threat_group",
    "hate_question",
    "negated_positive",
    "negated_hate",
    "counter_speech",
    "quoted_condemnation",
    "reported_hate",
    "neutral_identity",
    "positive_identity",
    "obfuscated_hate",
)


class OracleModel:
    """Answers every suite case perfectly: 0.9 where a signal is expected 1, else 0.1."""

    def __init__(self, cases: Sequence[suite.Case]) -> None:
        # The scorer normalises (and de-obfuscates) before the model sees a text, so an obfuscated case
        # may reach the model as the same text as a plain one: merge their expectations.
        self.answers: dict[str, list[float]] = {}
        for c in cases:
            row = self.answers.setdefault(normalize(c.text), [0.1] * len(SIGNALS))
            for j, s in enumerate(SIGNALS):
                if c.expected.get(s) == 1:
                    row[j] = 0.9

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.answers[t] for t in texts])


class ConstantModel:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.full((len(texts), len(SIGNALS)), self.value)


def _is_twin(record: Record) -> bool:
    return record.id.startswith("aug-twin-")


def _functionality(record: Record) -> str:
    """The functionality an augmentation id names (for a twin: of the frame it was swapped from)."""
    parts = record.id.split("-")
    return parts[2] if parts[1] == "twin" else parts[1]


def _scorer(model: object) -> Scorer:
    info = ModelInfo(
        name="fake",
        version="1",
        format="fake",
        thresholds={"review": {s: 0.3 for s in SIGNALS}, "flag": {s: 0.5 for s in SIGNALS}},
    )
    return Scorer(model, info)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cases() -> list[suite.Case]:
    return suite.suite_cases()


def test_suite_size_and_coverage(cases: list[suite.Case]) -> None:
    assert 300 <= len(cases) <= 1000
    per_functionality = Counter(c.functionality for c in cases)
    assert set(per_functionality) == set(common.FUNCTIONALITIES)
    assert min(per_functionality.values()) >= 8
    protected = [g.key for g in common.EVAL_GROUPS]
    assert len(protected) >= 12
    for name in GROUP_FUNCTIONALITIES:
        groups = {c.group for c in cases if c.functionality == name}
        assert groups == set(protected), name
    per_group = Counter(c.group for c in cases)
    assert all(per_group[g] >= 30 for g in protected)
    assert all(per_group[g.key] >= 4 for g in common.EVAL_OUTGROUPS)


def test_cases_are_well_formed(cases: list[suite.Case]) -> None:
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.text for c in cases}) == len(cases)
    known_groups = {g.key for g in suite.suite_groups()}
    for c in cases:
        assert c.group is None or c.group in known_groups
        assert set(c.expected) <= set(SIGNALS) and c.expected
        assert "{" not in c.text and "}" not in c.text
    for name in common.HATE_FUNCTIONALITIES:
        assert all(c.expected["hate"] == 1 for c in cases if c.functionality == name)
    for name in (
        "negated_hate",
        "counter_speech",
        "quoted_condemnation",
        "reported_hate",
        "reclaimed_self_reference",
    ):
        assert all(c.expected["hate"] == 0 for c in cases if c.functionality == name)
    vilify = [c for c in cases if c.functionality == "polarization_vilify"]
    civil = [c for c in cases if c.functionality == "civil_disagreement"]
    assert all(c.expected["polarization"] == 1 for c in vilify)
    assert all(c.expected["polarization"] == 0 for c in civil)


def test_cases_agree_after_normalisation(cases: list[suite.Case]) -> None:
    # Two cases the model sees as one text must not expect opposite decisions for a signal.
    seen: dict[tuple[str, str], int] = {}
    for c in cases:
        for signal, value in c.expected.items():
            key = (normalize(c.text), signal)
            assert seen.setdefault(key, value) == value, (c.id, signal)


def test_suite_is_deterministic(cases: list[suite.Case]) -> None:
    assert suite.suite_cases() == cases
    assert list(augment.augmentation_templates()) == list(augment.augmentation_templates())


def test_obfuscation_styles_change_the_text(cases: list[suite.Case]) -> None:
    assert common.obfuscate("vermin", "leet") == "v3rm1n"
    assert common.obfuscate("hate", "spacing") == "h a t e"
    assert common.obfuscate("vermin", "asterisks") == "v*rm*n"
    assert common.obfuscate("vermin", "homoglyph") != "vermin"
    with pytest.raises(ValueError):
        common.obfuscate("x", "rot13")
    obfuscated = [c for c in cases if c.functionality == "obfuscated_hate"]
    assert {c.id.split("-")[1] for c in obfuscated} == set(common.OBFUSCATION_STYLES)
    homoglyph = [c.text for c in obfuscated if "-homoglyph-" in c.id]
    assert all(any(ord(ch) > 0x400 for ch in t) for t in homoglyph)


def test_perfect_oracle_scores_100_percent(cases: list[suite.Case]) -> None:
    result = suite.run_suite(_scorer(OracleModel(cases)))
    assert result.overall_accuracy == 1.0
    assert set(result.per_functionality.values()) == {1.0}
    metrics = result.to_metrics()
    assert metrics["func_overall_acc"] == 1.0
    assert {f"func_{f}_acc" for f in common.FUNCTIONALITIES} <= set(metrics)


def test_always_zero_model_fails_hate_functionalities() -> None:
    result = suite.run_suite(_scorer(ConstantModel(0.0)))
    acc = result.per_functionality
    for name in common.HATE_FUNCTIONALITIES:
        assert acc[name] == 0.0, name
    for name in ("neutral_identity", "positive_identity", "negated_hate", "civil_disagreement"):
        assert acc[name] == 1.0, name
    assert acc["threat_individual"] == 0.0 and acc["insult_person"] == 0.0
    assert 0.0 < result.overall_accuracy < 1.0


def test_only_evaluated_signals_count() -> None:
    case = suite.Case("x-1", "some text", "plain_hate", {"hate": 1})
    # threat, offensive, polarization are all wrong-ish but not evaluated for this case
    result = suite.SuiteResult([case], np.array([[0.9, 0.9, 0.9, 0.9]]), {s: 0.5 for s in SIGNALS})
    assert result.correct.tolist() == [True]
    result = suite.SuiteResult([case], np.array([[0.4, 0.0, 0.0, 0.0]]), {s: 0.5 for s in SIGNALS})
    assert result.correct.tolist() == [False]


def test_threshold_choices(cases: list[suite.Case]) -> None:
    scorer = _scorer(ConstantModel(0.4))  # between review (0.3) and flag (0.5)
    flag = suite.run_suite(scorer, "flag")
    review = suite.run_suite(scorer, "review")
    assert flag.per_functionality["plain_hate"] == 0.0
    assert review.per_functionality["plain_hate"] == 0.0  # threat=0 is expected, 0.4 >= 0.3 says 1
    assert review.per_functionality["dehumanisation"] == 1.0  # hate=1 and polarization=1 expected
    assert flag.per_functionality["dehumanisation"] == 0.0
    assert suite.run_suite(scorer, 0.35).per_functionality["dehumanisation"] == 1.0
    custom = dict.fromkeys(SIGNALS, 0.9) | {"hate": 0.1}
    assert suite.run_suite(scorer, custom).per_functionality["plain_hate"] == 1.0
    with pytest.raises(ValueError, match="operating point"):
        suite.run_suite(scorer, "nonsense")
    with pytest.raises(ValueError, match="lacks signals"):
        suite.run_suite(scorer, {"hate": 0.5})


def test_outputs_csv_frame_and_table(tmp_path: Path, fake_scorer: Scorer) -> None:
    result = suite.run_suite(fake_scorer)
    # the keyword model flags hate on "vermin" (also when spelt v3rm1n) but not on "I hate X"
    by_id = {c.id: i for i, c in enumerate(result.cases)}
    assert result.decisions[by_id["obfuscated_hate-leet-jews"], 0] == 1
    assert not result.correct[by_id["plain_hate-0-jews"]]
    assert 0.0 < result.overall_accuracy < 1.0
    frame = result.to_frame()
    assert len(frame) == len(result.cases)
    assert {
        "id",
        "functionality",
        "group",
        "text",
        "correct",
        "prob_hate",
        "pred_hate",
        "expected_hate",
    } <= set(frame.columns)
    paths = result.write_csv(tmp_path / "out")
    assert [p.name for p in paths] == ["functional_cases.csv", "functional_summary.csv"]
    summary = paths[1].read_text().splitlines()
    assert summary[0] == "functionality,n,correct,accuracy"
    assert summary[-1].startswith(f"overall,{len(result.cases)},")
    console = Console(record=True, width=200)
    console.print(result.to_table())
    assert "obfuscated_hate" in console.export_text()
    metrics = result.to_metrics()
    assert all(not k.startswith("func_group") for k in metrics)
    assert "funcgroup_muslims_acc" in metrics


def test_evaluate_model_dir(keyword_model_dir: Path, tmp_path: Path) -> None:
    metrics = suite.evaluate_model_dir(keyword_model_dir, out_dir=tmp_path / "artifacts")
    assert 0.0 < metrics["func_overall_acc"] < 1.0
    assert "bias_func_hate_overall_auc" in metrics
    assert (tmp_path / "artifacts" / "functional_cases.csv").is_file()
    assert (tmp_path / "artifacts" / "bias_functional.csv").is_file()


def test_main_reports_a_bad_model_dir(tmp_path: Path) -> None:
    assert suite.main([str(tmp_path / "nothing-here")]) == 2


# -- separation of evaluation and augmentation -----------------------------------------------------


def test_augmentation_records_have_partial_labels() -> None:
    records = list(augment.augmentation_templates())
    assert len(records) >= 300
    assert len({r.id for r in records}) == len(records)
    assert all(r.source == "augmentation" for r in records)
    # every record leaves at least one signal unknown or labels only what its template says
    hate = [r for r in records if r.labels["hate"] == 1]
    assert hate and all(any(v == 1 for v in r.targets.values()) for r in hate)
    assert any(r.labels["offensive"] == UNKNOWN for r in records)
    functionalities = {_functionality(r) for r in records}
    assert functionalities <= set(common.FUNCTIONALITIES)


def _augmentation_template_counts() -> Counter[str]:
    counts: Counter[str] = Counter()
    for table in (
        augment._AUG_GROUP_TEMPLATES,
        augment._AUG_PLAIN_TEMPLATES,
        augment._AUG_OUTGROUP_TEMPLATES,
    ):
        for functionality, templates in table.items():
            counts[functionality] += len(templates)
    counts["obfuscated_hate"] += len(augment._AUG_OBFUSCATION_BASES)
    counts["reclaimed_self_reference"] += len(augment._AUG_RECLAIMED)
    return counts


def test_augmentation_covers_every_functionality() -> None:
    records = [r for r in augment.augmentation_templates() if not _is_twin(r)]
    assert 3000 <= len(records) <= 15000
    per_functionality = Counter(_functionality(r) for r in records)
    assert set(per_functionality) == set(common.FUNCTIONALITIES)
    assert min(per_functionality.values()) >= 30
    templates = _augmentation_template_counts()
    assert all(templates[f] >= 12 for f in common.FUNCTIONALITIES), templates
    # the behaviours the corpora lack get the most variety
    for functionality in (
        "threat_individual",
        "insult_person",
        "implicit_hate",
        "dehumanisation",
        "threat_group",
    ):
        assert templates[functionality] >= 20, functionality
    assert templates["polarization_vilify"] >= 20 and templates["civil_disagreement"] >= 20


def test_augmentation_renders_cleanly_and_consistently() -> None:
    records = list(augment.augmentation_templates())
    by_text: dict[str, dict[str, int]] = {}
    for r in records:
        assert "{" not in r.text and "}" not in r.text, r.id
        # short answers that only name a group ("Sikhs", "Mostly migrants.") are short on purpose
        assert (len(r.text.split()) >= 3 or "-answer" in r.id) and len(r.text) <= 200, r.id
        # one text, one set of labels
        assert by_text.setdefault(normalize(r.text), r.labels) == r.labels, r.id
    assert len(by_text) == len(records)


def test_augmentation_teaches_person_threats_and_insults_are_not_hate_or_polarization() -> None:
    records = list(augment.augmentation_templates())
    person = [r for r in records if r.id.split("-")[1] in ("threat_individual", "insult_person")]
    assert person
    for r in person:
        assert r.labels["hate"] == 0 and r.labels["polarization"] == 0, r.id
        assert all(v == UNKNOWN for v in r.targets.values()), r.id
    threats = [r for r in person if r.id.split("-")[1] == "threat_individual"]
    assert all(r.labels["threat"] == 1 for r in threats)
    insults = [r for r in person if r.id.split("-")[1] == "insult_person"]
    assert all(r.labels["offensive"] == 1 and r.labels["threat"] == 0 for r in insults)
    reclaimed = [r for r in records if r.id.split("-")[1] == "reclaimed_self_reference"]
    assert reclaimed and all(r.labels["hate"] == 0 for r in reclaimed)


def test_augmentation_groups_are_not_evaluation_groups() -> None:
    eval_groups = common.EVAL_GROUPS + common.EVAL_OUTGROUPS
    aug_groups = augment.AUGMENTATION_GROUPS + augment.AUGMENTATION_OUTGROUPS
    assert not {g.key for g in eval_groups} & {g.key for g in aug_groups}
    assert not {g.plural.lower() for g in eval_groups} & {g.plural.lower() for g in aug_groups}
    assert all(g.protected for g in augment.AUGMENTATION_GROUPS)
    assert not any(g.protected for g in augment.AUGMENTATION_OUTGROUPS)


def test_augmentation_never_overlaps_evaluation(cases: list[suite.Case]) -> None:
    aug_texts = [r.text for r in augment.augmentation_templates()]
    eval_texts = {c.text.lower() for c in cases}
    assert not eval_texts & {t.lower() for t in aug_texts}
    eval_skeletons = {augment.skeleton(c.text) for c in cases}
    assert not eval_skeletons & {augment.skeleton(t) for t in aug_texts}
    assert augment.evaluation_overlap(aug_texts) == []


def test_augmentation_never_overlaps_the_civic_regression_sentences(aug_records: list[Record]) -> None:
    # The regression sentences (tests/integration/test_civic_regression.py) must measure the model, not
    # the templates: no augmentation text may equal or closely match one once identity terms are masked.
    sentences = [row["text"] for row in suite.regression_rows()]
    assert len(sentences) >= 300
    assert augment.evaluation_overlap([r.text for r in aug_records], against=sentences) == []
    # the guard itself sees a regression sentence with its group swapped
    assert augment.evaluation_overlap(["Too many potholes."], against=sentences) == [0]


def test_overlap_guard_catches_a_leak() -> None:
    # The same evaluation template with another group, a near copy, an evaluation sentence with words
    # added around it, a long shared run of words, or a disguised copy must all be caught.
    leaks = [
        "I hate Sikhs.",
        "Catholics are nothing but a plague on this town!",
        "Honestly Sikhs are vermin, simple as.",
        "I know where the bus driver lives and I'm going to make sure he pays.",
        "Sikhs are v e r m i n, I said it.",
        "Sikhs аrе vеrmin",
        "a totally unrelated sentence",
        "Sikhs are rats and everyone knows it.",
    ]
    assert augment.evaluation_overlap(leaks) == [0, 1, 2, 3, 4, 5]


def test_contrast_sets_pair_each_claim_with_its_rejection() -> None:
    # Every claim is both asserted (hate) and negated, refuted or quoted (not hate), so the frame,
    # not the word, decides; decline is blamed on a group (hate) and on other causes (not hate).
    recs = [r for r in augment.augmentation_templates() if "-claim" in r.id and not _is_twin(r)]
    by_claim: dict[str, set[int]] = {}
    for r in recs:
        by_claim.setdefault(r.id.split("-")[2], set()).add(r.labels["hate"])
    assert len(by_claim) == len(augment._AUG_CLAIMS)
    assert all(labels == {0, 1} for labels in by_claim.values())
    decline = [r for r in augment.augmentation_templates() if "-decline" in r.id and not _is_twin(r)]
    assert {r.labels["hate"] for r in decline} == {0, 1}
    assert all(r.targets for r in decline if r.labels["hate"] == 1)


def test_counterfactual_pairs_differ_only_in_the_negation() -> None:
    recs = [r for r in augment.augmentation_templates() if not _is_twin(r)]
    twins: dict[str, list[Record]] = {}
    for r in recs:
        if "-pair" in r.id:
            twins.setdefault(r.id.split("-", 2)[2], []).append(r)
    complete = [pair for pair in twins.values() if len(pair) == 2]
    assert len(complete) >= 0.9 * len(twins)  # the guard may drop one side of a few pairs
    for pair in complete:
        hateful, rejected = sorted(pair, key=lambda r: -r.labels["hate"])
        assert (hateful.labels["hate"], rejected.labels["hate"]) == (1, 0)
        assert rejected.labels["polarization"] == 0
        assert set(rejected.targets.values()) == {-1} and 1 in hateful.targets.values()
        assert rejected.text == hateful.text.replace(" are ", " are not ", 1)
    verdicts = [r for r in recs if "-verdict" in r.id]
    assert verdicts and all(r.id.startswith("aug-counter_speech-") for r in verdicts)
    assert {(r.labels["hate"], r.labels["polarization"]) for r in verdicts} == {(0, 0)}


# -- filler-swapped twins --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aug_records() -> list[Record]:
    return list(augment.augmentation_templates())


def _stem(rid: str, group_key: str) -> str:
    return rid.removeprefix("aug-").removesuffix(f"-{group_key}")


def test_every_group_frame_has_a_twin(aug_records: list[Record]) -> None:
    # A frame rendered for augmentation groups (written template, obfuscation base or contrast
    # combination) is also rendered with non-group fillers, so the frame alone never predicts hate.
    yielded = {r.id for r in aug_records}
    renderings = [g for g in augment._group_renderings() if g.rid in yielded]
    frames = {_stem(g.rid, g.group.key) for g in renderings}
    twins = [r for r in aug_records if _is_twin(r)]
    twin_frames = Counter(r.id.removeprefix("aug-twin-").rsplit("-", 1)[0] for r in twins)
    assert frames and not frames - set(twin_frames)
    # about one twin per group rendering, every kind of filler used
    assert 0.9 * len(renderings) <= len(twins) <= 1.1 * len(renderings)
    fillers = {f.key: f for f in augment.TWIN_FILLERS}
    assert {r.id.rsplit("-", 1)[1] for r in twins} == set(fillers)
    assert {f.kind for f in augment.TWIN_FILLERS} == {"service", "place", "weather", "decision", "animal"}
    # every written template gets several distinct fillers
    written = Counter(r.id.rsplit("-", 1)[0] for r in twins if r.id.split("-")[3].isdigit())
    assert len(written) >= sum(len(t) for t in augment._AUG_GROUP_TEMPLATES.values())
    assert min(written.values()) >= 3


def test_twins_are_labelled_not_hate_and_name_no_target(aug_records: list[Record]) -> None:
    twins = [r for r in aug_records if _is_twin(r)]
    assert twins and all(r.source == "augmentation" for r in twins)
    for r in twins:
        assert r.labels["hate"] == 0, r.id
        assert r.labels["threat"] in (0, UNKNOWN), r.id
        assert r.labels["offensive"] == UNKNOWN and r.labels["polarization"] == UNKNOWN, r.id
        assert all(v == UNKNOWN for v in r.targets.values()), r.id
        assert _functionality(r) in common.FUNCTIONALITIES, r.id
    # threat left unknown only where an adjective slot still threatens people ("the next {J} guy")
    unknown = [r for r in twins if r.labels["threat"] == UNKNOWN]
    assert unknown and all(_functionality(r) == "threat_group" for r in unknown)
    assert sum(r.labels["threat"] == 0 for r in twins) > 0.95 * len(twins)
    # "{P} breed like rats": one twin per group it is rendered for, the filler in the group's place
    breed = [r.text for r in twins if r.id.startswith("aug-twin-dehumanisation-0-")]
    plurals = {f.plural.lower() for f in augment.TWIN_FILLERS}
    assert len(breed) == len(augment.AUGMENTATION_GROUPS) == len(set(breed))
    assert all(t.endswith(" breed like rats.") and t.split(" breed")[0].lower() in plurals for t in breed)


def test_twins_name_no_identity_group(aug_records: list[Record]) -> None:
    terms = {t.lower() for g in augment.AUGMENTATION_GROUPS for t in (g.plural, g.person, g.adj)}
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(terms, key=len, reverse=True))) + r")\b")
    twins = [r for r in aug_records if _is_twin(r)]
    assert twins
    assert [r.text for r in twins if pattern.search(r.text.lower())] == []


# -- the leak guard's data file and the import boundary ---------------------------------------------


def test_eval_skeletons_file_matches_the_suite() -> None:
    # augment reads the suite's wording from this file; regenerate it with
    # `python -c "from signals.functional.suite import write_eval_skeletons; write_eval_skeletons()"`
    committed = resources.files("signals.functional").joinpath("eval_skeletons.txt").read_text("utf-8")
    assert committed.splitlines() == suite.eval_skeletons()
    assert list(augment.evaluation_skeletons()) == suite.eval_skeletons()


def test_write_eval_skeletons(tmp_path: Path) -> None:
    path = suite.write_eval_skeletons(tmp_path / "skeletons.txt")
    assert path.read_text("utf-8") == suite.EVAL_SKELETONS_FILE.read_text("utf-8")


def test_augment_never_imports_the_suite() -> None:
    code = (
        "import sys, signals.functional.augment as a; list(a.evaluation_overlap(['I hate Sikhs.'])); "
        "assert 'signals.functional.suite' not in sys.modules, 'augment imported the suite'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_language_templates_twins_and_guard() -> None:
    from signals.functional import augment_languages, languages

    rows = augment_languages.language_templates(["ar", "es"])
    assert {r.lang for r in rows} == {"ar", "es"} and all(r.source == "augmentation" for r in rows)
    hate = [r for r in rows if r.labels["hate"] == 1]
    twins = [r for r in rows if "-twin-" in r.id]
    benign = [r for r in rows if "-benign-" in r.id]
    assert hate and twins and benign
    # every hateful frame is also rendered about a filler, labelled not hate, with no target
    frames = {r.id.rsplit("-", 1)[0] for r in hate}
    assert frames == {r.id.rsplit("-", 2)[0].replace("-twin-", "-hate-") for r in twins}
    assert all(
        r.labels["hate"] == 0 and r.labels["threat"] == -1 and max(r.targets.values()) == -1 for r in twins
    )
    assert all(max(r.targets.values()) == 1 for r in hate)
    assert all(r.labels["hate"] == r.labels["offensive"] == r.labels["polarization"] == 0 for r in benign)
    assert len({r.text for r in rows}) == len(rows)
    # the suites (and the example sentences in them) stay unseen: no case's wording, no word
    # that carries an example sentence
    assert languages.training_leaks([r.text for r in rows]) == []
    assert not {c.text for c in languages.CASES} & {r.text for r in rows}
    for word in ("حشرات", "طرد", "plaga", "echar"):
        assert not any(word in r.text for r in rows), word
    with pytest.raises(ValueError, match="no augmentation templates for \\['de'\\]"):
        augment_languages.language_templates(["de"])


def test_language_templates_leak_guard_drops_a_suite_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from signals.functional import augment_languages

    monkeypatch.setattr(
        augment_languages,
        "_AR_BENIGN",
        augment_languages._AR_BENIGN + ("{P} أعداء البشرية ويجب القضاء عليهم",),
    )
    monkeypatch.setitem(
        augment_languages._TEMPLATES,
        "ar",
        (
            augment_languages._AR_GROUPS,
            augment_languages._AR_FILLERS,
            augment_languages._AR_HATE,
            augment_languages._AR_BENIGN,
        ),
    )
    texts = [r.text for r in augment_languages.language_templates(["ar"])]
    # "اليهود أعداء البشرية ويجب القضاء عليهم" is an Arabic suite case: the frame about other groups leaks
    assert not any("أعداء البشرية" in t for t in texts)
    assert any("جرذان" in t for t in texts)


def test_regression_reviewed_counts_what_reaches_review() -> None:
    rows = suite.regression_rows()
    assert len(rows) >= 300 and suite.REGRESSION_SIGNALS == ("hate", "threat")

    class PotholeModel:
        """Scores hate 0.9 for sentences about potholes, threat 0.4 everywhere, else 0.1."""

        info = ModelInfo(
            name="pothole",
            version="1",
            format="keyword",
            thresholds={"review": dict.fromkeys(SIGNALS, 0.5), "flag": dict.fromkeys(SIGNALS, 0.8)},
        )

        def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
            p = np.full((len(texts), len(SIGNALS)), 0.1)
            p[:, SIGNALS.index("threat")] = 0.4
            p[[i for i, t in enumerate(texts) if "pothole" in t.lower()], SIGNALS.index("hate")] = 0.9
            return p

    reviewed = suite.regression_reviewed(PotholeModel())
    potholes = [r["text"] for r in rows if "pothole" in r["text"].lower()]
    assert potholes and sorted(t for _, t in reviewed["hate"]) == sorted(potholes)
    assert reviewed["threat"] == []
    assert suite.regression_metrics(reviewed) == {
        "civic_regression_hate_reviewed": float(len(potholes)),
        "civic_regression_threat_reviewed": 0.0,
    }
