"""Perspective API compatibility: ``comments:analyze``, ``comments:suggestscore``, the discovery document.

A Perspective client switches by changing only its base URL (and key). Attribute mapping, on the
calibrated signal probabilities:

==================  ======================================================================
Perspective         signals
==================  ======================================================================
TOXICITY            max(hate, threat, offensive)  -- any of the three harms
SEVERE_TOXICITY     max(hate, threat)             -- the severe kinds; never above TOXICITY
IDENTITY_ATTACK     hate
INSULT              offensive
PROFANITY           offensive
THREAT              threat
POLARIZATION        polarization                  -- ours, not Perspective's
==================  ======================================================================

The languages are the model's (``signals.json`` ``languages``; ``en``, ``en-US``... for the English
model). A request without ``languages`` has its language detected (``signals.language``), echoed in
``detectedLanguages`` as Perspective does. A requested or detected language the model does not score
answers ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`` for the first requested attribute, as Perspective does;
other attributes answer in Perspective's error format too (400 ``INVALID_ARGUMENT`` with an
``errorType`` detail). ``spanAnnotations`` returns per-sentence span scores. ``doNotStore`` is always
honoured: analyze never stores text. ``suggestscore`` stores the suggestion as training feedback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from serve.deps import (
    CheckedRoute,
    Principal,
    ScorerDep,
    SettingsDep,
    charge_segments,
    require_scope,
    score_texts,
)
from serve.discovery import API_VERSION, discovery_document
from serve.errors import APIError, listed, shown
from serve.routes.score import CleanStr
from signals.feedback import store_feedback
from signals.language import detect, normalize_code
from signals.scoring import Scorer, sentence_spans

log = logging.getLogger(__name__)
router = APIRouter(tags=["perspective"], route_class=CheckedRoute)

#: Perspective attribute -> the signals it is the maximum of.
ATTRIBUTE_SIGNALS: dict[str, tuple[str, ...]] = {
    "TOXICITY": ("hate", "threat", "offensive"),
    "SEVERE_TOXICITY": ("hate", "threat"),
    "IDENTITY_ATTACK": ("hate",),
    "INSULT": ("offensive",),
    "PROFANITY": ("offensive",),
    "THREAT": ("threat",),
    "POLARIZATION": ("polarization",),
}


def _max_of(names: tuple[str, ...]) -> Callable[[Mapping[str, float]], float]:
    # A language's model may score only some signals (signals.scoring): the maximum of those scored.
    return lambda s: max(s[n] for n in names if n in s)


#: Perspective attribute -> how it is computed from our signal probabilities. An attribute is
#: supported in a language when the model scores at least one of its signals there.
ATTRIBUTES: dict[str, Callable[[Mapping[str, float]], float]] = {
    name: _max_of(names) for name, names in ATTRIBUTE_SIGNALS.items()
}
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"


def perspective_error(message: str, error_type: str, **extra: Any) -> APIError:
    """A 400 in Perspective's shape: Google error plus a ``commentanalyzer`` error detail."""
    return APIError(400, message, details=[{"@type": ERROR_TYPE, "errorType": error_type, **extra}])


class TextEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: CleanStr
    type: CleanStr | None = Field(None, description="PLAIN_TEXT (the only type supported)")


class ArticleAndParentComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article: TextEntry | None = None
    parentComment: TextEntry | None = None  # noqa: N815 - Perspective's field name


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[TextEntry] | None = None
    articleAndParentComment: ArticleAndParentComment | None = None  # noqa: N815


class AttributeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scoreType: CleanStr | None = None  # noqa: N815
    scoreThreshold: float | None = Field(None, ge=0.0, le=1.0)  # noqa: N815


class AnalyzeCommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: TextEntry
    context: Context | None = None
    requestedAttributes: dict[CleanStr, AttributeParameters]  # noqa: N815
    spanAnnotations: StrictBool | None = None  # noqa: N815
    languages: list[CleanStr] | None = None
    doNotStore: StrictBool | None = None  # noqa: N815
    clientToken: CleanStr | None = None  # noqa: N815
    sessionId: CleanStr | None = None  # noqa: N815
    communityId: CleanStr | None = None  # noqa: N815


class ScoreValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0.0, le=1.0)
    type: CleanStr | None = None


class SpanScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    begin: int | None = None
    end: int | None = None
    score: ScoreValue


