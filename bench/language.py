"""What language routing costs English scoring: ``python -m bench language``.

The shipped scorer scores the same English sample (``bench.scorer.sample_texts``: real validation
texts, the longest tenth included) at batch 32 in two ways, alternating in paired rounds so load that
comes and goes hits both alike: with every text's language given (``languages="en"``: no
identification, the cost before routing) and with each language detected (``signals.language``, what
every caller now gets). Also timed alone: ``detect_many`` at the same batch (what ``Scorer.score``
calls) and ``detect`` one text at a time. Target (issue 17): routing adds at most
10 % to English scoring time. Results replace the ``language`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import statistics
import time
from datetime import UTC, datetime

from bench._common import machine, section_name, write_section
from bench.scorer import sample_texts

ROUNDS = 11
BATCH = 32

log = logging.getLogger("bench.language")


def main() -> None:
    from signals.language import detect, detect_many
    from signals.scoring import load_scorer

    texts, source = sample_texts()
    scorer = load_scorer()
    scorer.score(texts[:BATCH])

    def seconds(language: str | None) -> float:
        started = time.perf_counter()
        for k in range(0, len(texts), BATCH):
            scorer.score(texts[k : k + BATCH], languages=language)
        return time.perf_counter() - started

    ratios, given_s, routed_s = [], [], []
    for r in range(ROUNDS):
        took = {}
        for language in ("en", None) if r % 2 == 0 else (None, "en"):
            took[language] = seconds(language)
        given_s.append(took["en"])
        routed_s.append(took[None])
        ratios.append(took[None] / took["en"])
    started = time.perf_counter()
    found = [d for k in range(0, len(texts), BATCH) for d in detect_many(texts[k : k + BATCH])]
    batch_us = (time.perf_counter() - started) / len(texts) * 1e6
    started = time.perf_counter()
    for t in texts:
        detect(t)
    detect_us = (time.perf_counter() - started) / len(texts) * 1e6
    english = sum(d.language == "en" for d in found) / len(found)
    overhead = statistics.median(ratios) - 1
    share = batch_us * 1e-6 * len(texts) / statistics.median(given_s)
    rounds = ", ".join(f"{x - 1:+.1%}" for x in ratios)
    body = f"""## Language routing (`bench/language.py`)

{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; {len(texts)} texts from {source}, batch {BATCH},
model {scorer.name} {scorer.version}, {ROUNDS} paired rounds.

| | value |
| --- | ---: |
| scoring, language given (s per sample, median) | {statistics.median(given_s):.3f} |
| scoring, language detected (s per sample, median) | {statistics.median(routed_s):.3f} |
| routing overhead (median of paired ratios) | {overhead:+.1%} (rounds: {rounds}) |
| `detect_many` alone at batch {BATCH}, µs per text | {batch_us:.0f} |
| `detect` alone, one text at a time, µs per text | {detect_us:.0f} |
| `detect_many` over scoring time (language given), the steadier view of the overhead | {share:+.1%} |
| sample texts tagged English | {english:.2%} |

Target: overhead ≤ 10 %. {"Met." if max(overhead, share) <= 0.10 else "NOT met."} (The paired rounds of a
2-core machine swing by tens of percent; the median and the detection time alone should agree.)
"""
    write_section(section_name("language"), body)
    log.info("routing overhead %+.1f%%, detect_many %.0f us/text", 100 * overhead, batch_us)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
