"""POST /v1/submissions and the /triage pages through the real app (fake model, temporary database).

The submission contract and the analyst's flow (login, decisions, undo, export) also run on PostgreSQL
(``@BOTH_DATABASES``); second review and the audit sample are covered there by the store's tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve.settings import Settings
from serve.triage_settings import TriageSettings

from pg import BOTH_DATABASES
from signals.schema import SIGNALS
from signals.triage import store
from signals.triage.users import create_user

PASSWORD = "correct-horse-battery"


def auth(key: str) -> dict[str, str]:
    # Defined here rather than imported from conftest: several conftest modules share that name.
    return {"Authorization": f"Bearer {key}"}


def _body(*items: tuple[str, str, str]) -> dict[str, object]:
    return {"items": [{"source": s, "external_id": e, "text": t} for s, e, t in items]}


@BOTH_DATABASES
def test_submissions_contract(client: TestClient, keys: dict[str, str], db_url: str) -> None:
    body = _body(("forum", "1", "Those traitors! Mail me: jo@example.org"), ("forum", "2", "Nice park."))
    body["items"][0]["context"] = {"thread": "t-1", "question_id": "Q1"}  # type: ignore[index]
    r = client.post("/v1/submissions", json=body, headers=auth(keys["triage"]))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["queued", "queued"]
    assert results[0]["priority"] > results[1]["priority"]
    stored = store.get_item(results[0]["id"], url=db_url)
    assert stored is not None and stored.text == "Those traitors! Mail me: [EMAIL]"
    assert stored.question_id == "Q1" and stored.submitted_by == "triager"
    # a repeat (also inside one request) answers the stored item
    again = client.post(
        "/v1/submissions",
        json=_body(("forum", "2", "changed"), ("forum", "3", "new"), ("forum", "3", "new")),
        headers=auth(keys["all"]),
    )
    assert [(x["id"], x["status"]) for x in again.json()["results"]] == [
        (results[1]["id"], "existing"),
        (3, "queued"),
        (3, "existing"),
    ]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("score", 403), ("admin", 403)],
)
def test_submissions_need_the_triage_scope(
    client: TestClient, keys: dict[str, str], key: str | None, status: int
) -> None:
    headers = auth(keys[key]) if key else {}
    r = client.post("/v1/submissions", json=_body(("f", "1", "hi")), headers=headers)
    assert r.status_code == status and "error" in r.json()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"items": []}, 422, "items"),
        ({"items": [{"source": "f", "text": "hi"}]}, 422, "items[0].external_id: field required"),
        ({"items": [{"source": "f", "external_id": "1", "text": "  "}]}, 422, "text is empty"),
        ({"items": [{"source": "", "external_id": "1", "text": "hi"}]}, 422, "items[0].source"),
        ({"items": [{"source": "f", "external_id": "1", "text": "hi", "extra": 1}]}, 422, "unknown field"),
        ({"items": [{"source": "f", "external_id": "1", "text": "hi", "context": []}]}, 422, "context"),
        ({"items": [{"source": "f", "external_id": "1", "text": "x" * 101}]}, 413, "SIGNALS_MAX_TEXT_CHARS"),
        (
            {"items": [{"source": "f", "external_id": str(i), "text": "hi"} for i in range(6)]},
            413,
            "SIGNALS_MAX_ITEMS",
        ),
        (
            {"items": [{"source": "f", "external_id": "1", "text": "hi", "context": {"k": "v" * 20_000}}]},
            413,
            "context",
        ),
    ],
)
def test_submission_errors_name_the_problem(
    make_client: Callable[..., TestClient],
    db_url: str,
    keys: dict[str, str],
    body: dict,
    status: int,
    message: str,
) -> None:
    client = make_client(Settings(database_url=db_url, rate_limit=0, max_items=5, max_text_chars=100))
    r = client.post("/v1/submissions", json=body, headers=auth(keys["triage"]))
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]
    assert store.count_items(url=db_url) == 0


# --- pages ------------------------------------------------------------------------------------------


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match[1]


def _open_count(html: str) -> int:
    match = re.search(r'id="open-count">(\d+)<', html)
    assert match
    return int(match[1])


@pytest.fixture
def analyst(db_url: str) -> str:
    create_user("ana", PASSWORD, url=db_url)
    create_user("bob", PASSWORD, url=db_url)
    return "ana"


def _login(client: TestClient, username: str = "ana") -> str:
    page = client.get("/triage/login")
    r = client.post(
        "/triage/login",
        data={"csrf_token": _token(page.text), "username": username, "password": PASSWORD, "next": "/triage"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return _token(client.get("/triage").text)


def _seed(client: TestClient, keys: dict[str, str]) -> list[int]:
    body = _body(("forum", "a", "you idiot"), ("forum", "b", "those traitors"), ("forum", "c", "lovely day"))
    r = client.post("/v1/submissions", json=body, headers=auth(keys["triage"]))
    return [x["id"] for x in r.json()["results"]]


def test_pages_need_login(client: TestClient, analyst: str) -> None:
    for path in ("/triage", "/triage/items/1", "/triage/disagreements"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/triage/login?next=")
    page = client.get("/triage/login")
    bad = client.post(
        "/triage/login",
        data={"csrf_token": _token(page.text), "username": "ana", "password": "nope-nope-nope"},
    )
    assert bad.status_code == 401 and "wrong password" in bad.text
    # an open redirect through ?next= is refused
    r = client.post(
        "/triage/login",
        data={
            "csrf_token": _token(page.text),
            "username": "ana",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/triage"


def test_session_and_csrf_cookies_are_hardened(client: TestClient, analyst: str) -> None:
    page = client.get("/triage/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert (
        "httponly" in page.headers["set-cookie"].lower()
        and "samesite=strict" in page.headers["set-cookie"].lower()
    )
    r = client.post(
        "/triage/login",
        data={"csrf_token": _token(page.text), "username": "ana", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"].lower()
    assert "signals_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http in this test: the browser would drop a Secure cookie
    # a tampered session cookie is ignored
    forged = r.cookies["signals_session"][:-3] + "abc"
    client.cookies.clear()
    client.cookies.set("signals_session", forged)
    assert client.get("/triage", follow_redirects=False).status_code == 303
    client.cookies.set("signals_session", r.cookies["signals_session"])
    assert client.get("/triage", follow_redirects=False).status_code == 200


def test_secure_cookie_over_https(
    make_client: Callable[..., TestClient], settings: Settings, analyst: str
) -> None:
    client = make_client(settings)
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    page = client.get("/triage/login")
    r = client.post(
        "/triage/login",
        data={"csrf_token": _token(page.text), "username": "ana", "password": PASSWORD},
        follow_redirects=False,
    )
    assert "secure" in r.headers["set-cookie"].lower()


def test_csrf_and_origin_checks(client: TestClient, keys: dict[str, str], analyst: str) -> None:
    ids = _seed(client, keys)
    token = _login(client)
    no_token = client.post(
        f"/triage/items/{ids[0]}/decide", data={"decision_signal": "hate", "decision": "reject"}
    )
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    wrong = client.post(
        f"/triage/items/{ids[0]}/decide",
        data={"csrf_token": token + "x", "decision_signal": "hate", "decision": "reject"},
    )
    assert wrong.status_code == 403
    cross = client.post(
        f"/triage/items/{ids[0]}/decide",
        data={"csrf_token": token, "decision_signal": "hate", "decision": "reject"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "another site" in cross.text
    assert store.decision_history(ids[0], url=client.app.state.settings.database_url) == []  # type: ignore[attr-defined]


@BOTH_DATABASES
def test_triage_flow(client: TestClient, keys: dict[str, str], analyst: str, db_url: str) -> None:
    ids = _seed(client, keys)
    token = _login(client)
    queue = client.get("/triage")
    assert _open_count(queue.text) == 3
    top = (
        ids[0]
        if store.get_item(ids[0], url=db_url).priority >= store.get_item(ids[1], url=db_url).priority
        else ids[1]
    )  # type: ignore[union-attr]
    page = client.get(f"/triage/items/{top}")
    assert page.status_code == 200
    assert '<mark class="evidence"' in page.text and "fake 1" in page.text
    assert 'for="sig-hate"' in page.text  # labelled controls
    # decide all four signals; the last one moves on to the next open item
    for i, signal in enumerate(SIGNALS):
        r = client.post(
            f"/triage/items/{top}/decide",
            data={
                "csrf_token": token,
                "decision_signal": signal,
                "decision": "confirm" if i == 2 else "reject",
                "target": "other" if i == 2 else "",
                "note": "insult" if i == 2 else "",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
    assert r.headers["location"].startswith("/triage/items/") and not r.headers["location"].startswith(
        f"/triage/items/{top}"
    )
    assert _open_count(client.get("/triage").text) == 2
    # the audit trail shows the decision with analyst, model and score shown
    page = client.get(f"/triage/items/{top}")
    assert "insult" in page.text and "ana" in page.text
    # undo re-opens the item
    r = client.post("/triage/undo", data={"csrf_token": token}, follow_redirects=False)
    assert r.headers["location"] == f"/triage/items/{top}?focus=polarization"
    assert _open_count(client.get("/triage").text) == 3
    # reject-rest finishes it again
    client.post(f"/triage/items/{top}/reject-rest", data={"csrf_token": token})
    assert _open_count(client.get("/triage").text) == 2
    # bad decisions are a readable 400, unknown items a 404 page
    bad = client.post(
        f"/triage/items/{top}/decide",
        data={"csrf_token": token, "decision_signal": "spam", "decision": "reject"},
    )
    assert bad.status_code == 400 and "unknown signal" in bad.text
    assert client.get("/triage/items/9999").status_code == 404
    # export from the page
    done = client.post("/triage/export", data={"csrf_token": token})
    assert done.status_code == 200 and "1 labelled item(s) exported as labels-" in done.text


def test_filters_on_the_queue_page(client: TestClient, keys: dict[str, str], analyst: str) -> None:
    _seed(client, keys)
    _login(client)
    page = client.get("/triage?signal=polarization")
    assert "those traitors" in page.text and "lovely day" not in page.text
    assert "1 item match" in page.text
    page = client.get("/triage?status=done")
    assert "0 items match" in page.text
    bad = client.get("/triage?since=yesterday")
    assert bad.status_code == 200 and "not a date" in bad.text


def test_second_review_and_disagreements_page(
    make_client: Callable[..., TestClient],
    settings: Settings,
    keys: dict[str, str],
    analyst: str,
    db_url: str,
) -> None:
    client = make_client(settings)
    client.app.state.triage_settings = TriageSettings(second_review=True)  # type: ignore[attr-defined]
    r = client.post(
        "/v1/submissions", json=_body(("f", "v", "they are vermin")), headers=auth(keys["triage"])
    )
    item_id = r.json()["results"][0]["id"]
    for who, decision in (("ana", "confirm"), ("bob", "reject")):
        client.cookies.clear()
        token = _login(client, who)
        if who == "bob":
            page = client.get(f"/triage/items/{item_id}")
            assert "stay hidden" in page.text  # blind second review
        for signal in SIGNALS:
            client.post(
                f"/triage/items/{item_id}/decide",
                data={
                    "csrf_token": token,
                    "decision_signal": signal,
                    "decision": decision if signal == "hate" else "reject",
                },
            )
        if who == "ana":
            assert store.get_item(item_id, url=db_url).status == "second_review"  # type: ignore[union-attr]
    assert store.get_item(item_id, url=db_url).status == "done"  # type: ignore[union-attr]
    page = client.get("/triage/disagreements")
    assert "ana: <span" in page.text and "bob: <span" in page.text


def test_static_files(client: TestClient) -> None:
    assert client.get("/triage/static/triage.css").status_code == 200
    assert client.get("/triage/static/../main.py").status_code == 404
    assert client.get("/triage/static/nope.js").status_code == 404


@pytest.fixture(autouse=True)
def _labels_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page exports go to a temporary folder, never into the repository's data/."""
    monkeypatch.setenv("SIGNALS_TRIAGE_LABELS_DIR", str(tmp_path / "labels"))
    from serve.triage_settings import get_triage_settings

    get_triage_settings.cache_clear()
    yield
    get_triage_settings.cache_clear()


