"""``POST /v1/submissions``: redact, score and queue texts for analysts (``triage`` scope).

Idempotent by ``(source, external_id)``: resubmitting returns the stored item with status
``existing`` and changes nothing, so a client may retry after a timeout without creating duplicates.
A 200 answer means every item is committed to the database; a 503 with ``Retry-After`` (the database
stayed busy) means nothing of the batch was stored by this request, so the same batch can be resent.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from serve.deps import CheckedRoute, Principal, ScorerDep, SettingsDep, charge_segments, require_scope
from serve.errors import APIError
from serve.routes.score import MAX_JSON_DEPTH, CleanStr, JSONObject, ScoreText
from serve.triage_settings import TriageSettings, triage_settings
from signals.triage.store import (
    MAX_EXTERNAL_ID_CHARS,
    MAX_SOURCE_CHARS,
    NewItem,
    StoreBusy,
    TriageError,
    add_items,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["triage"], route_class=CheckedRoute)

MAX_CONTEXT_BYTES = 10_000


class SubmissionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: CleanStr = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS, description="Where the text comes from, e.g. a forum."
    )
    external_id: CleanStr = Field(
        min_length=1,
        max_length=MAX_EXTERNAL_ID_CHARS,
        description="The text's id in its source; (source, external_id) identifies an item.",
    )
    text: ScoreText = Field(description="The text (limit: SIGNALS_MAX_TEXT_CHARS characters).")
    context: JSONObject = Field(
        default_factory=dict,
        description="Metadata kept with the item (redacted too), e.g. question_id and question_text; "
        f"at most {MAX_CONTEXT_BYTES} bytes of JSON, {MAX_JSON_DEPTH} levels deep.",
    )


class SubmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SubmissionItem] = Field(
        min_length=1, description="Texts to queue (limit: SIGNALS_MAX_ITEMS)."
    )


class SubmissionResult(BaseModel):
    id: int = Field(description="The item's id in the triage store.")
    status: Literal["queued", "existing"] = Field(
        description="`existing` when (source, external_id) was known."
    )
    priority: float = Field(description="Queue priority (calibrated risk plus model uncertainty).")


class SubmissionResponse(BaseModel):
    results: list[SubmissionResult] = Field(description="One result per item, in request order.")


@router.post(
    "/v1/submissions",
    response_model=SubmissionResponse,
    responses={
        401: {"description": "Missing or invalid key"},
        403: {"description": "Key lacks the `triage` scope"},
        413: {"description": "Over a size limit or SIGNALS_MAX_SEGMENTS (the message names it)"},
        422: {"description": "Malformed request (the message names the field)"},
        429: {"description": "Rate limit (one unit per text or sentence window); see Retry-After"},
        503: {"description": "The database stayed busy; nothing was stored, resend after Retry-After"},
    },
)
async def submit(
    body: SubmissionRequest,
    request: Request,
    scorer: ScorerDep,
    settings: SettingsDep,
    options: Annotated[TriageSettings, Depends(triage_settings)],
    principal: Annotated[Principal, Depends(require_scope("triage", weighted=True))],
) -> SubmissionResponse:
    """Queue texts for triage; personal data is redacted before anything is stored."""
    if len(body.items) > settings.max_items:
        raise APIError(
            413, f"{len(body.items)} items exceed the limit of {settings.max_items} (SIGNALS_MAX_ITEMS)"
        )
    for i, item in enumerate(body.items):
        if len(item.text) > settings.max_text_chars:
            raise APIError(
                413,
                f"items[{i}].text has {len(item.text)} characters, over the limit of "
                f"{settings.max_text_chars} (SIGNALS_MAX_TEXT_CHARS)",
            )
        if len(json.dumps(item.context, ensure_ascii=False).encode("utf-8")) > MAX_CONTEXT_BYTES:
            raise APIError(413, f"items[{i}].context is larger than {MAX_CONTEXT_BYTES} bytes of JSON")
    await charge_segments(request, principal, scorer, [item.text for item in body.items], True)
    items = [NewItem(i.source, i.external_id, i.text, i.context) for i in body.items]
    try:
        results = await run_in_threadpool(
            add_items,
            items,
            scorer,
            url=settings.database_url,
            redact_pii=options.redact,
            second_review=options.second_review,
            submitted_by=principal.name,
        )
    except TriageError as exc:
        raise APIError(422, str(exc)) from None
    except StoreBusy as exc:
        message = f"{exc}; nothing was stored, resend the batch"
        raise APIError(503, message, headers={"Retry-After": "1"}) from None
    return SubmissionResponse(
        results=[SubmissionResult(id=r.id, status=r.status, priority=r.priority) for r in results]
    )
