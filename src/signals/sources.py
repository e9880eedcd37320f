"""Operating points per source: a survey's or forum's own ``review``/``flag`` thresholds and offset.

The global thresholds are chosen on the labelled corpora (``signals.calibration``). A community's own
language can sit elsewhere on the score scale: a city survey whose hostile answers are mild in wording
scores them lower than tweets, so the global ``flag`` misses them. Once analysts have labelled enough of
a source's answers in the triage store, ``calibrate_source`` fits, per signal and from those labels only:

* an **offset** ``c``: ``sigmoid(logit(p) + c)`` (``calibration.fit_offset``, maximum likelihood), so the
  source's probabilities match its observed rate. It is a shift on the logit, so the order of answers
  (and of the triage queue) never changes;
* ``review`` and ``flag`` on the shifted scores, by the same rules as the global ones
  (``calibration.choose_thresholds``: ``review`` the highest threshold keeping ``target_recall``,
  ``flag`` the lowest reaching ``target_precision``, else the best F1; ``flag >= review``).

Which labels count. Confirm is 1, reject 0, unsure and undecided are left out. Labels from the
risk-ranked queue are chosen *by score*: they over-represent high scores. A model of P(label | score)
(the offset) and a precision above a threshold (``flag``) are little affected by a choice made on the
score itself, so both use every label. Recall is not: positives the queue never showed are missing, so
a recall target on risk-ranked labels puts ``review`` too high. ``review`` is therefore fitted on the
**random-sample** labels only (``signals triage sample``); with fewer than ``MIN_CLASS`` positives and
negatives among them, the signal keeps the global ``review`` (carried through the offset, so the same
answers reach review).

A signal with fewer than ``min_labels`` labels, or fewer than ``MIN_CLASS`` of either class, keeps the
global thresholds and no offset. Before the final fit on all labels, the fit is repeated on a stratified,
seeded part of them and F1 at ``flag`` is measured on the part held back, for the global thresholds and
for the source's: that is the gain reported and stored.

The result is stored **beside the model**, in ``sources.json`` in the model directory (written
atomically; other sources' entries are kept). Each entry names the model ``name``/``version`` it was
fitted for; a scorer ignores, with a warning, an entry fitted for another version (its scores differ).
``Scorer.score(texts, source=NAME)`` applies a source's point; without an entry it uses the global one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signals.calibration import apply_offset, choose_thresholds, fit_offset
from signals.models import ModelInfo
from signals.schema import SIGNALS

log = logging.getLogger(__name__)

#: The file beside ``signals.json`` holding the per-source operating points.
SOURCES_FILE = "sources.json"
FILE_FORMAT = 1
#: Fewest positives and fewest negatives a signal needs (overall for the fit, in the random sample for
#: ``review``).
MIN_CLASS = 5
DEFAULT_MIN_LABELS = 30
DEFAULT_HOLDOUT = 0.3
DEFAULT_SEED = 13
GLOBAL = "global"


class SourceError(ValueError):
    """A per-source calibration that cannot run as asked (unknown source, no labels, unwritable model)."""


@dataclass(frozen=True)
class SourcePoint:
    """A source's operating point as the scorer applies it: thresholds and offset for every signal.

    Signals the source did not fit carry the global thresholds and a zero offset.
    """

    source: str
    review: dict[str, float]
    flag: dict[str, float]
    offset: dict[str, float]
    fitted: tuple[str, ...] = ()
    fitted_at: str = ""

    @property
    def label(self) -> str:
        """How answers name this operating point: ``source:NAME``."""
        return f"source:{self.source}"


# --- the file beside the model -------------------------------------------------------------------------


def read_sources_file(directory: str | Path) -> dict[str, Any]:
    """The raw contents of ``sources.json`` (an empty document when there is none).

    Raises ``SourceError`` when the file exists but is not a readable sources document.
    """
    path = Path(directory) / SOURCES_FILE
    if not path.is_file():
        return {"format": FILE_FORMAT, "sources": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise SourceError(f"{path} is not a sources file (no 'sources' object)")
    return data


def load_sources(directory: str | Path, info: ModelInfo) -> dict[str, SourcePoint]:
    """The operating points in ``directory/sources.json`` fitted for this model (name and version).

    An entry fitted for another model or version is ignored with a warning, as is an unreadable file:
    scoring then uses the global thresholds. No file: no points.
    """
    try:
        data = read_sources_file(directory)
    except SourceError as exc:
        log.warning("%s; per-source operating points ignored", exc)
        return {}
    out: dict[str, SourcePoint] = {}
    for name, entry in data["sources"].items():
        try:
            model = entry["model"]
            if (model["name"], str(model["version"])) != (info.name, str(info.version)):
                log.warning(
                    "operating point of source %r was fitted for %s %s, not %s %s: ignored "
                    "(run `signals calibrate --source %s` again)",
                    name, model["name"], model["version"], info.name, info.version, name,
                )  # fmt: skip
                continue
            out[name] = _point(name, entry, info)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("operating point of source %r in %s is malformed (%s): ignored", name, directory, exc)
    return out


def _point(name: str, entry: Mapping[str, Any], info: ModelInfo) -> SourcePoint:
    review = dict(info.thresholds["review"])
    flag = dict(info.thresholds["flag"])
    offset = {s: 0.0 for s in SIGNALS}
    fitted = []
    for s, fit in entry["signals"].items():
        if s in SIGNALS and fit.get("fitted"):
            review[s], flag[s], offset[s] = float(fit["review"]), float(fit["flag"]), float(fit["offset"])
            fitted.append(s)
    return SourcePoint(name, review, flag, offset, tuple(fitted), str(entry.get("fitted_at", "")))


def write_source_entry(directory: str | Path, source: str, entry: Mapping[str, Any]) -> Path:
    """Store one source's entry in ``directory/sources.json``, keeping every other entry.

    Written to a temporary file in the same directory and moved over the old one, so a reader never
    sees half a file and a failure leaves the old file as it was. Raises ``SourceError`` when the
    directory cannot be written or the existing file cannot be read (it is then left untouched).
    """
    directory = Path(directory)
    path = directory / SOURCES_FILE
    data = read_sources_file(directory)
    data["format"] = FILE_FORMAT
    data["sources"][source] = entry
    data["sources"] = dict(sorted(data["sources"].items()))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".sources-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SourceError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def check_writable(directory: str | Path) -> None:
    """``SourceError`` unless ``directory`` is a model directory this process may write into."""
    directory = Path(directory)
    if not (directory / "signals.json").is_file():
        raise SourceError(f"{directory} is not a signals model directory (no signals.json)")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SourceError(
            f"cannot write into the model directory {directory}: the source's operating points are stored "
            f"there ({SOURCES_FILE}); use a model directory you can write to"
        )


# --- fitting -------------------------------------------------------------------------------------------


@dataclass
class Labels:
    """One signal's labels on one source: ``y`` (1 confirm, 0 reject), global scores ``p``, and which
    labels came from the random audit sample (``sampled``)."""

    y: np.ndarray
    p: np.ndarray
    sampled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=int)
        self.p = np.asarray(self.p, dtype=float)
        self.sampled = (
            np.zeros(len(self.y), dtype=bool) if len(self.sampled) == 0 else np.asarray(self.sampled, bool)
        )

    def subset(self, index: np.ndarray) -> Labels:
        return Labels(self.y[index], self.p[index], self.sampled[index])

    def counts(self) -> dict[str, int]:
        return {
            "n": len(self.y),
            "positives": int(self.y.sum()),
            "negatives": int(len(self.y) - self.y.sum()),
            "random_sample": int(self.sampled.sum()),
        }


@dataclass(frozen=True)
class Targets:
    """The rules' targets (as in training: ``review`` recall, ``flag`` precision) and the fit settings."""

    recall: float = 0.90
    precision: float = 0.80
    min_labels: int = DEFAULT_MIN_LABELS
    holdout: float = DEFAULT_HOLDOUT
    seed: int = DEFAULT_SEED


