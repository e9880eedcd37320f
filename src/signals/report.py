"""Survey briefing: prevalence tables with Wilson intervals, charts, and one self-contained HTML file.

The input is one row per scored answer (the shape of ``signals.surveys.answers_frame``): ``text``,
``question_id``, ``question_text``, ``language`` (files written before it say ``lang``),
``supported`` (false: a language the model does not score, no probabilities), ``meta.<field>``
columns, ``p_<signal>``,
``flag_<signal>`` (0/1), ``target_<group>`` probabilities (empty when the model has no target head) and,
for answers an analyst has looked at, ``decision_<signal>`` (1 confirmed, 0 rejected, empty = not
reviewed).

*Prevalence* of a signal is the share of answers the model flags for it (at its high-precision
``flag`` threshold), with a 95 % Wilson score interval: it behaves at 0 % and with the small counts of a
ward or a month, where the textbook normal interval goes below zero. Analyst decisions are reported
beside it (how many flagged answers were reviewed, and what share analysts confirmed), because the
model's flags are an estimate and the confirmed rate tells the reader how far to trust them.

Beside it, the *corrected* prevalence (``signals.prevalence``, prediction-powered inference): the
model's calibrated probabilities on all answers, corrected by the error measured on answers analysts
labelled in a uniform random sample (``sample_<signal>``: 1 confirmed, 0 rejected, empty otherwise; only
decisions on answers in the audit sample, whenever they were made, never other answers of the risk-ranked
queue). Its interval
covers the model's mistakes too. A group (overall, a question, a period, a meta value) needs
``MIN_LABELS`` such labels; with none the report says the shares are uncorrected. Per target group the
estimate runs over all answers with prediction ``p_<signal> * aimed`` and label ``sample_<signal> *
aimed``: it corrects the signal, while whether an answer is aimed at the group stays the model's call.

With another wave (``--compare``), ``compare_waves`` gives each signal's share in both waves, overall
and per question id both have, and the difference with its 95 % interval: Newcombe's hybrid score
interval (``newcombe_interval``) for the uncorrected shares, the difference of two independent
prediction-powered estimates (``signals.prevalence.difference``) for the corrected ones; in words, "a
real change" when the interval excludes 0, else "within noise".

``build_report`` writes the HTML (charts as inline SVG, so the one file prints and mails well), the
same tables as ``<stem>-<table>.csv`` (and ``<stem>-compare.csv``) and everything as ``<stem>.json``
beside it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from markupsafe import Markup

from signals.inputs import check_output, replacing
from signals.prevalence import Z95, difference, ppi_mean
from signals.schema import SIGNAL_DEFINITIONS, SIGNALS, TARGET_LABELS, TARGETS

log = logging.getLogger(__name__)

#: A target group counts for an answer when its probability reaches this.
TARGET_THRESHOLD = 0.5

#: A meta field with more values than this shows the largest groups and pools the rest.
MAX_GROUPS = 25

#: Fewest random-sample labels in a group (overall, a question) for a corrected estimate.
MIN_LABELS = 30

#: Columns ``prevalence(..., corrected=True)`` adds.
CORRECTED_COLUMNS = [
    "labels", "correction", "corrected", "corrected_low", "corrected_high", "corrected_se",
    "labels_to_halve",
]  # fmt: skip

#: Quotes shown per signal.
QUOTES_PER_SIGNAL = 3

SIGNAL_TITLES = {"hate": "Hate", "threat": "Threat", "offensive": "Offensive", "polarization": "Polarization"}

# Okabe-Ito colours plus a distinct marker each: readable for colour-blind readers and in greyscale print.
_STYLE = {
    "hate": ("#D55E00", "o"),
    "threat": ("#0072B2", "s"),
    "offensive": ("#E69F00", "^"),
    "polarization": ("#009E73", "D"),
}

_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})")


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``; ``(nan, nan)`` when n is 0.

    >>> [round(x, 4) for x in wilson_interval(81, 263)]  # Newcombe (1998), example (b)
    [0.2553, 0.3662]
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # k = 0 and k = n give exactly 0 and 1 analytically; computed, they land a rounding error off
    # (e.g. 5.6e-17 for 0 of 3), above the rate itself. Pin them, and keep every end on its side of p.
    low = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return (low, high)


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``k1/n1 - k2/n2`` (two independent proportions).

    Method 10 of Newcombe (1998), built from the two Wilson intervals: it keeps Wilson's good
    behaviour at 0 % and with small counts, where the textbook Wald interval fails. ``(nan, nan)``
    when either n is 0.

    >>> [round(x, 4) for x in newcombe_interval(56, 70, 48, 80)]  # Newcombe (1998), example (a)
    [0.0524, 0.3339]
    >>> [round(x, 4) for x in newcombe_interval(5, 56, 0, 29)]  # example (d)
    [-0.0381, 0.1926]
    """
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    diff = p1 - p2
    return (diff - math.hypot(p1 - l1, u2 - p2), diff + math.hypot(u1 - p1, p2 - l2))


