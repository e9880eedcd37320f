"""The audit sample: items drawn uniformly at random from a source, labelled for corrected prevalence.

Revision ID: triage_0004
Revises: triage_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "triage_0004"
down_revision = "triage_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_audit_sample",
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("triage_items.id"), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, unique=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
    )
    op.create_index("ix_triage_audit_sample_source", "triage_audit_sample", ["source"])


def downgrade() -> None:
    op.drop_index("ix_triage_audit_sample_source", table_name="triage_audit_sample")
    op.drop_table("triage_audit_sample")
