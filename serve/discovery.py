"""The Perspective (``commentanalyzer v1alpha1``) discovery document, rooted at this server.

Google's discovery-based clients build their methods from this document, so pointing
``googleapiclient.discovery.build("commentanalyzer", "v1alpha1", discoveryServiceUrl=...)`` at
``<our root>/$discovery/rest?version=v1alpha1`` makes existing Perspective code call us unchanged.
Only the pieces those clients read are described: the two methods, their schemas, the standard
query parameters (``key``, ``alt``, ``fields``, ``prettyPrint``).
"""

from __future__ import annotations

from typing import Any

API_VERSION = "v1alpha1"


def _score() -> dict[str, Any]:
    return {
        "id": "Score",
        "type": "object",
        "description": "A score and its type (always PROBABILITY here).",
        "properties": {
            "value": {"type": "number", "format": "float"},
            "type": {"type": "string", "enum": ["PROBABILITY", "STD_DEV_SCORE", "PERCENTILE", "RAW"]},
        },
    }


SCHEMAS: dict[str, Any] = {
    "TextEntry": {
        "id": "TextEntry",
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "type": {"type": "string", "enum": ["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"]},
        },
    },
    "Context": {
        "id": "Context",
        "type": "object",
        "properties": {
            "entries": {"type": "array", "items": {"$ref": "TextEntry"}},
            "articleAndParentComment": {"$ref": "ArticleAndParentComment"},
        },
    },
    "ArticleAndParentComment": {
        "id": "ArticleAndParentComment",
        "type": "object",
        "properties": {"article": {"$ref": "TextEntry"}, "parentComment": {"$ref": "TextEntry"}},
    },
    "AttributeParameters": {
        "id": "AttributeParameters",
        "type": "object",
        "properties": {
            "scoreType": {"type": "string"},
            "scoreThreshold": {"type": "number", "format": "float"},
        },
    },
    "Score": _score(),
    "SpanScore": {
        "id": "SpanScore",
        "type": "object",
        "properties": {
            "begin": {"type": "integer", "format": "int32"},
            "end": {"type": "integer", "format": "int32"},
            "score": {"$ref": "Score"},
        },
    },
    "AttributeScores": {
        "id": "AttributeScores",
        "type": "object",
        "properties": {
            "summaryScore": {"$ref": "Score"},
            "spanScores": {"type": "array", "items": {"$ref": "SpanScore"}},
        },
    },
    "AnalyzeCommentRequest": {
        "id": "AnalyzeCommentRequest",
        "type": "object",
        "properties": {
            "comment": {"$ref": "TextEntry"},
            "context": {"$ref": "Context"},
            "requestedAttributes": {
                "type": "object",
                "additionalProperties": {"$ref": "AttributeParameters"},
            },
            "spanAnnotations": {"type": "boolean"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "doNotStore": {"type": "boolean"},
            "clientToken": {"type": "string"},
            "sessionId": {"type": "string"},
            "communityId": {"type": "string"},
        },
    },
    "AnalyzeCommentResponse": {
        "id": "AnalyzeCommentResponse",
        "type": "object",
        "properties": {
            "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}},
            "languages": {"type": "array", "items": {"type": "string"}},
            "detectedLanguages": {"type": "array", "items": {"type": "string"}},
            "clientToken": {"type": "string"},
        },
    },
    "SuggestCommentScoreRequest": {
        "id": "SuggestCommentScoreRequest",
        "type": "object",
        "properties": {
            "comment": {"$ref": "TextEntry"},
            "context": {"$ref": "Context"},
            "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}},
            "languages": {"type": "array", "items": {"type": "string"}},
            "communityId": {"type": "string"},
            "clientToken": {"type": "string"},
            "sessionId": {"type": "string"},
        },
    },
    "SuggestCommentScoreResponse": {
        "id": "SuggestCommentScoreResponse",
        "type": "object",
        "properties": {
            "detectedLanguages": {"type": "array", "items": {"type": "string"}},
            "requestedLanguages": {"type": "array", "items": {"type": "string"}},
            "clientToken": {"type": "string"},
        },
    },
}

STANDARD_PARAMETERS: dict[str, Any] = {
    "key": {
        "type": "string",
        "location": "query",
        "description": "API key (signals key with `score` scope).",
    },
    "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"]},
    "fields": {"type": "string", "location": "query", "description": "Accepted and ignored."},
    "prettyPrint": {"type": "boolean", "location": "query", "default": "true"},
    "quotaUser": {"type": "string", "location": "query", "description": "Accepted and ignored."},
}


def _method(name: str, request: str, response: str, description: str) -> dict[str, Any]:
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": f"{API_VERSION}/comments:{name}",
        "flatPath": f"{API_VERSION}/comments:{name}",
        "httpMethod": "POST",
        "description": description,
        "parameters": {},
        "parameterOrder": [],
        "request": {"$ref": request},
        "response": {"$ref": response},
    }


def discovery_document(root_url: str) -> dict[str, Any]:
    """The discovery document with ``rootUrl``/``baseUrl`` set to ``root_url`` (ending in ``/``)."""
    root = root_url if root_url.endswith("/") else root_url + "/"
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{API_VERSION}",
        "name": "commentanalyzer",
        "canonicalName": "Comment Analyzer",
        "version": API_VERSION,
        "revision": "signals",
        "title": "signals: Perspective-compatible comment analyzer",
        "description": "Scores comments for hate, threat, offensive language and polarization "
        "(signals, Perspective API compatible).",
        "protocol": "rest",
        "rootUrl": root,
        "servicePath": "",
        "baseUrl": root,
        "basePath": "/",
        "batchPath": "batch",
        "parameters": STANDARD_PARAMETERS,
        "schemas": SCHEMAS,
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze",
                        "AnalyzeCommentRequest",
                        "AnalyzeCommentResponse",
                        "Analyzes the provided text and returns scores for requested attributes.",
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Suggest comment scores as training data (stored for later training).",
                    ),
                }
            }
        },
    }
