"""Memory of the serving process: RSS after start-up and after scoring 4,000 real comments.

Starts the service the way ``signals serve`` does (``serve.main:app`` under uvicorn, one worker, torch
blocked, the model resolved by ``signals.registry``: ``$BENCH_MODEL``, else ``SIGNALS_MODEL``, else the
registry champion, else ``models/default``), then reads the server's ``VmRSS`` from /proc after
start-up, after 4,000 comments sent one per request (4 connections) and after the same 4,000 sent 64
per request, plus the peak (``VmHWM``). The heavy modules the server imported are listed too (it
answers ``GET /readyz`` only; the list comes from its ``/proc/<pid>/maps``). Texts as in
``bench.serve_load`` (data/processed, else the shared corpora). Target: <= 300 MB after 4,000 comments.

The server scores the languages ``SIGNALS_LANGUAGES`` allows (``signals.scoring``): unset, a few English
comments read as another language load the routed models. docs/benchmarks.md holds both runs:
``BENCH_LABEL=routed`` as it is, ``SIGNALS_LANGUAGES=en BENCH_LABEL=english-only`` for English only.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench._common import ROOT, machine, section_name, write_section
from bench.serve_load import HOST, Pool, encode, free_port, load_texts, wait_ready

N_TEXTS = 4000
TARGET_MB = 300

#: Shared libraries that show a heavy package was imported into the server.
MARKERS = {"mlflow": "mlflow", "pandas": "pandas/_libs", "torch": "libtorch", "sklearn": "sklearn/"}


def status_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    return out


def imported(pid: int) -> str:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return ", ".join(name for name, marker in MARKERS.items() if marker in maps) or "none of " + ", ".join(
        MARKERS
    )


def main() -> None:
    if not Path("/proc/self/status").exists():
        print("bench.serve_rss needs /proc (Linux); skipped", file=sys.stderr)
        return
    texts, source = load_texts(N_TEXTS)
    tmp = Path(tempfile.mkdtemp(prefix="signals-rss-"))
    env = {
        **os.environ,
        "SIGNALS_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "SIGNALS_RATE_LIMIT": "0",
        "SIGNALS_MAX_ITEMS": "256",
        "SIGNALS_KEEP_TORCH_OUT": "1",
    }
    if os.environ.get("BENCH_MODEL"):
        env["SIGNALS_MODEL"] = os.environ["BENCH_MODEL"]
    from signals.db import migrate
    from signals.keys import create_key

    migrate(env["SIGNALS_DATABASE_URL"])
    key = create_key("bench", "score", url=env["SIGNALS_DATABASE_URL"])[0]
    port = free_port()
    code = (
        "import uvicorn; "
        f"uvicorn.run('serve.main:app', host={HOST!r}, port={port}, log_level='warning', access_log=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        served = wait_ready(port, proc, timeout=900)  # a registry champion is downloaded first
        rows = [("after start-up", status_mb(proc.pid))]
        singles = [encode(port, key, {"items": [{"text": t}]}) for t in texts]
        batches = [
            encode(port, key, {"items": [{"text": t} for t in texts[i : i + 64]]})
            for i in range(0, len(texts), 64)
        ]

        sent = asyncio.run(_one_pass(port, singles, 4))
        rows.append((f"after {sent:,} comments, one per request", status_mb(proc.pid)))
        asyncio.run(_one_pass(port, batches, 1))
        rows.append((f"after {len(texts):,} more, 64 per request", status_mb(proc.pid)))
        heavy = imported(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    table = "\n".join(
        ["| when | RSS MB | peak RSS MB |", "|---|---|---|"]
        + [f"| {when} | {m['VmRSS']:.0f} | {m['VmHWM']:.0f} |" for when, m in rows]
    )
    markdown = f"""### Serving process memory (`python -m bench serve_rss`)

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; `serve.main:app` under uvicorn as
`signals serve` starts it (one worker, torch blocked); model `{served["name"]}` version
`{served["version"]}` ({env.get("SIGNALS_MODEL") or "default: registry champion, else models/default"});
languages: {env.get("SIGNALS_LANGUAGES") or "every one the manifest routes (SIGNALS_LANGUAGES unset)"};
texts: {len(texts):,} from the {source}. Heavy packages mapped into the server: {heavy}.

{table}

Target: <= {TARGET_MB} MB after 4,000 comments.
"""
    write_section(section_name("serve-rss"), markdown)
    print(table)


async def _one_pass(port: int, requests: list[bytes], connections: int) -> int:
    """Send every request once over ``connections`` keep-alive connections; returns comments scored."""
    scored = 0

    async def client(share: list[bytes]) -> None:
        nonlocal scored
        pool = Pool(port)
        for raw in share:
            status, body = await pool.request(raw)
            if status != 200:
                raise RuntimeError(f"server answered {status}: {body[:200]!r}")
            scored += len(json.loads(body)["results"])
        pool.close()

    await asyncio.gather(*(client(requests[k::connections]) for k in range(connections)))
    return scored


if __name__ == "__main__":
    main()
