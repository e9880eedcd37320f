"""Analysts' session epoch: log-out and password changes end sessions on the server side.

Revision ID: triage_0002
Revises: triage_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "triage_0002"
down_revision = "triage_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("triage_users") as batch:
        batch.drop_column("session_epoch")
