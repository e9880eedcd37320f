"""The promotion gate over flat metric dicts."""

from __future__ import annotations

import pytest
from rich.console import Console

from signals.gate import TOLERANCE, compare, functionality_keys, pr_auc_key
from signals.schema import SIGNALS


def metrics(pr_auc: float = 0.7, overall: float = 0.8, **func: float) -> dict[str, float]:
    out = {pr_auc_key(s): pr_auc for s in SIGNALS}
    out["func_overall_acc"] = overall
    out["civic_review_load"] = 0.05
    out["civic_hate_review_recall"] = 0.9
    out["civic_polarization_review_recall"] = 0.85
    out.update(
        {f"func_{name}_acc": v for name, v in (func or {"plain_hate": 0.9, "negated_hate": 0.7}).items()}
    )
    out["val_hate_roc_auc"] = 0.9  # other keys are ignored
    out["funcgroup_muslims_acc"] = 0.1  # per-group accuracies are not functionalities
    return out


def test_keys_match_evaluation_and_suite() -> None:
    from signals.evaluation import flat_metrics

    flat = flat_metrics(
        {"hate": {"n": 2, "positives": 1, "roc_auc": 1.0, "pr_auc": 1.0, "points": {}}}, "test"
    )
    assert pr_auc_key("hate") in flat
    assert functionality_keys(metrics()) == ["func_negated_hate_acc", "func_plain_hate_acc"]


def test_equal_or_better_challenger_passes() -> None:
    champion = metrics()
    assert compare(champion, metrics()).passed
    better = compare(champion, metrics(pr_auc=0.75, overall=0.85))
    assert better.passed and better.reasons == []


def test_within_tolerance_passes_beyond_fails() -> None:
    champion = metrics()
    assert compare(champion, metrics(pr_auc=0.7 - TOLERANCE / 2)).passed
    assert not compare(champion, metrics(pr_auc=0.7 - 2 * TOLERANCE)).passed
    assert not compare(champion, metrics(pr_auc=0.69), tolerance=0.0).passed


def test_every_signal_must_hold() -> None:
    challenger = metrics(pr_auc=0.9)
    challenger["test_threat_pr_auc"] = 0.6
    result = compare(metrics(), challenger)
    assert not result.passed
    assert len(result.reasons) == 1 and result.reasons[0].startswith("test_threat_pr_auc")


def test_functional_overall_must_hold() -> None:
    result = compare(metrics(), metrics(pr_auc=0.9, overall=0.7))
    assert not result.passed
    assert result.reasons[0].startswith("func_overall_acc")


def test_functionality_dropping_below_floor_fails() -> None:
    champion = metrics(plain_hate=0.9, negated_hate=0.6)
    result = compare(champion, metrics(pr_auc=0.9, overall=0.9, plain_hate=1.0, negated_hate=0.4))
    assert not result.passed
    assert result.reasons == ["func_negated_hate_acc: 0.4000 dropped below the floor 0.50"]


def test_functionality_already_below_floor_warns_unless_strict() -> None:
    champion = metrics(plain_hate=0.9, negated_hate=0.2)
    challenger = metrics(overall=0.85, plain_hate=0.9, negated_hate=0.3)
    result = compare(champion, challenger)
    assert result.passed
    assert result.warnings == ["func_negated_hate_acc: below floor (champion too)"]
    assert not compare(champion, challenger, strict_floor=True).passed


def test_missing_metrics() -> None:
    champion = metrics()
    challenger = metrics()
    del challenger["test_hate_pr_auc"]
    result = compare(champion, challenger)
    assert not result.passed and "missing in challenger" in result.reasons[0]
    # a metric neither has (one class on validation) is skipped with a warning
    del champion["test_hate_pr_auc"]
    result = compare(champion, challenger)
    assert result.passed and any("neither model" in w for w in result.warnings)
    # a functionality the champion had but the challenger lacks fails
    challenger = metrics(plain_hate=0.9)
    assert not compare(metrics(plain_hate=0.9, negated_hate=0.7), challenger).passed


@pytest.mark.parametrize("champion", [None, {}])
def test_no_champion_passes(champion: dict[str, float] | None) -> None:
    result = compare(champion, metrics(pr_auc=0.1, overall=0.1, plain_hate=0.2))
    assert result.passed and not result.has_champion
    assert result.reasons == ["no champion yet: the first challenger passes"]
    assert any("plain_hate" in w for w in result.warnings)


def test_table_and_metrics() -> None:
    result = compare(metrics(), metrics(pr_auc=0.6))
    out = result.to_metrics()
    assert out["gate_passed"] == 0.0
    assert out["gate_failed_checks"] == len(SIGNALS)
    assert out["gate_delta_test_hate_pr_auc"] == pytest.approx(-0.1)
    console = Console(record=True, width=200)
    console.print(result.to_table())
    text = console.export_text()
    assert "FAIL" in text and "test_threat_pr_auc" in text and "-0.1000" in text
    assert compare(metrics(), metrics()).to_metrics()["gate_passed"] == 1.0