class AttributeScores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summaryScore: ScoreValue | None = None  # noqa: N815
    spanScores: list[SpanScore] | None = None  # noqa: N815


class AnalyzeCommentResponse(BaseModel):
    attributeScores: dict[str, AttributeScores]  # noqa: N815
    languages: list[str]
    detectedLanguages: list[str] | None = None  # noqa: N815 - only when the request named no language
    clientToken: str | None = None  # noqa: N815


class SuggestCommentScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: TextEntry
    context: Context | None = None
    attributeScores: dict[CleanStr, AttributeScores]  # noqa: N815
    languages: list[CleanStr] | None = None
    communityId: CleanStr | None = None  # noqa: N815
    clientToken: CleanStr | None = None  # noqa: N815
    sessionId: CleanStr | None = None  # noqa: N815


class SuggestCommentScoreResponse(BaseModel):
    requestedLanguages: list[str]  # noqa: N815
    clientToken: str | None = None  # noqa: N815


def _languages(
    requested: list[str] | None, attributes: list[str], scorer: Scorer, text: str
) -> tuple[list[str], list[str] | None]:
    """The request's languages and, when it named none, the detected ones (Perspective's
    ``detectedLanguages``); a language the model does not score is Perspective's error."""
    detected = None
    if not requested:
        detected = [detect(text).language]
    bad = [lang for lang in requested or detected or [] if not scorer.supports(lang)]
    attr = attributes[0] if attributes else "TOXICITY"
    if not bad:
        # A supported language whose model scores none of an attribute's signals (German: only
        # polarization) does not support that attribute.
        for lang in requested or detected or []:
            scored = set(scorer.signals_for(lang))
            missing = [
                a for a in attributes if a in ATTRIBUTE_SIGNALS and not scored & set(ATTRIBUTE_SIGNALS[a])
            ]
            if missing:
                bad, attr = [lang], missing[0]
                break
    if bad:
        # Echoed shortened and only the first few: an error is never bigger than the request.
        which = "request" if requested else "detected"
        # The languages whose model scores at least one of the attribute's signals (German: not TOXICITY).
        wanted = set(ATTRIBUTE_SIGNALS.get(attr, ()))
        supported = [lang for lang in scorer.languages if set(scorer.signals_for(lang)) & wanted]
        error: dict[str, Any] = {"attribute": attr, "supportedLanguages": supported}
        if requested:
            error["requestedLanguages"] = [lang[:40] for lang in requested[:5]]
        else:
            error["detectedLanguages"] = detected
        raise perspective_error(
            f"Attribute {attr} does not support {which} languages: {listed(bad)}",
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            languageNotSupportedByAttributeError=error,
        )
    return list(requested or detected or []), detected


def _check_attributes(names: list[str]) -> None:
    if not names:
        raise perspective_error("requestedAttributes must name at least one attribute", "INVALID_REQUEST")
    unknown = [a for a in names if a not in ATTRIBUTES]
    if unknown:
        raise perspective_error(
            f"Unknown or unsupported attribute(s): {listed(unknown)}. Supported: {', '.join(ATTRIBUTES)}",
            "INVALID_ATTRIBUTE",
        )


def _check_comment(comment: TextEntry, max_chars: int) -> str:
    if comment.type not in (None, "PLAIN_TEXT", "TEXT_TYPE_UNSPECIFIED"):
        raise perspective_error(
            f"Comment type {shown(comment.type)} is not supported; use PLAIN_TEXT", "INVALID_REQUEST"
        )
    text = comment.text
    if not text.strip():
        raise perspective_error("Comment text is empty", "COMMENT_EMPTY")
    if len(text) > max_chars:
        raise perspective_error(
            f"Comment text has {len(text)} characters; the limit is {max_chars} (SIGNALS_MAX_TEXT_CHARS)",
            "COMMENT_TOO_LONG",
        )
    return text


def _value(v: float) -> dict[str, Any]:
    return {"value": round(float(v), 6), "type": "PROBABILITY"}


ScoreScope = Annotated[Principal, Depends(require_scope("score", allow_query=True))]
WeightedScoreScope = Annotated[Principal, Depends(require_scope("score", allow_query=True, weighted=True))]


