"""Spark scale-out vs the single-process CLI: rows per second on a large synthetic file.

The file mimics forum comments: lengths drawn from a log-normal (median about 130 characters, a long
tail past 2,000, the shape comment lengths usually have), texts assembled from neutral, heated and
(a few) hostile sentences, so the scorer's sentence windows for long texts are exercised as in a real
backfill. The same file is scored three ways with the same model:

1. ``signals.batch.score_csv`` in this process (what ``signals score`` runs);
2. ``signals.spark.score_spark`` on ``local[*]`` from a cold start (JVM, workers, model load included);
3. the same again on the now warm session (what each further job on a running cluster pays);
4. the single-process path again, because on a shared machine the load drifts: "vs CLI" compares with
   the mean of runs 1 and 4.

Results go to stdout and are appended to docs/benchmarks.md with the machine and the date.

    python -m bench.spark --rows 20000 --model models/default   # default 5,000 rows (SIGNALS_BENCH_ROWS)
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._common import machine

log = logging.getLogger("bench.spark")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Spark scale-out vs single-process scoring (bench/spark.py)"
START, END = "<!-- spark:start -->", "<!-- spark:end -->"

_NEUTRAL = [
    "The bus service on the east side has been late every morning this week.",
    "I think the council should publish the budget for the new library earlier.",
    "Our street has had three burst pipes since January and nobody has come to fix them.",
    "The park clean-up last Saturday was great, thanks to everyone who came.",
    "Can someone explain why the recycling collection moved to Thursdays?",
    "Parking near the school is a nightmare at pick-up time.",
    "I moved here ten years ago and the neighbourhood has changed a lot.",
    "The farmers market should stay open later in the summer.",
    "My kids love the new playground, but it needs more shade.",
    "Please add a crossing near the clinic, it is dangerous for older people.",
]
_HEATED = [
    "The mayor is completely useless and should resign.",
    "Whoever designed this junction is an idiot.",
    "This damn council never listens to anyone outside the centre.",
    "The other party's voters are ruining everything for the rest of us.",
    "Those people on the forum are always whining about something.",
]
_HOSTILE = [
    "Immigrants like them are vermin and should be thrown out.",
    "Someone should shoot the next protester who blocks the road.",
    "All of them are traitors and deserve what is coming.",
    "People like you should stay at home and keep quiet, you subhuman.",
]


def synthetic_comments(n: int, seed: int = 7) -> list[str]:
    """``n`` comments with realistic lengths (log-normal, median ~130 chars, clipped to 10..6000)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=np.log(130), sigma=0.9, size=n), 10, 6000).astype(int)
    pools = [_NEUTRAL, _HEATED, _HOSTILE]
    out = []
    for target in lengths:
        parts: list[str] = []
        size = 0
        while size < target:
            pool = pools[rng.choice(3, p=[0.85, 0.12, 0.03])]
            sentence = pool[rng.integers(len(pool))]
            parts.append(sentence)
            size += len(sentence) + 1
        text = " ".join(parts)
        out.append(text[: max(target, len(parts[0]))])
    return out