def _rate_row(k: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(k, n)
    return {"n": n, "k": k, "rate": k / n if n else math.nan, "ci_low": low, "ci_high": high}


def _flags(frame: pd.DataFrame, signal: str) -> pd.Series:
    return pd.to_numeric(frame[f"flag_{signal}"], errors="coerce").fillna(0).astype(int)


def meta_fields(frame: pd.DataFrame) -> list[str]:
    """The meta fields of a report frame, in column order."""
    return [c[len("meta.") :] for c in frame.columns if c.startswith("meta.")]


def detect_date_field(frame: pd.DataFrame) -> str | None:
    """The first meta field whose values are (nearly all) dates, e.g. ``date`` or ``StartDate``."""
    for name in meta_fields(frame):
        values = frame[f"meta.{name}"].dropna().astype(str)
        values = values[values.str.strip() != ""]
        if len(values) and values.str.match(_DATE_LIKE).mean() >= 0.9:
            return name
    return None


def _corrected_row(group: pd.DataFrame, signal: str, within: pd.Series | None = None) -> dict[str, Any]:
    """The prediction-powered estimate of one group from its random-sample labels (``sample_<signal>``).

    With ``within`` (a boolean mask over the group), the estimate is of the share of the group's answers
    that carry the signal *and* fall within the mask: prediction ``p_<signal> * within`` and label
    ``sample_<signal> * within`` over all the group's answers (the mask itself is taken as given).
    """
    col = f"sample_{signal}"
    labels = pd.to_numeric(group[col], errors="coerce") if col in group else pd.Series(np.nan, group.index)
    labelled = labels.notna().to_numpy()
    n = int(labelled.sum())
    row: dict[str, Any] = {"labels": n, "correction": "no labels" if n == 0 else "not enough labels"}
    row.update(
        corrected=math.nan,
        corrected_low=math.nan,
        corrected_high=math.nan,
        corrected_se=math.nan,
        labels_to_halve=None,
    )
    if n >= MIN_LABELS:
        probs = pd.to_numeric(group[f"p_{signal}"], errors="coerce").to_numpy(dtype=float)
        truth = labels.to_numpy(dtype=float)
        if within is not None:
            mask = within.to_numpy(dtype=float)
            probs, truth = probs * mask, truth * mask
        try:
            est = ppi_mean(probs, truth[labelled], probs[labelled])
        except ValueError as exc:
            raise ValueError(f"cannot correct {signal} for model errors: p_{signal}: {exc}") from None
        if est is not None:  # always, with n > 0
            row.update(
                correction="corrected",
                corrected=est.estimate,
                corrected_low=est.ci_low,
                corrected_high=est.ci_high,
                corrected_se=est.standard_error,
                labels_to_halve=est.labels_to_halve,
            )
    return row


def prevalence(frame: pd.DataFrame, by: str | None = None, corrected: bool = False) -> pd.DataFrame:
    """Share of answers flagged per signal (overall, or per value of column ``by``), with Wilson CIs.

    Columns: ``[by,] signal, n, k, rate, ci_low, ci_high`` where ``n`` is the number of answers in the
    group and ``k`` how many the model flagged. With ``corrected``, also the estimate corrected for
    model errors from analysts' labels on a uniform random sample (``signals.prevalence``; columns
    ``CORRECTED_COLUMNS``): ``labels`` in the group, ``correction`` ("corrected", "not enough labels"
    under ``MIN_LABELS``, "no labels"), ``corrected`` with its 95 % interval ``corrected_low`` ..
    ``corrected_high`` and standard error ``corrected_se``, and ``labels_to_halve`` (labels in all
    that would halve that interval; empty when more labels alone cannot).
    """
    rows = []
    groups: list[tuple[Any, pd.DataFrame]] = (
        [(None, frame)] if by is None else list(frame.groupby(by, sort=False, dropna=False))
    )
    for key, group in groups:
        for signal in SIGNALS:
            row = {} if by is None else {by: key}
            row["signal"] = signal
            row.update(_rate_row(int(_flags(group, signal).sum()), len(group)))
            if corrected:
                row.update(_corrected_row(group, signal))
            rows.append(row)
    columns = ([] if by is None else [by]) + ["signal", "n", "k", "rate", "ci_low", "ci_high"]
    table = pd.DataFrame(rows, columns=columns + (CORRECTED_COLUMNS if corrected else []))
    if corrected:
        table["labels_to_halve"] = table["labels_to_halve"].astype("Int64")
    return table


def by_question(frame: pd.DataFrame) -> pd.DataFrame:
    """Prevalence per question (question id and text), in the order questions appear, with corrections."""
    table = prevalence(frame, by="question_id", corrected=True)
    texts = frame.drop_duplicates("question_id").set_index("question_id")["question_text"]
    table.insert(1, "question_text", table["question_id"].map(texts))
    return table


def by_target(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of *all* answers flagged for a signal and aimed at a target group (probability >= 0.5).

    With the corrected estimate (``CORRECTED_COLUMNS``) of the same share: prediction-powered over all
    answers, with prediction ``p_<signal> * aimed`` and label ``sample_<signal> * aimed``, so it needs
    ``MIN_LABELS`` random-sample labels of the signal in the whole survey. It corrects the model's
    errors on the *signal* only: whether an answer is aimed at the group stays the model's judgement
    (analysts label signals, not targets). Empty when the model gives no target probabilities.
    """
    columns = ["target", "signal", "n", "k", "rate", "ci_low", "ci_high", *CORRECTED_COLUMNS]
    present = [t for t in TARGETS if f"target_{t}" in frame and frame[f"target_{t}"].notna().any()]
    rows = []
    for target in present:
        aimed = pd.to_numeric(frame[f"target_{target}"], errors="coerce").fillna(0) >= TARGET_THRESHOLD
        for signal in SIGNALS:
            k = int(((_flags(frame, signal) == 1) & aimed).sum())
            rows.append(
                {
                    "target": TARGET_LABELS[target],
                    "signal": signal,
                    **_rate_row(k, len(frame)),
                    **_corrected_row(frame, signal, within=aimed),
                }
            )
    table = pd.DataFrame(rows, columns=columns)
    table["labels_to_halve"] = table["labels_to_halve"].astype("Int64")
    return table


def _period(dates: pd.Series) -> tuple[pd.Series, str]:
    span = (dates.max() - dates.min()).days if dates.notna().any() else 0
    if span <= 70:
        starts = dates.dt.to_period("W-SUN").dt.start_time
        return starts.dt.strftime("%Y-%m-%d").where(dates.notna()), "week starting"
    if span <= 4 * 366:
        return dates.dt.strftime("%Y-%m").where(dates.notna()), "month"
    return dates.dt.strftime("%Y").where(dates.notna()), "year"


def over_time(frame: pd.DataFrame, date_field: str | None) -> tuple[pd.DataFrame, str]:
    """Prevalence per week, month or year (chosen from the date span) of a date meta field.

    Returns the table (column ``period``, sorted; corrected where a period has ``MIN_LABELS``
    random-sample labels) and the period's name; answers without a parseable date are left out of
    this table only.
    """
    columns = ["period", "signal", "n", "k", "rate", "ci_low", "ci_high", *CORRECTED_COLUMNS]
    if date_field is None or f"meta.{date_field}" not in frame:
        return pd.DataFrame(columns=columns), ""
    dates = pd.to_datetime(frame[f"meta.{date_field}"], errors="coerce", format="mixed")
    periods, unit = _period(dates)
    dated = frame.assign(period=periods).dropna(subset=["period"])
    # prevalence() lists signals in SIGNALS order within each group; a stable sort keeps that order.
    table = prevalence(dated, by="period", corrected=True).sort_values("period", kind="stable")
    return table.reset_index(drop=True), unit


def by_meta(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Prevalence per value of one meta field (empty values as ``(blank)``, rare values pooled).

    Corrected where a value has ``MIN_LABELS`` random-sample labels.
    """
    values = frame[f"meta.{name}"].fillna("").astype(str).str.strip().replace("", "(blank)")
    counts = values.value_counts()
    if len(counts) > MAX_GROUPS:
        keep = set(counts.index[: MAX_GROUPS - 1])
        values = values.where(values.isin(keep), "(other)")
    grouped = frame.assign(value=values)
    table = prevalence(grouped, by="value", corrected=True)
    # Natural order ("Ward 2" before "Ward 10"), so tables read like the survey's own lists.
    natural = table["value"].map(
        lambda v: [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", v)]
    )
    table = table.assign(_key=natural.map(tuple)).sort_values("_key", kind="stable").drop(columns="_key")
    table.insert(0, "field", name)
    return table.reset_index(drop=True)


#: Columns of ``compare_waves``.
COMPARE_COLUMNS = [
    "scope", "question_id", "signal", "n", "k", "rate", "other_n", "other_k", "other_rate",
    "difference", "difference_low", "difference_high", "change",
    "correction", "other_correction", "corrected", "other_corrected", "corrected_difference",
    "corrected_difference_low", "corrected_difference_high", "corrected_change",
]  # fmt: skip


def _change(low: float, high: float) -> str:
    """Plain words for a difference's 95 % interval: does it exclude 0?"""
    if math.isnan(low) or math.isnan(high):
        return "–"
    if low > 0:
        return "a real change (up)"
    if high < 0:
        return "a real change (down)"
    return "within noise"


def _difference_row(this: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """One comparison: two ``prevalence(..., corrected=True)`` rows of the same group and signal."""
    low, high = newcombe_interval(this["k"], this["n"], other["k"], other["n"])
    row: dict[str, Any] = {
        "signal": this["signal"],
        "n": this["n"],
        "k": this["k"],
        "rate": this["rate"],
        "other_n": other["n"],
        "other_k": other["k"],
        "other_rate": other["rate"],
        "difference": this["rate"] - other["rate"],
        "difference_low": low,
        "difference_high": high,
        "change": _change(low, high),
        "correction": this["correction"],
        "other_correction": other["correction"],
        "corrected": this["corrected"],
        "other_corrected": other["corrected"],
    }
    if this["correction"] == other["correction"] == "corrected":
        diff, low, high = difference(
            this["corrected"], this["corrected_se"], other["corrected"], other["corrected_se"]
        )
        row.update(
            corrected_difference=diff,
            corrected_difference_low=low,
            corrected_difference_high=high,
            corrected_change=_change(low, high),
        )
    else:
        why = [f"{this['correction']} in this wave"] if this["correction"] != "corrected" else []
        if other["correction"] != "corrected":
            why.append(f"{other['correction']} in the other")
        row.update(
            corrected_difference=math.nan,
            corrected_difference_low=math.nan,
            corrected_difference_high=math.nan,
            corrected_change="; ".join(why),
        )
    return row


def compare_waves(frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """This wave's prevalence against another wave's, overall and per question id both waves have.

    One row per signal (``scope`` "overall", then "question" rows in this wave's question order) with
    both shares, their difference (this minus other) and its 95 % interval: Newcombe's hybrid score
    interval for the uncorrected shares (``newcombe_interval``), and, where both waves have
    ``MIN_LABELS`` random-sample labels, the difference of the two corrected estimates ±1.96 times the
    root of the summed squared standard errors (``signals.prevalence.difference``; the waves are
    independent). ``change`` and ``corrected_change`` say in words whether the interval excludes 0;
    without a corrected comparison, ``corrected_change`` says which wave lacks labels.
    """
    if other.empty:
        raise ValueError("the wave to compare with has no answers")
    rows: list[dict[str, Any]] = []
    mine, theirs = prevalence(frame, corrected=True), prevalence(other, corrected=True)
    for a, b in zip(mine.to_dict("records"), theirs.to_dict("records"), strict=True):
        rows.append({"scope": "overall", "question_id": None, **_difference_row(a, b)})
    shared = set(other["question_id"].astype(str))
    mine = prevalence(frame[frame["question_id"].astype(str).isin(shared)], by="question_id", corrected=True)
    theirs = prevalence(other, by="question_id", corrected=True)
    theirs = theirs.assign(question_id=theirs["question_id"].astype(str)).set_index(["question_id", "signal"])
    for a in mine.to_dict("records"):
        b = {"signal": a["signal"], **theirs.loc[(str(a["question_id"]), a["signal"])].to_dict()}
        rows.append({"scope": "question", "question_id": a["question_id"], **_difference_row(a, b)})
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def review_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per signal: flagged answers, how many analysts reviewed, and the share they confirmed.

    ``confirmed_rate`` (with Wilson CI) is confirmed / (confirmed + rejected) among flagged answers:
    the flags' precision as measured by analysts; "unsure" decisions count as reviewed, not in the
    rate. ``found_unflagged`` counts reviewed answers the model did not flag but analysts marked as
    carrying the signal.
    """
    rows = []
    for signal in SIGNALS:
        flagged = _flags(frame, signal) == 1
        col = f"decision_{signal}"
        decision = (
            pd.to_numeric(frame[col], errors="coerce")
            if col in frame
            else pd.Series(np.nan, index=frame.index)
        )
        reviewed = decision.notna()
        confirmed = decision == 1
        decided = decision.isin([0, 1])  # "unsure" (0.5) is reviewed but has no verdict
        k = int((flagged & confirmed).sum())
        n = int((flagged & decided).sum())
        low, high = wilson_interval(k, n)
        rows.append(
            {
                "signal": signal,
                "answers": len(frame),
                "flagged": int(flagged.sum()),
                "flagged_reviewed": int((flagged & reviewed).sum()),
                "flagged_unsure": int((flagged & reviewed & ~decided).sum()),
                "flagged_unreviewed": int((flagged & ~reviewed).sum()),
                "confirmed": k,
                "confirmed_rate": k / n if n else math.nan,
                "ci_low": low,
                "ci_high": high,
                "reviewed_total": int(reviewed.sum()),
                "found_unflagged": int((~flagged & confirmed).sum()),
            }
        )
    return pd.DataFrame(rows)


def _supported(frame: pd.DataFrame) -> pd.Series:
    """Whether each answer was scored; files written before ``supported`` existed scored every answer."""
    if "supported" not in frame:
        return pd.Series(True, index=frame.index)
    return ~frame["supported"].astype(str).str.lower().isin(["false", "0", "0.0"])


def languages(frame: pd.DataFrame) -> pd.DataFrame:
    """Answers per detected language, and how many of them the model did not score (no model for it).

    Reads ``language``, or ``lang`` in files written before it (where ``und`` meant too short to tell).
    """
    column = "language" if "language" in frame else "lang"
    langs = frame[column].fillna("und") if column in frame else pd.Series("und", index=frame.index)
    scored = _supported(frame)
    table = (
        pd.DataFrame({"language": langs, "not_scored": ~scored})
        .groupby("language", sort=False)
        .agg(answers=("not_scored", "size"), not_scored=("not_scored", "sum"))
        .sort_values("answers", ascending=False, kind="stable")
        .reset_index()
    )
    table["not_scored"] = table["not_scored"].astype(int)
    table["share"] = table["answers"] / max(len(frame), 1)
    return table


def quotes(frame: pd.DataFrame, per_signal: int = QUOTES_PER_SIGNAL) -> pd.DataFrame:
    """Example quotes: only answers an analyst reviewed and confirmed for the signal (redacted text).

    Model-only flags are never quoted: a briefing must not put words in residents' mouths that no
    person has checked.
    """
    columns = ["signal", "question_id", "text", "p", *(f"meta.{m}" for m in meta_fields(frame))]
    rows = []
    for signal in SIGNALS:
        col = f"decision_{signal}"
        if col not in frame:
            continue
        chosen = frame[pd.to_numeric(frame[col], errors="coerce") == 1]
        chosen = chosen.assign(p=pd.to_numeric(chosen[f"p_{signal}"], errors="coerce")).sort_values(
            "p", ascending=False, kind="stable"
        )
        for _, r in chosen.head(per_signal).iterrows():
            rows.append({"signal": signal, **{c: r.get(c) for c in columns if c != "signal"}})
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- the report


@dataclass
class ReportTables:
    """Every table of a report, as DataFrames (also written as CSV and JSON)."""

    overall: pd.DataFrame
    by_question: pd.DataFrame
    by_target: pd.DataFrame
    over_time: pd.DataFrame
    by_meta: pd.DataFrame
    review: pd.DataFrame
    languages: pd.DataFrame
    quotes: pd.DataFrame
    time_unit: str = ""
    date_field: str | None = None
    #: ``compare_waves`` against another wave (``--compare``), else None; written as ``<stem>-compare.csv``.
    compare: pd.DataFrame | None = None

    #: The tables, in the order they are written (``<stem>-<name>.csv``).
    NAMES: ClassVar[tuple[str, ...]] = (
        "overall", "by_question", "by_target", "over_time", "by_meta", "review", "languages", "quotes",
    )  # fmt: skip

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [(name, getattr(self, name)) for name in self.NAMES]


def compute_tables(
    frame: pd.DataFrame, date_field: str | None = None, other: pd.DataFrame | None = None
) -> ReportTables:
    """All report tables for a frame of scored answers; ``date_field`` defaults to the detected one.

    With ``other`` (another wave's frame), also the comparison with it (``compare_waves``).
    """
    if frame.empty:
        raise ValueError("no answers to report on")
    # Shares are over the answers the model scored; the languages table counts every answer.
    everything, frame = frame, frame[_supported(frame)]
    if frame.empty:
        raise ValueError("no answer was scored: the model has no model for their languages")
    date_field = date_field or detect_date_field(frame)
    if date_field is not None and f"meta.{date_field}" not in frame:
        raise ValueError(f"no meta field {date_field!r}; the meta fields are {meta_fields(frame)}")
    time_table, unit = over_time(frame, date_field)
    metas = [by_meta(frame, m) for m in meta_fields(frame) if m != date_field]
    meta_table = (
        pd.concat(metas, ignore_index=True)
        if metas
        else pd.DataFrame(
            columns=["field", "value", "signal", "n", "k", "rate", "ci_low", "ci_high", *CORRECTED_COLUMNS]
        )
    )
    return ReportTables(
        overall=prevalence(frame, corrected=True),
        by_question=by_question(frame),
        by_target=by_target(frame),
        over_time=time_table,
        by_meta=meta_table,
        review=review_summary(frame),
        languages=languages(everything),
        quotes=quotes(frame),
        time_unit=unit,
        date_field=date_field,
        compare=None if other is None else compare_waves(frame, other),
    )


# --------------------------------------------------------------------------- charts


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    # Let the browser scale the drawing to the column width (screen and print).
    return re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1 class="chart"', svg, count=1)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: sharp in print, searchable, selectable
            "font.family": "sans-serif",
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.grid.axis": "x",
            "grid.color": "#dddddd",
        }
    )
    return plt


def _pct_axis(ax: Any, upper: float, axis: str = "x") -> None:
    from matplotlib.ticker import PercentFormatter

    limit = min(1.0, max(0.1, upper * 1.1))
    getattr(ax, f"set_{axis}lim")(0, limit)
    getattr(ax, f"{axis}axis").set_major_formatter(PercentFormatter(1.0, decimals=0))


def _xerr(rate: np.ndarray, low: pd.Series, high: pd.Series) -> np.ndarray:
    """Error-bar lengths below and above each rate, never negative (matplotlib refuses those)."""
    below = rate - low.to_numpy(dtype=float)
    above = high.to_numpy(dtype=float) - rate
    return np.clip(np.vstack([below, above]), 0.0, None)


def _label(value: Any) -> str:
    """Chart text as it is: matplotlib reads ``$...$`` as mathematics (and fails on bad TeX)."""
    return str(value).replace("$", r"\$")


def dot_chart(table: pd.DataFrame, group: str, labels: dict[str, str] | None = None) -> str:
    """Dot-and-whisker chart: one row per group, one marker per signal with its 95 % interval."""
    plt = _pyplot()
    groups = list(dict.fromkeys(table[group].tolist()))
    fig, ax = plt.subplots(figsize=(7.2, max(1.8, 0.8 + 0.45 * len(groups))))
    offsets = np.linspace(-0.27, 0.27, len(SIGNALS))
    for off, signal in zip(offsets, SIGNALS, strict=True):
        rows = table[table["signal"] == signal].set_index(group).reindex(groups)
        y = np.arange(len(groups)) + off
        rate = rows["rate"].to_numpy(dtype=float)
        err = _xerr(rate, rows["ci_low"], rows["ci_high"])
        color, marker = _STYLE[signal]
        ax.errorbar(
            rate, y, xerr=err, fmt=marker, color=color, ms=6, capsize=2.5, lw=1.2, label=SIGNAL_TITLES[signal]
        )
    ax.set_yticks(np.arange(len(groups)))
    ax.set_yticklabels([_label((labels or {}).get(str(g), str(g))) for g in groups])
    ax.invert_yaxis()
    _pct_axis(ax, float(table["ci_high"].max()) if len(table) else 0.1)
    ax.set_xlabel("share of answers flagged (dot) with 95 % interval (line)")
    ax.legend(
        ncol=4, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9, borderaxespad=0.2
    )
    return _svg(fig)


def overall_chart(table: pd.DataFrame) -> str:
    """Horizontal bars of overall prevalence with interval whiskers and the value printed at each bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 2.6))
    y = np.arange(len(SIGNALS))
    rows = table.set_index("signal").reindex(list(SIGNALS))
    rate = rows["rate"].to_numpy(dtype=float)
    err = _xerr(rate, rows["ci_low"], rows["ci_high"])
    colors = [_STYLE[s][0] for s in SIGNALS]
    ax.barh(y, rate, color=colors, alpha=0.85, height=0.6)
    ax.errorbar(rate, y, xerr=err, fmt="none", ecolor="#222222", capsize=3, lw=1.2)
    for yi, (r, hi, k, n) in enumerate(zip(rate, rows["ci_high"], rows["k"], rows["n"], strict=True)):
        ax.text(hi + 0.005, yi, f" {r:.1%}  ({k} of {n})", va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels([SIGNAL_TITLES[s] for s in SIGNALS])
    ax.invert_yaxis()
    _pct_axis(ax, float(rows["ci_high"].max()) * 1.25)
    ax.set_xlabel("share of answers flagged, with 95 % interval")
    return _svg(fig)


def time_chart(table: pd.DataFrame, unit: str) -> str:
    """Small multiples, one panel per signal: prevalence per period with its shaded 95 % interval.

    One panel each because four overlapping interval bands are unreadable, in print above all.
    """
    plt = _pyplot()
    periods = list(dict.fromkeys(table["period"].tolist()))
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 4.6), sharex=True, sharey=True)
    x = np.arange(len(periods))
    upper = float(table["ci_high"].max())
    for ax, signal in zip(axes.flat, SIGNALS, strict=True):
        rows = table[table["signal"] == signal].set_index("period").reindex(periods)
        color, marker = _STYLE[signal]
        ax.fill_between(
            x, rows["ci_low"].astype(float), rows["ci_high"].astype(float), color=color, alpha=0.15, lw=0
        )
        ax.plot(x, rows["rate"].astype(float), marker=marker, color=color, lw=1.6, ms=5)
        ax.set_title(SIGNAL_TITLES[signal], loc="left", fontsize=10, fontweight="bold")
        _pct_axis(ax, upper, axis="y")
        ax.grid(axis="y", color="#dddddd")
        ax.set_xticks(x)
        rotate = len(periods) > 6
        ax.set_xticklabels(
            [_label(p) for p in periods],
            rotation=45 if rotate else 0,
            ha="right" if rotate else "center",
            fontsize=8,
        )
    for ax in axes[1]:
        ax.set_xlabel(_label(unit))
    fig.supylabel("share of answers flagged", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def review_chart(table: pd.DataFrame) -> str:
    """Stacked bars: flagged answers reviewed (confirmed / rejected) and not yet reviewed, per signal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 2.4))
    rows = table.set_index("signal").reindex(list(SIGNALS))
    y = np.arange(len(SIGNALS))
    confirmed = rows["confirmed"].to_numpy(dtype=float)
    rejected = rows["flagged_reviewed"].to_numpy(dtype=float) - confirmed
    unreviewed = rows["flagged_unreviewed"].to_numpy(dtype=float)
    ax.barh(y, confirmed, color="#333333", height=0.6, label="reviewed: confirmed")
    ax.barh(y, rejected, left=confirmed, color="#999999", height=0.6, label="reviewed: rejected or unsure")
    ax.barh(
        y,
        unreviewed,
        left=confirmed + rejected,
        color="white",
        edgecolor="#333333",
        hatch="///",
        height=0.6,
        label="not reviewed yet",
    )
    ax.set_yticks(y)
    ax.set_yticklabels([SIGNAL_TITLES[s] for s in SIGNALS])
    ax.invert_yaxis()
    ax.set_xlabel("flagged answers")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(
        ncol=3, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize=9, borderaxespad=0.2
    )
    return _svg(fig)


# --------------------------------------------------------------------------- HTML


@dataclass
class ReportContext:
    """What the page says about where the numbers came from."""

    survey: str
    model: str  # "name version"
    source: str  # "triage store sqlite:///signals.db" or the scored file
    thresholds: dict[str, float] = field(default_factory=dict)
    operating_point: str = ""  # which thresholds set the flags (``operating_point_note``)
    compare: str | None = None  # the other wave's name, with --compare
    compare_source: str = ""  # where the other wave came from, like ``source``
    generated: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


@dataclass
class ReportFiles:
    html: Path
    json: Path
    csv: list[Path]


def _pct(rate: Any) -> str:
    return "–" if rate is None or (isinstance(rate, float) and math.isnan(rate)) else f"{float(rate):.1%}"


def _interval(low: Any, high: Any) -> str:
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return "–"
    return f"{float(low):.1%} – {float(high):.1%}"


def _points(value: Any) -> str:
    """A difference of shares in percentage points, signed: ``+2.0``, ``-0.4``, ``0.0``."""
    if _missing(value):
        return "–"
    points = round(float(value) * 100, 1)
    return "0.0" if points == 0 else f"{points:+.1f}"


def _points_interval(low: Any, high: Any) -> str:
    if _missing(low):
        return "–"
    return f"{_points(low)} to {_points(high)}"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _corrected_cell(r: dict[str, Any]) -> str:
    """``12.3% (10.1% – 14.5%)`` for a corrected row; otherwise why not (no labels, not enough)."""
    if r["correction"] != "corrected":
        return str(r["correction"])
    return f"{_pct(r['corrected'])} ({_interval(r['corrected_low'], r['corrected_high'])})"


def _findings(tables: ReportTables, n_answers: int, context: ReportContext) -> list[Markup]:
    """Plain sentences for the top of the page, computed from the tables (no interpretation).

    HTML with every value escaped (question ids are column headers of the export: anyone's text).
    """
    out = []
    for _, r in tables.overall.iterrows():
        out.append(
            Markup("<b>{}</b>: {} of {} answers flagged ({}; 95 % interval {}).").format(
                SIGNAL_TITLES[r["signal"]],
                r["k"],
                n_answers,
                _pct(r["rate"]),
                _interval(r["ci_low"], r["ci_high"]),
            )
        )
    overall = tables.overall
    for _, r in overall[overall["correction"] == "corrected"].iterrows():
        out.append(
            Markup(
                "<b>{}</b> corrected for model errors with {} analyst labels on a random sample: {} "
                "(95 % interval {})."
            ).format(
                SIGNAL_TITLES[r["signal"]],
                r["labels"],
                _pct(r["corrected"]),
                _interval(r["corrected_low"], r["corrected_high"]),
            )
        )
    if not overall["labels"].any():
        out.append(
            Markup(
                "Shares are <b>uncorrected</b>: no analyst has labelled a random sample of these answers, "
                "so they do not account for the model's mistakes."
            )
        )
    if tables.compare is not None:
        for r in tables.compare[tables.compare["scope"] == "overall"].to_dict("records"):
            out.append(
                Markup(
                    "<b>{}</b> compared with {}: {} now, {} then, {} points (95 % interval {}): {}."
                ).format(
                    SIGNAL_TITLES[r["signal"]],
                    context.compare,
                    _pct(r["rate"]),
                    _pct(r["other_rate"]),
                    _points(r["difference"]),
                    _points_interval(r["difference_low"], r["difference_high"]),
                    r["change"],
                )
            )
    bq = tables.by_question
    if len(bq["question_id"].unique()) > 1:
        for signal in SIGNALS:
            part = bq[(bq["signal"] == signal) & (bq["k"] > 0)].sort_values("rate", ascending=False)
            if len(part):
                top = part.iloc[0]
                out.append(
                    Markup("{} flags were most frequent in answers to {} ({} of {} answers).").format(
                        SIGNAL_TITLES[signal], top["question_id"], _pct(top["rate"]), top["n"]
                    )
                )
                break
    rv = tables.review
    flagged, reviewed, confirmed = rv["flagged"].sum(), rv["flagged_reviewed"].sum(), rv["confirmed"].sum()
    if flagged:
        out.append(
            Markup("Analysts have reviewed {} of {} signal flags so far and confirmed {}.").format(
                reviewed, flagged, confirmed
            )
            if reviewed
            else Markup(
                "None of the {} signal flags has been reviewed by an analyst yet: "
                "read the numbers as the model's estimate."
            ).format(flagged)
        )
    return out


def _wide(table: pd.DataFrame, group: str) -> list[dict[str, Any]]:
    """Long table (one row per group and signal) -> one dict per group with a cell per signal."""
    out = []
    for key, part in table.groupby(group, sort=False):
        records = part.to_dict("records")
        out.append(
            {
                "group": key,
                "n": records[0]["n"],
                "first": records[0],
                "cells": {r["signal"]: r for r in records},
            }
        )
    return out


def render_html(frame: pd.DataFrame, tables: ReportTables, context: ReportContext) -> str:
    """The briefing page as one HTML string (inline CSS and SVG; no external resources)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("signals", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    env.filters["pct"] = _pct
    env.filters["interval"] = lambda r: _interval(r["ci_low"], r["ci_high"])
    env.filters["corrected"] = _corrected_cell
    env.filters["halve"] = lambda r: "–" if _missing(r["labels_to_halve"]) else str(r["labels_to_halve"])
    env.filters["points"] = _points
    env.filters["points_interval"] = _points_interval
    questions = frame.drop_duplicates("question_id")[["question_id", "question_text"]].to_dict("records")
    charts: dict[str, Any] = {
        "overall": overall_chart(tables.overall),
        "by_question": dot_chart(tables.by_question, "question_id"),
        "by_target": dot_chart(tables.by_target, "target") if len(tables.by_target) else None,
        "over_time": time_chart(tables.over_time, tables.time_unit) if len(tables.over_time) else None,
        "review": review_chart(tables.review),
        "meta": {
            name: dot_chart(part, "value") for name, part in tables.by_meta.groupby("field", sort=False)
        },
    }
    dates = None
    if tables.date_field:
        parsed = pd.to_datetime(frame[f"meta.{tables.date_field}"], errors="coerce", format="mixed").dropna()
        if len(parsed):
            dates = (parsed.min().date().isoformat(), parsed.max().date().isoformat())
    template = env.get_template("report.html.j2")
    return template.render(
        ctx=context,
        signals=SIGNALS,
        titles=SIGNAL_TITLES,
        definitions=SIGNAL_DEFINITIONS,
        tables=tables,
        charts=charts,
        questions=questions,
        n_answers=len(frame),
        n_respondents=frame["respondent_id"].nunique() if "respondent_id" in frame else None,
        not_scored=int(tables.languages["not_scored"].sum()),
        dates=dates,
        findings=_findings(tables, len(frame), context),
        meta_fields=[m for m in meta_fields(frame) if m != tables.date_field],
        target_threshold=TARGET_THRESHOLD,
        any_labels=bool(tables.overall["labels"].sum()),
        min_labels=MIN_LABELS,
        wide={
            "by_question": _wide(tables.by_question, "question_id"),
            "by_target": _wide(tables.by_target, "target"),
            "over_time": _wide(tables.over_time, "period"),
            "meta": {
                name: _wide(part, "value") for name, part in tables.by_meta.groupby("field", sort=False)
            },
        },
        quotes={s: tables.quotes[tables.quotes["signal"] == s].to_dict("records") for s in SIGNALS},
        compare=None if tables.compare is None else tables.compare.to_dict("records"),
    )


def _jsonable(table: pd.DataFrame) -> list[dict[str, Any]]:
    records = json.loads(table.to_json(orient="records", force_ascii=False, double_precision=6))
    return list(records)


def build_report(
    frame: pd.DataFrame,
    output: str | Path,
    context: ReportContext,
    date_field: str | None = None,
    inputs: Sequence[Path] = (),
    other: pd.DataFrame | None = None,
) -> ReportFiles:
    """Write ``output`` (HTML), ``<stem>.json`` and ``<stem>-<table>.csv`` beside it; return the paths.

    With ``other`` (another wave, named ``context.compare``), the report compares the two: an HTML
    section, ``<stem>-compare.csv`` and the JSON key ``compare``. Refuses (``InputFileError``) an
    output that is a folder or whose files would overwrite one of ``inputs`` (the scored files the
    frames came from); missing folders are created.
    """
    output = Path(output)
    json_path = output.with_suffix(".json")
    names = [*ReportTables.NAMES, *(["compare"] if other is not None else [])]
    csv_paths = {name: output.with_name(f"{output.stem}-{name}.csv") for name in names}
    tables = compute_tables(frame, date_field, other)
    html = render_html(frame, tables, context)
    check_output(output, inputs, also=[json_path, *csv_paths.values()])
    with replacing(output) as tmp:
        tmp.write_text(html, encoding="utf-8")
    for name, table in tables.items():
        table.to_csv(csv_paths[name], index=False)
    if tables.compare is not None:
        tables.compare.to_csv(csv_paths["compare"], index=False)
    payload = {
        "survey": context.survey,
        "model": context.model,
        "source": context.source,
        "generated": context.generated,
        "answers": len(frame),
        "date_field": tables.date_field,
        "time_unit": tables.time_unit,
        "confidence": 0.95,
        "interval": "Wilson score",
        "corrected_interval": "prediction-powered inference (normal), from labels on a uniform random sample",
        "min_labels": MIN_LABELS,
        "tables": {name: _jsonable(table) for name, table in tables.items()},
    }
    if tables.compare is not None:
        payload["compare"] = {
            "with": context.compare,
            "source": context.compare_source,
            "answers": len(other) if other is not None else None,
            "interval": "Newcombe hybrid score (method 10) for the difference of the uncorrected shares",
            "corrected_interval": "difference of two independent prediction-powered estimates (normal)",
            "rows": _jsonable(tables.compare),
        }
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    csvs = list(csv_paths.values())
    log.info("wrote report %s (%d answers) with %d tables", output, len(frame), len(csvs))
    return ReportFiles(output, json_path, csvs)


def read_scored_file(path: str | Path) -> pd.DataFrame:
    """A scored survey file written by ``signals import --output`` (CSV or Parquet) as a report frame."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(
        path, dtype={"respondent_id": str, "question_id": str}, keep_default_na=False, na_values=[""]
    )


def frame_model(frame: pd.DataFrame) -> str:
    """The model named in a scored file's ``model`` column (``unknown`` when absent)."""
    if "model" in frame and frame["model"].notna().any():
        return ", ".join(sorted(frame["model"].dropna().astype(str).unique()))
    return "unknown"


def operating_point_note(frame: pd.DataFrame) -> str:
    """One sentence on which thresholds set the flags: the survey's own (``signals calibrate --source``)
    or the model's global ones, with answer counts when both occur; empty without the information."""
    if "operating_point" not in frame or not len(frame):
        return ""
    counts = frame["operating_point"].fillna("global").astype(str).value_counts()
    own = {k: int(v) for k, v in counts.items() if k.startswith("source:")}
    if not own:
        return "The flags use the model's global thresholds (no operating point of this survey's own)."
    parts = [f"{k.removeprefix('source:')!r} ({v} answers)" for k, v in sorted(own.items())]
    rest = int(counts.drop(list(own)).sum())
    tail = f"; {rest} answers scored before it was fitted use the global thresholds" if rest else ""
    return (
        "The flags use the operating point fitted to this survey from analysts' labels "
        f"(signals calibrate --source): {', '.join(parts)}{tail}."
    )


#: Analyst decisions as report values: confirmed 1, rejected 0, unsure 0.5 (reviewed, no verdict).
DECISION_VALUES = {"confirm": 1.0, "reject": 0.0, "unsure": 0.5}
#: Labels of the random sample for the corrected prevalence: "unsure" is no label there.
SAMPLE_VALUES = {"confirm": 1.0, "reject": 0.0}


def store_frame(survey: str, url: str | None = None) -> pd.DataFrame:
    """The report frame of one survey from the triage store: items plus their latest decisions.

    Raises ``LookupError`` when the store holds no item of that survey (the CLI lists the ones it has).
    """
    from signals.triage.store import ItemFilter, facets, in_sample, latest_decisions, query_items

    items = query_items(ItemFilter(source=survey), limit=None, url=url)
    if not items:
        known = ", ".join(facets(url=url).get("sources", [])) or "none"
        raise LookupError(f"no answers of survey {survey!r} in the store; surveys and sources there: {known}")
    items.sort(key=lambda it: it.id)  # import order, not queue order: tables list questions as asked
    decided = latest_decisions([it.id for it in items], url=url)
    # An answer decided in risk-ranked triage and drawn into the sample later is in the sample all the
    # same: the draw ignored the decision, so its latest decision is that answer's label.
    drawn = in_sample([it.id for it in items], url=url)
    rows = []
    for it in items:
        ctx = it.context
        row: dict[str, Any] = {
            "item_id": it.id,
            "survey": it.source,
            "respondent_id": ctx.get("respondent_id"),
            "question_id": it.question_id or ctx.get("question_id") or "(none)",
            "question_text": ctx.get("question_text") or it.question_id or "",
            "language": ctx.get("language", ctx.get("lang", "und")),
            "supported": bool(ctx.get("supported", True)),
            "text": it.text,
            "model": f"{it.model_name} (version {it.model_version})",
            "operating_point": it.operating_point,
        }
        row.update({f"meta.{k}": v for k, v in (ctx.get("meta") or {}).items()})
        for s in SIGNALS:
            row[f"p_{s}"] = it.scores.get(s)
            row[f"flag_{s}"] = int(bool(it.flags.get(s)))
            d = decided.get((it.id, s))
            row[f"decision_{s}"] = DECISION_VALUES.get(d.decision, math.nan) if d else math.nan
            sampled = d is not None and (d.sampled or it.id in drawn)
            row[f"sample_{s}"] = SAMPLE_VALUES.get(d.decision, math.nan) if d and sampled else math.nan
        row.update({f"target_{t}": it.targets.get(t) for t in TARGETS})
        rows.append(row)
    return pd.DataFrame(rows)
