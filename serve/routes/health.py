"""``/healthz`` (the process answers) and ``/readyz`` (a model is loaded): no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serve.deps import CheckedRoute

router = APIRouter(tags=["health"], route_class=CheckedRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> Any:
    """Readiness: 200 with the served model once one is loaded, else 503."""
    scorer = request.app.state.models.scorer
    if scorer is None:
        return JSONResponse({"status": "loading"}, status_code=503)
    return {"status": "ready", "model": {"name": scorer.name, "version": scorer.version}}
