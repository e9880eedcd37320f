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
429 with ``Retry-After`` when the key is over its rate limit (or its client address sent too many
unknown keys), and returns the caller as a ``Principal`` (also left on ``request.state.principal`` for
access logs). With ``SIGNALS_AUTH=false`` every caller is an ``anonymous`` principal holding every scope.
Keys are looked up in the database on every request, so a revoked key stops working at once.

A request costs one unit of the key's rate limit; a scoring route declares ``weighted=True`` instead
and calls ``charge_segments`` with its texts, so it costs one unit per text or sentence window scored
(``SIGNALS_MAX_SEGMENTS`` caps one request: 413 beyond).

Every router uses ``route_class=CheckedRoute``: the key is checked before the body is parsed, so a
caller without a valid key learns nothing but 401, whatever the body.

The scorer comes from ``ScorerDep`` (``Annotated[Scorer, Depends(get_scorer)]``): routes read the
current model once per request, so a reload swapping it mid-request never mixes two models.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from serve.batcher import Batcher
from serve.errors import APIError, bad_request_code
from serve.ratelimit import RateLimiter, per
from serve.settings import Settings
from signals import fleet
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
    """The served scorer, swapped atomically on reload, and kept in step with the other workers.

    Loading happens off the event loop and completes before the swap, so requests keep being answered
    by the old model until the new one is ready; in-flight requests finish on the model they started with.

    ``generation`` is the reload this worker follows (``signals.fleet``): ``start`` loads the announced
    model (or the default), ``reload`` loads one and announces it to every worker sharing the database,
    ``follow`` (polled by the app) loads what another worker announced.
    """

    def __init__(self, loader: Callable[[str | None], Scorer], database_url: str | None = None) -> None:
        self.loader = loader
        self.database_url = database_url
        self.scorer: Scorer | None = None
        self.loaded_at: float | None = None
        self.generation = 0
        self.error: str | None = None
        self.worker = fleet.worker_id()
        self.started_at = time.time()
        self._lock = asyncio.Lock()

    async def load(self, uri: str | None = None) -> Scorer:
        """Load a model (``uri`` or the configured default) and make it the served one."""
        async with self._lock:
            scorer = await run_in_threadpool(self.loader, uri)
            await run_in_threadpool(warm_up, scorer)
            self.scorer = scorer
            self.loaded_at = time.time()
            return scorer

    async def start(self) -> Scorer:
        """At start-up: the model last announced to the fleet, else (or if it fails) the default."""
        announced = await run_in_threadpool(fleet.served, self.database_url)
        scorer = None
        if announced.generation and announced.target is not None:
            try:
                scorer = await self.load(announced.target)
            except Exception as exc:  # a model folder since removed: serve the default, say why
                self.error = f"could not load the announced model: {exc}"
                log.warning("%s; serving the default", self.error)
        if scorer is None:
            scorer = await self.load(None)
        self.generation = announced.generation
        await self.beat()
        return scorer

    async def reload(self, uri: str | None, by: str) -> Scorer:
        """Load ``uri`` here (errors propagate, the old model keeps serving), then announce it."""
        scorer = await self.load(uri)
        self.error = None
        self.generation = await run_in_threadpool(fleet.announce, uri, by, self.database_url)
        await self.beat()
        return scorer

    async def follow(self) -> bool:
        """Load what another worker announced, if the generation moved; True when this one changed."""
        announced = await run_in_threadpool(fleet.served, self.database_url)
        changed = announced.generation > self.generation
        if changed:
            try:
                scorer = await self.load(announced.target)
                self.error = None
                log.info("followed reload %d: %s %s", announced.generation, scorer.name, scorer.version)
            except Exception as exc:  # keep serving the old model; do not retry this generation
                self.error = f"could not load reload {announced.generation}: {exc}"
                log.warning("%s; still serving the previous model", self.error)
            self.generation = announced.generation
        await self.beat()
        return changed

    async def beat(self) -> None:
        """Record what this worker serves (``GET /admin/workers``)."""
        scorer = self.scorer
        await run_in_threadpool(
            functools.partial(
                fleet.heartbeat,
                self.worker,
                self.generation,
                scorer.name if scorer else "",
                scorer.version if scorer else "",
                started_at=self.started_at,
                error=self.error,
                url=self.database_url,
            )
        )


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


