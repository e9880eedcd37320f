"""Plain ASGI middleware (cheaper than ``BaseHTTPMiddleware``): body limits and observability.

``BodyGuard`` reads the request body up front, so an oversized body is a 413 naming the limit before
anything parses it (the encoding and JSON checks come after the key check: ``serve.deps.CheckedRoute``).
``Observe`` times every request, counts it by route template and status, and writes one access-log
line without the query string (Perspective clients put their key there) and without any text; an
unexpected error becomes a 500 there, logged by type and code location only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serve.errors import error_body, log_unexpected
from serve.metrics import Metrics

log = logging.getLogger("serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_error(send: Send, code: int, message: str) -> None:
    payload = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyGuard:
    """Reject bodies over ``max_bytes`` (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        too_big = f"request body exceeds the limit of {self.max_bytes} bytes (SIGNALS_MAX_BODY_BYTES)"
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_error(send, 413, too_big)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _template(scope: Scope) -> str:
    """The matched route's path template (``/triage/items/{item_id}``), never the path itself."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


class Observe:
    """Request metrics, a text-free access log, and the 500 answer for anything unexpected."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        status_sent: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = status_sent = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answered and logged here, not re-raised: the server would log the whole traceback, whose
            # last line is the exception's message (client text, e.g. a context that failed to encode).
            log_unexpected(scope.get("method", ""), _template(scope), exc)
            if status_sent is None:
                await _send_error(send, 500, "internal error; the server log has the details")
            status = 500
        finally:
            elapsed = time.perf_counter() - start
            template = _template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            principal = getattr(scope.get("state", {}).get("principal"), "name", "-")
            log.info(
                "%s %s %d %.1fms key=%s", method, scope.get("path", ""), status, elapsed * 1000, principal
            )
