"""Per-signal metrics and plots over masked labels.

Labels come as an ``(n, len(SIGNALS))`` array with -1 where the source corpus says nothing about a
signal; every metric of a signal is computed only over the rows where it is known, so a corpus that
never labels threat can neither help nor hurt the threat numbers.

Metrics that are undefined on a split are ``None``, never NaN or a made-up 0 (JSON and MLflow both choke
on NaN, and a 0 would look like a real, terrible result):

* ROC-AUC and PR-AUC are ``None`` when the known rows hold a single class (or none);
* precision is ``None`` when nothing is predicted positive, recall when there are no positives, F1 when
  there are neither.

Thresholds are given as *operating points*: ``{"review": {signal: t}, "flag": {signal: t}}`` (the
manifest's ``ModelInfo.thresholds``), or a plain ``{signal: t}`` which counts as one point named
``default``. The functional suite and bias metrics live in their own modules.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)

from signals.schema import SIGNALS, UNKNOWN

log = logging.getLogger(__name__)

#: Name of the single operating point when thresholds are given as a plain ``{signal: threshold}``.
DEFAULT_POINT = "default"

Thresholds = Mapping[str, float] | Mapping[str, Mapping[str, float]]


def operating_points(thresholds: Thresholds | None) -> dict[str, dict[str, float]]:
    """Normalise thresholds to ``{point: {signal: threshold}}``.

    ``None`` means one point at 0.5 for every signal; a plain ``{signal: t}`` is one point named
    ``default``; missing signals default to 0.5.

    >>> operating_points({"hate": 0.7})["default"]["hate"], operating_points(None)["default"]["threat"]
    (0.7, 0.5)
    >>> sorted(operating_points({"review": {"hate": 0.2}, "flag": {"hate": 0.6}}))
    ['flag', 'review']
    """
    if thresholds is None:
        return {DEFAULT_POINT: {s: 0.5 for s in SIGNALS}}
    values = list(thresholds.values())
    if all(isinstance(v, Mapping) for v in values) and values:
        points: dict[str, dict[str, float]] = {}
        for name, per_signal in thresholds.items():
            assert isinstance(per_signal, Mapping)
            points[str(name)] = _per_signal(per_signal, f"operating point {name!r}")
        return points
    if any(isinstance(v, Mapping) for v in values):
        raise ValueError("thresholds mix operating points and plain signal thresholds")
    return {DEFAULT_POINT: _per_signal(thresholds, "thresholds")}  # type: ignore[arg-type]


def _per_signal(values: Mapping[str, Any], what: str) -> dict[str, float]:
    unknown = set(values) - set(SIGNALS)
    if unknown:
        raise ValueError(f"{what}: unknown signal(s) {sorted(unknown)}; expected {SIGNALS}")
    return {s: float(values.get(s, 0.5)) for s in SIGNALS}


def _check_inputs(Y_true: Any, P: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(Y_true)
    p = np.asarray(P, dtype=float)
    shape = (len(y), len(SIGNALS))
    if y.ndim != 2 or y.shape != shape or p.shape != shape:
        raise ValueError(
            f"Y_true and P must both have shape (n, {len(SIGNALS)}); got {y.shape} and {p.shape}"
        )
    if not np.isin(y, (UNKNOWN, 0, 1)).all():
        raise ValueError("Y_true values must be -1 (unknown), 0 or 1")
    return y.astype(int), p


def _none_if_nan(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    pred = (p >= threshold).astype(int)
    if len(y) == 0:
        return {
            "threshold": float(threshold),
            "precision": None,
            "recall": None,
            "f1": None,
            "predicted_positive": 0,
        }
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=np.nan
    )
    return {
        "threshold": float(threshold),
        "precision": _none_if_nan(precision),
        "recall": _none_if_nan(recall),
        "f1": _none_if_nan(f1),
        "predicted_positive": int(pred.sum()),
    }


def signal_metrics(Y_true: Any, P: Any, thresholds: Thresholds | None = None) -> dict[str, dict[str, Any]]:
    """Per-signal metrics over the known rows of each signal.

    Returns ``{signal: {"n", "positives", "roc_auc", "pr_auc", "points": {point: {"threshold",
    "precision", "recall", "f1", "predicted_positive"}}}}``; undefined values are ``None`` (see the
    module docstring). PR-AUC is average precision.

    >>> Y = np.array([[1, -1, 0, 0], [0, -1, 1, 0], [1, -1, 1, 0]])
    >>> P = np.array([[0.9, 0.5, 0.2, 0.1], [0.2, 0.5, 0.8, 0.3], [0.6, 0.5, 0.4, 0.2]])
    >>> m = signal_metrics(Y, P, {"flag": {"hate": 0.5}})
    >>> m["hate"]["roc_auc"], m["threat"]["n"], m["polarization"]["roc_auc"]
    (1.0, 0, None)
    >>> m["offensive"]["points"]["flag"]["recall"]
    0.5
    """
    y_all, p_all = _check_inputs(Y_true, P)
    points = operating_points(thresholds)
    out: dict[str, dict[str, Any]] = {}
    for j, signal in enumerate(SIGNALS):
        known = y_all[:, j] != UNKNOWN
        y, p = y_all[known, j], p_all[known, j]
        two_classes = len(np.unique(y)) == 2
        out[signal] = {
            "n": int(known.sum()),
            "positives": int(y.sum()),
            "roc_auc": float(roc_auc_score(y, p)) if two_classes else None,
            "pr_auc": float(average_precision_score(y, p)) if two_classes else None,
            "points": {name: _at_threshold(y, p, t[signal]) for name, t in points.items()},
        }
        if not two_classes:
            log.info("signal %s: %d known rows with one class or none; AUCs undefined", signal, len(y))
    return out


def flat_metrics(metrics: Mapping[str, Mapping[str, Any]], prefix: str) -> dict[str, float]:
    """Flatten ``signal_metrics`` into MLflow metric keys; ``None`` values are left out.

    Keys are ``{prefix}_{signal}_{metric}`` and ``{prefix}_{signal}_{point}_{metric}``, plus
    ``{prefix}_macro_roc_auc`` / ``{prefix}_macro_pr_auc``: the mean over signals where defined (the
    single number a champion/challenger gate compares).

    >>> m = {"hate": {"n": 3, "positives": 2, "roc_auc": 1.0, "pr_auc": None,
    ...               "points": {"flag": {"threshold": 0.5, "f1": 0.8, "precision": None}}}}
    >>> flat_metrics(m, "val")
    {'val_hate_n': 3.0, 'val_hate_positives': 2.0, 'val_hate_roc_auc': 1.0, 'val_hate_flag_threshold': 0.5, \
'val_hate_flag_f1': 0.8, 'val_macro_roc_auc': 1.0}
    """
    head = f"{prefix}_" if prefix else ""
    flat: dict[str, float] = {}
    macro: dict[str, list[float]] = {"roc_auc": [], "pr_auc": []}
    for signal, values in metrics.items():
        for key, value in values.items():
            if key == "points":
                for point, point_values in value.items():
                    for metric, v in point_values.items():
                        if v is not None:
                            flat[f"{head}{signal}_{point}_{metric}"] = float(v)
            elif value is not None:
                flat[f"{head}{signal}_{key}"] = float(value)
                if key in macro:
                    macro[key].append(float(value))
    for key, collected in macro.items():
        if collected:
            flat[f"{head}macro_{key}"] = float(np.mean(collected))
    return flat


def per_source_metrics(
    sources: Sequence[str], Y_true: Any, P: Any, thresholds: Thresholds | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``signal_metrics`` computed separately for the rows of each source corpus, sorted by name.

    A pooled test split hides corpora that do not transfer: a model can gain on the largest corpus and
    lose on the only one that labels polarization. Each corpus's own rows show it.

    >>> Y, P = [[1, -1, -1, -1], [0, -1, -1, -1]], [[0.9, 0, 0, 0], [0.1, 0, 0, 0]]
    >>> m = per_source_metrics(["a", "b"], Y, P)
    >>> sorted(m), m["a"]["hate"]["positives"]
    (['a', 'b'], 1)
    """
    y_all, p_all = _check_inputs(Y_true, P)
    names = np.asarray([str(s) for s in sources])
    if len(names) != len(y_all):
        raise ValueError(f"sources has {len(names)} entries for {len(y_all)} rows")
    return {
        name: signal_metrics(y_all[names == name], p_all[names == name], thresholds)
        for name in sorted({str(n) for n in names})
    }