async def score_texts(
    request: Request,
    scorer: Scorer,
    texts: list[str],
    spans: bool,
    language: str | None = None,
    source: str | None = None,
) -> list[Score]:
    """Score through the app's ``Batcher``: concurrent requests share model calls, one call at a time.

    ``language`` is the texts' language when the caller knows it (else each text's is detected);
    ``source`` selects that source's operating point when the model has one (``signals.sources``).
    """
    batcher: Batcher = request.app.state.batcher
    return await batcher.score(scorer, texts, spans, language, source)


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


def client_address(request: Request) -> str:
    """The caller's address (the proxy's unless uvicorn runs with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


@dataclass
class KeyGate:
    """Verifies keys (a database look-up each time: revocation is immediate) and spends their rate.

    Every limit goes through the app's ``RateLimiter`` (``serve.ratelimit``).
    """

    settings: Settings
    limiter: RateLimiter

    async def verify(self, request: Request, key: str) -> KeyInfo:
        """The key's record; 401 when unknown or revoked, 429 when this address failed too often."""
        address = client_address(request)
        failures = per(self.settings.auth_failure_limit, 60)
        wait = self.limiter.wait("auth-failures", failures, address)
        if wait > 0:
            raise _too_many(request, f"too many failed authentications from {address}", wait)
        info = await run_in_threadpool(verify_key, key, self.settings.database_url)
        if info is None:
            self.limiter.spend("auth-failures", failures, address)
            raise APIError(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        return info

    def per_minute(self, principal: Principal) -> int:
        """The key's allowance per minute; 0 = unlimited."""
        if principal.key_id is None:
            return 0
        return principal.rate_limit if principal.rate_limit is not None else self.settings.rate_limit

    def check(self, request: Request, principal: Principal) -> None:
        """429 when the key has nothing left to spend right now (spends nothing)."""
        limit = self.per_minute(principal)
        if limit > 0:
            wait = self.limiter.wait("key", per(limit, 60), str(principal.key_id))
            if wait > 0:
                raise _too_many(request, f"rate limit exceeded for key {principal.name!r}", wait)

    def spend(self, request: Request, principal: Principal, cost: int = 1) -> None:
        """Spend ``cost`` units of the key's allowance: 413 if more than a whole minute's, else 429."""
        limit = self.per_minute(principal)
        if limit <= 0:
            return
        if cost > limit:
            raise APIError(
                413,
                f"this request costs {cost} units (texts and sentence windows scored), more than key "
                f"{principal.name!r} may spend in a minute ({limit}); send fewer or shorter texts",
            )
        wait = self.limiter.spend("key", per(limit, 60), str(principal.key_id), cost=cost)
        if wait > 0:
            raise _too_many(request, f"rate limit exceeded for key {principal.name!r}", wait)


def _too_many(request: Request, what: str, wait: float) -> APIError:
    request.app.state.metrics.rate_limited.inc()
    seconds = max(1, math.ceil(wait))
    return APIError(429, f"{what}; retry in {seconds} s", headers={"Retry-After": str(seconds)})


# These only document the three ways to send a key in the OpenAPI schema; the key itself is read from
# the request below so one dependency serves every route.
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


AUTH_CHECK = "signals_auth_check"
"""Attribute marking ``require_scope``'s dependencies, so ``CheckedRoute`` can run them first."""


def require_scope(
    scope: str, *, allow_query: bool = False, weighted: bool = False
) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers whose key carries ``scope`` (see the module docstring).

    ``weighted=True``: the route charges its own cost (``charge_segments``); here the key only has
    to have something left.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {SCOPES}")
    how = "`Authorization: Bearer <key>` or `X-API-Key: <key>`" + (" or `?key=<key>`" if allow_query else "")

    async def check(
        request: Request,
        _b: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
        _h: Annotated[str | None, Depends(_header)] = None,
    ) -> Principal:
        # Once per request: CheckedRoute runs this before the body is read, FastAPI then again.
        done: dict[str, Principal] = request.scope.setdefault("signals.checked_scopes", {})
        if scope in done:
            return done[scope]
        gate: KeyGate = request.app.state.keys
        if not gate.settings.auth:
            request.state.principal = done[scope] = ANONYMOUS
            return ANONYMOUS
        key = _key_from(request, allow_query)
        if key is None:
            raise APIError(
                401, f"an API key is required: send it as {how}", headers={"WWW-Authenticate": "Bearer"}
            )
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            principal = Principal.of(await gate.verify(request, key))
            request.state.principal = principal
        if scope not in principal.scopes:
            raise APIError(
                403,
                f"key {principal.name!r} lacks the {scope!r} scope (it has: {', '.join(principal.scopes)})",
            )
        if weighted:
            gate.check(request, principal)
        else:
            gate.spend(request, principal)
        done[scope] = principal
        return principal

    setattr(check, AUTH_CHECK, True)
    if allow_query:
        # Same check, but with the query parameter documented in OpenAPI for this route.
        async def check_with_query(
            request: Request,
            _b: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
            _h: Annotated[str | None, Depends(_header)] = None,
            _q: Annotated[str | None, Depends(_query)] = None,
        ) -> Principal:
            return await check(request)

        setattr(check_with_query, AUTH_CHECK, True)
        return check_with_query
    return check


async def require_metrics_access(request: Request) -> None:
    """``/metrics`` is public with ``SIGNALS_PUBLIC_METRICS=true``, else it needs the ``admin`` scope."""
    if request.app.state.settings.public_metrics:
        return
    await _admin_check(request)


_admin_check = require_scope("admin")
setattr(require_metrics_access, AUTH_CHECK, True)


async def charge_segments(
    request: Request, principal: Principal, scorer: Scorer, texts: list[str], spans: bool
) -> None:
    """Charge a scoring request: one unit per model input (text or sentence window) it will make.

    413 over ``SIGNALS_MAX_SEGMENTS`` or over the key's whole allowance per minute, 429 when the key
    cannot afford it now. Counting sentences runs the sentencizer, so long texts are counted off the
    event loop.
    """
    settings: Settings = request.app.state.settings
    if spans or any(len(t) > scorer.window_chars for t in texts):
        cost = await run_in_threadpool(scorer.segment_count, texts, spans)
    else:
        cost = len(texts)
    if cost > settings.max_segments:
        raise APIError(
            413,
            f"this request would send {cost} texts and sentence windows to the model; the limit is "
            f"{settings.max_segments} (SIGNALS_MAX_SEGMENTS): send fewer or shorter texts",
        )
    request.app.state.keys.spend(request, principal, cost)


# --- the route class ------------------------------------------------------------------------------------


def _auth_checks(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if getattr(dep.call, AUTH_CHECK, False):
            yield dep.call  # type: ignore[misc]
        yield from _auth_checks(dep)


def _is_json(content_type: str) -> bool:
    main = content_type.split(";")[0].strip().lower()
    return not main or main.endswith("json")


class CheckedRoute(APIRoute):
    """A route that checks the key first, then the body's encoding, and only then parses the body.

    FastAPI parses JSON before running dependencies, so without this a caller with no key would learn
    about their body (422) before being told to authenticate (401). A JSON body must be UTF-8.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        checks = list(_auth_checks(self.dependant))

        async def checked(request: Request) -> Response:
            for check in checks:
                await check(request)
            if request.method not in ("GET", "HEAD", "OPTIONS") and _is_json(
                request.headers.get("content-type", "")
            ):
                body = await request.body()
                try:
                    body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise APIError(
                        bad_request_code(request.url.path),
                        f"request body is not valid UTF-8 (bad byte at offset {exc.start}); send UTF-8 JSON",
                    ) from None
            return await handler(request)

        return checked