def _fit(labels: Labels, global_review: float, targets: Targets) -> dict[str, Any]:
    """Offset and thresholds from these labels (rules in the module docstring)."""
    offset = fit_offset(labels.y, labels.p)
    q = apply_offset(labels.p, offset)
    flag = choose_thresholds(labels.y, q, targets.recall, targets.precision)["flag"]
    ys, qs = labels.y[labels.sampled], q[labels.sampled]
    if min(int(ys.sum()), int(len(ys) - ys.sum())) >= MIN_CLASS:
        review = choose_thresholds(ys, qs, targets.recall, targets.precision)["review"]
        review_from = "random sample"
    else:
        review = float(apply_offset(np.array([global_review]), offset)[0])
        review_from = GLOBAL
    return {"offset": offset, "review": review, "flag": max(flag, review), "review_from": review_from}


def _f1_counts(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn}


def held_back_gain(
    labels: Labels, global_review: float, global_flag: float, targets: Targets
) -> dict[str, Any] | None:
    """F1 at ``flag`` on a held-back part of the labels: global thresholds vs the source's fitted on the rest.

    The split is stratified by label and seeded (``targets.seed``); ``None`` when a part would lack a
    class (too few labels to hold any back) or ``targets.holdout`` is 0.
    """
    from sklearn.model_selection import train_test_split

    if targets.holdout <= 0:
        return None
    index = np.arange(len(labels.y))
    n_back = math.ceil(targets.holdout * len(index))
    pos = int(labels.y.sum())
    if n_back < 2 or len(index) - n_back < 2 or min(pos, len(index) - pos) < 2:
        return None
    fit_idx, back_idx = train_test_split(
        index, test_size=targets.holdout, stratify=labels.y, random_state=targets.seed
    )
    fit_part, back = labels.subset(fit_idx), labels.subset(back_idx)
    if fit_part.y.min() == fit_part.y.max() or back.y.sum() == 0:
        return None
    point = _fit(fit_part, global_review, targets)
    global_counts = _f1_counts(back.y, back.p >= global_flag)
    source_counts = _f1_counts(back.y, apply_offset(back.p, point["offset"]) >= point["flag"])
    return {
        "n": len(back.y),
        "positives": int(back.y.sum()),
        "fitted_on": len(fit_part.y),
        "f1_global": global_counts.pop("f1"),
        "f1_source": source_counts.pop("f1"),
        "global": global_counts,
        "source": source_counts,
    }


