"""Durability: kill -9 the server during a burst of submissions and decisions; after a restart every
acknowledged submission (200) and decision (303 after commit) is in the database.

On SQLite (WAL mode, synchronous=NORMAL) a commit is in the WAL before the answer is sent, so it
survives the process dying (not a power cut, which would need synchronous=FULL). On PostgreSQL the test
runs its own server with the production defaults (fsync, synchronous commit, full-page writes on) and
crashes it too, right after the kill -9 (an immediate shutdown: no checkpoint, recovery from the WAL on
restart): an acknowledged commit must be in the flushed WAL. The result is written to
test-artifacts/durability-<database>.json.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from pg import PostgresServer, forget_engine, start_postgres
from signals.db import migrate, session_scope
from signals.keys import create_key
from signals.schema import SIGNALS
from signals.triage.models import TriageDecision, TriageItem
from signals.triage.users import create_user

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("triage_live_server.py")
PASSWORD = "durability-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--database-url", url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready")


def _login(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=10)
    page = client.get("/triage/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    r = client.post("/triage/login", data={"csrf_token": token, "username": "ana", "password": PASSWORD})
    assert r.status_code == 303
    r = client.get("/triage")
    assert r.status_code == 200 and "open for you" in r.text
    return client, re.search(r'name="csrf_token" value="([^"]+)"', r.text)[1]  # type: ignore[index]


def test_acknowledged_writes_survive_kill_9(database_backend: str, tmp_path: Path) -> None:
    if database_backend == "sqlite":
        _burst_kill_and_check(f"sqlite:///{tmp_path / 'durable.db'}", None)
        return
    server = start_postgres(durable=True)
    try:
        url = server.url(server.create_database())
        _burst_kill_and_check(url, server)
        forget_engine(url)
    finally:
        server.stop()


def _burst_kill_and_check(url: str, postgres: PostgresServer | None) -> None:
    backend = "postgresql" if postgres else "sqlite"
    migrate(url)
    key = create_key("burst", "triage", url=url)[0]
    create_user("ana", PASSWORD, url=url)
    proc, base = _start(url)
    acked_items: dict[str, int] = {}  # external id -> store id
    acked_decisions: set[str] = set()  # unique notes
    lock = threading.Lock()
    stop = threading.Event()
    client, token = _login(base)

    def submitter(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
            batch = 0
            while not stop.is_set():
                ids = [f"w{worker}-b{batch}-{k}" for k in range(5)]
                body = {
                    "items": [{"source": "burst", "external_id": e, "text": f"you idiot {e}"} for e in ids]
                }
                batch += 1
                try:
                    r = http.post("/v1/submissions", json=body)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    with lock:
                        for e, res in zip(ids, r.json()["results"], strict=True):
                            acked_items[e] = res["id"]

    def decider(worker: int) -> None:
        n = 0
        while not stop.is_set():
            with lock:
                known = list(acked_items.values())
            if not known:
                time.sleep(0.01)
                continue
            item_id = known[n % len(known)]
            note = f"d{worker}-{n}"
            n += 1
            data = {
                "csrf_token": token,
                "decision_signal": SIGNALS[n % len(SIGNALS)],
                "decision": "reject",
                "note": note,
            }
            try:
                r = client.post(f"/triage/items/{item_id}/decide", data=data)
            except httpx.HTTPError:
                continue
            if r.status_code == 303:
                with lock:
                    acked_decisions.add(note)

    threads = [threading.Thread(target=submitter, args=(w,)) for w in range(3)]
    threads += [threading.Thread(target=decider, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    # Let the burst run until a fair amount is acknowledged, then kill the server mid-flight.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(acked_items) < 150 or len(acked_decisions) < 60):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    if postgres is not None:
        postgres.crash()
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    client.close()
    assert acked_items and acked_decisions, "the burst acknowledged nothing before the kill"

    if postgres is not None:
        postgres.start()  # recovers from the WAL, on the same port
        assert "automatic recovery in progress" in postgres.log.read_text(errors="replace")
    proc, base = _start(url)  # restart on the same database
    try:
        with session_scope(url) as session:
            stored = dict(session.execute(select(TriageItem.external_id, TriageItem.id)).all())
            notes = set(session.scalars(select(TriageDecision.note)).all())
        missing_items = {e for e, i in acked_items.items() if stored.get(e) != i}
        missing_decisions = acked_decisions - notes
        # the restarted server answers repeats as existing, with the same ids
        sample = sorted(acked_items)[:5]
        r = httpx.post(
            base + "/v1/submissions",
            json={"items": [{"source": "burst", "external_id": e, "text": "again"} for e in sample]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert [x["status"] for x in r.json()["results"]] == ["existing"] * len(sample)
        assert [x["id"] for x in r.json()["results"]] == [acked_items[e] for e in sample]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    result = {
        "database": backend,
        "acknowledged_submissions": len(acked_items),
        "acknowledged_decisions": len(acked_decisions),
        "stored_items": len(stored),
        "stored_decisions": len(notes),
        "missing_submissions": len(missing_items),
        "missing_decisions": len(missing_decisions),
    }
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / f"durability-{backend}.json").write_text(json.dumps(result, indent=2) + "\n")
    assert not missing_items and not missing_decisions, result
