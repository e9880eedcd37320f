"""The scorer benchmark's paired speed-up: rounds alternate the models and divide like for like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench import scorer as bench_scorer


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_paired_speedup_alternates_and_divides_base_by_student(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, calls = _Clock(), []
    cost = {"student": 1.0, "base": 12.0}  # seconds per batch of 32

    class FakeModel:
        def __init__(self, name: str) -> None:
            self.name = name

        def predict_proba(self, texts: list[str]) -> Any:
            calls.append(self.name)
            clock.now += cost[self.name]

    def load(directory: Path, threads: int = 0) -> FakeModel:
        return FakeModel(Path(directory).name)

    monkeypatch.setattr("signals.models.onnx.OnnxModel.load", load)
    monkeypatch.setattr(bench_scorer.time, "perf_counter", clock)
    texts = [f"text {i}" for i in range(64)]  # two batches of 32 per pass
    ratios = bench_scorer.paired_speedup(Path("student"), Path("base"), texts)
    assert ratios == [12.0] * bench_scorer.PAIRED_REPEATS
    passes = [calls[k] for k in range(2, len(calls), 2)]  # after the two warm-up calls, one name per pass
    # each model: an untimed pass, then the timed one; the order flips every round
    assert passes[:8] == ["student"] * 2 + ["base"] * 4 + ["student"] * 2
