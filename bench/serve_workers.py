"""Two workers on PostgreSQL and Redis, on loopback: what docs/deploy.md promises, under load.

Starts a throw-away PostgreSQL (durable: fsync on) and Redis (``tests/pg.py``, ``tests/redis_server.py``),
then ``signals serve --workers 2`` with ``SIGNALS_DATABASE_URL=postgresql://…`` and
``SIGNALS_LIMITS_URL=redis://…``, serving the shipped model (``$BENCH_MODEL`` for another folder).

1. **Routes**: every route answers as it should through the two workers (score, Perspective analyze
   and suggest, submissions, the triage pages with a decision, admin, health).
2. **Load, a reload and a kill -9**: 16 clients submit batches of 4 comments with unique ids (a client
   retries a batch that got no answer, with the same ids, as a real client would), 2 analysts decide
   items. A third of the way in, ``/admin/reload`` switches to a copy of the model; two thirds in, one
   worker is killed with SIGKILL (uvicorn starts a new one). Afterwards the database must hold every
   acknowledged submission exactly once and every acknowledged decision; no request may fail between
   the reload and the kill; both workers (the replacement included) must serve the reloaded model.
3. **One key's limit across both workers**: 8 clients spend a key limited to ``LIMIT`` units a minute as
   fast as they can, until each has been refused and ``$BENCH_SECONDS`` (default 15) more, within the
   same clock minute: the number of 200 answers must be within 10 % of ``LIMIT``. The same run with
   ``SIGNALS_LIMITS_URL=memory://`` shows what the shared store fixes.
4. **Log-out**: a session cookie works on both workers, and after log-out on neither.

``run(seconds)`` returns the figures (the slow test ``tests/integration/serve/test_serve_workers.py``
calls it with a short load and asserts them); ``main()`` writes them to docs/benchmarks.md and
test-artifacts/serve_workers.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench._common import ROOT, machine, section_name, write_section

LIMIT = 300  # units a minute for the limited key
PASSWORD = "bench-password-1234"
SUBMITTERS = 16
DECIDERS = 2


@dataclass
class Figures:
    routes: dict[str, int] = field(default_factory=dict)
    acknowledged_items: int = 0
    stored_items: int = 0
    lost_items: int = 0
    duplicated_items: int = 0
    acknowledged_decisions: int = 0
    lost_decisions: int = 0
    retried_batches: int = 0
    failed_between_reload_and_kill: int = 0
    failed_after_kill: int = 0
    submissions_per_second: float = 0.0
    reload: dict[str, Any] = field(default_factory=dict)
    workers_after: list[dict[str, Any]] = field(default_factory=list)
    killed_worker: str = ""
    limit: int = LIMIT
    limit_ok_shared: int = 0
    limit_ok_memory: int = 0
    logout_before: list[int] = field(default_factory=list)
    logout_after: list[int] = field(default_factory=list)


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("page has no CSRF token")
    return found[1]


@contextmanager
def _server(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """``signals serve --workers 2``; yields the base URL once both workers report in."""
    signals = Path(sys.executable).parent / "signals"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(signals), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"signals serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        else:
            raise RuntimeError("signals serve did not become ready")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _workers(base: str, admin: str) -> list[dict[str, Any]]:
    r = httpx.get(base + "/admin/workers", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    r.raise_for_status()
    return list(r.json()["workers"])


def _wait_for_workers(
    base: str, admin: str, n: int, generation: int = 0, gone: str = "", seconds: float = 180
) -> list[dict[str, Any]]:
    """Wait until exactly ``n`` live workers serve ``generation`` or later, ``gone`` not among them."""
    deadline = time.monotonic() + seconds
    while True:
        found = _workers(base, admin)
        names = {w["worker"] for w in found}
        if len(found) == n and gone not in names and all(w["generation"] >= generation for w in found):
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"expected {n} workers at generation {generation} without {gone!r}, got {found}"
            )
        time.sleep(0.5)


def _login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/triage/login")
    r = client.post(
        "/triage/login", data={"csrf_token": _token(page.text), "username": "ana", "password": PASSWORD}
    )
    if r.status_code != 303:
        raise RuntimeError(f"login failed: {r.status_code}")
    return client


def _routes(base: str, keys: dict[str, str]) -> dict[str, int]:
    """One call per route; the status codes (all must be the expected ones)."""
    h = {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    out: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        out["GET /healthz"] = c.get("/healthz").status_code
        out["GET /readyz"] = c.get("/readyz").status_code
        out["POST /v1/score"] = c.post(
            "/v1/score", json={"items": [{"text": "Fix the potholes."}]}, headers=h["score"]
        ).status_code
        analyze = {"comment": {"text": "You are an idiot."}, "requestedAttributes": {"TOXICITY": {}}}
        out["POST /v1alpha1/comments:analyze"] = c.post(
            f"/v1alpha1/comments:analyze?key={keys['score']}", json=analyze
        ).status_code
        suggest = {
            "comment": {"text": "fine"},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.1}}},
        }
        out["POST /v1alpha1/comments:suggestscore"] = c.post(
            f"/v1alpha1/comments:suggestscore?key={keys['score']}", json=suggest
        ).status_code
        out["GET /$discovery/rest"] = c.get(
            "/$discovery/rest", params={"version": "v1alpha1", "key": keys["score"]}
        ).status_code
        sub = {"items": [{"source": "routes", "external_id": "r1", "text": "those traitors again"}]}
        r = c.post("/v1/submissions", json=sub, headers=h["triage"])
        out["POST /v1/submissions"] = r.status_code
        item = r.json()["results"][0]["id"]
        out["GET /admin/workers"] = c.get("/admin/workers", headers=h["admin"]).status_code
        out["GET /metrics"] = c.get("/metrics", headers=h["admin"]).status_code
        out["GET /openapi.json"] = c.get("/openapi.json").status_code
    analyst = _login(base)
    try:
        queue = analyst.get("/triage")
        out["GET /triage"] = queue.status_code
        out["GET /triage/items/{id}"] = analyst.get(f"/triage/items/{item}").status_code
        data = {
            "csrf_token": _token(queue.text),
            "decision_signal": "polarization",
            "decision": "confirm",
            "note": "routes",
        }
        out["POST /triage/items/{id}/decide"] = analyst.post(
            f"/triage/items/{item}/decide", data=data
        ).status_code
        out["GET /triage/disagreements"] = analyst.get("/triage/disagreements").status_code
        out["POST /triage/logout"] = analyst.post(
            "/triage/logout", data={"csrf_token": _token(analyst.get("/triage").text)}
        ).status_code
    finally:
        analyst.close()
    return out


def _load(
    base: str, keys: dict[str, str], models: Path, seconds: float, figures: Figures
) -> tuple[dict[str, int], set[str]]:
    """Phase 2: submissions and decisions, a reload at 1/3, a kill -9 at 2/3; what was acknowledged."""
    acked: dict[str, int] = {}
    decided: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    state = {"phase": "before"}  # before -> reloading -> reloaded -> killed
    failures = {"before": 0, "reloading": 0, "reloaded": 0, "killed": 0}
    retried = [0]
    analysts = [_login(base) for _ in range(DECIDERS)]
    tokens = [_token(a.get("/triage").text) for a in analysts]

    def fail() -> None:
        with lock:
            failures[state["phase"]] += 1

    def submitter(n: int) -> None:
        with httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {keys['triage']}"}
        ) as http:
            batch = 0
            while not stop.is_set():
                ids = [f"c{n}-b{batch}-{k}" for k in range(4)]
                body = {
                    "items": [
                        {"source": "load", "external_id": e, "text": f"those traitors again {e}"} for e in ids
                    ]
                }
                for attempt in range(20):  # the same batch until it is acknowledged
                    try:
                        r = http.post("/v1/submissions", json=body)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code == 200:
                        with lock:
                            for e, res in zip(ids, r.json()["results"], strict=True):
                                acked[e] = res["id"]
                        break
                    fail()
                    if attempt == 0:
                        with lock:
                            retried[0] += 1
                    time.sleep(0.2)
                batch += 1

    def decider(n: int) -> None:
        client, token, k = analysts[n], tokens[n], 0
        while not stop.is_set():
            with lock:
                known = list(acked.values())
            if not known:
                time.sleep(0.05)
                continue
            note = f"a{n}-{k}"
            data = {"csrf_token": token, "decision_signal": "hate", "decision": "reject", "note": note}
            k += 1
            try:
                r = client.post(f"/triage/items/{known[(k * 7919) % len(known)]}/decide", data=data)
            except httpx.HTTPError:
                fail()
                continue
            if r.status_code == 303:
                with lock:
                    decided.add(note)
            else:
                fail()

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(SUBMITTERS)]
    threads += [threading.Thread(target=decider, args=(n,)) for n in range(DECIDERS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    with lock:
        state["phase"] = "reloading"
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    r = httpx.post(base + "/admin/reload", json={"model": str(models / "b")}, headers=admin, timeout=180)
    figures.reload = {
        "status": r.status_code,
        **{k: r.json().get(k) for k in ("generation", "all_workers", "model")},
    }
    with lock:
        state["phase"] = "reloaded"
    time.sleep(max(0.0, start + 2 * seconds / 3 - time.monotonic()))
    victim = _workers(base, keys["admin"])[0]["worker"]
    figures.killed_worker = victim
    with lock:
        state["phase"] = "killed"
    os.kill(int(victim.rsplit(":", 1)[1]), signal.SIGKILL)
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    stop.set()
    for t in threads:
        t.join(timeout=120)
    for a in analysts:
        a.close()
    elapsed = time.monotonic() - start
    figures.retried_batches = retried[0]
    figures.failed_between_reload_and_kill = failures["reloading"] + failures["reloaded"]
    figures.failed_after_kill = failures["killed"]
    figures.submissions_per_second = round(len(acked) / elapsed, 1)
    return acked, decided


def _spend(base: str, key: str, seconds: float) -> int:
    """Phase 3: 8 clients spend ``key`` until every one of them is refused, then ``seconds`` more; how
    many got 200.

    ``limits``' sliding window weighs the previous clock-aligned minute, so a run that crossed a minute
    boundary would be allowed a little more as that minute fades. The run starts just after a boundary
    when the rest of this minute is short, and stops before the next one: exactly ``LIMIT`` is right."""
    ok = [0]
    refused: set[int] = set()
    lock = threading.Lock()
    if 60 - time.time() % 60 < 25 + seconds:
        time.sleep(60 - time.time() % 60 + 0.2)
    start = time.monotonic()
    stop_at = [start + (60 - time.time() % 60) - 0.5]
    last_call = stop_at[0]

    def client(n: int) -> None:
        # A new connection per request, so the kernel spreads them over both workers.
        while time.monotonic() < stop_at[0]:
            try:
                r = httpx.post(
                    base + "/v1/score",
                    json={"items": [{"text": "hi"}]},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                )
            except httpx.HTTPError:
                continue
            with lock:
                if r.status_code == 200:
                    ok[0] += 1
                elif r.status_code == 429:
                    refused.add(n)
                if len(refused) == 8 and stop_at[0] == last_call:
                    stop_at[0] = min(last_call, time.monotonic() + seconds)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok[0]


def _logout(base: str) -> tuple[list[int], list[int]]:
    """Phase 4: the cookie's answers on fresh connections (both workers) before and after log-out."""
    analyst = _login(base)
    cookies = dict(analyst.cookies)

    def probe() -> list[int]:
        return [httpx.get(base + "/triage", cookies=cookies, timeout=30).status_code for _ in range(12)]

    before = probe()
    analyst.post("/triage/logout", data={"csrf_token": _token(analyst.get("/triage").text)})
    analyst.close()
    return before, probe()


