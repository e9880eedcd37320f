"""``/healthz`` (the process answers) and ``/readyz`` (a model is loaded, limits reachable): no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from serve.deps import CheckedRoute
from serve.ratelimit import RateLimiter

router = APIRouter(tags=["health"], route_class=CheckedRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> Any:
    """Readiness: 200 with the served model once one is loaded and the limits store answers, else 503."""
    scorer = request.app.state.models.scorer
    if scorer is None:
        return JSONResponse({"status": "loading"}, status_code=503)
    limiter: RateLimiter = request.app.state.limiter
    if limiter.shared and not await run_in_threadpool(limiter.healthy):
        return JSONResponse({"status": "rate-limit store unreachable"}, status_code=503)
    return {"status": "ready", "model": {"name": scorer.name, "version": scorer.version}}
