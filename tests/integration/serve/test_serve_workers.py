"""``signals serve --workers 2`` on PostgreSQL and Redis, as docs/deploy.md sets it up.

``bench/serve_workers.py`` with a short load: every route works, kill -9 of a worker loses no
acknowledged write, a key's limit holds across both workers, a reload during the load fails no request
and reaches both, log-out ends the session on both.
"""

from __future__ import annotations

import pytest
from bench.serve_workers import run

from signals.scoring import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "signals.json").is_file(), reason="no shipped model")
def test_two_workers_on_postgresql_and_redis() -> None:
    f = run(seconds=8, compare_memory=False, limit=120)
    expected = {route: (303 if route.endswith("logout") else 200) for route in f.routes}
    expected["POST /triage/items/{id}/decide"] = 303
    assert f.routes == expected
    assert f.acknowledged_items > 100 and f.lost_items == 0 and f.duplicated_items == 0
    assert f.stored_items >= f.acknowledged_items  # an unanswered (killed) request may still have landed once
    assert f.acknowledged_decisions > 10 and f.lost_decisions == 0
    assert f.reload["status"] == 200 and f.reload["all_workers"] is True
    assert f.failed_between_reload_and_kill == 0
    generation = f.reload["generation"]
    assert len(f.workers_after) == 2 and all(w["generation"] == generation for w in f.workers_after)
    assert f.killed_worker not in {
        w["worker"] for w in f.workers_after
    }  # replaced, and it follows the reload
    assert abs(f.limit_ok_shared - 120) <= 0.1 * 120
    assert f.logout_before == [200] * len(f.logout_before)
    assert all(code == 303 for code in f.logout_after)
