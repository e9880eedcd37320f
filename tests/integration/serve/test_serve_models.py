"""The real model loader of the service: what `/admin/reload` may load, and a serving path without MLflow."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from serve.main import default_loader
from serve.settings import Settings

from conftest import auth
from signals import tracking
from signals.scoring import DEFAULT_MODEL_DIR


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def served(
    make_client: Callable[..., TestClient], settings: Settings, keyword_model_dir: Path, tmp_path: Path
) -> tuple[TestClient, Path]:
    """The keyword model served through the default loader, with ``tmp_path/roots`` as the model root."""
    roots = tmp_path / "roots"
    shutil.copytree(keyword_model_dir, roots / "v2")
    configured = settings.model_copy(update={"model": str(keyword_model_dir), "model_roots": str(roots)})
    return make_client(configured, default_loader(configured)), roots


def reload(client: TestClient, key: str, model: str) -> tuple[int, str]:
    r = client.post("/admin/reload", json={"model": model}, headers=auth(key))
    body = r.json()
    return r.status_code, body.get("error", {}).get("message", "") if r.status_code != 200 else ""


@pytest.mark.parametrize("model", ["/etc", "{roots}/../keyword-model", "{roots}-evil"])
def test_reload_outside_the_model_roots_is_refused(
    served: tuple[TestClient, Path], keys: dict[str, str], model: str
) -> None:
    client, roots = served
    status, message = reload(client, keys["admin"], model.format(roots=roots))
    assert status == 403
    assert "outside the model roots" in message and "SIGNALS_MODEL_ROOTS" in message
    assert "still serving" in message
    assert client.get("/readyz").json()["model"]["name"] == "keyword-test"


@pytest.mark.parametrize("model", ["s3://bucket/model", "file:///etc", "http://example.org/model"])
def test_reload_of_other_uris_is_refused(
    served: tuple[TestClient, Path], keys: dict[str, str], model: str
) -> None:
    client, _ = served
    status, message = reload(client, keys["admin"], model)
    assert status == 422 and "unsupported model" in message


def test_reload_from_under_the_roots_works(served: tuple[TestClient, Path], keys: dict[str, str]) -> None:
    client, roots = served
    status, _ = reload(client, keys["admin"], str(roots / "v2"))
    assert status == 200


def test_reload_of_a_run_without_a_store_creates_nothing(
    served: tuple[TestClient, Path],
    keys: dict[str, str],
    empty_cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, _ = served
    monkeypatch.delenv("SIGNALS_MLFLOW_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    status, message = reload(client, keys["admin"], "runs:/0123456789abcdef/model")
    assert status == 422 and "no MLflow store" in message
    assert list(empty_cwd.iterdir()) == []


@pytest.mark.slow
def test_reload_of_a_run_uses_the_configured_store(
    served: tuple[TestClient, Path],
    keys: dict[str, str],
    keyword_model_dir: Path,
    mlflow_store: str,
    empty_cwd: Path,
) -> None:
    tracking.configure()
    with mlflow.start_run() as run:
        tracking.log_model_dir(keyword_model_dir)
    before = set(empty_cwd.iterdir())
    client, _ = served
    status, message = reload(client, keys["admin"], f"runs:/{run.info.run_id}/model")
    assert status == 200, message
    status, message = reload(client, keys["admin"], "models:/signals@challenger")
    assert status == 200, message
    assert set(empty_cwd.iterdir()) == before  # no mlflow.db, no mlruns/ beside the server


LEAN_CHILD = textwrap.dedent(
    """
    import os, sys
    os.environ["SIGNALS_KEEP_TORCH_OUT"] = "1"
    from fastapi.testclient import TestClient
    from serve.main import create_app
    from serve.settings import Settings
    settings = Settings(database_url=sys.argv[1], model=sys.argv[2] or None, auth=False)
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/score", json={"items": [{"text": "Fix the road. Those people are vermin."}]})
        assert r.status_code == 200, r.text
    print(",".join(m for m in ("mlflow", "pandas", "torch", "transformers") if m in sys.modules) or "-")
    """
)


def lean_child(tmp_path: Path, model: str) -> str:
    """Start the app in a fresh interpreter, score once; the heavy modules it imported, or ``-``."""
    done = subprocess.run(
        [sys.executable, "-c", LEAN_CHILD, f"sqlite:///{tmp_path / 'serve.db'}", model],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "signals.json").is_file(), reason="no shipped model")
def test_serving_a_directory_model_never_imports_mlflow(tmp_path: Path) -> None:
    assert lean_child(tmp_path, str(DEFAULT_MODEL_DIR)) == "-"


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "signals.json").is_file(), reason="no shipped model")
def test_looking_for_a_champion_never_imports_mlflow(tmp_path: Path, mlflow_store: str) -> None:
    """A tracking store without a champion: the default model is the shipped one, found without MLflow."""
    tracking.configure()  # the store exists (and has no registered model)
    assert lean_child(tmp_path, "") == "-"
