"""The triage page in a real browser: log in, triage three items by keyboard, watch the queue shrink,
export labels. A screenshot of the item view is kept in test-artifacts/ (and, with
SIGNALS_UPDATE_DOCS_SCREENSHOT=1, refreshed in docs/img/triage.png).

The live server is uvicorn on 127.0.0.1 (a free port) in a thread, with a fake model and a temporary
database: nothing leaves the machine. The browser is Debian's Chromium (``make setup`` installs it),
driven by Playwright's Python API. The fixtures live here, not in a conftest.py, because the test tree
has several ``conftest`` modules and tests import helpers from one of them by that name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from serve.main import create_app
from serve.settings import Settings
from serve.triage_settings import TriageSettings

from signals.db import migrate
from signals.schema import SIGNALS
from signals.scoring import Scorer
from signals.triage.store import NewItem, add_items, decision_history, latest_decisions
from signals.triage.users import create_user

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = ROOT / "docs" / "img" / "triage.png"
ARTIFACTS = ROOT / "test-artifacts"  # gitignored; the browser fixture creates it


def _open_count(page: Any) -> int:
    return int(page.locator("#open-count").inner_text())


def _press(page: Any, key: str) -> None:
    """Press a shortcut that submits a form or follows a link, and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def _item_id(page: Any) -> int:
    match = re.search(r"/triage/items/(\d+)", page.url)
    assert match, page.url
    return int(match[1])


def test_login_triage_three_items_by_keyboard_and_export(live_server: Any, browser_page: Any) -> None:
    page = browser_page
    page.goto(live_server.base_url + "/triage")
    assert "/triage/login" in page.url
    page.get_by_label("Username").fill(live_server.username)
    page.get_by_label("Password").fill(live_server.password)
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")
    assert page.url.rstrip("/").endswith("/triage")
    start = _open_count(page)
    assert start == 5
    rows_before = page.locator("table.queue tbody tr").count()

    _press(page, "s")  # first item of the queue
    first = _item_id(page)
    assert page.locator("mark.evidence").count() >= 1
    assert page.locator("#model-version").inner_text().strip() == "keyword-test 1"
    # accessibility: every form control on the page has a label
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map(el => el.name)"""
    )
    assert unlabelled == []
    page.screenshot(path=str(ARTIFACTS / "triage-item.png"), full_page=True)
    if os.environ.get("SIGNALS_UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_IMG.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG), full_page=True)

    # item 1: confirm the signal offered first (the model's strongest), then reject everything else
    offered = page.locator("input[name=decision_signal]:checked").get_attribute("value")
    assert offered == "polarization"  # "traitors" is the keyword model's polarization word
    _press(page, "c")
    assert page.locator("#mine-polarization").inner_text().strip() == "confirm"
    _press(page, "x")
    second = _item_id(page)
    assert second != first

    # item 2: pick polarization with its number key, mark it unsure, then undo and reject all four
    page.keyboard.press(str(SIGNALS.index("polarization") + 1))
    assert page.locator("#sig-polarization").is_checked()
    assert page.evaluate("() => document.activeElement.id") == "sig-polarization"  # focus is visible there
    _press(page, "u")
    assert page.locator("#mine-polarization").inner_text().strip() == "unsure"
    _press(page, "z")
    assert _item_id(page) == second
    assert page.locator("#mine-polarization").inner_text().strip() == "undecided"
    for _ in SIGNALS:
        _press(page, "r")
    third = _item_id(page)
    assert third not in (first, second)

    # item 3: reject all at once
    _press(page, "x")

    _press(page, "q")
    assert _open_count(page) == start - 3
    assert page.locator("table.queue tbody tr").count() == rows_before - 3
    page.screenshot(path=str(ARTIFACTS / "triage-queue.png"), full_page=True)

    # export labels from the page
    _press(page, "e")
    result = page.locator("#export-result").inner_text()
    assert re.match(r"3 labelled item\(s\) exported as labels-[0-9a-f]{12}$", result), result
    (version_dir,) = live_server.labels_dir.iterdir()
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["n_rows"] == 3 and manifest["positives"]["polarization"] == 1

    # the audit log has every decision, including the undone one
    latest = latest_decisions([first, second, third], url=live_server.database_url)
    assert (
        latest[(first, "polarization")].decision == "confirm"
        and latest[(second, "polarization")].decision == "reject"
    )
    decisions = [d.decision for d in decision_history(second, url=live_server.database_url)]
    assert decisions[:2] == ["unsure", "cleared"] and decisions.count("reject") == len(SIGNALS)


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
