"""Perspective compatibility: request/response fixtures, errors, suggestscore, discovery, googleapiclient."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serve.settings import Settings

from conftest import auth
from pg import BOTH_DATABASES
from signals.feedback import load_feedback

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "serve"
ANALYZE = "/v1alpha1/comments:analyze"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_analyze_matches_fixture(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=fixture("analyze_request.json"))
    assert r.status_code == 200, r.text
    assert r.json() == fixture("analyze_response.json")


def test_analyze_minimal_request(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(
        f"{ANALYZE}?key={keys['score']}",
        json={"comment": {"text": "these vermin"}, "requestedAttributes": {"IDENTITY_ATTACK": {}}},
    )
    assert r.status_code == 200
    data = r.json()
    assert data == {
        "attributeScores": {"IDENTITY_ATTACK": {"summaryScore": {"value": 0.9, "type": "PROBABILITY"}}},
        "languages": ["en"],
        "detectedLanguages": ["en"],  # no language requested: detected, and echoed as Perspective does
    }


def test_analyze_key_in_header_too(client: TestClient, keys: dict[str, str]) -> None:
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    assert client.post(ANALYZE, json=body, headers=auth(keys["score"])).status_code == 200
    assert client.post(ANALYZE, json=body, headers={"X-API-Key": keys["score"]}).status_code == 200
    r = client.post(ANALYZE, json=body)
    assert r.status_code == 401 and "?key=" in r.json()["error"]["message"]
    assert client.post(f"{ANALYZE}?key={keys['triage']}", json=body).status_code == 403


def test_threshold_omits_low_attributes(client: TestClient, keys: dict[str, str]) -> None:
    body = {
        "comment": {"text": "nice weather"},
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.5}, "THREAT": {}},
    }
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert list(r.json()["attributeScores"]) == ["THREAT"]


def test_unsupported_language_in_perspective_format(client: TestClient, keys: dict[str, str]) -> None:
    body = {"comment": {"text": "Hallo"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["de"]}
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 400
    assert r.json() == fixture("analyze_error_language.json")


def test_detected_language_without_a_model_answers_per_attribute(
    client: TestClient, keys: dict[str, str]
) -> None:
    body = {
        "comment": {"text": "Los inmigrantes son una plaga y hay que echarlos."},
        "requestedAttributes": {"IDENTITY_ATTACK": {}, "TOXICITY": {}},
    }
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 400
    detail = r.json()["error"]["details"][0]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"] == {
        "attribute": "IDENTITY_ATTACK",
        "detectedLanguages": ["es"],
        "supportedLanguages": ["en"],
    }
    assert "does not support detected languages: es" in r.json()["error"]["message"]


def test_the_models_languages_are_accepted_and_detected(
    make_client: Any, settings: Settings, keys: dict[str, str]
) -> None:
    from keyword_model import KeywordModel
    from signals.models import ModelInfo
    from signals.scoring import Scorer

    def bilingual(uri: str | None) -> Scorer:
        info = ModelInfo(name="fake", version="1", format="fake", languages=["en", "es"])
        return Scorer(KeywordModel(), info)

    client = make_client(settings, loader=bilingual)
    text = "Esos inmigrantes son vermin y hay que echarlos del barrio."
    body: dict[str, Any] = {"comment": {"text": text}, "requestedAttributes": {"IDENTITY_ATTACK": {}}}
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["languages"] == ["es"] and r.json()["detectedLanguages"] == ["es"]
    assert r.json()["attributeScores"]["IDENTITY_ATTACK"]["summaryScore"]["value"] == 0.9
    r = client.post(f"{ANALYZE}?key={keys['score']}", json={**body, "languages": ["es-MX"]})
    assert r.status_code == 200 and r.json()["languages"] == ["es-MX"] and "detectedLanguages" not in r.json()
    r = client.post(f"{ANALYZE}?key={keys['score']}", json={**body, "languages": ["de"]})
    assert r.status_code == 400
    error = r.json()["error"]["details"][0]["languageNotSupportedByAttributeError"]
    assert error["supportedLanguages"] == ["en", "es"] and error["requestedLanguages"] == ["de"]


@pytest.mark.parametrize("lang", ["en", "EN", "en-US", "en_GB"])
def test_english_variants_accepted(client: TestClient, keys: dict[str, str], lang: str) -> None:
    body = {"comment": {"text": "Hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": [lang]}
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 200 and r.json()["languages"] == [lang]


@pytest.mark.parametrize(
    ("body", "error_type", "needle"),
    [
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"FLIRTATION": {}}},
            "INVALID_ATTRIBUTE",
            "FLIRTATION",
        ),
        ({"comment": {"text": "hi"}, "requestedAttributes": {}}, "INVALID_REQUEST", "at least one"),
        ({"comment": {"text": "  "}, "requestedAttributes": {"TOXICITY": {}}}, "COMMENT_EMPTY", "empty"),
        (
            {"comment": {"text": "a" * 10_001}, "requestedAttributes": {"TOXICITY": {}}},
            "COMMENT_TOO_LONG",
            "SIGNALS_MAX_TEXT_CHARS",
        ),
        (
            {"comment": {"text": "<b>hi</b>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
            "INVALID_REQUEST",
            "PLAIN_TEXT",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "PERCENTILE"}}},
            "INVALID_REQUEST",
            "PROBABILITY",
        ),
    ],
)
def test_perspective_errors(
    client: TestClient, keys: dict[str, str], body: dict[str, Any], error_type: str, needle: str
) -> None:
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and needle in err["message"]
    assert err["details"][0]["errorType"] == error_type


@pytest.mark.parametrize(
    "body",
    [
        {"comment": {"text": "hi"}},
        {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "unknownField": 1},
        {"comment": "hi", "requestedAttributes": {"TOXICITY": {}}},
        {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}},
    ],
)
def test_malformed_perspective_request_is_400(client: TestClient, keys: dict[str, str], body: Any) -> None:
    r = client.post(f"{ANALYZE}?key={keys['score']}", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


@BOTH_DATABASES
def test_suggestscore_stores_feedback(client: TestClient, keys: dict[str, str], settings: Settings) -> None:
    r = client.post(
        f"/v1alpha1/comments:suggestscore?key={keys['score']}", json=fixture("suggestscore_request.json")
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"requestedLanguages": ["en"], "clientToken": "suggest-1"}
    stored = load_feedback(settings.database_url)
    assert len(stored) == 1
    row = stored[0]
    assert row["text"].startswith("Those politicians")
    assert row["scores"] == {"POLARIZATION": 1.0, "TOXICITY": 0.2}
    assert row["source"] == "perspective.suggestscore" and row["key_name"] == "scorer"
    assert row["community_id"] == "forum-7" and row["client_token"] == "suggest-1"


def test_suggestscore_rejects_unknown_attribute(
    client: TestClient, keys: dict[str, str], settings: Settings
) -> None:
    body = {"comment": {"text": "x"}, "attributeScores": {"NOPE": {"summaryScore": {"value": 1}}}}
    r = client.post(f"/v1alpha1/comments:suggestscore?key={keys['score']}", json=body)
    assert r.status_code == 400 and "NOPE" in r.json()["error"]["message"]
    assert load_feedback(settings.database_url) == []


def test_discovery_document_is_rooted_here(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get(f"/$discovery/rest?version=v1alpha1&key={keys['score']}")
    assert r.status_code == 200
    doc = r.json()
    # the server's configured address, never the Host header the client sent
    assert doc["rootUrl"] == "http://127.0.0.1:8000/" and doc["name"] == "commentanalyzer"
    forged = client.get(
        f"/$discovery/rest?version=v1alpha1&key={keys['score']}", headers={"Host": "evil.example"}
    )
    assert forged.json()["rootUrl"] == "http://127.0.0.1:8000/"
    methods = doc["resources"]["comments"]["methods"]
    assert methods["analyze"]["path"] == "v1alpha1/comments:analyze"
    assert methods["suggestscore"]["httpMethod"] == "POST"
    for method in methods.values():
        for ref in (method["request"]["$ref"], method["response"]["$ref"]):
            assert ref in doc["schemas"]
    assert client.get(f"/$discovery/rest?version=v2&key={keys['score']}").status_code == 404
    assert client.get("/$discovery/rest?version=v1alpha1").status_code == 401


def test_discovery_public_url_setting(make_client: Any, settings: Settings, keys: dict[str, str]) -> None:
    client = make_client(settings.model_copy(update={"public_url": "https://signals.example.org/"}))
    doc = client.get(f"/$discovery/rest?version=v1alpha1&key={keys['score']}").json()
    assert doc["rootUrl"] == doc["baseUrl"] == "https://signals.example.org/"


def test_googleapiclient_works_unchanged_but_for_the_url(live_server: str, keys: dict[str, str]) -> None:
    """The real Google client, pointed at a live uvicorn, needs nothing but the discovery URL."""
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    client = discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=keys["score"],
        discoveryServiceUrl=f"{live_server}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
        cache_discovery=False,
    )
    analyze_request = {
        "comment": {"text": "You are an idiot. I will kill you. Have a nice day."},
        "requestedAttributes": {"TOXICITY": {}, "THREAT": {}},
        "spanAnnotations": True,
    }
    response = client.comments().analyze(body=analyze_request).execute()
    assert response["attributeScores"]["TOXICITY"]["summaryScore"] == {"value": 0.9, "type": "PROBABILITY"}
    assert len(response["attributeScores"]["THREAT"]["spanScores"]) == 3
    suggested = client.comments().suggestscore(body=fixture("suggestscore_request.json")).execute()
    assert suggested["clientToken"] == "suggest-1"
    with pytest.raises(HttpError) as err:
        client.comments().analyze(
            body={"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["fr"]}
        ).execute()
    assert err.value.resp.status == 400
    assert "does not support request languages: fr" in str(err.value)
