"""The served model across worker processes and hosts that share one database.

Several ``signals serve`` workers (``SIGNALS_WORKERS``, or several hosts behind a load balancer) must
serve the same model. ``/admin/reload`` reaches one of them; that worker loads the model, then
``announce`` records it here as a new *generation* (``served_model``, one row). Every worker polls
``served`` (``SIGNALS_RELOAD_POLL_SECONDS``), loads the announced model when the generation moved, and
reports what it serves with ``heartbeat`` (``serving_workers``, one row per worker). A worker that
starts later (a restart, a replacement after a crash) loads the announced model too, so the fleet
never drifts back to an older one. ``live_workers`` is what ``GET /admin/workers`` shows.

Times are stored as Unix seconds (floats), the same on SQLite and PostgreSQL. The tables live in the
``fleet`` alembic branch.

>>> import tempfile, os
>>> from signals.db import migrate
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "fleet.db")
>>> migrate(url)
>>> served(url)
Served(generation=0, target=None)
>>> announce("models:/signals@champion", "admin-key", url=url)
1
>>> served(url).target
'models:/signals@champion'
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from sqlalchemy import Float, Integer, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from signals.db import Base, session_scope

#: A worker whose last heartbeat is older than this many poll intervals is presumed gone.
LIVE_POLLS = 3
#: Rows of workers unseen for this long are deleted on the next announce.
FORGET_SECONDS = 3600.0


class ServedModel(Base):
    """The model every worker should serve: one row (id 1), its generation bumped on each reload."""

    __tablename__ = "served_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: each worker's default
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[float] = mapped_column(Float)


class ServingWorker(Base):
    """What one worker process serves, as of its last heartbeat."""

    __tablename__ = "serving_workers"

    worker: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid
    generation: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # the last failed load, if any
    started_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class Served:
    """The announced model: ``generation`` 0 means no reload was ever announced."""

    generation: int
    target: str | None


@dataclass(frozen=True)
class WorkerState:
    """One worker as ``GET /admin/workers`` shows it."""

    worker: str
    generation: int
    model_name: str
    model_version: str
    error: str | None
    seen_seconds_ago: float


def worker_id() -> str:
    """This process's name in ``serving_workers``: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def served(url: str | None = None) -> Served:
    """The announced model (generation 0 and no target before the first reload)."""
    with session_scope(url) as session:
        row = session.get(ServedModel, 1)
        return Served(row.generation, row.target) if row is not None else Served(0, None)


def announce(target: str | None, by: str, url: str | None = None) -> int:
    """Record ``target`` as the model every worker must serve; returns the new generation.

    The bump is one ``UPDATE ... SET generation = generation + 1 RETURNING generation`` (writers take
    the lock before they read), so two reloads at once get two distinct generations and the later one
    wins everywhere.
    """
    now = time.time()
    for _ in range(3):
        try:
            with session_scope(url) as session:
                values = dict(target=target, changed_by=by, changed_at=now)
                generation = session.execute(
                    update(ServedModel)
                    .where(ServedModel.id == 1)
                    .values(generation=ServedModel.generation + 1, **values)
                    .returning(ServedModel.generation)
                ).scalar()
                if generation is None:  # the first announce ever
                    session.add(ServedModel(id=1, generation=1, **values))
                    generation = 1
                session.execute(delete(ServingWorker).where(ServingWorker.seen_at < now - FORGET_SECONDS))
            return int(generation)
        except IntegrityError:  # two first announces inserted row 1 at once: bump the winner's row
            continue
    raise RuntimeError("could not record the reload (the served_model row kept changing)")


def heartbeat(
    worker: str,
    generation: int,
    model_name: str,
    model_version: str,
    *,
    started_at: float,
    error: str | None = None,
    url: str | None = None,
) -> None:
    """Record what ``worker`` serves now (its own row: only it writes there)."""
    now = time.time()
    values = dict(
        generation=generation, model_name=model_name, model_version=model_version, error=error, seen_at=now
    )
    with session_scope(url) as session:
        done = session.execute(update(ServingWorker).where(ServingWorker.worker == worker).values(**values))
        if not done.rowcount:  # type: ignore[attr-defined]
            session.add(ServingWorker(worker=worker, started_at=started_at, **values))


def live_workers(poll_seconds: float, url: str | None = None) -> list[WorkerState]:
    """Workers heard from within ``LIVE_POLLS`` poll intervals (plus a second of slack), by name."""
    now = time.time()
    horizon = now - LIVE_POLLS * poll_seconds - 1.0
    with session_scope(url) as session:
        rows = session.scalars(
            select(ServingWorker).where(ServingWorker.seen_at >= horizon).order_by(ServingWorker.worker)
        ).all()
        return [
            WorkerState(
                r.worker, r.generation, r.model_name, r.model_version, r.error, round(now - r.seen_at, 1)
            )
            for r in rows
        ]
