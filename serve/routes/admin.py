"""Operations that need the ``admin`` scope: model reload (every worker), the workers, Prometheus metrics.

``POST /admin/reload`` loads the model in the worker that received it, announces it to every worker
sharing the database (``signals.fleet``), and waits up to ``RELOAD_WAIT_SECONDS`` for the live
workers to serve it: the answer lists each worker and says whether all of them follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from serve.deps import CheckedRoute, ModelHolder, Principal, require_metrics_access, require_scope
from serve.errors import APIError
from serve.routes.score import CleanStr
from signals.fleet import live_workers
from signals.registry import ModelNotAllowedError

log = logging.getLogger(__name__)
router = APIRouter(tags=["admin"], route_class=CheckedRoute)

#: How long ``/admin/reload`` waits for the other workers to load the new model before answering.
RELOAD_WAIT_SECONDS = 60.0


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: CleanStr | None = Field(
        None,
        description="`models:/NAME@ALIAS`, `runs:/RUN/model`, or a model directory under the model roots "
        "(SIGNALS_MODEL_ROOTS); default: SIGNALS_MODEL, else registry champion, else models/default.",
    )


@router.post(
    "/admin/reload",
    responses={
        401: {"description": "Missing or invalid key"},
        403: {"description": "Key lacks the `admin` scope, or the model is outside the model roots"},
        422: {"description": "The model could not be loaded; the old one keeps serving"},
    },
)
async def reload(
    request: Request,
    principal: Annotated[Principal, Depends(require_scope("admin"))],
    body: ReloadRequest | None = None,
) -> dict[str, Any]:
    """Load the champion (or ``model``) and swap it in; requests in flight finish on the old model."""
    holder: ModelHolder = request.app.state.models
    metrics = request.app.state.metrics
    old = holder.scorer
    try:
        new = await holder.reload(body.model if body else None, principal.name)
    except ModelNotAllowedError as exc:
        metrics.reloads.labels("refused").inc()
        log.warning("reload by %s refused: %s", principal.name, exc)
        raise APIError(403, f"{exc}; still serving the previous model") from None
    except Exception as exc:  # any load failure keeps the old model serving
        metrics.reloads.labels("failed").inc()
        log.warning("reload by %s failed: %r", principal.name, exc)
        raise APIError(422, f"could not load model: {exc}; still serving the previous model") from None
    metrics.reloads.labels("ok").inc()
    metrics.set_model(new.name, new.version)
    log.info("model reloaded by %s: %s %s", principal.name, new.name, new.version)
    poll = request.app.state.settings.reload_poll_seconds
    deadline = time.monotonic() + RELOAD_WAIT_SECONDS
    while True:
        workers = await run_in_threadpool(live_workers, poll, holder.database_url)
        everywhere = all(w.generation >= holder.generation for w in workers)
        if everywhere or time.monotonic() > deadline:
            break
        await asyncio.sleep(min(0.5, poll))
    return {
        "previous": {"name": old.name, "version": old.version} if old else None,
        "model": {"name": new.name, "version": new.version},
        "generation": holder.generation,
        "all_workers": everywhere,
        "workers": [asdict(w) for w in workers],
    }


@router.get("/admin/workers")
async def workers(
    request: Request, principal: Annotated[Principal, Depends(require_scope("admin"))]
) -> dict[str, Any]:
    """The live workers sharing this database: the reload generation and model each one serves."""
    holder: ModelHolder = request.app.state.models
    poll = request.app.state.settings.reload_poll_seconds
    found = await run_in_threadpool(live_workers, poll, holder.database_url)
    return {"generation": holder.generation, "workers": [asdict(w) for w in found]}


@router.get("/metrics", dependencies=[Depends(require_metrics_access)], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (``admin`` scope unless SIGNALS_PUBLIC_METRICS=true)."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
