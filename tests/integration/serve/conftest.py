"""Fixtures for the scoring service: the keyword test model, an app on a temporary database, keys."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from serve.main import create_app
from serve.settings import Settings

from keyword_model import KeywordModel
from signals.db import migrate
from signals.keys import create_key
from signals.models import ModelInfo
from signals.scoring import Scorer


def fake_scorer(version: str = "1") -> Scorer:
    """The shared keyword test model (``tests/keyword_model.py``) under the name ``fake``."""
    return Scorer(KeywordModel(), ModelInfo(name="fake", version=version, format="fake"))


def fake_loader(uri: str | None) -> Scorer:
    """``uri`` picks the version (``fake:2``); anything else not starting with ``fake`` fails to load."""
    if uri is None:
        return fake_scorer("1")
    if not uri.startswith("fake"):
        raise FileNotFoundError(f"{uri} is not a model directory")
    return fake_scorer(uri.partition(":")[2] or "1")


@pytest.fixture
def database_backend() -> str:
    """The serving tests run on SQLite; those that exercise the store opt into PostgreSQL as well
    with ``@BOTH_DATABASES`` (tests/pg.py), so the suite does not run every route test twice."""
    return "sqlite"


@pytest.fixture
def db_url(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, rate_limit=0)


@pytest.fixture
def keys(db_url: str) -> dict[str, str]:
    """One key per scope set: ``score``, ``triage``, ``admin``, ``all``."""
    return {
        "score": create_key("scorer", "score", url=db_url)[0],
        "triage": create_key("triager", "triage", url=db_url)[0],
        "admin": create_key("admin", "admin", url=db_url)[0],
        "all": create_key("everything", "score,triage,admin", url=db_url)[0],
    }


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build a started TestClient for given settings (lifespan run, fake model loaded)."""
    clients: list[TestClient] = []

    def make(settings: Settings, loader: Callable[[str | None], Scorer] = fake_loader) -> TestClient:
        client = TestClient(create_app(settings, loader=loader), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], settings: Settings) -> TestClient:
    return make_client(settings)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def start_server() -> Iterator[Callable[..., str]]:
    """Start uvicorn on 127.0.0.1 with a random free port in a thread; returns the base URL."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(settings: Settings, loader: Callable[[str | None], Scorer] = fake_loader) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # The server's own address, as `signals serve` would be configured (the discovery root).
        settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
        app = create_app(settings, loader=loader)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        thread.start()
        running.append((server, thread, sock))
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server(start_server: Callable[..., str], settings: Settings) -> str:
    return start_server(settings)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Redis server for the whole session (each test uses its own key names)."""
    from redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
