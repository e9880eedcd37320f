"""The triage pages (``/triage``): server-rendered HTML for analysts, no front-end build step.

Login is by analyst account (``signals users create``): the session is a signed cookie
(itsdangerous, key kept in the database so sessions survive restarts) that is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` over HTTPS, and expires after ``SIGNALS_TRIAGE_SESSION_HOURS``. The
cookie carries the analyst's session epoch, checked against the database on every request, so logging
out, a new password or a disabled account ends every session at once (a replayed cookie is refused).
Failed logins are throttled per (username, client address) and per client address through the app's
rate limiter, so someone else's wrong guesses never lock an analyst out from their own address.
Every form carries a CSRF token that must match a second signed cookie (``SameSite=Strict``); posts
whose ``Origin`` header names another site are refused as well.

Handlers declare what they need as dependencies: ``AnalystDep`` (a logged-in analyst, else a redirect
to the login page) and ``FormDep`` (the posted form, once its origin and CSRF token are checked, else a
403 page). Pages send a strict Content-Security-Policy
(no inline script or style), so the only script is ``static/triage.js``, which adds the keyboard
shortcuts on top of ordinary forms and links: everything also works without JavaScript.

Routes: ``GET /triage`` (queue with filters and progress), ``GET /triage/items/{id}`` (text with
evidence highlighted, scores, model version, per-signal decisions), ``POST .../decide``,
``POST .../reject-rest``, ``POST /triage/undo``, ``GET /triage/disagreements`` (second-review
conflicts), ``POST /triage/export`` (label export), login/logout, and ``/triage/static/*``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from serve.deps import CheckedRoute, SettingsDep, client_address
from serve.errors import EarlyResponse
from serve.ratelimit import RateLimiter, per
from serve.triage_settings import TriageSettings, triage_settings
from signals.schema import SIGNAL_DEFINITIONS, SIGNALS, TARGET_LABELS, TARGETS
from signals.sources import SourcePoint
from signals.triage import store
from signals.triage.models import DECISIONS, STATUSES
from signals.triage.users import authenticate, end_sessions, get_user, server_secret

log = logging.getLogger(__name__)
router = APIRouter(prefix="/triage", include_in_schema=False, route_class=CheckedRoute)

SERVE_DIR = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=str(SERVE_DIR / "templates"))
STATIC_DIR = SERVE_DIR / "static"
STATIC_FILES = {"triage.css": "text/css", "triage.js": "text/javascript"}

SESSION_COOKIE = "signals_session"
CSRF_COOKIE = "signals_csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FILTER_KEYS = ("signal", "source", "question", "target", "since", "until", "status", "sample")
DECISION_KEYS = {"confirm": "c", "reject": "r", "unsure": "u"}


class Ctx:
    """What every page handler needs: settings, the database URL, the signer, the analyst."""

    def __init__(self, request: Request, settings: SettingsDep, options: TriageSettings) -> None:
        self.request = request
        self.url = settings.database_url
        self.options = options
        self.analyst: str | None = None
        state = request.app.state
        serializer = getattr(state, "triage_serializer", None)
        if serializer is None:
            serializer = URLSafeTimedSerializer(server_secret("session", url=self.url), salt="signals-triage")
            state.triage_serializer = serializer
        self.serializer: URLSafeTimedSerializer = serializer

    @property
    def secure(self) -> bool:
        if self.options.cookie_secure is not None:
            return self.options.cookie_secure
        return self.request.url.scheme == "https"


def _ctx(
    request: Request,
    settings: SettingsDep,
    options: Annotated[TriageSettings, Depends(triage_settings)],
) -> Ctx:
    ctx = Ctx(request, settings, options)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            data = ctx.serializer.loads(raw, max_age=int(options.session_hours * 3600))
        except BadSignature:
            data = None
        username = str(data.get("u", "")) if isinstance(data, dict) else ""
        # A disabled account, a log-out or a new password since the cookie was issued: no session.
        user = get_user(username, url=ctx.url) if username else None
        if user is not None and data is not None and data.get("e") == user.session_epoch:
            ctx.analyst = user.username
    return ctx


CtxDep = Annotated[Ctx, Depends(_ctx)]


def _analyst(ctx: CtxDep) -> Ctx:
    """The context of a logged-in analyst; anyone else is sent to the login page."""
    if ctx.analyst is None:
        raise EarlyResponse(_login_redirect(ctx))
    return ctx


AnalystDep = Annotated[Ctx, Depends(_analyst)]
#: An item id as a database integer holds it (bigger ones: 422, never an overflow).
ItemId = Annotated[int, PathParam(ge=0, le=store.MAX_ITEM_ID)]


# --- CSRF and responses ------------------------------------------------------------------------------


def _csrf_token(ctx: Ctx) -> str:
    """The token from the CSRF cookie, or a fresh one (set on the response by ``_page``)."""
    raw = ctx.request.cookies.get(CSRF_COOKIE)
    if raw:
        try:
            return str(ctx.serializer.loads(raw, salt="signals-csrf"))
        except BadSignature:
            pass
    token = getattr(ctx.request.state, "new_csrf", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        ctx.request.state.new_csrf = token
    return str(token)


def _harden(ctx: Ctx, response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    new = getattr(ctx.request.state, "new_csrf", None)
    if new is not None:
        response.set_cookie(
            CSRF_COOKIE,
            ctx.serializer.dumps(new, salt="signals-csrf"),
            httponly=True,
            samesite="strict",
            secure=ctx.secure,
            path="/triage",
        )
    return response


def _page(ctx: Ctx, template: str, status_code: int = 200, **values: Any) -> Response:
    values.update(
        analyst=ctx.analyst,
        csrf_token=_csrf_token(ctx),
        signals=SIGNALS,
        targets=TARGETS,
        target_labels=TARGET_LABELS,
    )
    response = templates.TemplateResponse(ctx.request, template, values, status_code=status_code)
    return _harden(ctx, response)


def _redirect(ctx: Ctx, location: str) -> Response:
    return _harden(ctx, RedirectResponse(location, status_code=303))


def _error(ctx: Ctx, status_code: int, message: str) -> Response:
    return _page(ctx, "triage/error.html", status_code=status_code, message=message, title="Problem")


async def _checked_form(ctx: CtxDep) -> dict[str, str]:
    """The posted form when its CSRF token and origin are right, else an error page (403)."""
    origin = ctx.request.headers.get("origin")
    if origin and origin != "null":
        host = ctx.request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise EarlyResponse(
                _error(ctx, 403, "This form was posted from another site; reload the page and try again.")
            )
    form = await ctx.request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    sent = values.get("csrf_token", "")
    cookie = ctx.request.cookies.get(CSRF_COOKIE)
    expected = ""
    if cookie:
        try:
            expected = str(ctx.serializer.loads(cookie, salt="signals-csrf"))
        except BadSignature:
            expected = ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise EarlyResponse(
            _error(ctx, 403, "The form expired or came from elsewhere (CSRF check failed); reload the page.")
        )
    return values


FormDep = Annotated[dict[str, str], Depends(_checked_form)]


def _login_redirect(ctx: Ctx) -> Response:
    target = ctx.request.url.path
    if ctx.request.url.query:
        target += "?" + ctx.request.url.query
    return _redirect(ctx, "/triage/login?" + urlencode({"next": target}))


# --- filters -------------------------------------------------------------------------------------------


def _parse_filters(
    params: dict[str, str], analyst: str
) -> tuple[store.ItemFilter, dict[str, str], str | None]:
    """Query parameters -> ``ItemFilter``, the cleaned parameters to carry along, and an error message."""
    clean = {k: params[k].strip() for k in FILTER_KEYS if params.get(k, "").strip()}
    status = clean.get("status", "open")
    if status == "all":
        status_value: str | None = None
    else:
        status_value = status
    error = None
    dates: dict[str, date | None] = {"since": None, "until": None}
    for key in ("since", "until"):
        if key in clean:
            try:
                dates[key] = date.fromisoformat(clean[key])
            except ValueError:
                error = f"{key}: {clean[key]!r} is not a date (use YYYY-MM-DD)"
                clean.pop(key)
    if clean.get("sample", "1") != "1":
        error = f"sample: {clean.pop('sample')!r} is not 1 (1 shows only the random audit sample)"
    try:
        filters = store.ItemFilter(
            signal=clean.get("signal"),
            source=clean.get("source"),
            question_id=clean.get("question"),
            target=clean.get("target"),
            since=dates["since"],
            until=dates["until"],
            status=status_value,
            for_analyst=analyst,
            sample="sample" in clean,
        )
    except store.TriageError as exc:
        return store.ItemFilter(status="open", for_analyst=analyst), {}, str(exc)
    return filters, clean, error


def _qs(params: dict[str, str], **extra: str) -> str:
    merged = {**params, **{k: v for k, v in extra.items() if v}}
    return ("?" + urlencode(merged)) if merged else ""


# --- pages ---------------------------------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    response = FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/login")
def login_page(ctx: CtxDep, next: str = "/triage") -> Response:
    return _page(ctx, "triage/login.html", next=_safe_next(next), error=None, title="Log in")


def _safe_next(target: str) -> str:
    """Only same-site paths under /triage are followed after login (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/triage") or target.startswith("//"):
        return "/triage"
    return target


#: Failed logins allowed per (username, client address), and per client address over all usernames,
#: within LOGIN_WINDOW_SECONDS.
LOGIN_MAX_FAILURES = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW_SECONDS = 300


def _login_limits(ctx: Ctx, username: str) -> list[tuple[str, Any, tuple[str, ...]]]:
    address = client_address(ctx.request)
    name = username.strip().lower()[:100]
    return [
        ("login", per(LOGIN_MAX_FAILURES, LOGIN_WINDOW_SECONDS), (name, address)),
        ("login-address", per(LOGIN_MAX_FAILURES_PER_ADDRESS, LOGIN_WINDOW_SECONDS), (address,)),
    ]


@router.post("/login")
async def login(ctx: CtxDep, form: FormDep) -> Response:
    username = form.get("username", "")
    password = form.get("password", "")
    nxt = _safe_next(form.get("next", "/triage"))
    limiter: RateLimiter = ctx.request.app.state.limiter
    limits = _login_limits(ctx, username)
    wait = max(limiter.wait(name, item, *ident) for name, item, ident in limits)
    if wait > 0:
        return _page(
            ctx,
            "triage/login.html",
            status_code=429,
            next=nxt,
            error=f"Too many failed attempts; try again in {int(wait)} seconds.",
            title="Log in",
            username=username,
        )
    user = await run_in_threadpool(authenticate, username, password, url=ctx.url)
    found = await run_in_threadpool(get_user, user, url=ctx.url) if user else None
    if found is None:
        for name, item, ident in limits:
            limiter.spend(name, item, *ident)
        log.info("failed triage login from %s", client_address(ctx.request))
        return _page(
            ctx,
            "triage/login.html",
            status_code=401,
            next=nxt,
            error="Unknown username or wrong password.",
            title="Log in",
            username=username,
        )
    response = _redirect(ctx, nxt)
    response.set_cookie(
        SESSION_COOKIE,
        ctx.serializer.dumps({"u": found.username, "e": found.session_epoch, "t": int(time.time())}),
        max_age=int(ctx.options.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=ctx.secure,
        path="/triage",
    )
    log.info("analyst %s logged in", found.username)
    return response


@router.post("/logout")
async def logout(ctx: CtxDep, _form: FormDep) -> Response:
    """Ends every session of the analyst on the server, not only this browser's cookie."""
    if ctx.analyst is not None:
        await run_in_threadpool(end_sessions, ctx.analyst, url=ctx.url)
        log.info("analyst %s logged out", ctx.analyst)
    response = _redirect(ctx, "/triage/login")
    response.delete_cookie(SESSION_COOKIE, path="/triage")
    return response


@router.get("")
@router.get("/")
def queue(ctx: AnalystDep, offset: Annotated[int, Query(le=store.MAX_ITEM_ID)] = 0) -> Response:
    assert ctx.analyst is not None
    params = dict(ctx.request.query_params)
    filters, carried, error = _parse_filters(params, ctx.analyst)
    offset = max(0, offset)
    items = store.query_items(filters, limit=ctx.options.page_size, offset=offset, url=ctx.url)
    total = store.count_items(filters, url=ctx.url)
    progress = store.progress(ctx.analyst, filters, url=ctx.url)
    mine = store.latest_decisions([i.id for i in items], analyst=ctx.analyst, url=ctx.url)
    decided_by_me = {i.id: sum(1 for s in SIGNALS if (i.id, s) in mine) for i in items}
    return _page(
        ctx,
        "triage/queue.html",
        title="Triage queue",
        items=items,
        total=total,
        offset=offset,
        page_size=ctx.options.page_size,
        progress=progress,
        facets=store.facets(url=ctx.url),
        filters=carried,
        status=carried.get("status", "open"),
        statuses=STATUSES,
        qs=_qs(carried),
        qs_params=carried,
        decided_by_me=decided_by_me,
        in_sample=store.in_sample([i.id for i in items], url=ctx.url),
        error=error,
        export=ctx.request.query_params.get("exported"),
    )


def _segments(text: str, spans: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Cut the text into (piece, signals) so evidence spans can be highlighted without raw HTML."""
    marks = sorted((s for s in spans if s.get("signals")), key=lambda s: s["begin"])
    out: list[tuple[str, list[str]]] = []
    pos = 0
    for span in marks:
        begin, end = max(int(span["begin"]), pos), min(int(span["end"]), len(text))
        if begin >= end:
            continue
        if begin > pos:
            out.append((text[pos:begin], []))
        out.append((text[begin:end], list(span["signals"])))
        pos = end
    if pos < len(text):
        out.append((text[pos:], []))
    return out


def _undecided_by_score(scores: dict[str, float], undecided: list[str]) -> list[str]:
    """Undecided signals, most likely first: the keyboard flow offers the model's strongest call first."""
    return sorted(undecided, key=lambda s: -scores.get(s, 0.0))


@router.get("/items/{item_id}")
def item_page(ctx: AnalystDep, item_id: ItemId, focus: str | None = None) -> Response:
    assert ctx.analyst is not None
    item = store.get_item(item_id, url=ctx.url)
    if item is None:
        return _error(ctx, 404, f"There is no item {item_id}.")
    filters, carried, _ = _parse_filters(dict(ctx.request.query_params), ctx.analyst)
    mine = store.latest_decisions([item.id], analyst=ctx.analyst, url=ctx.url)
    undecided = _undecided_by_score(item.scores, [s for s in SIGNALS if (item.id, s) not in mine])
    active = focus if focus in SIGNALS else (undecided[0] if undecided else SIGNALS[0])
    prev_id, next_id = store.neighbours(item.id, filters, url=ctx.url)
    progress = store.progress(ctx.analyst, filters, url=ctx.url)
    history = store.decision_history(item.id, url=ctx.url)
    # Blind second review: other analysts' decisions stay hidden until the item is done.
    show_history = item.status == "done" or all(d.analyst == ctx.analyst for d in history)
    return _page(
        ctx,
        "triage/item.html",
        title=f"Item {item.id}",
        item=item,
        segments=_segments(item.text, item.spans),
        mine={s: mine.get((item.id, s)) for s in SIGNALS},
        decided=len(SIGNALS) - len(undecided),
        active=active,
        prev_id=prev_id,
        next_id=next_id,
        progress=progress,
        history=history if show_history else [],
        history_hidden=not show_history,
        qs=_qs(carried),
        qs_params=carried,
        definitions=SIGNAL_DEFINITIONS,
        decisions=DECISIONS,
        decision_keys=DECISION_KEYS,
        question=item.context.get("question_text"),
        in_sample=bool(store.in_sample([item.id], url=ctx.url)),
        source_point=_source_point(ctx, item.source),
    )


def _source_point(ctx: Ctx, source: str) -> SourcePoint | None:
    """The served model's operating point of ``source`` (``signals calibrate --source``), if any."""
    holder = getattr(ctx.request.app.state, "models", None)
    scorer = getattr(holder, "scorer", None)
    return scorer.operating_point(source) if scorer is not None else None


def _after_decision(ctx: Ctx, item_id: int, carried: dict[str, str]) -> str:
    """Stay on the item until this analyst decided every signal, then go to the next open item."""
    assert ctx.analyst is not None
    mine = store.latest_decisions([item_id], analyst=ctx.analyst, url=ctx.url)
    item = store.get_item(item_id, url=ctx.url)
    scores = item.scores if item else {}
    undecided = _undecided_by_score(scores, [s for s in SIGNALS if (item_id, s) not in mine])
    if undecided:
        return f"/triage/items/{item_id}" + _qs(carried, focus=undecided[0])
    filters, _, _ = _parse_filters(carried, ctx.analyst)
    _, next_id = store.neighbours(item_id, filters, url=ctx.url)
    if next_id is None:
        return "/triage" + _qs(carried)
    return f"/triage/items/{next_id}" + _qs(carried)


def _carried(form: dict[str, str]) -> dict[str, str]:
    return {k: form[k] for k in FILTER_KEYS if form.get(k)}


@router.post("/items/{item_id}/decide")
async def decide(ctx: AnalystDep, form: FormDep, item_id: ItemId) -> Response:
    signal = form.get("decision_signal", "")
    decision = form.get("decision", "")
    target = form.get("target") or None
    note = form.get("note") or None
    try:
        await run_in_threadpool(
            store.record_decision,
            item_id,
            signal,
            decision,
            ctx.analyst,
            target=target,
            note=note,
            url=ctx.url,
        )
    except store.TriageError as exc:
        code = 404 if "no item" in str(exc) else 400
        return _error(ctx, code, str(exc))
    return _redirect(ctx, await run_in_threadpool(_after_decision, ctx, item_id, _carried(form)))


@router.post("/items/{item_id}/reject-rest")
async def reject_rest(ctx: AnalystDep, form: FormDep, item_id: ItemId) -> Response:
    """Reject every signal this analyst has not decided yet on the item (fast path for benign items)."""
    mine = await run_in_threadpool(store.latest_decisions, [item_id], analyst=ctx.analyst, url=ctx.url)
    try:
        for signal in SIGNALS:
            if (item_id, signal) not in mine:
                await run_in_threadpool(
                    store.record_decision, item_id, signal, "reject", ctx.analyst, url=ctx.url
                )
    except store.TriageError as exc:
        return _error(ctx, 404 if "no item" in str(exc) else 400, str(exc))
    return _redirect(ctx, await run_in_threadpool(_after_decision, ctx, item_id, _carried(form)))


@router.post("/undo")
async def undo(ctx: AnalystDep, form: FormDep) -> Response:
    assert ctx.analyst is not None
    row = await run_in_threadpool(store.undo_last, ctx.analyst, url=ctx.url)
    carried = _carried(form)
    if row is None:
        return _redirect(ctx, "/triage" + _qs(carried))
    return _redirect(ctx, f"/triage/items/{row.item_id}" + _qs(carried, focus=row.signal))


@router.get("/disagreements")
def disagreements_page(ctx: AnalystDep) -> Response:
    rows = store.disagreements(url=ctx.url)
    items = store.items_by_id([r.item_id for r in rows], url=ctx.url)
    return _page(ctx, "triage/disagreements.html", title="Disagreements", rows=rows, items=items)


@router.post("/export")
async def export(ctx: AnalystDep, form: FormDep) -> Response:
    """Export the labels (``signals labels export``) from the page; shows the version written."""
    from signals.triage.export import export_labels

    result = await run_in_threadpool(export_labels, ctx.options.labels_dir, url=ctx.url)
    log.info("analyst %s exported %d labels as %s", ctx.analyst, result.n_rows, result.version)
    message = f"{result.n_rows} labelled item(s) exported as {result.version}"
    return _redirect(ctx, "/triage" + _qs(_carried(form), exported=message))


@router.get("/help", response_class=HTMLResponse)
def help_page(ctx: CtxDep) -> Response:
    return _page(ctx, "triage/help.html", title="Keyboard shortcuts", decision_keys=DECISION_KEYS)
