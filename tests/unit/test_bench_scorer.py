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


def test_realistic_buckets_hold_their_lengths_and_the_mix_holds_them_all() -> None:
    from bench import realistic

    pool = [("x" * n) + str(n) for n in range(1, 2500, 3)]
    buckets = realistic.bucketed(pool)
    assert list(buckets) == [name for name, _, _ in realistic.BUCKETS] + ["mix of the four"]
    for name, low, high in realistic.BUCKETS:
        assert buckets[name], name
        assert all(low <= len(t) < high for t in buckets[name]), name
    assert sorted(buckets["mix of the four"]) == sorted(
        t for name, _, _ in realistic.BUCKETS for t in buckets[name]
    )
    assert realistic.bucketed(pool) == buckets  # seeded


def test_realistic_measure_times_the_model_share(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import realistic

    clock = _Clock()
    monkeypatch.setattr(realistic.time, "perf_counter", clock)

    class FakeModel:
        batch_size = 1

        def predict_proba(self, texts: list[str]) -> Any:
            clock.now += 3.0 * len(texts)  # 3 s per text inside the model

    class FakeScorer:
        def __init__(self) -> None:
            self.model = FakeModel()

        def score(self, texts: list[str]) -> None:
            clock.now += 1.0 * len(texts)  # 1 s per text outside it
            self.model.predict_proba(texts)

    scorer = FakeScorer()
    rate, share = realistic.measure(scorer, [f"t{i}" for i in range(40)], batch_size=4)
    assert rate == pytest.approx(0.25)
    assert share == pytest.approx(0.75)
    assert scorer.model.batch_size == 4
    assert not isinstance(scorer.model.predict_proba, realistic._ModelClock)  # unwrapped afterwards