def recall_at_budget(
    Y: Any, P: Any, sample: Any, budget: float, signals: Sequence[str] = ("hate", "polarization")
) -> dict[str, float]:
    """Recall per signal at the best joint operating point that keeps the sample's load within ``budget``.

    Over every choice of thresholds for ``signals`` (columns of ``Y``/``P`` in ``SIGNALS`` order) under
    which at most ``budget`` of the ``sample`` rows reach any of them, the one with the highest mean
    recall on the positives (ties: the highest lowest recall). Other signals get none of the budget. It
    is what a model's ranking can deliver inside the analysts' budget whatever its stored thresholds:
    the fair rival for a model whose own thresholds overspend it. A signal without positives is left
    out (its threshold is then above every sample row).

    >>> Y = [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    >>> P = [[0.9, 0, 0, 0.1], [0.1, 0, 0, 0.4], [0.95, 0, 0, 0.1], [0.1, 0, 0, 0.5], [0.1, 0, 0, 0.1]]
    >>> recall_at_budget(Y, P, [False, False, True, True, True], 0.34)
    {'hate': 1.0, 'polarization': 0.0}
    """
    Y, P = np.asarray(Y), np.asarray(P, dtype=float)
    in_sample = np.asarray(sample, dtype=bool)
    cols = [SIGNALS.index(s) for s in signals if (Y[:, SIGNALS.index(s)] == 1).any()]
    if not cols or not in_sample.any():
        return {}
    rows = P[in_sample]
    allowed = int(np.floor(budget * len(rows) + 1e-9))

    def best(left: list[int], spent: np.ndarray) -> tuple[tuple[float, float], list[float]]:
        j, rest = left[0], left[1:]
        pos = P[Y[:, j] == 1, j]
        # Candidate thresholds: each positive's score (lowest first) and "none reach review".
        outcome: tuple[tuple[float, float], list[float]] | None = None
        for t in [*np.sort(pos), np.inf]:
            now = spent | (rows[:, j] >= t)
            if now.sum() > allowed:
                continue
            recall = float((pos >= t).mean())
            tail: tuple[tuple[float, float], list[float]] = ((0.0, 1.0), [])
            if rest:
                tail = best(rest, now)
            recalls = [recall, *tail[1]]
            key = (float(np.mean(recalls)), float(min(recalls)))
            if outcome is None or key > outcome[0]:
                outcome = (key, recalls)
        assert outcome is not None  # t = inf always fits
        return outcome

    _, recalls = best(cols, np.zeros(len(rows), dtype=bool))
    return {SIGNALS[j]: r for j, r in zip(cols, recalls, strict=True)}


