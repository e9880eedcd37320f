"""signals.registry: what names a model (None, models:/, runs:/, a directory) and what a reload may load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signals import registry
from signals.registry import (
    DEFAULT_MODEL_DIR,
    ModelNotAllowedError,
    ModelSourceError,
    model_roots,
    reload_target,
    resolve,
)


@pytest.fixture
def no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is an empty folder and the configured store does not exist."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SIGNALS_MLFLOW_URI", f"sqlite:///{tmp_path / 'absent' / 'mlflow.db'}")
    return work


def test_a_directory_is_itself(tmp_path: Path) -> None:
    assert resolve(tmp_path) == tmp_path
    assert resolve(str(tmp_path)) == tmp_path


def test_default_without_a_store_is_the_shipped_model_and_creates_nothing(no_store: Path) -> None:
    assert resolve(None) == DEFAULT_MODEL_DIR
    assert registry.champion_uri() is None
    assert list(no_store.iterdir()) == []
    assert not (no_store.parent / "absent").exists()


@pytest.mark.parametrize("uri", ["runs:/0123456789abcdef/model", "models:/signals@champion"])
def test_registry_uri_without_a_store_is_a_clear_error_and_creates_nothing(no_store: Path, uri: str) -> None:
    with pytest.raises(ModelSourceError, match="no MLflow store at .*SIGNALS_MLFLOW_URI"):
        resolve(uri)
    assert list(no_store.iterdir()) == []  # no mlflow.db, no mlruns/ in the working directory


def test_default_store_is_never_created_in_the_working_directory(
    no_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIGNALS_MLFLOW_URI")
    with pytest.raises(ModelSourceError, match="no MLflow store at mlflow.db"):
        resolve("runs:/0123456789abcdef/model")
    assert list(no_store.iterdir()) == []


@pytest.mark.parametrize("uri", ["s3://bucket/model", "file:///etc", "http://example.org/m"])
def test_other_uris_are_refused(uri: str) -> None:
    with pytest.raises(ModelSourceError, match="unsupported model URI"):
        resolve(uri)


def test_model_roots_default_and_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNALS_MODEL_ROOTS", raising=False)
    monkeypatch.setenv("SIGNALS_MLFLOW_ARTIFACTS", str(tmp_path / "mlruns"))
    assert model_roots() == [registry.ROOT / "models", tmp_path / "mlruns"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert model_roots(f"{a}{os.pathsep}{b}") == [a, b]
    monkeypatch.setenv("SIGNALS_MODEL_ROOTS", str(b))
    assert model_roots() == [b]
    assert model_roots([a]) == [a]


def test_reload_target_accepts_registry_uris_and_directories_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "models"
    (root / "v2").mkdir(parents=True)
    assert reload_target("models:/signals@champion", [root]) == "models:/signals@champion"
    assert reload_target("runs:/abc/model", [root]) == "runs:/abc/model"
    assert reload_target(str(root / "v2"), [root]) == str(root / "v2")
    assert reload_target(str(root), [root]) == str(root)


@pytest.mark.parametrize("where", ["/etc", "/tmp", "{root}/../elsewhere", "{root}-evil/m", "{root}/link/m"])
def test_reload_target_refuses_paths_outside_the_roots(tmp_path: Path, where: str) -> None:
    root = tmp_path / "models"
    root.mkdir()
    (tmp_path / "outside" / "m").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path / "outside")  # a link inside the root pointing out of it
    with pytest.raises(ModelNotAllowedError, match="outside the model roots.*SIGNALS_MODEL_ROOTS"):
        reload_target(where.format(root=root), [root])


@pytest.mark.parametrize("model", ["s3://bucket/m", "file:///etc", " "])
def test_reload_target_refuses_other_uris(tmp_path: Path, model: str) -> None:
    with pytest.raises(ModelSourceError, match="unsupported model"):
        reload_target(model, [tmp_path])
