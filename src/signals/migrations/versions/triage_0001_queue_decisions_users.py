"""Triage queue: items, append-only decisions, analysts, server secrets.

Revision ID: triage_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "triage_0001"
down_revision = None
branch_labels = ("triage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("question_id", sa.String(200), nullable=True),
        sa.Column("redactions", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("review", sa.Text(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("spans", sa.Text(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("review_signals", sa.String(200), nullable=False),
        sa.Column("target_groups", sa.String(200), nullable=False),
        sa.Column("second_review", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=True),
        sa.UniqueConstraint("source", "external_id", name="uq_triage_items_source_external_id"),
    )
    op.create_index("ix_triage_items_source", "triage_items", ["source"])
    op.create_index("ix_triage_items_question_id", "triage_items", ["question_id"])
    op.create_index("ix_triage_items_created", "triage_items", ["created"])
    op.create_index("ix_triage_items_priority", "triage_items", ["priority"])
    op.create_index("ix_triage_items_status_priority", "triage_items", ["status", "priority"])
    op.create_table(
        "triage_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("triage_items.id"), nullable=False),
        sa.Column("signal", sa.String(50), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("target", sa.String(50), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("analyst", sa.String(100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("scores_shown", sa.Text(), nullable=False),
        sa.Column("undoes_id", sa.Integer(), sa.ForeignKey("triage_decisions.id"), nullable=True),
    )
    op.create_index("ix_triage_decisions_item_id", "triage_decisions", ["item_id"])
    op.create_index("ix_triage_decisions_analyst", "triage_decisions", ["analyst"])
    op.create_index("ix_triage_decisions_created", "triage_decisions", ["created"])
    op.create_index("ix_triage_decisions_item_signal", "triage_decisions", ["item_id", "signal", "id"])
    op.create_table(
        "triage_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "triage_secrets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("triage_secrets")
    op.drop_table("triage_users")
    op.drop_table("triage_decisions")
    op.drop_table("triage_items")
