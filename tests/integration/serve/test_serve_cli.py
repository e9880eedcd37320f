"""`signals serve`: options reach uvicorn, the demo key works, a missing model is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from signals.cli import app
from signals.keys import verify_key

runner = CliRunner()


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda target, **kw: calls.append({"target": target, **kw}))
    for var in ("SIGNALS_HOST", "SIGNALS_PORT", "SIGNALS_MODEL", "SIGNALS_WORKERS", "SIGNALS_KEEP_TORCH_OUT"):
        # set-then-delete records the variable, so values `signals serve` exports are undone afterwards
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return calls


def test_serve_passes_options_to_uvicorn(
    uvicorn_calls: list[dict[str, Any]], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALS_DATABASE_URL", db_url)
    result = runner.invoke(
        app, ["serve", "--host", "127.0.0.1", "--port", "8123", "--model", str(tmp_path), "--demo-key"]
    )
    assert result.exit_code == 0, result.output
    (call,) = uvicorn_calls
    assert call["target"] == "serve.main:app"
    assert (call["host"], call["port"], call["access_log"]) == ("127.0.0.1", 8123, False)
    key = result.output.split("Bearer <key>`):")[1].split()[0]
    info = verify_key(key, db_url)
    assert info is not None and info.name == "demo" and set(info.scopes) == {"score", "triage", "admin"}
    # a second start revokes the previous demo key
    again = runner.invoke(app, ["serve", "--model", str(tmp_path), "--demo-key"])
    assert again.exit_code == 0
    assert verify_key(key, db_url) is None


def test_serve_without_any_model_is_a_clear_error(
    uvicorn_calls: list[dict[str, Any]], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALS_DATABASE_URL", db_url)
    monkeypatch.setattr("signals.scoring.DEFAULT_MODEL_DIR", tmp_path / "missing")
    monkeypatch.chdir(tmp_path)
    # No tracking store either (MLflow exports MLFLOW_TRACKING_URI when an earlier test sets one).
    monkeypatch.delenv("SIGNALS_MLFLOW_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "no model to serve" in result.output
    assert uvicorn_calls == []


def test_bad_setting_is_a_clear_error(
    uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNALS_MAX_ITEMS", "lots")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "SIGNALS_" in result.output
    assert uvicorn_calls == []
