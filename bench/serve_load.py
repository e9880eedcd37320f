"""HTTP load benchmark of the scoring service, on loopback only; results go to docs/benchmarks.md.

Starts ``serve.main`` under uvicorn in a child process (one worker, a throw-away key database, no rate
limit), then drives it with a small raw-socket HTTP/1.1 client (keep-alive, pre-encoded requests, so
the generator costs little CPU next to the server on a 2-core machine):

* ``single@100rps``: one comment per request, open loop at 100 requests/s; latency is measured from
  the *scheduled* send time, so a server that falls behind is charged for the queueing it causes.
* ``single-max``: one comment per request, closed loop with 8 connections: the ceiling.
* ``batch64``: 64 comments per request, closed loop with 2 connections: comments/s in batches.

Texts are drawn from the validation split of ``data/processed`` when it exists (real forum/social
media comments), else from the shared corpora (``../shared/data``), else from a built-in synthetic
set. The model is ``$BENCH_MODEL``, else ``models/default``; without either, or with
``BENCH_MODEL=fake``, a keyword fake stands in and the figures measure the HTTP stack alone (the report
says which). ``$BENCH_SECONDS`` sets each scenario's length (default 15), ``$BENCH_SERVER_CPUS`` pins
the server (``taskset -c``), ``$BENCH_TEXTS_DIR`` and
``$BENCH_LABEL`` work as in ``bench._common``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench._common import ROOT, exported_texts, machine, section_name, write_section

HOST = "127.0.0.1"  # loopback only, never anything else

SYNTHETIC = [
    "Thanks for organising the clean-up on Saturday, the park looks great.",
    "The new bus timetable is a mess, I waited forty minutes this morning.",
    "Those people are destroying our city and nobody in the council cares.",
    "You are an idiot if you think this plan will work.",
    "Can someone explain why the library hours were cut again?",
    "All of them should be sent back where they came from.",
    "I disagree with the proposal but I appreciate the open consultation.",
    "If I see him at the meeting again I will hurt him.",
    "The survey was too long. Please keep it shorter next year.",
    "Typical voters from the other side, traitors every single one of them.",
]


# --- the model the server loads ---------------------------------------------------------------------


class _KeywordModel:
    """Stand-in when no real model exists: scores by keywords, costs almost nothing."""

    words = (("vermin", "sent back"), ("hurt", "kill"), ("idiot", "stupid"), ("traitors", "those people"))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), 4), 0.05)
        for i, text in enumerate(texts):
            low = text.lower()
            for j, words in enumerate(self.words):
                if any(w in low for w in words):
                    out[i, j] = 0.9
        return out


def _serve(port: int, model: str | None) -> None:
    """Child process: serve ``model`` (or the keyword fake) on ``port`` as `signals serve` does."""
    os.environ["SIGNALS_KEEP_TORCH_OUT"] = "1"
    import uvicorn
    from serve.main import create_app
    from serve.settings import get_settings

    from signals.models import ModelInfo
    from signals.scoring import Scorer, load_scorer

    def loader(uri: str | None) -> Scorer:
        if model:
            return load_scorer(uri or model)
        return Scorer(_KeywordModel(), ModelInfo(name="keyword-fake", version="bench", format="fake"))

    uvicorn.run(
        create_app(get_settings(), loader=loader), host=HOST, port=port, log_level="warning", access_log=False
    )


# --- a minimal HTTP/1.1 client -----------------------------------------------------------------------


class Connection:
    """One keep-alive connection; ``request`` sends pre-encoded bytes and returns (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.reader.at_eof():
            raise ConnectionResetError("closed by the server")
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Keep-alive connections, reopened when the server has closed an idle one (as HTTP clients do)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Connection] = []

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            # The retry always opens a new connection: after a burst several idle ones may have been
            # closed by the server's keep-alive timeout, and a second stale one is no retry at all.
            reuse = attempt == 1 and self.idle
            conn = self.idle.pop() if reuse else await Connection.open(self.port)
            try:
                answer = await conn.request(raw)
            except (asyncio.IncompleteReadError, ConnectionError):
                conn.close()
                if attempt == 2:
                    raise
                continue
            self.idle.append(conn)
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


def encode(port: int, key: str, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Result:
    name: str
    seconds: float
    requests: int = 0
    items: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def row(self) -> dict[str, float | int | str]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([float("nan")])
        return {
            "scenario": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "req/s": round(self.requests / self.seconds, 1),
            "comments/s": round(self.items / self.seconds, 1),
            "p50 ms": round(float(np.percentile(lat, 50)), 2),
            "p95 ms": round(float(np.percentile(lat, 95)), 2),
            "p99 ms": round(float(np.percentile(lat, 99)), 2),
        }


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float, name: str) -> Result:
    """Send at a fixed rate whatever the answers do; latency counts from the scheduled time."""
    result = Result(name, seconds)
    pool = Pool(port)
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    n = int(rate * seconds)

    async def one(i: int, scheduled: float) -> None:
        try:
            status, _ = await pool.request(requests[i % len(requests)])
        except (asyncio.IncompleteReadError, ConnectionError):
            result.errors += 1  # a failed request counts, it is never silently dropped
            return
        result.latencies.append(time.perf_counter() - scheduled)
        result.requests += 1
        result.items += 1
        result.errors += status >= 500

    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    pool.close()
    return result