def test_civic_review_load_within_budget_or_no_worse_than_champion() -> None:
    champion = metrics()
    over = metrics()
    over["civic_review_load"] = 0.2
    result = compare(champion, over)
    assert not result.passed and result.reasons[0].startswith("civic_review_load")
    heavy_champion = metrics()
    heavy_champion["civic_review_load"] = 0.41
    lighter = metrics()
    lighter["civic_review_load"] = 0.3
    assert compare(heavy_champion, lighter).passed  # over budget, but better than the champion


def test_civic_regression_sentences_never_more_than_the_champion() -> None:
    def with_regression(hate: float | None, threat: float | None) -> dict[str, float]:
        out = metrics()
        for signal, count in (("hate", hate), ("threat", threat)):
            if count is not None:
                out[f"civic_regression_{signal}_reviewed"] = count
        return out

    champion = with_regression(10, 0)
    assert compare(champion, with_regression(10, 0)).passed
    assert compare(champion, with_regression(7, 0)).passed
    result = compare(champion, with_regression(9, 2))  # fewer hate, but threat where there was none
    assert not result.passed
    assert result.reasons == ["civic_regression_threat_reviewed: 2 sentences at review, the champion 0"]
    assert not compare(champion, with_regression(11, 0)).passed  # a count: no tolerance
    assert not compare(champion, with_regression(None, None)).passed  # missing in the challenger
    # a champion run logged before the count existed: nothing to compare with, a warning
    legacy = compare(metrics(), with_regression(10, 1))
    assert legacy.passed and "civic_regression_threat_reviewed: champion has no value" in legacy.warnings
    assert compare(metrics(), metrics()).passed  # neither has it: no check


def test_civic_recall_at_review_must_reach_the_bar_or_the_champion() -> None:
    champion = metrics()
    low = metrics()
    low["civic_hate_review_recall"] = 0.5
    assert not compare(champion, low).passed
    weak_champion = metrics()
    weak_champion["civic_hate_review_recall"] = 0.5
    assert compare(weak_champion, low).passed
    # a champion whose recall came with an over-budget review load does not lower the bar
    flooding = metrics()
    flooding["civic_review_load"] = 0.41
    flooding["civic_hate_review_recall"] = 0.5
    assert not compare(flooding, low).passed
    # ... but what its ranking reaches inside the budget is a fair rival: a challenger that keeps the
    # budget and matches that passes, one below it fails
    flooding["civic_hate_budget_recall"] = 0.6
    flooding["civic_polarization_budget_recall"] = 0.7
    within = metrics()
    within["civic_hate_review_recall"] = 0.6
    within["civic_polarization_review_recall"] = 0.7
    result = compare(flooding, within)
    assert result.passed, result.reasons
    check = next(c for c in result.checks if c.key == "civic_hate_review_recall")
    assert check.required == pytest.approx(0.595) and check.note == "champion: recall at the budget"
    within["civic_polarization_review_recall"] = 0.6
    assert compare(flooding, within).reasons == [
        "civic_polarization_review_recall: 0.6000 below the bar and the champion's (0.6950)"
    ]


def test_suite_has_a_wider_tolerance_than_the_corpora() -> None:
    assert compare(metrics(overall=0.8), metrics(overall=0.78)).passed
    assert not compare(metrics(overall=0.8), metrics(overall=0.76)).passed


def test_each_language_must_hold_on_its_own() -> None:
    def multilingual(es: float, ar: float, suite_ar: float = 0.8) -> dict[str, float]:
        out = metrics()
        out["test.polar-semeval2026.es_polarization_pr_auc"] = es
        out["test.polar-semeval2026.ar_polarization_pr_auc"] = ar
        out["func_ar_acc"] = suite_ar
        return out

    champion = multilingual(0.60, 0.60)
    assert compare(champion, multilingual(0.70, 0.60)).passed
    # A gain in Spanish does not pay for a loss in Arabic, which the pooled keys would hide.
    worse = compare(champion, multilingual(0.90, 0.55))
    assert [r.split(":")[0] for r in worse.reasons] == ["test.polar-semeval2026.ar_polarization_pr_auc"]
    # The language suites get the suite's wider tolerance, and are not floor-checked functionalities.
    assert compare(champion, multilingual(0.60, 0.60, suite_ar=0.78)).passed
    assert not compare(champion, multilingual(0.60, 0.60, suite_ar=0.70)).passed
    # A language the champion scored and the challenger does not is a failure.
    dropped = multilingual(0.60, 0.60)
    del dropped["test.polar-semeval2026.ar_polarization_pr_auc"]
    assert not compare(champion, dropped).passed
    # An English-only pair has no language checks.
    assert not any(c.key.startswith(("test.", "func_ar")) for c in compare(metrics(), metrics()).checks)
