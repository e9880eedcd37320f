"""Promotion gate: does a challenger beat the champion? Pure functions over flat MLflow metric dicts.

A challenger passes when, compared with the current champion:

1. **per-signal PR-AUC on the corpora's test splits** (``test_<signal>_pr_auc``, from
   ``signals.evaluation.flat_metrics``) is at least the champion's minus ``tolerance`` for *every*
   signal: a better hate model that loses the threat signal is not promoted;
2. **civic review load** (``civic_review_load``, the share of the civic development set's random draw
   that reaches ``review`` for any signal) is within the analysts' budget ``review_budget`` (10 %), or
   no higher than the champion's plus ``tolerance``;
3. **civic recall at review** for hate and polarization (``civic_<signal>_review_recall``) is at least
   ``civic_recall`` (0.8), or no lower than the champion's minus ``tolerance``. A champion over the
   review budget bought its recall with analysts' time, so its rival value is then the recall its
   ranking reaches inside the budget (``civic_<signal>_budget_recall``: hate and polarization at the
   thresholds with the best mean recall that send at most 10 % of the random draw to review, the other
   signals' load not counted, so an upper bound of what it could do at the budget);
4. **functional-suite overall accuracy** (``func_overall_acc``, from ``SuiteResult.to_metrics``) is at
   least the champion's minus ``suite_tolerance`` (0.03): the suite was written by the same hands as the
   augmentation templates, so it is one input among several, not the deciding one;
5. **per language** (a multilingual model, issue 17): the PR-AUC of every corpus's test rows in each
   language (``test.<corpus>.<lang>_<signal>_pr_auc``) and each language's own functional suite
   (``func_<lang>_acc``, ``signals.functional.languages``) is at least the champion's minus
   ``tolerance`` (``suite_tolerance`` for the suites): a gain in Spanish does not pay for a loss in Arabic,
   and a language the champion scored and the challenger does not fails it;
6. **civic regression sentences** (``civic_regression_<signal>_reviewed``, hate and threat,
   ``signals.functional.suite.regression_reviewed``): no more of the team's ordinary civic sentences
   reach ``review`` than with the champion (none is the bar: each is an analyst's wasted read). A
   count, so no tolerance: a retrain that sends one more pothole complaint to review is refused. A
   champion run logged before the count existed has none: a warning, not a failure;
7. **no functionality drops below the floor** (``func_<functionality>_acc`` >= ``min_functionality_acc``,
   default 50%). A functionality the champion already failed does not block the challenger (it is
   listed as a warning), otherwise a first weak champion could never be replaced; ``strict_floor=True``
   makes every functionality below the floor a failure.

``tolerance`` (default 0.005) lets a retrain that is equal within run-to-run noise replace the
champion, e.g. after new analyst labels; it also means a chain of promotions can drift down by up to
0.005 per step, so the gate table shows each delta. A metric neither model has (a signal with one class
on validation) is skipped; one only the champion has fails the challenger.

When there is no champion yet (``champion_metrics`` is ``None`` or empty) the challenger passes: the
first model needs no rival. Floor violations are still reported as warnings.

>>> compare(None, {"val_hate_pr_auc": 0.7}).passed
True
>>> r = compare({"test_hate_pr_auc": 0.8}, {"test_hate_pr_auc": 0.7}, signals=["hate"])
>>> r.passed, r.reasons
(False, ['test_hate_pr_auc: 0.7000 < champion 0.8000 - tolerance 0.005'])
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from signals.schema import SIGNALS

if TYPE_CHECKING:
    from rich.table import Table

TOLERANCE = 0.005
SUITE_TOLERANCE = 0.03
MIN_FUNCTIONALITY_ACC = 0.5
REVIEW_BUDGET = 0.10
CIVIC_RECALL = 0.80
CIVIC_RECALL_SIGNALS: tuple[str, ...] = ("hate", "polarization")
FUNC_OVERALL_KEY = "func_overall_acc"
REVIEW_LOAD_KEY = "civic_review_load"
_REGRESSION_KEY = re.compile(r"^civic_regression_(?P<signal>[a-z]+)_reviewed$")
_FUNC_KEY = re.compile(r"^func_(?P<name>.+)_acc$")
_LANGUAGE_PR_AUC_KEY = re.compile(r"^test\.[^.]+\.(?P<lang>[a-z]{2,3})_(?P<signal>[a-z]+)_pr_auc$")
_LANGUAGE_SUITE_KEY = re.compile(r"^func_(?P<lang>[a-z]{2})_acc$")


def pr_auc_key(signal: str, split: str = "test") -> str:
    """The metric key of a split's PR-AUC for a signal, as ``evaluation.flat_metrics`` writes it."""
    return f"{split}_{signal}_pr_auc"


def language_keys(metrics: Mapping[str, float] | None, signals: Sequence[str] = SIGNALS) -> list[str]:
    """The per-language keys of a metrics dict: test PR-AUC per corpus and language, suite per language.

    >>> language_keys({"test.polar.es_hate_pr_auc": 0.7, "func_es_acc": 0.8, "func_overall_acc": 0.9,
    ...                "test.polar_hate_pr_auc": 0.6})
    ['func_es_acc', 'test.polar.es_hate_pr_auc']
    """
    keys = []
    for key in metrics or {}:
        m = _LANGUAGE_PR_AUC_KEY.match(key)
        if (m and m["signal"] in signals) or _LANGUAGE_SUITE_KEY.match(key):
            keys.append(key)
    return sorted(keys)


