"""Tables of the triage queue: items, the append-only decision log, analysts and server secrets.

The schema is owned by the ``triage`` alembic branch (``migrations/versions/triage_0001_*.py``); keep
the two in step. JSON-ish fields are stored as text (portable across SQLite and PostgreSQL) and
(de)serialised by ``signals.triage.store``; the columns that filters need (``question_id``,
``review_signals``, ``target_groups``) are copied out of them at insert time so the queue can be
filtered in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from signals.db import Base

#: Decision values an analyst can record; ``cleared`` is what undo appends when nothing came before.
DECISIONS: tuple[str, ...] = ("confirm", "reject", "unsure")
CLEARED = "cleared"

#: Item states: waiting for a first review, waiting for a second analyst, finished.
QUEUED, SECOND_REVIEW, DONE = "queued", "second_review", "done"
STATUSES: tuple[str, ...] = (QUEUED, SECOND_REVIEW, DONE)


def utcnow() -> datetime:
    return datetime.now(UTC)


class TriageItem(Base):
    """One submitted text (already redacted) with the scores it was queued with."""

    __tablename__ = "triage_items"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_triage_items_source_external_id"),
        Index("ix_triage_items_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    question_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    redactions: Mapped[str] = mapped_column(Text, default="{}")  # JSON {kind: count}
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    scores: Mapped[str] = mapped_column(Text)  # JSON {signal: probability}
    review: Mapped[str] = mapped_column(Text)  # JSON {signal: bool}
    flags: Mapped[str] = mapped_column(Text)  # JSON {signal: bool}
    targets: Mapped[str] = mapped_column(Text, default="{}")  # JSON {target: probability}
    spans: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{begin, end, scores, signals}]
    priority: Mapped[float] = mapped_column(Float, index=True)
    # ",hate,offensive," style lists so ``LIKE '%,hate,%'`` filters work on every database.
    review_signals: Mapped[str] = mapped_column(String(200), default=",")
    target_groups: Mapped[str] = mapped_column(String(200), default=",")
    second_review: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    submitted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Which thresholds decided ``review``/``flags``: "global", or "source:NAME" when the model held the
    # source's own operating point (``signals.sources``) at scoring time.
    operating_point: Mapped[str] = mapped_column(String(120), default="global", server_default="global")


class TriageDecision(Base):
    """One analyst decision on one signal of one item. Rows are only ever appended."""

    __tablename__ = "triage_decisions"
    __table_args__ = (Index("ix_triage_decisions_item_signal", "item_id", "signal", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("triage_items.id"), index=True)
    signal: Mapped[str] = mapped_column(String(50))
    decision: Mapped[str] = mapped_column(String(20))  # DECISIONS or CLEARED
    target: Mapped[str | None] = mapped_column(String(50), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    analyst: Mapped[str] = mapped_column(String(100), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    scores_shown: Mapped[str] = mapped_column(Text)  # JSON {signal: probability} as displayed
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("triage_decisions.id"), nullable=True)
    # True for a label on an answer drawn into a uniform random sample (not ranked by risk): only those
    # may correct a prevalence estimate (``signals.prevalence``). Later decisions on the pair inherit it.
    sampled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditSample(Base):
    """An item drawn into its source's uniform random sample (``signals triage sample``).

    ``position`` is the draw order (the order the sample is labelled in); ``seed`` is the seed of the
    draw that picked the item, so a draw can be repeated. Decisions on these items are ``sampled``.
    """

    __tablename__ = "triage_audit_sample"

    item_id: Mapped[int] = mapped_column(ForeignKey("triage_items.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seed: Mapped[int] = mapped_column(Integer)


class Analyst(Base):
    """A person who may log in to the triage page (password stored as an scrypt hash)."""

    __tablename__ = "triage_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Sessions carry the epoch they were issued under; raising it (log-out, new password, disabling)
    # ends every session of the analyst at once, however old the cookie.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TriageSecret(Base):
    """Named server secrets (the session-cookie signing key), so sessions survive restarts."""

    __tablename__ = "triage_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
