"""The operating point an item's review/flags were decided with: ``global`` or ``source:NAME``.

Revision ID: triage_0005
Revises: triage_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "triage_0005"
down_revision = "triage_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_items") as batch:
        batch.add_column(
            sa.Column("operating_point", sa.String(120), nullable=False, server_default="global")
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_items") as batch:
        batch.drop_column("operating_point")
