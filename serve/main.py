"""The FastAPI app: ``create_app(settings)`` builds one, ``app`` is the one ``signals serve`` runs.

The model is loaded once, in the lifespan (never at import), through ``signals.scoring.load_scorer``:
``SIGNALS_MODEL`` if set, else the registry champion, else the shipped ``models/default``. The ONNX
model family needs only onnxruntime and tokenizers, so the server process never imports torch.
Database migrations (API keys, feedback, and every other feature branch) run at start-up too. With
several workers or hosts on one database, a worker serves the model last announced by ``/admin/reload``
(``signals.fleet``) and checks every ``SIGNALS_RELOAD_POLL_SECONDS`` for a newer one.

Tests build their own app with a fake model::

    app = create_app(Settings(database_url=...), loader=lambda uri: Scorer(FakeModel(), info))

A new feature adds its routes with one ``app.include_router`` line below.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serve.batcher import Batcher
from serve.deps import KeyGate, ModelHolder
from serve.errors import install_error_handlers
from serve.metrics import Metrics
from serve.middleware import BodyGuard, Observe
from serve.ratelimit import RateLimiter
from serve.routes import admin, health, perspective, score, submissions, triage
from serve.settings import Settings, get_settings
from signals.scoring import KEEP_TORCH_OUT, Scorer, keep_torch_out

log = logging.getLogger(__name__)

Loader = Callable[[str | None], Scorer]

# The scorer itself imports spaCy with torch blocked (``signals.scoring.blocked_imports``); with
# SIGNALS_KEEP_TORCH_OUT=1 (set by ``signals serve``) the whole server process refuses torch as well.
if os.environ.get(KEEP_TORCH_OUT) == "1":
    keep_torch_out()


def default_loader(settings: Settings) -> Loader:
    """Load ``uri``, else ``SIGNALS_MODEL``, else ``load_scorer``'s default (champion / models/default).

    An explicit ``uri`` comes from ``/admin/reload``: only a registry URI or a directory under the
    model roots is loaded (``signals.registry.reload_target``), since loading a pickled model runs code.
    """
    from signals.registry import model_roots, reload_target

    roots = model_roots(settings.model_roots)

    def load(uri: str | None) -> Scorer:
        from signals.scoring import load_scorer

        target = reload_target(uri, roots) if uri is not None else settings.model
        return load_scorer(target, window_chars=settings.window_chars)

    return load


async def _follow_reloads(holder: ModelHolder, poll_seconds: float, metrics: Metrics) -> None:
    """Every ``poll_seconds``: load a model another worker announced, and report what this one serves."""
    while True:
        await asyncio.sleep(poll_seconds)
        try:
            if await holder.follow() and holder.scorer is not None and holder.error is None:
                metrics.reloads.labels("followed").inc()
                metrics.set_model(holder.scorer.name, holder.scorer.version)
        except Exception as exc:  # the database is away: keep serving, try again next time
            log.warning("could not check for reloads: %r", exc)


def create_app(settings: Settings | None = None, loader: Loader | None = None) -> FastAPI:
    """Build the app; ``loader(uri)`` returns a ``Scorer`` (default: ``default_loader``)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from signals.db import migrate

        await run_in_threadpool(migrate, settings.database_url)
        holder: ModelHolder = app.state.models
        scorer = await holder.start()
        metrics.set_model(scorer.name, scorer.version)
        log.info("serving model %s version %s", scorer.name, scorer.version)
        follower = asyncio.create_task(_follow_reloads(holder, settings.reload_poll_seconds, metrics))
        # Start-up objects (model, spaCy, FastAPI) live as long as the process: moved out of the
        # collector's view, a collection during a request walks only what requests allocate.
        gc.collect()
        gc.freeze()
        yield
        follower.cancel()
        await app.state.batcher.close()

    app = FastAPI(
        title="signals",
        version="1",
        summary="Hate and polarization signals in forum comments and survey answers.",
        description="Score texts (`/v1/score`), or call the Perspective-compatible "
        "`/v1alpha1/comments:analyze`. Send a key as `Authorization: Bearer <key>` or `X-API-Key`.",
        lifespan=lifespan,
        # The schema stays at /openapi.json; no /docs or /redoc: those pages load Swagger UI / ReDoc
        # from a CDN, unpinned and without an integrity check, on the same origin as /triage.
        docs_url=None,
        redoc_url=None,
        # A body without Content-Type is read as JSON (curl users forget it); a form or text body still
        # answers 422 asking for JSON, so browsers cannot post to the API cross-site.
        strict_content_type=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.models = ModelHolder(loader or default_loader(settings), settings.database_url)
    app.state.limiter = RateLimiter(settings.limits_url)
    app.state.keys = KeyGate(settings, app.state.limiter)
    app.state.batcher = Batcher(max_items=settings.batch_items)
    install_error_handlers(app)

    app.include_router(health.router)
    app.include_router(score.router)
    app.include_router(perspective.router)
    app.include_router(admin.router)
    app.include_router(submissions.router)
    app.include_router(triage.router)

    # Added last = outermost: Observe also counts what BodyGuard refuses.
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe, metrics=metrics)
    return app


app = create_app()
