"""Dependencies every route shares: settings, the loaded scorer, and key authentication with scopes.

Authentication for a new route is one line::

    from serve.deps import Principal, require_scope

    @router.get("/triage")
    def queue(principal: Annotated[Principal, Depends(require_scope("triage"))]) -> ...:
        ...

or, when the principal is not needed, ``dependencies=[Depends(require_scope("triage"))]`` on the
route or the ``APIRouter``. ``require_scope(scope)`` accepts the key as ``Authorization: Bearer <key>``
or ``X-API-Key: <key>`` (plus the ``key`` query parameter when ``allow_query=True``, as Perspective
clients send it), answers 401 when the key is missing, unknown or revoked, 403 when it lacks the scope,
429 with ``Retry-After`` when the key is over its rate limit, and returns the caller as a ``Principal``
(also left on ``request.state.principal`` for access logs). With ``SIGNALS_AUTH=false`` every caller is
an ``anonymous`` principal holding every scope.

The scorer comes from ``ScorerDep`` (``Annotated[Scorer, Depends(get_scorer)]``): routes read the
current model once per request, so a reload swapping it mid-request never mixes two models.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from serve.batcher import Batcher
from serve.errors import APIError
from serve.settings import Settings
from signals.keys import SCOPES, KeyInfo, verify_key
from signals.schema import Score
from signals.scoring import Scorer

log = logging.getLogger(__name__)


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with (``create_app(settings)``; else ``get_settings()``).

    Dependencies that do no blocking work are ``async``: FastAPI runs a plain ``def`` dependency in the
    thread pool, and each such hop costs latency on every request.
    """
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


# --- the model ---------------------------------------------------------------------------------------


class ModelHolder:
    """The served scorer, swapped atomically on reload.

    Loading happens off the event loop and completes before the swap, so requests keep being answered
    by the old model until the new one is ready; in-flight requests finish on the model they started with.
    """

    def __init__(self, loader: Callable[[str | None], Scorer]) -> None:
        self.loader = loader
        self.scorer: Scorer | None = None
        self.loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def load(self, uri: str | None = None) -> Scorer:
        """Load a model (``uri`` or the configured default) and make it the served one."""
        async with self._lock:
            scorer = await run_in_threadpool(self.loader, uri)
            await run_in_threadpool(warm_up, scorer)
            self.scorer = scorer
            self.loaded_at = time.time()
            return scorer


def warm_up(scorer: Scorer) -> None:
    """Score before traffic so lazy pieces (sentencizer, ONNX session arenas) exist: one text with
    spans (several segments: the multi-text path) and one alone (the single-text path)."""
    scorer.score(["Warm-up sentence one. And a second one."], spans=True)
    scorer.score(["Warm-up."])


async def get_scorer(request: Request) -> Scorer:
    """The currently served scorer; 503 while none is loaded."""
    scorer = request.app.state.models.scorer
    if scorer is None:
        raise APIError(503, "model not loaded yet; retry shortly (see /readyz)")
    return scorer  # type: ignore[no-any-return]


ScorerDep = Annotated[Scorer, Depends(get_scorer)]


async def score_texts(request: Request, scorer: Scorer, texts: list[str], spans: bool) -> list[Score]:
    """Score through the app's ``Batcher``: concurrent requests share model calls, one call at a time."""
    batcher: Batcher = request.app.state.batcher
    return await batcher.score(scorer, texts, spans)


# --- keys, scopes, rate limits ---------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and name and what it may do."""

    key_id: int | None
    name: str
    scopes: tuple[str, ...]
    rate_limit: int | None = None

    @classmethod
    def of(cls, info: KeyInfo) -> Principal:
        return cls(key_id=info.id, name=info.name, scopes=info.scopes, rate_limit=info.rate_limit)


ANONYMOUS = Principal(key_id=None, name="anonymous", scopes=SCOPES)


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class KeyGate:
    """Verifies keys (with a short cache, so a request rarely touches the database) and rate-limits them.

    The limiter is a token bucket per key: ``rate`` requests per minute refill it, ``burst`` is its size.
    State is per process; with several workers each enforces the limit on its own share.
    """

    settings: Settings
    _cache: dict[str, tuple[float, KeyInfo]] = field(default_factory=dict)
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    async def lookup(self, key: str) -> KeyInfo | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.settings.key_cache_seconds:
            return hit[1]
        info = await run_in_threadpool(verify_key, key, self.settings.database_url)
        if info is None:
            self._cache.pop(key, None)
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, info)
        return info

    def forget(self) -> None:
        """Drop cached verifications (after a revoke through the API)."""
        self._cache.clear()

    def take(self, principal: Principal) -> float:
        """Spend one request from the key's bucket; returns 0 when allowed, else seconds to wait."""
        per_minute = principal.rate_limit if principal.rate_limit is not None else self.settings.rate_limit
        if per_minute <= 0 or principal.key_id is None:
            return 0.0
        rate = per_minute / 60.0
        burst = float(max(1, self.settings.rate_burst))
        now = time.monotonic()
        bucket = self._buckets.get(principal.key_id)
        if bucket is None:
            bucket = self._buckets[principal.key_id] = _Bucket(tokens=burst, updated=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


# These only document the three ways to send a key in the OpenAPI schema (and /docs' Authorize
# button); the key itself is read from the request below so one dependency serves every route.
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <key>`")
_query = APIKeyQuery(name="key", auto_error=False, description="`?key=<key>` (Perspective routes only)")


def _key_from(request: Request, allow_query: bool) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    if allow_query:
        return request.query_params.get("key") or None
    return None


def require_scope(scope: str, *, allow_query: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers whose key carries ``scope`` (see the module docstring)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {SCOPES}")
    how = "`Authorization: Bearer <key>` or `X-API-Key: <key>`" + (" or `?key=<key>`" if allow_query else "")

    async def check(
        request: Request,
        _b: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
        _h: Annotated[str | None, Depends(_header)] = None,
    ) -> Principal:
        gate: KeyGate = request.app.state.keys
        if not gate.settings.auth:
            request.state.principal = ANONYMOUS
            return ANONYMOUS
        key = _key_from(request, allow_query)
        if key is None:
            raise APIError(
                401, f"an API key is required: send it as {how}", headers={"WWW-Authenticate": "Bearer"}
            )
        info = await gate.lookup(key)
        if info is None:
            raise APIError(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        principal = Principal.of(info)
        request.state.principal = principal
        if scope not in principal.scopes:
            raise APIError(
                403,
                f"key {principal.name!r} lacks the {scope!r} scope (it has: {', '.join(principal.scopes)})",
            )
        wait = gate.take(principal)
        if wait > 0:
            request.app.state.metrics.rate_limited.inc()
            raise APIError(
                429,
                f"rate limit exceeded for key {principal.name!r}; retry in {math.ceil(wait)} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return principal

    if allow_query:
        # Same check, but with the query parameter documented in OpenAPI for this route.
        async def check_with_query(
            request: Request,
            _b: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
            _h: Annotated[str | None, Depends(_header)] = None,
            _q: Annotated[str | None, Depends(_query)] = None,
        ) -> Principal:
            return await check(request)

        return check_with_query
    return check


async def require_metrics_access(request: Request) -> None:
    """``/metrics`` is public with ``SIGNALS_PUBLIC_METRICS=true``, else it needs the ``admin`` scope."""
    if request.app.state.settings.public_metrics:
        return
    await _admin_check(request)


_admin_check = require_scope("admin")
