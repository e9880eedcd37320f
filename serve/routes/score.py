"""``POST /v1/score``: score a batch of texts, answers in item order.

Limits (``SIGNALS_MAX_ITEMS``, ``SIGNALS_MAX_TEXT_CHARS``, ``SIGNALS_MAX_BODY_BYTES``) answer 413 with a
message naming the limit; malformed requests answer 422 naming the field. Text is never logged unless
``SIGNALS_LOG_TEXT=true``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from serve.deps import (
    CheckedRoute,
    Principal,
    ScorerDep,
    SettingsDep,
    charge_segments,
    require_scope,
    score_texts,
)
from serve.errors import APIError, shown
from signals.schema import Score

log = logging.getLogger(__name__)
router = APIRouter(tags=["score"], route_class=CheckedRoute)

#: How deep a client's free-form JSON object (``context``) may nest: an object of objects of ... .
MAX_JSON_DEPTH = 8


def _utf8(value: str) -> str:
    """Reject unpaired surrogates (``"\\ud800"`` in JSON): they are not text and break tokenizers."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains an unpaired surrogate at character {exc.start}") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty; send at least one non-space character")
    return value


def _clean_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form JSON nested at most ``MAX_JSON_DEPTH`` levels, every key and string real Unicode.

    Checked at validation, so nothing downstream (redaction, storage) ever walks a deeper value or
    meets a string that cannot be encoded.
    """
    todo: list[tuple[Any, int, str]] = [(value, 1, "")]
    while todo:
        node, depth, where = todo.pop()
        if isinstance(node, dict | list) and depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels (at {where or 'the top'})")
        if isinstance(node, dict):
            children: Iterable[tuple[Any, Any]] = node.items()
        else:
            children = enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            at = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{shown(key, 20)}"
            try:
                for text in (key, child):
                    if isinstance(text, str):
                        _utf8(text)
            except ValueError as exc:
                raise ValueError(f"{at.lstrip('.')}: {exc}") from None
            if isinstance(child, dict | list):
                todo.append((child, depth + 1, at))
    return value


#: A string that is real Unicode text (usable in any request model).
CleanStr = Annotated[StrictStr, AfterValidator(_utf8)]
#: Text to score: real Unicode, not blank.
ScoreText = Annotated[StrictStr, AfterValidator(_utf8), AfterValidator(_not_blank)]
#: A free-form JSON object from a client (``context``): bounded depth, real Unicode throughout.
JSONObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]


class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CleanStr | None = Field(None, max_length=256, description="Your id for the item, echoed back.")
    text: ScoreText = Field(description="The text to score (limit: SIGNALS_MAX_TEXT_CHARS characters).")
    context: JSONObject | None = Field(
        None,
        description="Optional metadata (thread, parent, forum); accepted and not used by the model. "
        f"At most {MAX_JSON_DEPTH} levels deep.",
    )


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1, description="Texts to score (limit: SIGNALS_MAX_ITEMS).")
    spans: StrictBool = Field(False, description="Also return evidence spans (sentence windows).")
    source: CleanStr | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Where the texts come from (a survey or forum, as named in the triage store). When "
        "the model holds that source's own operating point (`signals calibrate --source`), its offset "
        "and review/flag thresholds apply; otherwise the global ones. The answer's `operating_point` "
        "says which.",
    )


class ModelRef(BaseModel):
    name: str
    version: str


class FlagPair(BaseModel):
    review: bool = Field(description="At or above the high-recall (review) threshold.")
    flag: bool = Field(description="At or above the high-precision (flag) threshold.")


class SpanOut(BaseModel):
    begin: int
    end: int
    scores: dict[str, float]


class ScoreResult(BaseModel):
    id: str | None
    language: str = Field(description="The text's language (ISO 639-1), detected (see docs/languages.md).")
    supported: bool = Field(
        description="Whether the model scores this language. When false, scores, targets and spans are "
        "empty and nothing is flagged: the text was not scored."
    )
    model: str | None = Field(
        description="Version of the model that scored this text: the routed model of its language, which "
        "may differ from the response's `model` (null when unsupported)."
    )
    scores: dict[str, float] = Field(description="Calibrated probability per signal (empty if unsupported).")
    flags: dict[str, FlagPair]
    priority: float = Field(description="Triage priority: risk plus a share of model uncertainty.")
    targets: dict[str, float] = Field(description="Target-group probabilities (empty without a target head).")
    spans: list[SpanOut] = Field(description="Evidence, most relevant first (empty unless spans=true).")


class ScoreResponse(BaseModel):
    model: ModelRef
    operating_point: str = Field(
        description="Which thresholds decided the flags: `global`, or `source:NAME` for the source's own."
    )
    results: list[ScoreResult]


def result_dict(item_id: str | None, score: Score) -> dict[str, Any]:
    """The JSON shape of one result (plain dicts: validating our own output would cost latency)."""
    return {
        "id": item_id,
        "language": score.language,
        "supported": score.supported,
        "model": score.model_version or None,
        "scores": score.scores,
        "flags": {s: {"review": score.review[s], "flag": score.flags[s]} for s in score.flags},
        "priority": score.priority,
        "targets": score.targets,
        "spans": [{"begin": sp.begin, "end": sp.end, "scores": sp.scores} for sp in score.spans],
    }


def check_text_limits(texts: list[str], max_chars: int, what: str = "items[{i}].text") -> None:
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise APIError(
                413,
                f"{what.format(i=i)} has {len(text)} characters; the limit is {max_chars} "
                "(SIGNALS_MAX_TEXT_CHARS)",
            )


@router.post(
    "/v1/score",
    response_model=None,
    responses={
        200: {"model": ScoreResponse, "description": "One result per item, in item order."},
        401: {"description": "Missing or invalid key"},
        403: {"description": "Key lacks the `score` scope"},
        413: {"description": "Over a size limit or SIGNALS_MAX_SEGMENTS (the message names it)"},
        422: {"description": "Malformed request (the message names the field)"},
        429: {"description": "Rate limit (one unit per text or sentence window); see Retry-After"},
    },
)
async def score(
    body: ScoreRequest,
    request: Request,
    scorer: ScorerDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require_scope("score", weighted=True))],
) -> JSONResponse:
    """Score texts for hate, threat, offensive language and polarization."""
    if len(body.items) > settings.max_items:
        raise APIError(
            413, f"{len(body.items)} items in one call; the limit is {settings.max_items} (SIGNALS_MAX_ITEMS)"
        )
    texts = [item.text for item in body.items]
    check_text_limits(texts, settings.max_text_chars)
    await charge_segments(request, principal, scorer, texts, body.spans)
    if settings.log_text:
        for item in body.items:
            log.info("score key=%s id=%s text=%r", principal.name, item.id, item.text)
    scores = await score_texts(request, scorer, texts, body.spans, source=body.source)
    request.app.state.metrics.observe_scores("score", scores)
    point = scorer.operating_point(body.source)
    # A JSONResponse directly: FastAPI's generic encoder would walk every value again (~0.3 ms).
    return JSONResponse(
        {
            "model": {"name": scorer.name, "version": scorer.version},
            "operating_point": point.label if point is not None else "global",
            "results": [result_dict(item.id, sc) for item, sc in zip(body.items, scores, strict=True)],
        }
    )
