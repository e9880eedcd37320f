"""Contract of /v1/score, health, metrics and admin routes; auth, scopes, limits, rate limits, bad input."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from serve.settings import Settings

from conftest import auth
from signals.keys import revoke_key
from signals.schema import SIGNALS, TARGETS


def test_score_contract_in_item_order(client: TestClient, keys: dict[str, str]) -> None:
    body = {
        "items": [
            {"id": "a", "text": "What a lovely morning."},
            {"id": "b", "text": "You idiot. Those traitors will pay.", "context": {"thread": "t1"}},
            {"id": "c", "text": "These vermin should leave."},
        ],
        "spans": True,
    }
    r = client.post("/v1/score", json=body, headers=auth(keys["score"]))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["model"] == {"name": "fake", "version": "1"}
    assert [res["id"] for res in data["results"]] == ["a", "b", "c"]
    a, b, c = data["results"]
    assert set(a["scores"]) == set(SIGNALS) and set(a["flags"]) == set(SIGNALS)
    assert set(a["targets"]) == set(TARGETS)
    assert a["flags"]["offensive"] == {"review": False, "flag": False}
    assert b["flags"]["offensive"] == {"review": True, "flag": True}
    assert b["flags"]["polarization"]["flag"] is True and b["flags"]["hate"]["flag"] is False
    assert c["scores"]["hate"] == pytest.approx(0.9)
    assert b["priority"] > a["priority"]
    # spans: sentence windows with offsets into the text, most relevant first
    span = b["spans"][0]
    assert set(span) == {"begin", "end", "scores"}
    assert body["items"][1]["text"][span["begin"] : span["end"]].strip()


def test_spans_default_off_and_id_optional(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/score", json={"items": [{"text": "hello there"}]}, headers=auth(keys["score"]))
    assert r.status_code == 200
    res = r.json()["results"][0]
    assert res["id"] is None and res["spans"] == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer sig_not-a-real-key"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"X-API-Key": "wrong"}, 401),
    ],
)
def test_missing_or_bad_key_is_401_json(client: TestClient, headers: dict[str, str], status: int) -> None:
    r = client.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "key" in r.json()["error"]["message"]


def test_key_sent_three_ways(client: TestClient, keys: dict[str, str]) -> None:
    body = {"items": [{"text": "hi"}]}
    assert client.post("/v1/score", json=body, headers=auth(keys["score"])).status_code == 200
    assert client.post("/v1/score", json=body, headers={"X-API-Key": keys["score"]}).status_code == 200
    # the query parameter is for Perspective clients only
    assert client.post(f"/v1/score?key={keys['score']}", json=body).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "scope_ok", "scope_bad"),
    [
        ("POST", "/v1/score", {"items": [{"text": "hi"}]}, "score", "triage"),
        ("POST", "/admin/reload", None, "admin", "score"),
        ("GET", "/metrics", None, "admin", "score"),
    ],
)
def test_scopes(
    client: TestClient,
    keys: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object] | None,
    scope_ok: str,
    scope_bad: str,
) -> None:
    bad = client.request(method, path, json=body, headers=auth(keys[scope_bad]))
    assert bad.status_code == 403
    assert scope_ok in bad.json()["error"]["message"]
    assert client.request(method, path, json=body, headers=auth(keys[scope_ok])).status_code == 200
    assert client.request(method, path, json=body, headers=auth(keys["all"])).status_code == 200


def test_revoked_key_rejected_at_once(client: TestClient, keys: dict[str, str], settings: Settings) -> None:
    assert (
        client.post("/v1/score", json={"items": [{"text": "x"}]}, headers=auth(keys["score"])).status_code
        == 200
    )
    revoke_key("scorer", settings.database_url)
    r = client.post("/v1/score", json={"items": [{"text": "x"}]}, headers=auth(keys["score"]))
    assert r.status_code == 401


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["model"] == {"name": "fake", "version": "1"}


def test_readyz_503_before_model_loaded(make_client: Callable[..., TestClient], settings: Settings) -> None:
    client = make_client(settings)
    client.app.state.models.scorer = None  # type: ignore[attr-defined]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"items": [{"text": "a"}] * 5}, 413, "SIGNALS_MAX_ITEMS"),
        ({"items": [{"text": "a" * 101}]}, 413, "SIGNALS_MAX_TEXT_CHARS"),
        ({"items": [{"text": "b" * 90}] * 4}, 413, "SIGNALS_MAX_BODY_BYTES"),
    ],
)
def test_limits_name_the_limit(
    make_client: Callable[..., TestClient],
    settings: Settings,
    keys: dict[str, str],
    body: dict[str, object],
    status: int,
    needle: str,
) -> None:
    small = settings.model_copy(update={"max_items": 4, "max_text_chars": 100, "max_body_bytes": 300})
    client = make_client(small)
    r = client.post("/v1/score", json=body, headers=auth(keys["score"]))
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_default_limits(client: TestClient, keys: dict[str, str]) -> None:
    ok = client.post("/v1/score", json={"items": [{"text": "a"}] * 256}, headers=auth(keys["score"]))
    assert ok.status_code == 200 and len(ok.json()["results"]) == 256
    r = client.post("/v1/score", json={"items": [{"text": "a"}] * 257}, headers=auth(keys["score"]))
    assert r.status_code == 413 and "256" in r.json()["error"]["message"]
    r = client.post("/v1/score", json={"items": [{"text": "a" * 10_001}]}, headers=auth(keys["score"]))
    assert r.status_code == 413 and "10000" in r.json()["error"]["message"]
    huge = b'{"items": [{"text": "' + b"a" * 1_000_001 + b'"}]}'
    r = client.post(
        "/v1/score", content=huge, headers={**auth(keys["score"]), "content-type": "application/json"}
    )
    assert r.status_code == 413 and "1000000" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "content_type", "needle"),
    [
        (b'{"items": [{"text": ""}]}', "application/json", "items[0].text: text is empty"),
        (b'{"items": [{"text": "   "}]}', "application/json", "text is empty"),
        (b'{"items": []}', "application/json", "items"),
        (b'{"items": [{"text": 5}]}', "application/json", "items[0].text"),
        (b'{"items": [{"text": "a", "id": 5}]}', "application/json", "items[0].id"),
        (b'{"items": [{"text": "a"}], "spans": "yes"}', "application/json", "spans"),
        (
            b'{"items": [{"text": "a", "colour": "red"}]}',
            "application/json",
            "items[0].colour: unknown field",
        ),
        (b'{"items": [{"text": "a"}], "extra": 1}', "application/json", "extra: unknown field"),
        (b'{"items": [{"text": "a"', "application/json", "invalid JSON"),
        (b"[1, 2]", "application/json", "expected a JSON object"),
        (b"", "application/json", "body is missing"),
        (b'{"items": [{"text": "caf\xe9"}]}', "application/json", "not valid UTF-8"),
        (b'{"items": [{"text": "\\ud800"}]}', "application/json", "unpaired surrogate"),
        (b'{"items": [{"text": "a"}]}', "text/plain", "Content-Type: application/json"),
        (b"items=a", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, keys: dict[str, str], content: bytes, content_type: str, needle: str
) -> None:
    r = client.post(
        "/v1/score", content=content, headers={**auth(keys["score"]), "content-type": content_type}
    )
    assert 400 <= r.status_code < 500, r.text
    assert needle in r.json()["error"]["message"]


def test_json_without_content_type_is_accepted(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/score", content=b'{"items": [{"text": "hi"}]}', headers=auth(keys["score"]))
    assert r.status_code == 200


def test_unknown_route_and_method_are_json(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/v1/nope", headers=auth(keys["score"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    r = client.get("/v1/score", headers=auth(keys["score"]))
    assert r.status_code == 405 and "error" in r.json()


def test_rate_limit_429_with_retry_after(
    make_client: Callable[..., TestClient], settings: Settings, keys: dict[str, str]
) -> None:
    client = make_client(settings.model_copy(update={"rate_limit": 3}))
    body = {"items": [{"text": "hi"}]}
    codes = [client.post("/v1/score", json=body, headers=auth(keys["score"])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.post("/v1/score", json=body, headers=auth(keys["score"]))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    # limits are per key: another key is unaffected
    assert client.post("/v1/score", json=body, headers=auth(keys["all"])).status_code == 200


def test_auth_can_be_switched_off(make_client: Callable[..., TestClient], settings: Settings) -> None:
    client = make_client(settings.model_copy(update={"auth": False}))
    assert client.post("/v1/score", json={"items": [{"text": "hi"}]}).status_code == 200


def test_metrics(client: TestClient, keys: dict[str, str]) -> None:
    client.post(
        "/v1/score", json={"items": [{"text": "you idiot"}, {"text": "hi"}]}, headers=auth(keys["score"])
    )
    text = client.get("/metrics", headers=auth(keys["admin"])).text
    assert 'signals_http_requests_total{method="POST",route="/v1/score",status="200"} 1.0' in text
    assert 'signals_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/score"}' in text
    assert 'signals_items_scored_total{route="score"} 2.0' in text
    assert 'signals_flagged_total{signal="offensive"} 1.0' in text
    assert 'signals_flagged_total{signal="hate"} 0.0' in text
    assert 'signals_model_info{name="fake",version="1"} 1.0' in text


def test_public_metrics_setting(make_client: Callable[..., TestClient], settings: Settings) -> None:
    assert make_client(settings).get("/metrics").status_code == 401
    assert (
        make_client(settings.model_copy(update={"public_metrics": True})).get("/metrics").status_code == 200
    )


def test_reload_swaps_model(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/admin/reload", json={"model": "fake:2"}, headers=auth(keys["admin"]))
    assert r.status_code == 200
    body = r.json()
    assert body["previous"] == {"name": "fake", "version": "1"}
    assert body["model"] == {"name": "fake", "version": "2"}
    assert body["generation"] == 1 and body["all_workers"] is True
    assert [(w["model_version"], w["generation"]) for w in body["workers"]] == [("2", 1)]
    assert client.get("/readyz").json()["model"]["version"] == "2"
    scored = client.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=auth(keys["score"]))
    assert scored.json()["model"]["version"] == "2"
    assert (
        'signals_model_info{name="fake",version="2"} 1.0'
        in client.get("/metrics", headers=auth(keys["admin"])).text
    )


def test_failed_reload_keeps_old_model(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/admin/reload", json={"model": "/no/such/model"}, headers=auth(keys["admin"]))
    assert r.status_code == 422
    assert "still serving" in r.json()["error"]["message"]
    assert client.get("/readyz").json()["model"]["version"] == "1"


def test_logs_carry_no_text_unless_configured(
    make_client: Callable[..., TestClient],
    settings: Settings,
    keys: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "my-very-private-comment-text"
    with caplog.at_level(logging.DEBUG):
        client = make_client(settings)
        client.post("/v1/score", json={"items": [{"text": secret}]}, headers=auth(keys["score"]))
        client.post(
            f"/v1alpha1/comments:analyze?key={keys['score']}",
            json={"comment": {"text": secret}, "requestedAttributes": {"TOXICITY": {}}},
        )
    # only the server's own loggers: the test client logs the URLs it requests
    server = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "asyncio")))
    assert "POST /v1alpha1/comments:analyze 200" in server
    assert secret not in server
    assert keys["score"] not in server  # the Perspective key travels in the query string
    caplog.clear()
    with caplog.at_level(logging.INFO):
        client = make_client(settings.model_copy(update={"log_text": True}))
        client.post("/v1/score", json={"items": [{"text": secret}]}, headers=auth(keys["score"]))
    assert secret in caplog.text


def test_a_named_source_uses_its_own_operating_point(
    make_client: Callable[..., TestClient], settings: Settings, keys: dict[str, str]
) -> None:
    from conftest import fake_scorer
    from signals.sources import SourcePoint

    def loader(uri: str | None) -> object:
        scorer = fake_scorer()
        base = scorer.info.thresholds
        scorer.sources["city"] = SourcePoint(
            "city",
            review={**base["review"], "offensive": 0.04},
            flag={**base["flag"], "offensive": 0.04},
            offset={s: 0.0 for s in SIGNALS},
            fitted=("offensive",),
        )
        return scorer

    client = make_client(settings, loader=loader)
    items = [{"text": "the bus was late"}]
    plain = client.post("/v1/score", json={"items": items}, headers=auth(keys["score"])).json()
    assert plain["operating_point"] == "global"
    assert plain["results"][0]["flags"]["offensive"]["flag"] is False
    own = client.post("/v1/score", json={"items": items, "source": "city"}, headers=auth(keys["score"]))
    assert own.status_code == 200 and own.json()["operating_point"] == "source:city"
    assert own.json()["results"][0]["flags"]["offensive"]["flag"] is True
    other = client.post("/v1/score", json={"items": items, "source": "forum"}, headers=auth(keys["score"]))
    assert other.json()["operating_point"] == "global"
    empty = client.post("/v1/score", json={"items": items, "source": ""}, headers=auth(keys["score"]))
    assert empty.status_code == 422


def test_every_result_names_its_language_and_unsupported_ones_are_not_scored(
    client: TestClient, keys: dict[str, str]
) -> None:
    body = {
        "items": [
            {"id": "en", "text": "These vermin should leave."},
            {"id": "es", "text": "Los inmigrantes son una plaga, vermin, hay que echarlos."},
            {"id": "ar", "text": "المهاجرون حشرات يجب طردهم"},
        ],
        "spans": True,
    }
    r = client.post("/v1/score", json=body, headers=auth(keys["score"]))
    assert r.status_code == 200, r.text
    en, es, ar = r.json()["results"]
    assert (en["language"], en["supported"]) == ("en", True) and en["flags"]["hate"]["flag"] is True
    assert en["model"] == r.json()["model"]["version"] and es["model"] is None
    for res, lang in ((es, "es"), (ar, "ar")):
        # The English model says nothing about them: no scores, no flags, no review, never its guess.
        assert (res["language"], res["supported"]) == (lang, False)
        assert res["scores"] == {} and res["targets"] == {} and res["spans"] == []
        assert res["flags"] == {s: {"review": False, "flag": False} for s in SIGNALS}
        assert res["priority"] == 0.0
