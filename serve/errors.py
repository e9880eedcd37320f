"""One error shape for every route: Google's ``{"error": {"code", "message", "status"}}``.

Perspective clients parse exactly this shape, so using it everywhere means a client switching from
Perspective sees familiar errors on every route, and our own clients have one format to handle.
Validation errors name the field (``items[2].text: ...``); nothing a client sends can produce a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
            out += ("." if out else "") + str(part)
    return out or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # parsed as JSON: the app sets strict_content_type=False
    main = content_type.split(";")[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


def validation_message(exc: RequestValidationError, content_type: str | None = None) -> str:
    """One readable line per problem, e.g. ``items[0].text: Value error, text is empty``."""
    parts = []
    for err in exc.errors()[:10]:
        kind = err.get("type", "")
        if tuple(err.get("loc", ())) == ("body",) and kind != "missing" and not _is_json(content_type):
            parts.append(f"send the body as JSON with Content-Type: application/json (got {content_type})")
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
    more = len(exc.errors()) - 10
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error (ours, FastAPI's validation, Starlette's 404/405, surprises) into one shape."""

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Perspective answers bad requests with 400; our own API uses 422 like FastAPI.
        code = 400 if request.url.path.startswith("/v1alpha1/") else 422
        return error_response(code, validation_message(exc, request.headers.get("content-type")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
        return error_response(500, "internal error; the server log has the details")