def _count_stored(url: str, acked: dict[str, int], decided: set[str], figures: Figures) -> None:
    from sqlalchemy import func, select

    from signals.db import session_scope
    from signals.triage.models import TriageDecision, TriageItem

    with session_scope(url) as s:
        rows = s.execute(
            select(TriageItem.external_id, func.count())
            .where(TriageItem.source == "load")
            .group_by(TriageItem.external_id)
        ).all()
        notes = set(s.scalars(select(TriageDecision.note).where(TriageDecision.note.like("a%"))).all())
    stored = {e: n for e, n in rows}
    figures.acknowledged_items = len(acked)
    figures.stored_items = len(stored)
    figures.lost_items = sum(1 for e in acked if e not in stored)
    figures.duplicated_items = sum(1 for n in stored.values() if n > 1)
    figures.acknowledged_decisions = len(decided)
    figures.lost_decisions = len(decided - notes)


def run(
    seconds: float = 15.0, model: Path | None = None, compare_memory: bool = True, limit: int = LIMIT
) -> Figures:
    """Run phases 1-4; ``seconds`` is the length of the load (phase 2) and of each limit run (phase 3).

    ``compare_memory`` repeats phase 3 with ``memory://`` limits (a second server start)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pg import PostgresServer  # type: ignore[import-not-found]
    from redis_server import free_port, redis_server  # type: ignore[import-not-found]
    from signals.db import migrate
    from signals.keys import create_key
    from signals.triage.users import create_user

    model = model or Path(os.environ.get("BENCH_MODEL") or ROOT / "models" / "default")
    figures = Figures(limit=limit)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signals-workers-")))
        pg = PostgresServer(durable=True).start()
        stack.callback(pg.stop)
        redis_url = stack.enter_context(redis_server(tmp))
        url = pg.url(pg.create_database())
        migrate(url)
        keys = {
            "score": create_key("bench-score", "score", url=url)[0],
            "triage": create_key("bench-triage", "triage", url=url)[0],
            "admin": create_key("bench-admin", "admin", url=url)[0],
            "limited": create_key("bench-limited", "score", rate_limit=limit, url=url)[0],
        }
        create_user("ana", PASSWORD, url=url)
        models = tmp / "models"
        for name in ("a", "b"):
            shutil.copytree(model, models / name)
        env = {
            **os.environ,
            "SIGNALS_DATABASE_URL": url,
            "SIGNALS_LIMITS_URL": redis_url,
            "SIGNALS_MODEL": str(models / "a"),
            "SIGNALS_MODEL_ROOTS": str(models),
            "SIGNALS_RATE_LIMIT": "1000000",
            "SIGNALS_RELOAD_POLL_SECONDS": "1",
            "SIGNALS_TRIAGE_LABELS_DIR": str(tmp / "labels"),
            "SIGNALS_MLFLOW_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        }
        with _server(env, free_port(), tmp / "serve.log") as base:
            _wait_for_workers(base, keys["admin"], 2)
            figures.routes = _routes(base, keys)
            acked, decided = _load(base, keys, models, seconds, figures)
            generation = int(figures.reload.get("generation") or 0)
            figures.workers_after = _wait_for_workers(
                base, keys["admin"], 2, generation, figures.killed_worker
            )
            _count_stored(url, acked, decided, figures)
            figures.limit_ok_shared = _spend(base, keys["limited"], seconds)
            figures.logout_before, figures.logout_after = _logout(base)
        if not compare_memory:
            return figures
        memory = {**env, "SIGNALS_LIMITS_URL": "memory://"}
        limited = create_key("bench-limited-memory", "score", rate_limit=limit, url=url)[0]
        with _server(memory, free_port(), tmp / "serve-memory.log") as base:
            _wait_for_workers(base, keys["admin"], 2)
            figures.limit_ok_memory = _spend(base, limited, seconds)
    return figures


def report(f: Figures, seconds: float) -> str:
    routes = ", ".join(f"{k} {v}" for k, v in f.routes.items())
    after = ", ".join(
        f"`{w['worker']}` gen. {w['generation']} {w['model_version'][:12]}" for w in f.workers_after
    )
    shared = f"{f.limit_ok_shared} ({(f.limit_ok_shared - f.limit) / f.limit:+.1%})"
    rows = [
        ("every route", routes),
        (
            "submissions acknowledged / stored / lost / duplicated",
            f"{f.acknowledged_items} / {f.stored_items} / {f.lost_items} / {f.duplicated_items} "
            f"({SUBMITTERS} clients, {f.submissions_per_second} items/s; "
            f"{f.retried_batches} batches retried with the same ids)",
        ),
        ("decisions acknowledged / lost", f"{f.acknowledged_decisions} / {f.lost_decisions}"),
        (
            "reload during the load",
            f"{f.reload.get('status')}, generation {f.reload.get('generation')}, all workers: "
            f"{f.reload.get('all_workers')}; failed requests between reload and kill: "
            f"{f.failed_between_reload_and_kill}",
        ),
        (
            f"kill -9 of `{f.killed_worker}`",
            f"failed (then retried) requests after it: {f.failed_after_kill}; workers after: {after}",
        ),
        (
            f"one key limited to {f.limit}/min, 8 clients, {seconds:.0f} s",
            f"allowed with Redis: {shared}; with memory:// (per worker): {f.limit_ok_memory}",
        ),
        (
            "a session cookie, fresh connections, before / after log-out",
            f"{f.logout_before} / {f.logout_after}",
        ),
    ]
    return "\n".join(
        [
            "## Two workers on PostgreSQL and Redis (`bench/serve_workers.py`)",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; `signals serve --workers 2`, the shipped "
            f"model, a throw-away PostgreSQL (fsync on) and Redis on loopback; {seconds:.0f} s of load.",
            "",
            "| check | result |",
            "| --- | --- |",
            *(f"| {check} | {result} |" for check, result in rows),
        ]
    )


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "15"))
    figures = run(seconds)
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "serve_workers.json").write_text(json.dumps(asdict(figures), indent=2))
    write_section(section_name("serve-workers"), report(figures, seconds))
    print(report(figures, seconds))


if __name__ == "__main__":
    main()
