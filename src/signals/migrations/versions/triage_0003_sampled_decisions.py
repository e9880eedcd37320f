"""Decisions on a uniform random sample (``sampled``): the labels a corrected prevalence may use.

Revision ID: triage_0003
Revises: triage_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "triage_0003"
down_revision = "triage_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_decisions") as batch:
        batch.add_column(sa.Column("sampled", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("triage_decisions") as batch:
        batch.drop_column("sampled")
