"""``signals score`` speed on realistic comment lengths, by length bucket, and where the time goes.

``python -m bench realistic``. The scorer benchmark (``bench/scorer.py``) samples the validation split,
mostly short tweets; real survey answers and forum comments are longer. Texts here are the English
comments of the shared corpora (``SIGNALS_CORPORA_DIR``, default ../shared/data) and the English Polis
comments, drawn in four length buckets (characters): under 100, 100-299, 300-599 and 600-2,000, and a
mix of all four. For each the shipped model is timed end to end through ``Scorer.score`` in calls of
``CALL`` texts (as ``signals score`` does with its chunks): each text its own ONNX session run (the
default), and, for comparison, ``GROUPED`` length-sorted texts per run. Grouping is not the default: the
int8 graph quantises its activations per run, so a grouped text's score depends on its neighbours (up to
0.11 in raw probability on 300 realistic comments, 2026-12-02), and a text must score the same alone and
in a batch.

The profile column is the share of the scorer's time spent inside the ONNX model (tokenising and the
session runs); the rest is normalisation, sentence splitting of long texts, calibration and building
the answers. Results replace the ``realistic`` block of docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench._common import machine, section_name, write_section

THREADS = 2
CALL = 256
GROUPED = 4
PER_BUCKET = 300
BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("< 100 chars", 0, 100),
    ("100-299", 100, 300),
    ("300-599", 300, 600),
    ("600-2,000", 600, 2001),
)
REPEATS = 3

log = logging.getLogger("bench.realistic")


def comment_pool() -> tuple[list[str], str]:
    """Every English comment of the shared corpora and the English Polis comments (deduplicated)."""
    from signals.corpora import CorpusError, corpora_dir, iter_records
    from signals.corpora.polis_opendata import read_comments

    folder = corpora_dir()
    texts: list[str] = []
    try:
        texts += [r.text for r in iter_records(folder, ("en",))]
    except (CorpusError, OSError) as exc:
        log.warning("cannot read the corpora in %s: %s", folder, exc)
    try:
        texts += [r.text for r in read_comments(folder)]
    except (CorpusError, OSError) as exc:
        log.warning("cannot read the Polis comments in %s: %s", folder, exc)
    unique = sorted({t.strip() for t in texts if t and t.strip()})
    return unique, f"English comments of the corpora and Polis conversations in {folder}"


def bucketed(pool: list[str], seed: int = 7) -> dict[str, list[str]]:
    """Up to ``PER_BUCKET`` texts per length bucket, and their union as ``mix``."""
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for name, low, high in BUCKETS:
        members = [t for t in pool if low <= len(t) < high]
        out[name] = rng.sample(members, min(PER_BUCKET, len(members)))
    mix = [t for name, _, _ in BUCKETS for t in out[name]]
    rng.shuffle(mix)
    out["mix of the four"] = mix
    return out


class _ModelClock:
    """Wraps a model's ``predict_proba`` and adds up the seconds spent inside it."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.inner = model.predict_proba
        self.seconds = 0.0

    def __call__(self, texts: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.inner(texts)
        finally:
            self.seconds += time.perf_counter() - started


def measure(scorer: Any, texts: list[str], batch_size: int) -> tuple[float, float]:
    """(texts/s, share of the time inside the model): medians of ``REPEATS`` timed passes."""
    scorer.model.batch_size = batch_size
    clock = _ModelClock(scorer.model)
    scorer.model.predict_proba = clock
    try:
        scorer.score(texts[:32])
        rates, shares = [], []
        for _ in range(REPEATS):
            clock.seconds = 0.0
            started = time.perf_counter()
            for k in range(0, len(texts), CALL):
                scorer.score(texts[k : k + CALL])
            took = time.perf_counter() - started
            rates.append(len(texts) / took)
            shares.append(clock.seconds / took)
    finally:
        scorer.model.predict_proba = clock.inner
    return float(np.median(rates)), float(np.median(shares))


def main() -> None:
    from signals.scoring import DEFAULT_MODEL_DIR, load_scorer

    if not (DEFAULT_MODEL_DIR / "model.onnx").is_file():
        log.warning("no ONNX model in %s; skipping the realistic-length benchmark", DEFAULT_MODEL_DIR)
        return
    os.environ["SIGNALS_ONNX_THREADS"] = str(THREADS)
    pool, source = comment_pool()
    if not pool:
        log.warning("no corpora found; skipping the realistic-length benchmark")
        return
    buckets = bucketed(pool)
    scorer = load_scorer(DEFAULT_MODEL_DIR)
    default_batch = scorer.model.batch_size
    if default_batch != 1:
        raise SystemExit(f"the scorer groups {default_batch} texts per run; this benchmark expects 1")
    load_before = os.getloadavg()[0]
    rows = []
    for name, texts in buckets.items():
        if not texts:
            rows.append(f"| {name} | 0 | | | | |")
            continue
        chars = float(np.mean([len(t) for t in texts]))
        rate, share = measure(scorer, texts, 1)
        grouped, _ = measure(scorer, texts, GROUPED)
        rows.append(f"| {name} | {len(texts)} | {chars:.0f} | **{rate:.0f}** | {share:.0%} | {grouped:.0f} |")
        log.info("%s: %.0f texts/s (%.0f grouped by %d)", name, rate, grouped, GROUPED)
    scorer.model.batch_size = default_batch
    load_after = os.getloadavg()[0]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join(rows)
    body = f"""## `signals score` on realistic comment lengths (`bench/realistic.py`)

Measured {when} on {machine()}; onnxruntime limited to {THREADS} threads (1-minute load average
{load_before:.1f} before, {load_after:.1f} after). Texts: {source}, up to {PER_BUCKET} per length
bucket (seeded). The shipped model (`models/default`) through `Scorer.score` in calls of {CALL} texts,
end to end (normalise, sentence windows for texts over the model's window, ONNX, calibrate, decide);
each rate is the median of {REPEATS} passes, every text its own session run (the default). "In the
model": share of that time inside the ONNX model (tokenising and session runs). "Grouped": {GROUPED}
length-sorted texts per session run instead, for comparison only (a grouped text's score depends on its
neighbours, see the module docstring).

| texts | n | mean chars | texts/s | in the model | texts/s grouped by {GROUPED} |
|---|---|---|---|---|---|
{table}

Target: >= 500 texts/s on realistic lengths on 2 cores.
"""
    write_section(section_name("realistic"), body)
    log.info("realistic-length benchmark written to docs/benchmarks.md")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
