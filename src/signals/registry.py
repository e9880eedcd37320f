"""Where a model comes from: ``None`` (the default), a registry URI or a directory -> a model directory.

``resolve(model)`` is the one place that turns what a user, a config or ``/admin/reload`` names into a
local signals model directory (one holding ``signals.json``):

* a directory: itself;
* ``models:/…`` or ``runs:/…``: the model downloaded from the MLflow store named by ``tracking_uri()``
  (``SIGNALS_MLFLOW_URI``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``). The download
  runs in a child process, so MLflow and what it imports (about 150 MB: pandas, SQLAlchemy models,
  alembic, ...) never enter the caller, typically a server. A sqlite store that does not exist is an
  error, never created: resolving a model writes nothing into the working directory;
* ``None``: the registry's ``champion`` when the store has one, else the shipped ``models/default``.
  Whether a champion exists is read from a sqlite store directly (read-only), without MLflow.

Nothing else is a model: other URI schemes (``s3://``, ``file://``, ``http://``) are refused.
``reload_target`` adds the server's rule for ``/admin/reload``: registry URIs, or directories under
the configured model roots (``SIGNALS_MODEL_ROOTS``), because a baseline model written before
2026-12-06 is a joblib pickle (``baseline.joblib``) and loading one runs code.

The registry's names (model ``signals``, aliases ``champion`` / ``challenger``) and the tracking-store
settings live here; ``signals.tracking`` holds the MLflow operations (logging, registering, promoting).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: The repository root (``models/``, the default tracking store when commands run from here).
ROOT = Path(__file__).resolve().parents[2]
#: The shipped champion, used when no registry champion exists.
DEFAULT_MODEL_DIR = ROOT / "models" / "default"

MODEL_NAME = "signals"
EXPERIMENT = "signals"
CHAMPION = "champion"
CHALLENGER = "challenger"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlruns"
REGISTRY_SCHEMES = ("models:/", "runs:/")
#: ``SIGNALS_MODEL_ROOTS``: directories ``/admin/reload`` may load models from (``os.pathsep``-separated).
MODEL_ROOTS_ENV = "SIGNALS_MODEL_ROOTS"

#: How long a child process may take to download a registry model.
DOWNLOAD_TIMEOUT_S = 600


class ModelSourceError(ValueError):
    """A model reference that cannot be resolved (unsupported URI, missing store, failed download)."""


class ModelNotAllowedError(PermissionError):
    """A model reference outside what the caller may load (``reload_target``)."""


def tracking_uri(uri: str | None = None) -> str:
    """Explicit URI, else ``SIGNALS_MLFLOW_URI``, else ``MLFLOW_TRACKING_URI``, else sqlite:///mlflow.db."""
    return (
        uri
        or os.environ.get("SIGNALS_MLFLOW_URI")
        or os.environ.get("MLFLOW_TRACKING_URI")
        or DEFAULT_TRACKING_URI
    )


def artifact_root(root: str | None = None) -> str:
    """Explicit folder, else ``SIGNALS_MLFLOW_ARTIFACTS``, else ``mlruns``."""
    return root or os.environ.get("SIGNALS_MLFLOW_ARTIFACTS") or DEFAULT_ARTIFACT_ROOT


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, else ``None``."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


def store_exists(uri: str | None = None) -> bool:
    """False only for a sqlite store whose file does not exist (a remote store is assumed to exist)."""
    path = sqlite_path(tracking_uri(uri))
    return path is None or path.is_file()


def is_registry_uri(model: str | os.PathLike[str]) -> bool:
    return str(model).startswith(REGISTRY_SCHEMES)