async def closed_loop(
    port: int, requests: list[bytes], per_request: int, connections: int, seconds: float, name: str
) -> Result:
    """``connections`` clients each send the next request as soon as the previous one is answered."""
    result = Result(name, seconds)
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        pool = Pool(port)
        i = offset
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                status, _ = await pool.request(requests[i % len(requests)])
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                continue
            result.latencies.append(time.perf_counter() - sent)
            result.requests += 1
            result.items += per_request if status == 200 else 0
            result.errors += status >= 500
            i += connections
        pool.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    result.seconds = time.perf_counter() - start
    return result


# --- set-up, run, report -------------------------------------------------------------------------------


def load_texts(n: int = 4000) -> tuple[list[str], str]:
    exported = exported_texts("serve_load")
    if exported is not None:
        return exported[:n], "data/processed validation split (exported with bench._common.export_texts)"
    processed = ROOT / "data" / "processed"
    if processed.is_dir():
        try:
            from datasets import load_from_disk

            texts = [t for t in load_from_disk(str(processed))["validation"]["text"] if t and t.strip()]
            random.Random(7).shuffle(texts)
            return [t[:2000] for t in texts[:n]], "data/processed validation split"
        except Exception as exc:  # any problem: fall back to synthetic text, and say so
            print(f"cannot read {processed}: {exc}; using synthetic comments", file=sys.stderr)
    corpus = corpus_texts(n)
    if corpus is not None:
        return corpus
    return [SYNTHETIC[i % len(SYNTHETIC)] + f" ({i})" for i in range(n)], "synthetic comments"


def corpus_texts(n: int) -> tuple[list[str], str] | None:
    """``n`` English comments drawn from the shared corpora (``SIGNALS_CORPORA_DIR``, ../shared/data)."""
    from signals.corpora import CorpusError, corpora_dir, iter_records

    folder = corpora_dir()
    try:
        texts = [r.text for r in iter_records(folder, ("en",)) if r.text and r.text.strip()]
    except (CorpusError, OSError) as exc:
        print(f"cannot read the corpora in {folder}: {exc}; using synthetic comments", file=sys.stderr)
        return None
    random.Random(7).shuffle(texts)
    return [t[:2000] for t in texts[:n]], f"English comments of the corpora in {folder}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 180) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(f"GET /readyz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            if b" 200 " in data.split(b"\r\n", 1)[0]:
                return json.loads(data.split(b"\r\n\r\n", 1)[1])["model"]  # type: ignore[no-any-return]
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "15"))
    model = os.environ.get("BENCH_MODEL") or (
        str(ROOT / "models" / "default") if (ROOT / "models" / "default" / "signals.json").is_file() else None
    )
    if model == "fake":  # measure the HTTP stack alone
        model = None
    texts, text_source = load_texts()
    tmp = Path(tempfile.mkdtemp(prefix="signals-bench-"))
    env = {
        **os.environ,
        "SIGNALS_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "SIGNALS_RATE_LIMIT": "0",
        "SIGNALS_MAX_ITEMS": "256",
    }
    from signals.db import migrate
    from signals.keys import create_key

    migrate(env["SIGNALS_DATABASE_URL"])
    key = create_key("bench", "score", url=env["SIGNALS_DATABASE_URL"])[0]
    port = free_port()
    code = f"from bench.serve_load import _serve; _serve({port}, {model!r})"
    cpus = os.environ.get("BENCH_SERVER_CPUS")  # e.g. "0,1": pin the server to two cores
    pin = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen([*pin, sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        served = wait_ready(port, proc)
        singles = [encode(port, key, {"items": [{"id": str(i), "text": t}]}) for i, t in enumerate(texts)]
        batches = [
            encode(port, key, {"items": [{"id": str(j), "text": t} for j, t in enumerate(texts[i : i + 64])]})
            for i in range(0, len(texts) - 63, 64)
        ]

        async def run() -> list[Result]:
            await closed_loop(port, singles, 1, 2, 2.0, "warm-up")
            return [
                await open_loop(port, singles, 100.0, seconds, "single@100rps"),
                await closed_loop(port, singles, 1, 8, seconds, "single-max (8 conns)"),
                await closed_loop(port, batches, 64, 2, seconds, "batch64 (2 conns)"),
            ]

        load_before = os.getloadavg()[0]
        results = asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = [r.row() for r in results]
    cols = list(rows[0])
    table = "\n".join(
        ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    )
    what = "real model" if model else "fake model (HTTP stack alone)"
    where = f"server pinned to CPUs {cpus}" if cpus else "server unpinned"
    title = os.environ.get("BENCH_TITLE") or f"`make bench` on this machine, {what}"
    markdown = f"""### {title}

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the client on {machine()}; {where}
(1-minute load average {load_before:.1f} before the run), ORT threads
{os.environ.get("SIGNALS_ONNX_THREADS") or "default"}; one uvicorn worker; model `{served["name"]}`
version `{served["version"]}` ({what}); texts: {text_source}; {seconds:.0f} s per scenario; client
and server on 127.0.0.1.

{table}

"""
    write_section(section_name("serve-load"), markdown)
    print(table)


if __name__ == "__main__":
    main()
