"""A live server for browser tests: uvicorn on 127.0.0.1 (free port) in a thread, fake model, temp DB.

Loopback only: nothing leaves the machine. The browser is Debian's Chromium (``make setup`` installs
it), driven by Playwright's Python API.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from serve.main import create_app
from serve.settings import Settings
from serve.triage_settings import TriageSettings

from signals.db import migrate
from signals.scoring import Scorer
from signals.triage.store import NewItem, add_items
from signals.triage.users import create_user

CHROMIUM = os.environ.get("SIGNALS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-test-password"

COMMENTS = [
    ("f1", "Those people are destroying our city and their voters are traitors."),
    ("f2", "You idiot, I will hurt you if you park there again. Email me at jo@example.org"),
    ("f3", "They are vermin and we should deport them all."),
    ("f4", "The new bike lanes are great, my commute is ten minutes shorter."),
    ("f5", "Damn, the library closes early again. Stupid planning."),
]


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    database_url: str
    labels_dir: Path
    username: str
    password: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path, fake_scorer: Scorer) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    migrate(url)
    create_user("ana", PASSWORD, url=url)
    add_items([NewItem("demo-forum", ext, text) for ext, text in COMMENTS], fake_scorer, url=url)
    app = create_app(Settings(database_url=url, rate_limit=0), loader=lambda _uri: fake_scorer)
    app.state.triage_settings = TriageSettings(labels_dir=str(tmp_path / "labels"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", url, tmp_path / "labels", "ana", PASSWORD)
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def browser_page() -> Iterator[object]:
    """A Playwright page in Debian's Chromium (headless, no network features)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not installed (make setup installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
