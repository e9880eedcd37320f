"""The server as `make run` starts it: a real `signals serve` process, the shipped model, no torch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from signals.scoring import DEFAULT_MODEL_DIR

HEAVY = ("torch", "transformers", "mlflow", "datasets")


def test_importing_the_app_loads_no_model_and_no_torch() -> None:
    code = (
        "import sys, serve.main\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(serve.main.app.state.models.scorer)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, scorer = out.splitlines()
    assert loaded == ""
    assert scorer == "None"  # the model is loaded in the lifespan, never at import


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "signals.json").is_file(), reason="no shipped model yet")
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to inspect the server")
def test_signals_serve_scores_with_the_shipped_model(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SIGNALS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SIGNALS_MODEL": str(DEFAULT_MODEL_DIR),
        "SIGNALS_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    signals = Path(sys.executable).parent / "signals"
    proc = subprocess.Popen(
        [str(signals), "serve", "--port", str(port), "--demo-key"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        key = None
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("sig_"):
                key = line.strip()
        assert key, "signals serve printed no demo key"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            time.sleep(0.5)
        r = httpx.post(
            f"{base}/v1/score",
            json={"items": [{"id": "1", "text": "Thanks for fixing the playground."}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert set(r.json()["results"][0]["scores"]) == {"hate", "threat", "offensive", "polarization"}
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "libtorch" not in maps and "torch/_C" not in maps
    finally:
        proc.terminate()
        proc.wait(timeout=30)
