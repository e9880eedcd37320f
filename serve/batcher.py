"""Opportunistic batching: concurrent requests share one model call, and model calls never overlap.

Every scoring route hands its texts to ``Batcher.score``. One worker task takes the first waiting
request and everything queued behind it (up to ``max_items`` texts), scores them in one call on a
dedicated thread, and hands each request its slice. An idle server therefore adds no waiting (a lone
request is scored at once), while under load the requests that piled up during one model call go
together into the next, which costs less per comment than one call each. Running one call at a time
also keeps the model's worker threads (one per core) from fighting other calls for the same cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from signals.schema import Score
from signals.scoring import Scorer

log = logging.getLogger(__name__)


@dataclass
class _Job:
    scorer: Scorer
    texts: list[str]
    spans: bool
    language: str | None
    future: asyncio.Future[list[Score]]
    source: str | None = None


class Batcher:
    """Queue of scoring jobs served by one worker task and one model thread (see module docstring)."""

    def __init__(self, max_items: int = 64) -> None:
        self.max_items = max_items
        self._executor: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_worker(self) -> asyncio.Queue[_Job]:
        loop = asyncio.get_running_loop()
        # A new loop (tests run one per client) or a dead worker: start afresh on this loop.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signals-scorer")
        if self._queue is None or self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._work(self._queue), name="signals-batcher")
        return self._queue

    async def score(
        self,
        scorer: Scorer,
        texts: list[str],
        spans: bool = False,
        language: str | None = None,
        source: str | None = None,
    ) -> list[Score]:
        """Score ``texts`` with ``scorer`` (in ``language``, else detected; ``source``'s operating point),
        batched with what waits."""
        if not texts:
            return []
        future: asyncio.Future[list[Score]] = asyncio.get_running_loop().create_future()
        self._ensure_worker().put_nowait(_Job(scorer, list(texts), spans, language, future, source))
        return await future

    async def _work(self, queue: asyncio.Queue[_Job]) -> None:
        loop = asyncio.get_running_loop()
        executor = self._executor
        while True:
            jobs = [await queue.get()]
            size = len(jobs[0].texts)
            while size < self.max_items and not queue.empty():
                job = queue.get_nowait()
                jobs.append(job)
                size += len(job.texts)
            # One call per (model, spans, source): a reload mid-queue never mixes two models in one
            # call, and each source keeps its own operating point.
            groups: dict[tuple[int, bool, str | None], list[_Job]] = defaultdict(list)
            for job in jobs:
                if not job.future.done():  # the client may have gone away
                    groups[(id(job.scorer), job.spans, job.source)].append(job)
            for (_, spans, source), group in groups.items():
                texts = [t for job in group for t in job.texts]
                languages = [job.language for job in group for _ in job.texts]
                try:
                    scores = await loop.run_in_executor(
                        executor, group[0].scorer.score, texts, spans, languages, source
                    )
                except Exception as exc:  # every waiting request gets the error, the worker lives on
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                start = 0
                for job in group:
                    end = start + len(job.texts)
                    if not job.future.done():
                        job.future.set_result(scores[start:end])
                    start = end

    async def close(self) -> None:
        """Stop the worker and its thread (app shutdown); a later request starts them again."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._task
        self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