def civic_metrics(
    Y_true: Any, P: Any, thresholds: Thresholds, sample: Any, budget: float | None = None
) -> dict[str, Any]:
    """Metrics on the team's labelled civic comments: per signal, and the analysts' load.

    ``sample`` marks the rows of the uniform random draw: **review load** (the share of comments that
    reach ``review`` for any signal, i.e. what analysts must read) and **flag load** are measured on
    those rows only, since the rows drawn from the top of a model's scores would inflate them.
    Precision and recall use every labelled row. ``budget_recall`` is hate's and polarization's
    ``recall_at_budget`` at ``budget`` of the random draw (default: the gate's ``REVIEW_BUDGET``).
    Returns ``{"signals": signal_metrics(...), "budget_recall", "review_load", "flag_load", "n",
    "n_sample"}``.

    >>> out = civic_metrics([[1, 0, 0, 0], [0, 0, 0, 0]], [[0.9, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]],
    ...                     {"review": {s: 0.5 for s in SIGNALS}, "flag": {s: 0.8 for s in SIGNALS}},
    ...                     [False, True])
    >>> out["review_load"], out["signals"]["hate"]["points"]["review"]["recall"]
    (0.0, 1.0)
    """
    from signals.calibration import review_load
    from signals.gate import REVIEW_BUDGET

    y_all, p_all = _check_inputs(Y_true, P)
    points = operating_points(thresholds)
    in_sample = np.asarray(sample, dtype=bool)
    return {
        "signals": signal_metrics(y_all, p_all, points),
        "budget_recall": recall_at_budget(
            y_all, p_all, in_sample, REVIEW_BUDGET if budget is None else budget
        ),
        "review_load": review_load(p_all[in_sample], points["review"], SIGNALS) if in_sample.any() else None,
        "flag_load": review_load(p_all[in_sample], points["flag"], SIGNALS) if in_sample.any() else None,
        "n": len(y_all),
        "n_sample": int(in_sample.sum()),
    }