def fit_signal(labels: Labels, global_review: float, global_flag: float, targets: Targets) -> dict[str, Any]:
    """One signal's stored entry: fitted thresholds and offset with the held-back figures, or the
    reason it keeps the global thresholds (``fitted: false``).

    >>> rng = np.random.default_rng(0); p = rng.uniform(0.01, 0.6, 400)
    >>> y = (rng.uniform(size=400) < apply_offset(p, 2.0)).astype(int)
    >>> fit = fit_signal(Labels(y, p), 0.3, 0.7, Targets())
    >>> fit["fitted"], round(fit["offset"]), fit["held_back"]["f1_source"] > fit["held_back"]["f1_global"]
    (True, 2, True)
    """
    counts = labels.counts()
    entry: dict[str, Any] = {"labels": counts}
    if counts["n"] < targets.min_labels:
        return {**entry, "fitted": False, "reason": f"{counts['n']} labels, fewer than {targets.min_labels}"}
    if min(counts["positives"], counts["negatives"]) < MIN_CLASS:
        return {
            **entry,
            "fitted": False,
            "reason": f"{counts['positives']} confirmed and {counts['negatives']} rejected; "
            f"needs at least {MIN_CLASS} of each",
        }
    entry["held_back"] = held_back_gain(labels, global_review, global_flag, targets)
    point = _fit(labels, global_review, targets)
    return {
        **entry,
        "fitted": True,
        "offset": round(point["offset"], 6),
        "review": round(point["review"], 6),
        "flag": round(point["flag"], 6),
        "review_from": point["review_from"],
        "global": {"review": global_review, "flag": global_flag},
    }


