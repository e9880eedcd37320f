"""Score suggestions sent through Perspective's ``comments:suggestscore``: kept for later training.

Forum tools built for Perspective send a moderator's verdict back as "this comment should have scored
X on attribute A". Each suggestion is one row (text, the suggested attribute scores as JSON, languages,
community and client token, the key that sent it) in the ``keys`` alembic branch's ``feedback`` table;
a later label export turns them into training rows. The text is stored redacted (``signals.privacy``):
like every other stored text, a comment's e-mail addresses, phone numbers, ... never reach the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from signals.db import Base, as_utc, session_scope, without_nul
from signals.privacy import redact


def _now() -> datetime:
    return datetime.now(UTC)


class Feedback(Base):
    """One suggested score for one comment."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    source: Mapped[str] = mapped_column(String(50))  # "perspective.suggestscore"
    key_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[str] = mapped_column(Text)  # JSON: {attribute: value}
    languages: Mapped[str] = mapped_column(String(200), default="")
    community_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client_token: Mapped[str | None] = mapped_column(String(200), nullable=True)


def store_feedback(
    text: str,
    scores: Mapping[str, float],
    *,
    source: str,
    key_name: str | None = None,
    languages: Sequence[str] = (),
    community_id: str | None = None,
    client_token: str | None = None,
    url: str | None = None,
) -> int:
    """Store one suggestion, its text redacted of personal data; returns its id."""
    with session_scope(url) as session:
        row = Feedback(
            created=_now(),
            source=source,
            key_name=key_name,
            text=redact(without_nul(text)).text,
            scores=json.dumps(dict(scores), sort_keys=True),
            languages=",".join(languages),
            community_id=community_id,
            client_token=client_token,
        )
        session.add(row)
        session.flush()
        return row.id


def load_feedback(url: str | None = None) -> list[dict[str, Any]]:
    """Every stored suggestion as a plain dict (oldest first), for label export and tests."""
    with session_scope(url) as session:
        return [
            {
                "id": r.id,
                "created": as_utc(r.created),
                "source": r.source,
                "key_name": r.key_name,
                "text": r.text,
                "scores": json.loads(r.scores),
                "languages": [x for x in r.languages.split(",") if x],
                "community_id": r.community_id,
                "client_token": r.client_token,
            }
            for r in session.scalars(select(Feedback).order_by(Feedback.id))
        ]


def count_feedback(url: str | None = None) -> int:
    with session_scope(url) as session:
        return int(session.scalar(select(func.count(Feedback.id))) or 0)