def flat_civic_metrics(civic: Mapping[str, Any], prefix: str = "civic") -> dict[str, float]:
    """MLflow keys of ``civic_metrics``: ``civic_<signal>_<point>_<metric>``, ``civic_<signal>_budget_recall``
    and the two loads."""
    flat = flat_metrics(civic["signals"], prefix)
    for signal, recall in civic.get("budget_recall", {}).items():
        if recall is not None:
            flat[f"{prefix}_{signal}_budget_recall"] = float(recall)
    for key in ("review_load", "flag_load"):
        if civic.get(key) is not None:
            flat[f"{prefix}_{key}"] = float(civic[key])
    return flat


def _cell(metrics: Mapping[str, float], key: str, digits: int = 3) -> str:
    value = metrics.get(key)
    return "-" if value is None else f"{float(value):.{digits}f}"


def metric_sources(metrics: Mapping[str, float]) -> list[str]:
    """The corpora that have per-corpus test metrics (``test.<corpus>_...`` keys), sorted.

    >>> metric_sources({"test.gab-hate-corpus_hate_n": 3.0, "test_hate_n": 9.0})
    ['gab-hate-corpus']
    """
    return sorted({k.split("_", 1)[0][len("test.") :] for k in metrics if k.startswith("test.")})


def evaluation_rows(metrics: Mapping[str, float]) -> list[list[str]]:
    """The rows of ``signals evaluate``'s table from flat metrics: set, measure, one cell per signal, all.

    Sets: each corpus's test split (F1 at ``flag``, recall at ``review``), the pooled test split
    (PR-AUC), the civic development set (precision and recall at both points, review and flag load),
    the civic regression sentences at ``review``, the functional suite (accuracy, lowest functionality)
    and the per-identity bias AUCs.

    >>> evaluation_rows({"test.a_hate_flag_f1": 0.5, "test.a_hate_n": 4.0})[0][:3]
    ['test: a', 'F1 @ flag', '0.500']
    """
    rows: list[list[str]] = []
    for source in metric_sources(metrics):
        head = f"test.{source}"
        for measure, suffix in (("F1 @ flag", "flag_f1"), ("recall @ review", "review_recall")):
            cells = [_cell(metrics, f"{head}_{s}_{suffix}") for s in SIGNALS]
            rows.append([f"test: {source}", measure, *cells, ""])
    rows.append(["test: pooled", "PR-AUC", *(_cell(metrics, f"test_{s}_pr_auc") for s in SIGNALS), ""])
    if any(k.startswith("civic_") and not k.startswith("civic_regression_") for k in metrics):
        for point in ("review", "flag"):
            for metric in ("precision", "recall"):
                cells = [_cell(metrics, f"civic_{s}_{point}_{metric}") for s in SIGNALS]
                rows.append(["civic dev", f"{metric} @ {point}", *cells, ""])
        rows.append(
            [
                "civic dev",
                "recall @ 10 % load",
                *(_cell(metrics, f"civic_{s}_budget_recall") for s in SIGNALS),
                "",
            ]
        )
        rows.append(
            ["civic dev", "positives", *(_cell(metrics, f"civic_{s}_positives", 0) for s in SIGNALS), ""]
        )
        rows.append(
            ["civic dev", "review load (any signal)", "", "", "", "", _cell(metrics, "civic_review_load")]
        )
        rows.append(
            ["civic dev", "flag load (any signal)", "", "", "", "", _cell(metrics, "civic_flag_load")]
        )
    if any(k.startswith("civic_regression_") for k in metrics):
        cells = [_cell(metrics, f"civic_regression_{s}_reviewed", 0) for s in SIGNALS]
        rows.append(["civic regression", "sentences @ review", *cells, ""])
    if "func_overall_acc" in metrics:
        from signals.functional.common import FUNCTIONALITIES

        # the English suite's functionalities only (the language suites' keys are func_<lang>_...)
        funcs = {
            k[5:-4]: v for k, v in metrics.items() if k[5:-4] in FUNCTIONALITIES and k.startswith("func_")
        }
        lowest = min(funcs.items(), key=lambda kv: kv[1]) if funcs else None
        low = f"lowest {lowest[0]} {lowest[1]:.3f}" if lowest else ""
        rows.append(
            ["functional suite", "accuracy @ flag", "", "", "", "", _cell(metrics, "func_overall_acc")]
        )
        rows.append(["functional suite", low, "", "", "", "", ""])
    if any(k.startswith("bias_test_") for k in metrics):
        rows.append(
            ["bias (test)", "final bias AUC", *(_cell(metrics, f"bias_test_{s}_final") for s in SIGNALS), ""]
        )
    return rows