def fit_source(
    labels: Mapping[str, Labels], info: ModelInfo, targets: Targets, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ``sources.json`` entry of one source from its labels per signal (signals without labels
    keep the global thresholds)."""
    signals: dict[str, Any] = {}
    for s in SIGNALS:
        found = labels.get(s) or Labels(np.zeros(0), np.zeros(0))
        signals[s] = fit_signal(found, info.thresholds["review"][s], info.thresholds["flag"][s], targets)
    return {
        "model": {"name": info.name, "version": info.version},
        "fitted_at": (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "targets": {"recall": targets.recall, "precision": targets.precision},
        "settings": {"min_labels": targets.min_labels, "holdout": targets.holdout, "seed": targets.seed},
        "signals": signals,
    }


# --- from the triage store -----------------------------------------------------------------------------


def source_labels(source: str, scorer: Any, *, url: str | None = None) -> dict[str, Labels]:
    """Each signal's labels on ``source`` from the triage store, with the scorer's *global* scores.

    The stored texts are scored again (the stored scores may come from another model, or already carry
    an earlier offset). Raises ``SourceError`` when the store has no item of the source or no
    confirm/reject decision on one.
    """
    from signals.triage.store import ItemFilter, facets, latest_decisions, query_items

    items = query_items(ItemFilter(source=source), limit=None, url=url)
    if not items:
        known = ", ".join(facets(url=url).get("sources", [])) or "none"
        raise SourceError(f"no items of source {source!r} in the triage store; sources there: {known}")
    decided = latest_decisions([it.id for it in items], url=url)
    values = {"confirm": 1, "reject": 0}
    pairs = [(item_id, s, d) for (item_id, s), d in decided.items() if d.decision in values]
    if not pairs:
        raise SourceError(
            f"no confirm/reject decisions on source {source!r}: label some of its answers first "
            "(the triage page, `signals triage sample`, `signals triage import-decisions`)"
        )
    texts = {it.id: it.text for it in items}
    ids = sorted({item_id for item_id, _, _ in pairs})
    scores = scorer.score([texts[i] for i in ids])
    p_of = {i: sc.scores for i, sc in zip(ids, scores, strict=True)}
    out: dict[str, Labels] = {}
    for s in SIGNALS:
        mine = sorted((i, d) for i, sig, d in pairs if sig == s)
        if mine:
            out[s] = Labels(
                np.array([values[d.decision] for _, d in mine]),
                np.array([p_of[i][s] for i, _ in mine]),
                np.array([d.sampled for _, d in mine], dtype=bool),
            )
    return out


@dataclass(frozen=True)
class SourceCalibration:
    """What ``calibrate_source`` did: the stored entry and where it went (``None``: nothing fitted)."""

    source: str
    entry: dict[str, Any]
    path: Path | None


def calibrate_source(
    model_dir: str | Path,
    source: str,
    targets: Targets = Targets(),
    *,
    url: str | None = None,
    scorer: Any = None,
) -> SourceCalibration:
    """Fit ``source``'s operating point from its labels and store it beside the model.

    Nothing is written when no signal has enough labels. Raises ``SourceError`` (unknown source, no
    labels, a model directory that cannot be written) before any fitting.
    """
    from signals.scoring import load_scorer

    if not 0 <= targets.holdout < 1:
        raise SourceError(f"--holdout must be at least 0 and below 1, got {targets.holdout}")
    if targets.min_labels < 2 * MIN_CLASS:
        raise SourceError(f"--min-labels must be at least {2 * MIN_CLASS}, got {targets.min_labels}")
    check_writable(model_dir)
    read_sources_file(model_dir)  # an unreadable file stops here, before any work, and is kept
    scorer = scorer if scorer is not None else load_scorer(model_dir)
    labels = source_labels(source, scorer, url=url)
    entry = fit_source(labels, scorer.info, targets)
    if not any(fit["fitted"] for fit in entry["signals"].values()):
        return SourceCalibration(source, entry, None)
    path = write_source_entry(model_dir, source, entry)
    log.info("stored the operating point of source %s in %s", source, path)
    return SourceCalibration(source, entry, path)


def gains(entry: Mapping[str, Any]) -> Sequence[tuple[str, dict[str, Any]]]:
    """``(signal, fit)`` pairs of an entry, in ``SIGNALS`` order (for tables)."""
    return [(s, entry["signals"][s]) for s in SIGNALS if s in entry["signals"]]
