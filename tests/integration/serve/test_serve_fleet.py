"""Several workers on one database: reloads reach every worker, limits and sessions are shared.

Each ``TestClient`` below is one worker (its own app, model holder and limiter) on the same database;
``tests/integration/serve/test_serve_workers.py`` runs the real thing with ``SIGNALS_WORKERS=2``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient
from serve.main import create_app
from serve.settings import Settings

from conftest import auth, fake_loader
from pg import BOTH_DATABASES
from signals import fleet
from signals.triage.users import create_user

PASSWORD = "correct-horse-battery"


@pytest.fixture
def worker(settings: Settings) -> Callable[..., TestClient]:
    """Start a named worker; all share ``settings`` (one database) unless given others."""
    started: list[TestClient] = []

    def start(
        name: str, settings: Settings = settings.model_copy(update={"reload_poll_seconds": 0.1})
    ) -> TestClient:
        app = create_app(settings, loader=fake_loader)
        app.state.models.worker = name  # one process here: name the workers apart
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        started.append(client)
        return client

    yield start  # type: ignore[misc]
    for client in started:
        client.__exit__(None, None, None)


def _version(client: TestClient) -> str:
    return str(client.get("/readyz").json()["model"]["version"])


def _until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@BOTH_DATABASES
def test_a_reload_reaches_every_worker_and_later_ones(
    worker: Callable[..., TestClient], keys: dict[str, str], db_url: str
) -> None:
    a, b = worker("host:1"), worker("host:2")
    r = a.post("/admin/reload", json={"model": "fake:2"}, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    body = r.json()
    # the answer waited for both workers
    assert body["all_workers"] is True and body["generation"] == 1
    assert {(w["worker"], w["model_version"], w["generation"]) for w in body["workers"]} == {
        ("host:1", "2", 1),
        ("host:2", "2", 1),
    }
    assert _version(a) == _version(b) == "2"
    scored = b.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=auth(keys["score"]))
    assert scored.json()["model"]["version"] == "2"
    assert (
        'signals_model_reloads_total{outcome="followed"} 1.0'
        in b.get("/metrics", headers=auth(keys["admin"])).text
    )
    # a worker started later (a restart, a replacement) serves the announced model, not the default
    c = worker("host:3")
    assert _version(c) == "2"
    listed = c.get("/admin/workers", headers=auth(keys["admin"])).json()
    assert listed["generation"] == 1 and len(listed["workers"]) == 3
    assert fleet.served(db_url) == fleet.Served(1, "fake:2")


def test_a_failed_reload_is_announced_to_no_one(
    worker: Callable[..., TestClient], keys: dict[str, str], db_url: str
) -> None:
    a, b = worker("host:1"), worker("host:2")
    r = a.post("/admin/reload", json={"model": "missing"}, headers=auth(keys["admin"]))
    assert r.status_code == 422 and "still serving the previous model" in r.json()["error"]["message"]
    assert fleet.served(db_url).generation == 0
    time.sleep(0.3)
    assert _version(a) == _version(b) == "1"


def test_a_worker_that_cannot_load_the_announced_model_keeps_serving_and_says_so(
    worker: Callable[..., TestClient], keys: dict[str, str], db_url: str
) -> None:
    a = worker("host:1")
    fleet.announce("gone", "someone", url=db_url)  # e.g. a folder deleted after the reload
    assert _until(lambda: a.get("/admin/workers", headers=auth(keys["admin"])).json()["workers"][0]["error"])
    state = a.get("/admin/workers", headers=auth(keys["admin"])).json()["workers"][0]
    assert state["generation"] == 1 and "could not load reload 1" in state["error"]
    assert _version(a) == "1"
    # a new worker falls back to the default too, and records why
    b = worker("host:2")
    assert _version(b) == "1"


@BOTH_DATABASES
def test_two_announces_at_once_get_distinct_generations(db_url: str) -> None:
    """Concurrent reloads get distinct generations, and each worker's row is its own."""
    import threading

    got: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: got.append(fleet.announce(f"fake:{i}", "t", url=db_url)))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    assert fleet.served(db_url).generation == 6
    fleet.heartbeat("h:1", 6, "m", "v1", started_at=0.0, url=db_url)
    fleet.heartbeat("h:1", 6, "m", "v2", started_at=0.0, url=db_url)
    fleet.heartbeat("h:2", 5, "m", "v1", started_at=0.0, error="boom", url=db_url)
    live = fleet.live_workers(1.0, url=db_url)
    assert [(w.worker, w.generation, w.model_version, w.error) for w in live] == [
        ("h:1", 6, "v2", None),
        ("h:2", 5, "v1", "boom"),
    ]


