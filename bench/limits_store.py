"""Where shared rate limits should live: Redis (through ``limits``) or PostgreSQL. Loopback only.

Measures the cost of one rate-limit check-and-spend, the operation every API request makes, with
1 and 8 threads (8 stands for the workers of a busy host):

* ``memory://``: the server's ``RateLimiter`` in process (not shared: the floor);
* ``redis://``: the same ``RateLimiter`` on a throw-away ``redis-server`` (``limits``' sliding-window
  counter, one Lua script per spend);
* PostgreSQL: the cheapest shared counter we could write there, one
  ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per spend on a fixed-window table (psycopg 3,
  autocommit), on a throw-away server with fsync on; logged (crash-safe, the default) and ``UNLOGGED``.

docs/deploy.md explains the choice; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench._common import ROOT, machine, section_name, write_section

CALLS = int(os.environ.get("BENCH_LIMIT_CALLS", "4000"))


def _measure(make_spend: Callable[[], Callable[[int], None]], threads: int) -> tuple[float, float, float]:
    """(median µs, p99 µs, spends/s) over ``CALLS`` spends split over ``threads`` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = CALLS // threads

    def worker(n: int) -> None:
        spend = make_spend()
        mine = []
        for i in range(per_thread):
            t0 = time.perf_counter()
            spend(n * 1_000_003 + i % 50)  # 50 identities per thread, as keys and addresses would be
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return (
        statistics.median(latencies) * 1e6,
        latencies[int(0.99 * (len(latencies) - 1))] * 1e6,
        len(latencies) / wall,
    )


def _limiter_spend(url: str) -> Callable[[], Callable[[int], None]]:
    from serve.ratelimit import RateLimiter, per

    limiter = RateLimiter(url)  # one per process, shared by its threads, as in the server
    item = per(1_000_000, 60)

    def make() -> Callable[[int], None]:
        return lambda ident: limiter.spend("key", item, str(ident)) and None

    return make


def _postgres_spend(dsn: str, unlogged: bool) -> Callable[[], Callable[[int], None]]:
    import psycopg

    table = "limits_unlogged" if unlogged else "limits_logged"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE {'UNLOGGED ' if unlogged else ''}TABLE IF NOT EXISTS {table} "
            "(ident text, window_start bigint, spent integer NOT NULL, PRIMARY KEY (ident, window_start))"
        )
    sql = (
        f"INSERT INTO {table} (ident, window_start, spent) VALUES (%s, %s, %s) "
        f"ON CONFLICT (ident, window_start) DO UPDATE SET spent = {table}.spent + EXCLUDED.spent "
        "RETURNING spent"
    )

    def make() -> Callable[[int], None]:
        conn = psycopg.connect(dsn, autocommit=True)  # one connection per thread (a pool's worth)

        def spend(ident: int) -> None:
            conn.execute(sql, (f"key/{ident}", int(time.time()) // 60, 1)).fetchone()

        return spend

    return make


def run() -> list[tuple[str, int, tuple[float, float, float]]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from pg import PostgresServer  # type: ignore[import-not-found]
    from redis_server import redis_server  # type: ignore[import-not-found]

    rows = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signals-limits-")))
        redis_url = stack.enter_context(redis_server(tmp))
        pg = PostgresServer(durable=True).start()
        stack.callback(pg.stop)
        dsn = pg.url(pg.create_database())
        stores = {
            "memory:// (in process, not shared)": _limiter_spend("memory://"),
            "Redis 7 via limits (sliding window)": _limiter_spend(redis_url),
            "PostgreSQL 15, logged table (fixed window)": _postgres_spend(dsn, unlogged=False),
            "PostgreSQL 15, UNLOGGED table (fixed window)": _postgres_spend(dsn, unlogged=True),
        }
        for name, make in stores.items():
            for threads in (1, 8):
                rows.append((name, threads, _measure(make, threads)))
    return rows


def main() -> None:
    rows = run()
    lines = [
        "## Shared rate-limit store (`bench/limits_store.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; {CALLS} spends per row, client and server on "
        "the same cores (loopback).",
        "",
        "| store | threads | median µs / spend | p99 µs | spends/s |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {t} | {med:.0f} | {p99:.0f} | {rate:,.0f} |" for name, t, (med, p99, rate) in rows),
    ]
    write_section(section_name("limits-store"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