def _append(lines: list[str]) -> None:
    """Add a run to this benchmark's block of docs/benchmarks.md (between its own markers).

    Other benchmarks rewrite their own marked blocks; keeping ours marked too means no run of theirs
    swallows our history, and ours keeps every earlier run (one per machine and date).
    """
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    run = "\n".join(lines).strip("\n") + "\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        body, tail = rest.split(END, 1)
        text = head + START + body.rstrip("\n") + "\n\n" + run + END + tail
    else:
        intro = (
            "Same synthetic file (log-normal comment lengths) and model, scored by `signals score` (one "
            "process) and `signals score-spark` on `local[*]`; *cold* includes the JVM, worker start and "
            "model load, *warm* is a second job on the running session. Rows/s = rows / wall time.\n"
        )
        text = text.rstrip("\n") + f"\n\n{START}\n{SECTION}\n\n{intro}\n{run}{END}\n"
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; returns the measured rows/s (also printed and appended to docs)."""
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("SIGNALS_BENCH_ROWS", 5_000)))
    parser.add_argument("--model", default=os.environ.get("SIGNALS_BENCH_MODEL"), help="[champion/default]")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--no-record", action="store_true", help="Do not append to docs/benchmarks.md")
    args = parser.parse_args(argv if argv is not None else [])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "mlflow", "signals.batch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from signals.batch import score_csv
    from signals.scoring import load_scorer
    from signals.spark import score_spark, spark_session

    scorer = load_scorer(args.model)
    texts = synthetic_comments(args.rows)
    lengths = np.array([len(t) for t in texts])
    workdir = Path(tempfile.mkdtemp(prefix="signals-bench-spark-"))
    try:
        src = workdir / "comments.csv"
        pd.DataFrame({"id": np.arange(len(texts)), "text": texts}).to_csv(src, index=False)
        log.info(
            "%d rows, %.1f MB; length median %d, p90 %d, max %d chars",
            len(texts), src.stat().st_size / 1e6, np.median(lengths), np.percentile(lengths, 90),
            lengths.max(),
        )  # fmt: skip

        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        score_csv(src, workdir / "cli.csv", scorer)
        cli_s = time.perf_counter() - started
        log.info("single process: %.1fs, %.0f rows/s", cli_s, len(texts) / cli_s)

        model = args.model  # None: score_spark resolves the champion / models/default like load_scorer
        cold = score_spark(str(src), str(workdir / "spark1"), master=args.master, model=model)
        log.info("spark cold: %.1fs, %.0f rows/s", cold.seconds, cold.rows / cold.seconds)
        warm = score_spark(str(src), str(workdir / "spark2"), master=args.master, model=model)
        log.info("spark warm: %.1fs, %.0f rows/s", warm.seconds, warm.rows / warm.seconds)
        parallelism = spark_session(args.master).sparkContext.defaultParallelism
        spark_session(args.master).stop()
        # The CLI again: on a shared machine the load drifts, so bracket the Spark runs with two CLI runs.
        started = time.perf_counter()
        score_csv(src, workdir / "cli2.csv", scorer)
        cli2_s = time.perf_counter() - started
        log.info("single process again: %.1fs, %.0f rows/s", cli2_s, len(texts) / cli2_s)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    figures = {
        "cli_rows_s": 2 * len(texts) / (cli_s + cli2_s),
        "spark_cold_rows_s": cold.rows / cold.seconds,
        "spark_warm_rows_s": warm.rows / warm.seconds,
    }
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### {stamp}: {machine()}",
        "",
        f"Model {scorer.name} {scorer.version} ({scorer.info.format}); {len(texts):,} rows, median "
        f"{int(np.median(lengths))} chars (p90 {int(np.percentile(lengths, 90))}, max {lengths.max()}); "
        f"Spark {args.master} = {parallelism} cores. Load average {load_before:.1f} before, "
        f"{load_after:.1f} after (other jobs on the machine).",
        "",
        "| run | seconds | rows/s | vs CLI |",
        "| --- | ---: | ---: | ---: |",
        f"| `signals score` (1 process), before Spark | {cli_s:.1f} | {len(texts) / cli_s:,.0f} | |",
        f"| `signals score` (1 process), after Spark | {cli2_s:.1f} | {len(texts) / cli2_s:,.0f} | |",
        f"| `signals score`, mean of both | | {figures['cli_rows_s']:,.0f} | 1.00x |",
        f"| `score-spark` cold | {cold.seconds:.1f} | {figures['spark_cold_rows_s']:,.0f} | "
        f"{figures['spark_cold_rows_s'] / figures['cli_rows_s']:.2f}x |",
        f"| `score-spark` warm | {warm.seconds:.1f} | {figures['spark_warm_rows_s']:,.0f} | "
        f"{figures['spark_warm_rows_s'] / figures['cli_rows_s']:.2f}x |",
    ]
    print("\n".join(lines))
    if not args.no_record:
        _append(lines)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
