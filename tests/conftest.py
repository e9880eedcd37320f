"""Shared test fixtures: a deterministic keyword model, scorers and model directories built from it.

The keyword model is a test double for the model families: it scores by word lists so expectations in
tests are obvious, and it saves/loads like a real model directory (format ``keyword``), registered
for tests only through ``signals.models`` dispatch monkeypatching in ``keyword_model_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keyword_model import KeywordModel
from pg import PostgresServer, forget_engine, start_postgres
from signals.models import ModelInfo
from signals.schema import SIGNALS
from signals.scoring import Scorer

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


@pytest.fixture(autouse=True)
def _fixture_corpora(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read the invented corpus fixtures, never ../shared/data: the committed civic labels do not
    match the fixture Polis comments, so training in tests runs without the civic set unless a test
    passes its own label file."""
    from corpus_fixtures import corpora_dir

    monkeypatch.setenv("SIGNALS_CORPORA_DIR", str(corpora_dir()))


def keyword_info() -> ModelInfo:
    return ModelInfo(
        name="keyword-test",
        version="1",
        format="keyword",
        thresholds={"review": {s: 0.3 for s in SIGNALS}, "flag": {s: 0.5 for s in SIGNALS}},
    )


@pytest.fixture
def fake_scorer() -> Scorer:
    """A scorer over the keyword model (flags a signal when one of its keywords occurs)."""
    return Scorer(KeywordModel(), keyword_info())


@pytest.fixture
def keyword_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model directory of the keyword model, loadable by ``load_model_dir`` / ``load_scorer``."""
    import signals.models as models

    original = models.load_model_dir

    def load(directory: str | Path) -> tuple[object, ModelInfo]:
        info = ModelInfo.load(Path(directory))
        if info.format == "keyword":
            return KeywordModel.load(Path(directory)), info
        return original(directory)

    monkeypatch.setattr(models, "load_model_dir", load)
    monkeypatch.setattr("signals.scoring.load_model_dir", load)
    directory = tmp_path / "keyword-model"
    KeywordModel().save(directory)
    keyword_info().save(directory)
    return directory


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throw-away MLflow store (sqlite + artifacts under tmp_path); returns the tracking URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("SIGNALS_MLFLOW_URI", uri)
    monkeypatch.setenv("SIGNALS_MLFLOW_ARTIFACTS", str(tmp_path / "mlruns"))
    return uri


# --- databases: the store's tests run on SQLite and on a throw-away PostgreSQL ----------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the whole session (started on first use, fsync off); tests get databases."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """Which database the store's tests run on; parametrise it directly to pin one backend."""
    return str(request.param)


@pytest.fixture
def make_database_url(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], str]]:
    """Makes URLs of fresh, empty (not migrated) databases on the test's backend: a SQLite file
    ``<name>.db`` under ``tmp_path``, or a new PostgreSQL database, dropped after the test."""
    made: list[tuple[PostgresServer, str, str]] = []

    def make(name: str = "signals") -> str:
        if database_backend == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database = server.create_database()
        url = server.url(database)
        made.append((server, database, url))
        return url

    yield make
    for server, database, url in made:
        forget_engine(url)
        server.drop_database(database)


@pytest.fixture
def database_url(make_database_url: Callable[[str], str]) -> str:
    """A fresh, empty database on each backend (``[sqlite]``, ``[postgresql]``); tests migrate it."""
    return make_database_url("signals")
