"""One error shape for every route: Google's ``{"error": {"code", "message", "status"}}``.

Perspective clients parse exactly this shape, so using it everywhere means a client switching from
Perspective sees familiar errors on every route, and our own clients have one format to handle.
Validation errors name the field (``items[2].text: ...``); nothing a client sends can produce a 500.

Malformed bodies (not JSON, invalid JSON, not UTF-8, nested too deeply, wrong fields) answer 422 on our
own routes and 400 on the Perspective routes (``bad_request_code``), always after the key was checked.
Names a client sent are echoed back shortened and only the first few (``listed``), so an error is never
larger than a few hundred bytes. Unexpected errors are logged by type and code location only: never
the exception's message, which can carry the client's text.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from serve.ratelimit import UNAVAILABLE_RETRY_AFTER, LimitsUnavailable

log = logging.getLogger(__name__)

#: HTTP status -> Google RPC status name.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


#: Routes that follow Perspective's conventions (400 for every malformed request).
PERSPECTIVE_PREFIX = "/v1alpha1/"


def bad_request_code(path: str) -> int:
    """The status of a malformed request: 400 on the Perspective routes, 422 on every other route."""
    return 400 if path.startswith(PERSPECTIVE_PREFIX) else 422


def _printable(text: str) -> str:
    """``text`` with anything that cannot be encoded (an unpaired surrogate) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value: object, width: int = 40) -> str:
    """A client-sent value quoted for an error message, cut to ``width`` characters."""
    text = str(value)
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def listed(values: Iterable[object], limit: int = 5, width: int = 40) -> str:
    """The first ``limit`` client-sent names, shortened, and how many more: ``a, b and 3 more``."""
    items = [_printable(str(v)) for v in values]
    out = ", ".join(v if len(v) <= width else v[: width - 1] + "…" for v in items[:limit])
    return out + (f" and {len(items) - limit} more" if len(items) > limit else "")


class EarlyResponse(Exception):  # noqa: N818 - not an error: a dependency's finished answer
    """Raised by a dependency that has the whole answer already (a login redirect, an error page)."""

    def __init__(self, response: Response) -> None:
        super().__init__("early response")
        self.response = response


class APIError(Exception):
    """An error answered as JSON with a status code; ``details`` follow Google's error-details list."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        details: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers


def error_body(code: int, message: str, details: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "status": STATUS_NAMES.get(code, "UNKNOWN")}
    if details:
        body["details"] = list(details)
    return {"error": body}


def error_response(
    code: int, message: str, details: Sequence[dict[str, Any]] = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=code, headers=headers)


def _location(loc: Sequence[Any]) -> str:
    """``("body", "items", 2, "text")`` -> ``items[2].text``."""
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = _printable(str(part))  # may be a key the client sent: shortened
            out += ("." if out else "") + (name if len(name) <= 40 else name[:39] + "…")
    return out or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # parsed as JSON: the app sets strict_content_type=False
    main = content_type.split(";")[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


def validation_message(exc: RequestValidationError, content_type: str | None = None) -> str:
    """One readable line per problem, e.g. ``items[0].text: Value error, text is empty``."""
    parts = []
    for err in exc.errors()[:5]:
        kind = err.get("type", "")
        if tuple(err.get("loc", ())) == ("body",) and kind != "missing" and not _is_json(content_type):
            parts.append(
                f"send the body as JSON with Content-Type: application/json (got {shown(content_type)})"
            )
            continue
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            parts.append(f"invalid JSON: {ctx.get('error', 'cannot parse body')}")
            continue
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        loc_is_body = tuple(err.get("loc", ())) == ("body",)
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "the request body is missing; send a JSON object" if loc_is_body else "field required"
        elif loc_is_body:
            msg = f"expected a JSON object; {msg[0].lower()}{msg[1:]}"
        parts.append(f"{_location(err.get('loc', ()))}: {msg}")
    more = len(exc.errors()) - 5
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts) or "invalid request"


def _code_location(exc: BaseException) -> str:
    """Where an exception was raised, innermost frame first: ``store.py:120 add_items <- ...``."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)) or "?"


def log_unexpected(method: str, route: str, exc: BaseException) -> None:
    """Log an unexpected error by type and code location: its message can carry client text."""
    log.error("unhandled %s on %s %s at %s", type(exc).__name__, method, route, _code_location(exc))


def _body_problem(exc: BaseException | None) -> str:
    """Why FastAPI could not parse a request body (it answers a bare 400 with the cause attached)."""
    if isinstance(exc, RecursionError):
        return "the JSON body is nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"request body is not valid UTF-8 (bad byte at offset {exc.start}); send UTF-8 JSON"
    return "the body could not be parsed; send a JSON object"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error (ours, FastAPI's validation, Starlette's 404/405) into one shape; surprises
    are caught by ``serve.middleware.Observe`` (a 500, logged with ``log_unexpected``)."""

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(LimitsUnavailable)
    async def _limits_down(_request: Request, exc: LimitsUnavailable) -> JSONResponse:
        log.error("%s", exc)
        headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
        return error_response(503, "rate limiting is unavailable; retry shortly", headers=headers)

    @app.exception_handler(EarlyResponse)
    async def _early(_request: Request, exc: EarlyResponse) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code = bad_request_code(request.url.path)
        return error_response(code, validation_message(exc, request.headers.get("content-type")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI failed to parse the body
            return error_response(bad_request_code(request.url.path), _body_problem(exc.__cause__))
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))
