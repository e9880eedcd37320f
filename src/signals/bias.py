"""Per-identity bias metrics, as in the Jigsaw Unintended Bias in Toxicity Classification challenge.

Keyword-seeded corpora teach models that identity words themselves are hateful, so a model can rank
well overall while flagging "I am a gay man" above real abuse. For every identity group and signal:

* **subgroup AUC**: AUC on the rows that mention the group only. Low: the model cannot separate hate
  from non-hate *within* conversations about the group.
* **BPSN AUC** (background positive, subgroup negative): positives outside the group vs. negatives
  inside it. Low: benign mentions of the group score higher than real positives elsewhere (false
  positives on the group).
* **BNSP AUC** (background negative, subgroup positive): positives inside the group vs. negatives
  outside it. Low: positives about the group score lower than benign text elsewhere (misses).

Per signal, the three are combined over groups with the generalised power mean
``M_p = (mean_g m_g^p)^(1/p)`` with ``p = -5`` (it leans towards the worst group), and the final metric
is ``0.25 * overall_auc + 0.25 * (M_p(subgroup) + M_p(BPSN) + M_p(BNSP))`` (Borkan et al. 2019).

Masks and guards: rows whose label is ``-1`` (unknown) for a signal are left out of that signal. A
metric is ``None`` (not 0, not dropped silently: the table shows "n/a") when the group has fewer than
``min_size`` labelled rows or the rows it needs hold only one class; the power means are taken over
the groups that have a value, and the final metric is ``None`` when any of its parts is.

Identity membership comes from the dataset's ``target_*`` columns (``membership_from_targets``; an
unknown target counts as not a member, as unannotated rows did in Jigsaw) and from the functional
suite's identity groups (``suite_bias_report``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import roc_auc_score

from signals.schema import SIGNALS, TARGETS, target_column

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from signals.functional.suite import SuiteResult

#: The three per-group metrics, in report order.
BIAS_METRICS: tuple[str, ...] = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
POWER = -5.0
OVERALL_WEIGHT = 0.25
#: Default smallest number of labelled rows a group needs before its AUCs mean anything.
MIN_SIZE = 10


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC, or ``None`` when only one class is present (sklearn would raise)."""
    if len(y) == 0 or len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, s))


def power_mean(values: Sequence[float | None], p: float = POWER) -> float | None:
    """Generalised mean ``(mean v^p)^(1/p)`` of the values that are not ``None``.

    >>> round(power_mean([0.9, 0.9]), 6)
    0.9
    >>> power_mean([None]) is None
    True
    """
    vals = np.array([v for v in values if v is not None], dtype=float)
    if len(vals) == 0:
        return None
    if np.any(vals <= 0):  # an AUC of 0 dominates a negative power: the mean is 0
        return 0.0
    return float(np.mean(vals**p) ** (1.0 / p))


def group_aucs(y: np.ndarray, s: np.ndarray, member: np.ndarray, min_size: int = MIN_SIZE) -> dict[str, Any]:
    """Subgroup, BPSN and BNSP AUC of one signal for one group (labels already unmasked: 0/1 only)."""
    y = np.asarray(y).astype(int)
    s = np.asarray(s, dtype=float)
    member = np.asarray(member, dtype=bool)
    n = int(member.sum())
    out: dict[str, Any] = {"n": n, "n_pos": int(y[member].sum())}
    if n < min_size:
        out.update(dict.fromkeys(BIAS_METRICS))
        return out
    out["subgroup_auc"] = _auc(y[member], s[member])
    bpsn = (member & (y == 0)) | (~member & (y == 1))
    out["bpsn_auc"] = _auc(y[bpsn], s[bpsn])
    bnsp = (member & (y == 1)) | (~member & (y == 0))
    out["bnsp_auc"] = _auc(y[bnsp], s[bnsp])
    return out


