"""follow-up delivery channel

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:27:07.092040
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="")
        )
    # Delivered before this column existed: drafts or files, never SMTP (not offered yet).
    op.execute("UPDATE follow_up SET channel = 'drafts' WHERE state = 'delivered'")


def downgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_column("channel")
