"""Reloading the model while requests are in flight: every request succeeds, on one model or the other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
from serve.settings import Settings

from conftest import auth, fake_scorer
from signals.scoring import Scorer


def slow_loader(uri: str | None) -> Scorer:
    """Loading takes a while (like a real model), so requests overlap the load and the swap."""
    time.sleep(0.3)
    return fake_scorer(uri.partition(":")[2] if uri else "1")


def test_concurrent_requests_during_reload(
    start_server: Callable[..., str], settings: Settings, keys: dict[str, str]
) -> None:
    base = start_server(settings, slow_loader)
    stop = threading.Event()
    statuses: list[int] = []
    versions: set[str] = set()
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            with httpx.Client(base_url=base, headers=auth(keys["score"]), timeout=30) as http:
                while not stop.is_set():
                    r = http.post("/v1/score", json={"items": [{"text": "you idiot"}, {"text": "hello"}]})
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        versions.add(r.json()["model"]["version"])
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers:
        w.start()
    while len(statuses) < 5:  # traffic is flowing before the first reload
        time.sleep(0.01)
    with httpx.Client(base_url=base, headers=auth(keys["admin"]), timeout=30) as admin:
        for version in ("2", "3", "4"):
            before = len(statuses)
            r = admin.post("/admin/reload", json={"model": f"fake:{version}"})
            assert r.status_code == 200, r.text
            assert r.json()["model"]["version"] == version
            assert len(statuses) > before, "requests were answered while the model loaded"
    after = len(statuses)
    deadline = time.monotonic() + 30
    while len(statuses) < after + 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    assert not errors
    assert statuses and set(statuses) == {200}
    assert "1" in versions and "4" in versions
    assert versions <= {"1", "2", "3", "4"}
    with httpx.Client(base_url=base) as http:
        assert http.get("/readyz").json()["model"]["version"] == "4"