class BiasReport(dict[str, Any]):
    """The plain-dict result of ``bias_report`` (JSON-able as is) with helpers for logging it."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self)

    def to_metrics(self, prefix: str = "bias", per_group: bool = True) -> dict[str, float]:
        """See ``bias_metrics``."""
        return bias_metrics(self, prefix=prefix, per_group=per_group)

    def to_frame(self) -> pd.DataFrame:
        """See ``bias_frame``."""
        return bias_frame(self)

    def to_table(self, signals: Sequence[str] | None = None) -> Table:
        """See ``bias_table``."""
        return bias_table(self, signals)


def bias_report(
    y_true: np.ndarray,
    scores: np.ndarray,
    subgroups: np.ndarray,
    group_names: Sequence[str] | None = None,
    signals: Sequence[str] = SIGNALS,
    min_size: int = MIN_SIZE,
    p: float = POWER,
) -> BiasReport:
    """Per-group, per-signal bias AUCs plus the power-mean final metric.

    ``y_true`` and ``scores`` have shape ``(n, len(signals))`` (a 1-D array means one signal);
    ``y_true`` uses ``-1`` for unknown. ``subgroups`` is a boolean ``(n, len(group_names))`` matrix.
    Returns ``{"params": {...}, "signals": {signal: {"n", "overall_auc", "power_means": {metric: v},
    "final", "groups": {group: {"n", "n_pos", "subgroup_auc", "bpsn_auc", "bnsp_auc"}}}}}`` with
    ``None`` wherever a value cannot be computed (see the module docstring). ``group_names`` defaults
    to ``schema.TARGETS`` (membership from the ``target_*`` columns). The result is a ``BiasReport``:
    a dict with ``to_metrics()``, ``to_frame()`` and ``to_table()``.

    >>> y = np.array([1, 0, 1, 0]); s = np.array([0.9, 0.2, 0.6, 0.7])
    >>> g = np.array([[True], [True], [False], [False]])
    >>> r = bias_report(y, s, g, ["a"], signals=["hate"], min_size=1)
    >>> r["signals"]["hate"]["groups"]["a"]["bpsn_auc"]
    1.0
    """
    y_all = np.asarray(y_true)
    s_all = np.asarray(scores, dtype=float)
    if y_all.ndim == 1:
        y_all, s_all = y_all[:, None], s_all[:, None]
    groups = np.asarray(subgroups, dtype=bool)
    if groups.ndim == 1:
        groups = groups[:, None]
    if group_names is None:
        group_names = (
            list(TARGETS)
            if groups.shape[1] == len(TARGETS)
            else [f"group_{k}" for k in range(groups.shape[1])]
        )
    n = y_all.shape[0]
    if s_all.shape != y_all.shape or y_all.shape[1] != len(signals):
        raise ValueError(f"y_true {y_all.shape} and scores {s_all.shape} must both be (n, {len(signals)})")
    if groups.shape != (n, len(group_names)):
        raise ValueError(f"subgroups shape {groups.shape} != ({n}, {len(group_names)})")
    report = BiasReport(
        {
            "params": {
                "p": p,
                "min_size": min_size,
                "overall_weight": OVERALL_WEIGHT,
                "groups": list(group_names),
            },
            "signals": {},
        }
    )
    for j, signal in enumerate(signals):
        known = y_all[:, j] >= 0
        y, s, g = y_all[known, j].astype(int), s_all[known, j], groups[known]
        per_group = {name: group_aucs(y, s, g[:, k], min_size) for k, name in enumerate(group_names)}
        means = {m: power_mean([per_group[name][m] for name in group_names], p) for m in BIAS_METRICS}
        overall = _auc(y, s)
        parts = [overall, *means.values()]
        final = (
            None
            if any(v is None for v in parts)
            else OVERALL_WEIGHT * float(overall)  # type: ignore[arg-type]
            + (1 - OVERALL_WEIGHT) * float(np.mean([float(v) for v in means.values()]))  # type: ignore[arg-type]
        )
        report["signals"][signal] = {
            "n": int(known.sum()),
            "overall_auc": overall,
            "power_means": means,
            "final": final,
            "groups": per_group,
        }
    return report


def membership_from_targets(rows: Mapping[str, Sequence[int]] | pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Boolean membership ``(n, len(TARGETS))`` from ``target_*`` columns (1 = member; 0 and -1 = not).

    ``rows`` is column-oriented: a dict of lists, a pandas DataFrame or a ``datasets.Dataset``.
    """
    cols = [np.asarray(rows[target_column(t)]) for t in TARGETS]
    return np.stack(cols, axis=1) == 1, list(TARGETS)