def functionality_keys(metrics: Mapping[str, float]) -> list[str]:
    """The ``func_<functionality>_acc`` keys of a metrics dict (not ``func_overall_acc``), sorted."""
    return sorted(
        k
        for k in metrics
        if _FUNC_KEY.match(k) and k != FUNC_OVERALL_KEY and not _LANGUAGE_SUITE_KEY.match(k)
    )


@dataclass(frozen=True)
class Check:
    """One comparison: ``passed`` False fails the gate, ``warning`` marks a non-blocking concern."""

    key: str
    champion: float | None
    challenger: float | None
    required: float | None
    passed: bool
    warning: bool = False
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.champion is None or self.challenger is None:
            return None
        return self.challenger - self.champion


@dataclass
class GateResult:
    """Outcome of ``compare``: ``passed``, the failure ``reasons``, every ``check`` and any ``warnings``."""

    passed: bool
    checks: list[Check]
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    has_champion: bool = True
    tolerance: float = TOLERANCE

    def to_metrics(self, prefix: str = "gate") -> dict[str, float]:
        """``gate_passed`` (1/0), ``gate_failed_checks``, ``gate_warnings`` and ``gate_delta_<key>``."""
        out = {
            f"{prefix}_passed": 1.0 if self.passed else 0.0,
            f"{prefix}_failed_checks": float(sum(not c.passed for c in self.checks)),
            f"{prefix}_warnings": float(len(self.warnings)),
        }
        for check in self.checks:
            if check.delta is not None:
                out[f"{prefix}_delta_{check.key}"] = check.delta
        return out

    def to_table(self) -> Table:
        """A rich side-by-side table: champion, challenger, delta, required value and verdict per check."""
        from rich.table import Table

        verdict = "[bold green]PASS[/]" if self.passed else "[bold red]FAIL[/]"
        title = f"Promotion gate: {verdict}" + ("" if self.has_champion else " (no champion yet)")
        table = Table(title=title, caption=f"tolerance {self.tolerance}")
        for name, justify in (
            ("metric", "left"),
            ("champion", "right"),
            ("challenger", "right"),
            ("delta", "right"),
            ("required", "right"),
            ("result", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]

        def fmt(v: float | None, signed: bool = False) -> str:
            return "-" if v is None else (f"{v:+.4f}" if signed else f"{v:.4f}")

        for c in self.checks:
            result = "[red]fail[/]" if not c.passed else ("[yellow]warn[/]" if c.warning else "[green]ok[/]")
            if c.note:
                result += f" {c.note}"
            table.add_row(
                c.key, fmt(c.champion), fmt(c.challenger), fmt(c.delta, signed=True), fmt(c.required), result
            )
        return table


def _get(metrics: Mapping[str, float] | None, key: str) -> float | None:
    if not metrics or key not in metrics or metrics[key] is None:
        return None
    return float(metrics[key])


def _at_least_champion(
    key: str, champion: Mapping[str, float] | None, challenger: Mapping[str, float], tolerance: float
) -> Check | None:
    old, new = _get(champion, key), _get(challenger, key)
    if old is None and new is None:
        return None
    if new is None:
        return Check(key, old, None, old, passed=False, note="missing in challenger")
    if old is None:
        return Check(key, None, new, None, passed=True, note="champion has no value")
    required = old - tolerance
    return Check(key, old, new, required, passed=new >= required)


def _within_bound(
    key: str,
    champion: Mapping[str, float] | None,
    challenger: Mapping[str, float],
    bound: float,
    tolerance: float,
    higher_is_better: bool,
) -> Check:
    """An absolute bound that is enough on its own, else no worse than the champion within tolerance."""
    old, new = _get(champion, key), _get(challenger, key)
    if new is None:
        if old is None:
            return Check(key, None, None, None, passed=True, warning=True, note="neither model has it")
        return Check(key, old, None, None, passed=False, note="missing in challenger")
    sign = 1 if higher_is_better else -1
    relative = None if old is None else old - sign * tolerance
    required = (
        bound if relative is None else (min(bound, relative) if higher_is_better else max(bound, relative))
    )
    return Check(key, old, new, required, passed=sign * (new - required) >= -1e-12)


def compare(
    champion_metrics: Mapping[str, float] | None,
    challenger_metrics: Mapping[str, float],
    tolerance: float = TOLERANCE,
    min_functionality_acc: float = MIN_FUNCTIONALITY_ACC,
    strict_floor: bool = False,
    signals: Sequence[str] = SIGNALS,
    suite_tolerance: float = SUITE_TOLERANCE,
    review_budget: float = REVIEW_BUDGET,
    civic_recall: float = CIVIC_RECALL,
) -> GateResult:
    """Compare a challenger's metrics with the champion's (rules in the module docstring).

    Both arguments are flat metric dicts of the runs (``tracking.run_metrics``); ``None`` or an empty
    dict as champion means there is none yet and the challenger passes.
    """
    has_champion = bool(champion_metrics)
    champion = champion_metrics if has_champion else None
    checks: list[Check] = []
    for key, tol in [(pr_auc_key(s), tolerance) for s in signals] + [(FUNC_OVERALL_KEY, suite_tolerance)]:
        check = _at_least_champion(key, champion, challenger_metrics, tol)
        if check is None:
            checks.append(
                Check(key, None, None, None, passed=True, warning=True, note="neither model has it")
            )
        else:
            checks.append(check)
    checks.append(
        _within_bound(REVIEW_LOAD_KEY, champion, challenger_metrics, review_budget, tolerance, False)
    )
    # A champion over the review budget bought its civic recall with analysts' time: that recall is no
    # operating point to defend. Its rival value is then what its ranking delivers inside the budget
    # (``civic_<signal>_budget_recall``, ``evaluation.recall_at_budget``), else the bar alone.
    champion_load = _get(champion, REVIEW_LOAD_KEY)
    within = champion_load is None or champion_load <= review_budget
    for s in CIVIC_RECALL_SIGNALS:
        if s in signals:
            key = f"civic_{s}_review_recall"
            at_budget = _get(champion, f"civic_{s}_budget_recall")
            rival = champion if within else ({key: at_budget} if at_budget is not None else None)
            check = _within_bound(key, rival, challenger_metrics, civic_recall, tolerance, True)
            if not within and at_budget is not None:
                check = dataclasses.replace(check, note="champion: recall at the budget")
            checks.append(check)
    regression_keys = {k for m in (champion or {}, challenger_metrics) for k in m if _REGRESSION_KEY.match(k)}
    for key in sorted(regression_keys):
        if _REGRESSION_KEY.match(key)["signal"] in signals:  # type: ignore[index]
            if _get(champion, key) is None and key in challenger_metrics:
                # A champion run logged before the count existed (``signals promote`` reads logged
                # metrics): nothing to compare with, so a warning, as for the per-language keys.
                new = float(challenger_metrics[key])
                checks.append(
                    Check(key, None, new, None, passed=True, warning=True, note="champion has no value")
                )
            else:
                checks.append(_within_bound(key, champion, challenger_metrics, 0.0, 0.0, False))
    per_language = set(language_keys(champion, signals)) | set(language_keys(challenger_metrics, signals))
    for key in sorted(per_language):
        tol = suite_tolerance if _LANGUAGE_SUITE_KEY.match(key) else tolerance
        language_check = _at_least_champion(key, champion, challenger_metrics, tol)
        if language_check is not None:
            checks.append(language_check)
    for key in functionality_keys(challenger_metrics):
        new = float(challenger_metrics[key])
        old = _get(champion, key)
        if new >= min_functionality_acc:
            checks.append(Check(key, old, new, min_functionality_acc, passed=True))
        elif strict_floor or (old is not None and old >= min_functionality_acc):
            checks.append(
                Check(key, old, new, min_functionality_acc, passed=False, note="dropped below floor")
            )
        else:
            note = "below floor (champion too)" if old is not None else "below floor"
            checks.append(Check(key, old, new, min_functionality_acc, passed=True, warning=True, note=note))
    if champion is not None:
        for key in functionality_keys(champion):
            if key not in challenger_metrics:
                checks.append(
                    Check(key, _get(champion, key), None, None, passed=False, note="missing in challenger")
                )

    reasons = [_reason(c, tolerance) for c in checks if not c.passed]
    warnings = [f"{c.key}: {c.note}" for c in checks if c.warning]
    if not has_champion:
        # The first challenger has no rival: failed comparisons become warnings, the gate passes.
        warnings = [f"{r} (ignored: no champion)" for r in reasons] + warnings
        return GateResult(
            True, checks, ["no champion yet: the first challenger passes"], warnings, False, tolerance
        )
    return GateResult(not reasons, checks, reasons, warnings, True, tolerance)


def _reason(check: Check, tolerance: float) -> str:
    if check.challenger is None:
        return f"{check.key}: missing in challenger (champion {check.champion:.4f})"
    if check.note == "dropped below floor":
        return f"{check.key}: {check.challenger:.4f} dropped below the floor {check.required:.2f}"
    if check.note == "below floor":
        return f"{check.key}: {check.challenger:.4f} below the floor {check.required:.2f}"
    if check.key == REVIEW_LOAD_KEY:
        return (
            f"{check.key}: {check.challenger:.4f} above the budget and the champion's ({check.required:.4f})"
        )
    if check.key.startswith("civic_regression_"):
        return f"{check.key}: {check.challenger:.0f} sentences at review, the champion {check.required:.0f}"
    if check.key.startswith("civic_"):
        return f"{check.key}: {check.challenger:.4f} below the bar and the champion's ({check.required:.4f})"
    if check.champion is not None and check.required is not None:
        tolerance = round(check.champion - check.required, 6)
    return f"{check.key}: {check.challenger:.4f} < champion {check.champion:.4f} - tolerance {tolerance}"