def _sqlite_alias_version(path: Path, alias: str) -> str | None:
    """The version ``alias`` points at, read from an MLflow sqlite store without MLflow."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (MODEL_NAME, alias)
        ).fetchone()
    finally:
        con.close()
    return None if row is None else str(row[0])


def champion_version(uri: str | None = None) -> str | None:
    """The registered version the ``champion`` alias points at, or ``None`` (no store, model or alias)."""
    uri = tracking_uri(uri)
    path = sqlite_path(uri)
    if path is not None:
        if not path.is_file():
            return None
        try:
            return _sqlite_alias_version(path, CHAMPION)
        except sqlite3.Error as exc:  # an empty or foreign file, another schema: ask MLflow
            log.debug("reading %s directly failed (%s); asking MLflow", path, exc)
    from signals.tracking import alias_version

    return alias_version(CHAMPION, uri)


def champion_uri(uri: str | None = None) -> str | None:
    """``models:/signals@champion`` when the registry has a champion, else ``None``."""
    return f"models:/{MODEL_NAME}@{CHAMPION}" if champion_version(uri) else None


def download(model_uri: str, uri: str | None = None) -> Path:
    """Download a ``models:/`` or ``runs:/`` model in a child process; returns its model directory."""
    store = tracking_uri(uri)
    if not store_exists(store):
        raise ModelSourceError(
            f"cannot resolve {model_uri}: no MLflow store at {sqlite_path(store)} "
            "(set SIGNALS_MLFLOW_URI to the tracking store)"
        )
    # The child finds this very ``signals`` package, wherever it was imported from.
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
        "from signals.registry import _download_child; _download_child()"
    )
    env = {**os.environ, "SIGNALS_MLFLOW_URI": store}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, model_uri],
            capture_output=True,
            text=True,
            env=env,
            timeout=DOWNLOAD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ModelSourceError(f"downloading {model_uri} took over {DOWNLOAD_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ModelSourceError(f"cannot download {model_uri}: {reason}")
    return Path(done.stdout.strip().splitlines()[-1])


def _download_child() -> None:
    """``download``'s child: print the model directory, or one line of error on stderr and exit 1."""
    logging.disable(logging.WARNING)
    try:
        from signals.tracking import download_model_dir

        print(download_model_dir(sys.argv[1]))
    except Exception as exc:  # one clean line for the parent, never a traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{type(exc).__name__}: {message}", file=sys.stderr)
        sys.exit(1)


def resolve(model: str | os.PathLike[str] | None = None, uri: str | None = None) -> Path:
    """The local model directory of ``model`` (see the module docstring); ``uri`` is the tracking store."""
    if model is None:
        model = champion_uri(uri) or DEFAULT_MODEL_DIR
    text = str(model)
    if is_registry_uri(text):
        return download(text, uri)
    if "://" in text:
        raise ModelSourceError(
            f"unsupported model URI {text!r}: give a model directory, models:/NAME@ALIAS or runs:/RUN/model"
        )
    return Path(text)


def model_roots(configured: str | Sequence[str | os.PathLike[str]] | None = None) -> list[Path]:
    """Directories models may be loaded from by ``/admin/reload``, resolved.

    ``configured`` (a list, or one string of ``os.pathsep``-separated folders), else
    ``SIGNALS_MODEL_ROOTS``, else the repository's ``models/`` and the MLflow artifact folder.
    """
    if configured is None or configured == "":
        configured = os.environ.get(MODEL_ROOTS_ENV) or [ROOT / "models", artifact_root()]
    if isinstance(configured, str):
        configured = [p for p in configured.split(os.pathsep) if p.strip()]
    return [Path(p).expanduser().resolve() for p in configured]


def reload_target(model: str, roots: Sequence[Path]) -> str:
    """``model`` when ``/admin/reload`` may load it: a registry URI, or a directory under ``roots``.

    Raises ``ModelNotAllowedError`` for a path outside the roots (symbolic links and ``..`` resolved
    first) and ``ModelSourceError`` for any other kind of URI.
    """
    if is_registry_uri(model):
        return model
    if "://" in model or not model.strip():
        raise ModelSourceError(
            f"unsupported model {model!r}: give models:/NAME@ALIAS, runs:/RUN/model or a directory "
            "under the model roots"
        )
    path = Path(model).expanduser().resolve()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        shown = os.pathsep.join(str(r) for r in roots)
        raise ModelNotAllowedError(
            f"{model} is outside the model roots ({shown}); set {MODEL_ROOTS_ENV} to allow another folder"
        )
    return str(path)