def split_bias_report(
    rows: Mapping[str, Sequence[int]] | pd.DataFrame, scores: np.ndarray, **kwargs: Any
) -> BiasReport:
    """Bias report on a dataset split (e.g. test) by its ``target_*`` groups.

    ``rows`` holds the signal columns and the ``target_*`` columns (dict of lists, DataFrame or
    ``datasets.Dataset``); ``scores`` are the model's calibrated probabilities ``(n, len(SIGNALS))``.
    """
    y = np.stack([np.asarray(rows[s]) for s in SIGNALS], axis=1)
    member, names = membership_from_targets(rows)
    return bias_report(y, scores, member, names, **kwargs)


def suite_bias_report(result: SuiteResult, **kwargs: Any) -> BiasReport:
    """Bias report on the functional suite: groups are the cases' identity groups, labels the expected ones.

    Signals a case does not evaluate are unknown (-1). The suite has about 25-45 cases per group, so
    the default ``min_size`` keeps every group in.
    """
    from signals.functional.suite import suite_groups

    names = [g.key for g in suite_groups()]
    y = np.array([[c.expected.get(s, -1) for s in SIGNALS] for c in result.cases], dtype=int)
    member = np.array([[c.group == name for name in names] for c in result.cases], dtype=bool)
    return bias_report(y, result.probs, member, names, **kwargs)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def bias_metrics(report: Mapping[str, Any], prefix: str = "bias", per_group: bool = True) -> dict[str, float]:
    """Flat MLflow metrics; ``None`` values are left out (MLflow has no null).

    Keys: ``<prefix>_<signal>_final``, ``<prefix>_<signal>_overall_auc``,
    ``<prefix>_<signal>_<metric>_pmean`` and, with ``per_group``, ``<prefix>_<signal>_<group>_<metric>``
    (metric: subgroup_auc, bpsn_auc, bnsp_auc).
    """
    out: dict[str, float] = {}

    def put(key: str, value: float | None) -> None:
        if value is not None:
            out[key] = float(value)

    for signal, rep in report["signals"].items():
        put(f"{prefix}_{signal}_final", rep["final"])
        put(f"{prefix}_{signal}_overall_auc", rep["overall_auc"])
        for metric, value in rep["power_means"].items():
            put(f"{prefix}_{signal}_{metric}_pmean", value)
        if per_group:
            for group, values in rep["groups"].items():
                for metric in BIAS_METRICS:
                    put(f"{prefix}_{signal}_{group}_{metric}", values[metric])
    return out


def bias_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (signal, group), plus a ``(power mean)`` row per signal; ``None`` where not computable."""
    rows = []
    for signal, rep in report["signals"].items():
        for group, values in rep["groups"].items():
            rows.append({"signal": signal, "group": group, **values})
        rows.append(
            {
                "signal": signal,
                "group": "(power mean)",
                "n": rep["n"],
                "n_pos": None,
                **rep["power_means"],
                "overall_auc": rep["overall_auc"],
                "final": rep["final"],
            }
        )
    return rows


def bias_frame(report: Mapping[str, Any]) -> pd.DataFrame:
    """``bias_rows`` as a pandas DataFrame (for a CSV artifact)."""
    import pandas as pd

    return pd.DataFrame(bias_rows(report))


def bias_table(report: Mapping[str, Any], signals: Sequence[str] | None = None) -> Table:
    """A rich table: per group and signal the three AUCs; red below 0.8, "n/a" where not computable."""
    from rich.table import Table

    table = Table(title="Per-identity bias (subgroup / BPSN / BNSP AUC)")
    table.add_column("group")
    chosen = list(signals) if signals is not None else list(report["signals"])
    for signal in chosen:
        table.add_column(signal, justify="right")

    def cell(values: Mapping[str, Any]) -> str:
        parts = []
        for m in BIAS_METRICS:
            v = values.get(m)
            text = _fmt(v)
            parts.append(f"[red]{text}[/]" if v is not None and v < 0.8 else text)
        return " / ".join(parts)

    for group in report["params"]["groups"]:
        table.add_row(group, *(cell(report["signals"][s]["groups"][group]) for s in chosen))
    table.add_row("power mean", *(cell(report["signals"][s]["power_means"]) for s in chosen))
    table.add_row("overall AUC", *(_fmt(report["signals"][s]["overall_auc"]) for s in chosen))
    table.add_row("final (Jigsaw)", *(_fmt(report["signals"][s]["final"]) for s in chosen))
    return table