def test_repeated_failed_logins_are_throttled(client: TestClient, analyst: str) -> None:
    token = _token(client.get("/triage/login").text)
    for _ in range(5):
        r = client.post(
            "/triage/login", data={"csrf_token": token, "username": "ana", "password": "wrong-password"}
        )
        assert r.status_code == 401
    r = client.post("/triage/login", data={"csrf_token": token, "username": "ana", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed attempts" in r.text
    # other accounts are not affected
    r = client.post(
        "/triage/login",
        data={"csrf_token": token, "username": "bob", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_random_sample_on_the_queue_page(
    client: TestClient, keys: dict[str, str], analyst: str, db_url: str
) -> None:
    body = _body(*(("survey", str(k), "lovely day" if k % 2 else f"you idiot {k}") for k in range(8)))
    ids = [
        x["id"]
        for x in client.post("/v1/submissions", json=body, headers=auth(keys["triage"])).json()["results"]
    ]
    store.draw_sample("survey", 3, seed=11, url=db_url)
    drawn = [i.id for i in store.query_items(store.ItemFilter(sample=True), url=db_url)]
    assert any(not store.get_item(i, url=db_url).review_signals for i in drawn)  # type: ignore[union-attr]
    outside = next(i for i in ids if i not in drawn)
    token = _login(client)
    # the whole queue marks the sampled items; the filter shows only them, in draw order
    page = client.get("/triage?status=all")
    assert set(map(int, re.findall(r'data-sample="(\d+)"', page.text))) == set(drawn)
    page = client.get("/triage?sample=1")
    assert "3 items match" in page.text and 'value="1" selected' in page.text
    listed = [int(i) for i in re.findall(r'class="item-link" href="/triage/items/(\d+)', page.text)]
    assert listed == drawn
    assert f'href="/triage/items/{drawn[0]}?sample=1"' in page.text
    assert 'id="sample-marker"' in client.get(f"/triage/items/{drawn[0]}").text
    assert 'id="sample-marker"' not in client.get(f"/triage/items/{outside}").text
    # decisions on the page: sampled on a sampled item, not elsewhere; "next" stays in the sample
    for item_id in (drawn[0], outside):
        r = client.post(
            f"/triage/items/{item_id}/decide",
            data={"csrf_token": token, "decision_signal": "hate", "decision": "reject", "sample": "1"},
            follow_redirects=False,
        )
        assert r.status_code == 303
    client.post(f"/triage/items/{drawn[0]}/reject-rest", data={"csrf_token": token, "sample": "1"})
    latest = store.latest_decisions(url=db_url)
    assert all(latest[(drawn[0], s)].sampled for s in SIGNALS)
    assert not latest[(outside, "hate")].sampled
    r = client.post(
        f"/triage/items/{drawn[1]}/reject-rest",
        data={"csrf_token": token, "sample": "1"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/triage/items/{drawn[2]}?sample=1"
    bad = client.get("/triage?sample=yes")
    assert bad.status_code == 200 and "sample: &#39;yes&#39; is not 1" in bad.text
