"""Schemathesis over the OpenAPI schema: positive and negative cases, zero server errors allowed.

Bounded (``max_examples`` per operation) and marked slow. Requests carry a key with every scope so
the generated bodies reach the handlers instead of stopping at authentication. The app is built at
import (schemathesis reads the schema at collection) on a throw-away database; building it is cheap
because the fake model loads nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from serve.main import create_app
from serve.settings import Settings

from conftest import fake_loader, fake_scorer
from signals.db import migrate
from signals.keys import create_key

_DB_DIR = Path(tempfile.mkdtemp(prefix="signals-fuzz-"))
SETTINGS = Settings(database_url=f"sqlite:///{_DB_DIR / 'fuzz.db'}", rate_limit=0)
APP = create_app(SETTINGS, loader=fake_loader)
APP.state.models.scorer = fake_scorer()  # the ASGI transport does not run the lifespan
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_key() -> Iterator[str]:
    migrate(SETTINGS.database_url)
    yield create_key("fuzz", "score,triage,admin", url=SETTINGS.database_url)[0]
    shutil.rmtree(_DB_DIR, ignore_errors=True)


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case, fuzz_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_key}"}, checks=[not_a_server_error])


@pytest.mark.slow
def test_fuzz_summary() -> None:
    """Across the whole run, the server's own metrics saw no 5xx and saw handlers answer 200."""
    by_status: dict[str, float] = {}
    for metric in APP.state.metrics.registry.collect():
        if metric.name == "signals_http_requests":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    status = sample.labels["status"]
                    by_status[status] = by_status.get(status, 0) + sample.value
    if not by_status:
        pytest.skip("run together with test_no_server_errors")
    print(f"fuzz requests by status: {dict(sorted(by_status.items()))}")
    assert not [s for s in by_status if s.startswith("5")], by_status
    assert by_status.get("200", 0) > 0