@router.post(
    f"/{API_VERSION}/comments:analyze",
    response_model=None,
    responses={200: {"model": AnalyzeCommentResponse}, 400: {"description": "Perspective-style error"}},
)
async def analyze(
    body: AnalyzeCommentRequest,
    request: Request,
    scorer: ScorerDep,
    settings: SettingsDep,
    principal: WeightedScoreScope,
) -> JSONResponse:
    """Perspective's ``comments:analyze``: attribute scores for one comment."""
    names = list(body.requestedAttributes)
    _check_attributes(names)
    text = _check_comment(body.comment, settings.max_text_chars)
    languages, detected = _languages(body.languages, names, scorer, text)
    for name, params in body.requestedAttributes.items():
        if params.scoreType not in (None, "PROBABILITY"):
            raise perspective_error(
                f"Attribute {name}: scoreType {shown(params.scoreType)} is not supported; use PROBABILITY",
                "INVALID_REQUEST",
            )
    if settings.log_text:
        log.info("analyze key=%s text=%r", principal.name, text)
    sentences = await run_in_threadpool(sentence_spans, text) if body.spanAnnotations else []
    texts = [text, *(text[b:e] for b, e in sentences)]
    await charge_segments(request, principal, scorer, texts, False)
    # The comment's language, for its sentences too: a short sentence alone would fall to the default.
    results = await score_texts(request, scorer, texts, False, normalize_code(languages[0]))
    request.app.state.metrics.observe_scores("perspective", results[:1])
    summary = results[0].scores
    attribute_scores: dict[str, Any] = {}
    for name, params in body.requestedAttributes.items():
        fn = ATTRIBUTES[name]
        threshold = params.scoreThreshold or 0.0
        value = fn(summary)
        if value < threshold:
            continue
        entry: dict[str, Any] = {"summaryScore": _value(value)}
        if body.spanAnnotations:
            entry["spanScores"] = [
                {"begin": b, "end": e, "score": _value(fn(res.scores))}
                for (b, e), res in zip(sentences, results[1:], strict=True)
                if fn(res.scores) >= threshold
            ]
        attribute_scores[name] = entry
    answer: dict[str, Any] = {"attributeScores": attribute_scores, "languages": languages}
    if detected is not None:
        answer["detectedLanguages"] = detected
    if body.clientToken is not None:
        answer["clientToken"] = body.clientToken
    return JSONResponse(answer)


@router.post(
    f"/{API_VERSION}/comments:suggestscore",
    response_model=None,
    responses={200: {"model": SuggestCommentScoreResponse}, 400: {"description": "Perspective-style error"}},
)
async def suggestscore(
    body: SuggestCommentScoreRequest,
    settings: SettingsDep,
    scorer: ScorerDep,
    principal: ScoreScope,
) -> dict[str, Any]:
    """Perspective's ``comments:suggestscore``: store a suggested score as training feedback."""
    names = list(body.attributeScores)
    _check_attributes(names)
    text = _check_comment(body.comment, settings.max_text_chars)
    languages, _ = _languages(body.languages, names, scorer, text)
    scores: dict[str, float] = {}
    for name, attr in body.attributeScores.items():
        if attr.summaryScore is None:
            raise perspective_error(f"Attribute {name}: summaryScore.value is required", "INVALID_REQUEST")
        scores[name] = attr.summaryScore.value
    await run_in_threadpool(
        store_feedback,
        text,
        scores,
        source="perspective.suggestscore",
        key_name=principal.name,
        languages=languages,
        community_id=body.communityId,
        client_token=body.clientToken,
        url=settings.database_url,
    )
    answer: dict[str, Any] = {"requestedLanguages": languages}
    if body.clientToken is not None:
        answer["clientToken"] = body.clientToken
    return answer


@router.get("/$discovery/rest", response_model=None)
async def discovery(
    settings: SettingsDep,
    _principal: ScoreScope,
    version: Annotated[str, Query(description="API version; only v1alpha1 exists")] = API_VERSION,
) -> dict[str, Any]:
    """The ``commentanalyzer v1alpha1`` discovery document, rooted at this server.

    The root is ``SIGNALS_PUBLIC_URL``, else the address the server binds to: never the request's
    ``Host`` header, which a client (or anyone in front of one) can set to any site.
    """
    if version != API_VERSION:
        raise APIError(404, f"no discovery document for version {shown(version)}; only {API_VERSION}")
    return discovery_document(settings.root_url())