# --- limits shared through Redis ---------------------------------------------------------------------


@pytest.fixture
def shared(settings: Settings, redis_url: str) -> Settings:
    redis.Redis.from_url(redis_url).flushdb()  # one server for the session: start every test empty
    return settings.model_copy(update={"limits_url": redis_url, "reload_poll_seconds": 0.1})


def test_a_keys_limit_holds_across_workers(
    worker: Callable[..., TestClient], shared: Settings, keys: dict[str, str]
) -> None:
    limited = shared.model_copy(update={"rate_limit": 10})
    a, b = worker("host:1", limited), worker("host:2", limited)
    codes = []
    for i in range(16):
        client = (a, b)[i % 2]
        r = client.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=auth(keys["score"]))
        codes.append(r.status_code)
    assert codes.count(200) == 10 and codes.count(429) == 6, codes
    assert all(code == 429 for code in codes[10:])


def test_memory_limits_are_per_worker(
    worker: Callable[..., TestClient], settings: Settings, keys: dict[str, str]
) -> None:
    """What Redis fixes: in memory, each worker grants the whole allowance."""
    limited = settings.model_copy(update={"rate_limit": 4})
    a, b = worker("host:1", limited), worker("host:2", limited)
    ok = [
        c.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=auth(keys["score"])).status_code
        for c in (a, b)
        for _ in range(4)
    ]
    assert ok == [200] * 8


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match[1]


def _login(client: TestClient, username: str = "ana", password: str = PASSWORD) -> int:
    page = client.get("/triage/login")
    r = client.post(
        "/triage/login",
        data={"csrf_token": _token(page.text), "username": username, "password": password, "next": "/triage"},
        follow_redirects=False,
    )
    return r.status_code


def test_login_throttle_and_logout_are_shared(
    worker: Callable[..., TestClient], shared: Settings, db_url: str
) -> None:
    create_user("ana", PASSWORD, url=db_url)
    a, b = worker("host:1", shared), worker("host:2", shared)
    # five wrong passwords spread over both workers lock the account out on both
    codes = [_login((a, b)[i % 2], password="wrong-password") for i in range(5)]
    assert codes == [401] * 5
    assert _login(a) == 429 and _login(b) == 429

    redis.Redis.from_url(shared.limits_url).flushdb()
    assert _login(a) == 303
    # the session cookie works on the other worker too (one secret in the database) ...
    b.cookies.update(a.cookies)
    assert b.get("/triage", follow_redirects=False).status_code == 200
    # ... until the analyst logs out on the first one: then on neither
    token = _token(a.get("/triage").text)
    assert a.post("/triage/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    r = b.get("/triage", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/triage/login")


def test_an_unreachable_limits_store_answers_503_not_500(
    worker: Callable[..., TestClient], settings: Settings, keys: dict[str, str]
) -> None:
    from redis_server import free_port

    down = settings.model_copy(update={"limits_url": f"redis://127.0.0.1:{free_port()}/0", "rate_limit": 10})
    client = worker("host:1", down)
    r = client.post("/v1/score", json={"items": [{"text": "hi"}]}, headers=auth(keys["score"]))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"]["message"] == "rate limiting is unavailable; retry shortly"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "rate-limit store unreachable"


def test_an_unknown_limits_url_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="SIGNALS_LIMITS_URL 'nosuch://x'"):
        create_app(settings.model_copy(update={"limits_url": "nosuch://x"}), loader=fake_loader)