def evaluation_table(metrics: Mapping[str, float], title: str = "") -> Any:
    """``evaluation_rows`` as a rich table."""
    from rich.table import Table

    table = Table(title=title)
    for name in ("set", "measure", *SIGNALS, "all"):
        table.add_column(name, justify="left" if name in ("set", "measure") else "right")
    for row in evaluation_rows(metrics):
        table.add_row(*row)
    return table


# -- plots ------------------------------------------------------------------------------------------


def _figure(n_panels: int, height: float) -> Any:
    # Figure + Agg canvas directly: no pyplot global state, no GUI backend, safe in servers and threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.0 * n_panels, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    log.info("wrote plot %s", path)
    return path


def plot_pr_curves(
    Y_true: Any, P: Any, path: str | Path, thresholds: Thresholds | None = None, title: str = ""
) -> Path:
    """Precision-recall curve per signal (one panel each) over known rows; returns ``path``.

    The dashed line is the positive rate (a random scorer's precision); passing ``thresholds`` marks each
    operating point on the curve. A signal with one class shows a note instead of a curve.
    """
    y_all, p_all = _check_inputs(Y_true, P)
    points = operating_points(thresholds) if thresholds is not None else {}
    fig = _figure(len(SIGNALS), 4.0)
    axes = fig.subplots(1, len(SIGNALS), squeeze=False)[0]
    for j, (signal, ax) in enumerate(zip(SIGNALS, axes, strict=True)):
        known = y_all[:, j] != UNKNOWN
        y, p = y_all[known, j], p_all[known, j]
        ax.set_title(signal)
        ax.set_xlabel("recall")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        if j == 0:
            ax.set_ylabel("precision")
        if len(np.unique(y)) < 2:
            ax.text(0.5, 0.5, f"n={len(y)}: one class\nor none", ha="center", va="center")
            continue
        precision, recall, _ = precision_recall_curve(y, p)
        ap = average_precision_score(y, p)
        ax.plot(recall, precision, drawstyle="steps-post", label=f"AP={ap:.3f} (n={len(y)})")
        ax.axhline(y.mean(), color="grey", linestyle="--", linewidth=1, label=f"rate={y.mean():.3f}")
        for name, per_signal in points.items():
            op = _at_threshold(y, p, per_signal[signal])
            if op["precision"] is not None and op["recall"] is not None:
                ax.plot(op["recall"], op["precision"], "o", label=f"{name} @ {per_signal[signal]:.2f}")
        ax.legend(loc="lower left", fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrices(Y_true: Any, P: Any, thresholds: Thresholds | None, path: str | Path) -> Path:
    """Confusion matrix per signal at one operating point (one panel each); returns ``path``.

    ``thresholds`` is ``{signal: t}`` (e.g. ``ModelInfo.thresholds["flag"]``) or ``None`` for 0.5; when
    several operating points are passed, the ``flag`` point is drawn if present, else the first.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    y_all, p_all = _check_inputs(Y_true, P)
    points = operating_points(thresholds)
    name = "flag" if "flag" in points else next(iter(points))
    chosen = points[name]
    fig = _figure(len(SIGNALS), 3.8)
    axes = fig.subplots(1, len(SIGNALS), squeeze=False)[0]
    for j, (signal, ax) in enumerate(zip(SIGNALS, axes, strict=True)):
        known = y_all[:, j] != UNKNOWN
        y, p = y_all[known, j], p_all[known, j]
        if len(y) == 0:
            ax.set_title(signal)
            ax.text(0.5, 0.5, "no known rows", ha="center", va="center")
            ax.set_axis_off()
            continue
        pred = (p >= chosen[signal]).astype(int)
        cm = confusion_matrix(y, pred, labels=[0, 1])
        ConfusionMatrixDisplay(cm, display_labels=["no", "yes"]).plot(
            ax=ax, colorbar=False, values_format="d"
        )
        ax.set_title(f"{signal} @ {chosen[signal]:.2f} (n={len(y)})")
    fig.suptitle(f"confusion matrices ({name} threshold, known rows only)")
    return _save(fig, path)
