"""The batcher: each request gets its own results, waiting requests share calls, errors reach callers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest
from serve.batcher import Batcher

from keyword_model import KeywordModel
from signals.models import ModelInfo
from signals.scoring import Scorer


class CountingModel(KeywordModel):
    """The keyword model, slowed down and counting its calls (and any overlap between them)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.running = 0
        self.overlapped = False
        self.lock = threading.Lock()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.running += 1
            self.overlapped |= self.running > 1
        time.sleep(0.02)
        self.calls.append(len(texts))
        with self.lock:
            self.running -= 1
        return super().predict_proba(texts)


class BrokenModel(KeywordModel):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("model exploded")


def scorer_of(model: KeywordModel) -> Scorer:
    return Scorer(model, ModelInfo(name="m", version="1", format="fake"))


def test_concurrent_requests_get_their_own_results_and_share_calls() -> None:
    model = CountingModel()
    scorer = scorer_of(model)
    batcher = Batcher(max_items=64)
    texts = [[f"text {i} idiot" if i % 2 else f"text {i} fine", f"second {i}"] for i in range(20)]

    async def run() -> list[list[float]]:
        results = await asyncio.gather(*(batcher.score(scorer, t) for t in texts))
        await batcher.close()
        return [[r.scores["offensive"] for r in res] for res in results]

    offensive = asyncio.run(run())
    assert offensive == [[0.9 if i % 2 else 0.05, 0.05] for i in range(20)]
    assert sum(model.calls) == 40  # every text scored exactly once (no spans: no extra windows)
    assert len(model.calls) < 20  # requests that waited were pooled
    assert not model.overlapped


def test_spans_and_plain_requests_are_scored_apart() -> None:
    scorer = scorer_of(KeywordModel())
    batcher = Batcher()

    async def run() -> tuple[int, int]:
        plain, spanned = await asyncio.gather(
            batcher.score(scorer, ["One. Two idiot."]), batcher.score(scorer, ["One. Two idiot."], spans=True)
        )
        await batcher.close()
        return len(plain[0].spans), len(spanned[0].spans)

    assert asyncio.run(run()) == (0, 1)


def test_model_errors_reach_every_waiting_caller_and_the_worker_survives() -> None:
    batcher = Batcher()
    good = scorer_of(KeywordModel())

    async def run() -> float:
        results = await asyncio.gather(
            batcher.score(scorer_of(BrokenModel()), ["a"]),
            batcher.score(scorer_of(BrokenModel()), ["b"]),
            return_exceptions=True,
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        after = await batcher.score(good, ["you idiot"])
        await batcher.close()
        return after[0].scores["offensive"]

    assert asyncio.run(run()) == pytest.approx(0.9)


def test_batcher_works_again_after_close() -> None:
    """An app's lifespan may run more than once (test clients); a closed batcher starts afresh."""
    batcher = Batcher()
    scorer = scorer_of(KeywordModel())

    async def run() -> int:
        first = await batcher.score(scorer, ["a"])
        await batcher.close()
        second = await batcher.score(scorer, ["b", "c"])
        await batcher.close()
        return len(first) + len(second)

    assert asyncio.run(run()) == 3
    assert asyncio.run(run()) == 3  # and on a new event loop too
