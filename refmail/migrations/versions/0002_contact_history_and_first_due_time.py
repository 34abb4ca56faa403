"""contact history and first due time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:48:57.873631
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_contact_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("recent_offsets", sa.String(length=200), nullable=False, server_default="")
        )

    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_due_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_follow_up_contact_delivered", ["contact_id", "delivered_at"], unique=False
        )
    op.execute("UPDATE follow_up SET first_due_at = due_at WHERE first_due_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_contact_delivered")
        batch_op.drop_column("first_due_at")

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("recent_offsets")
        batch_op.drop_column("last_contact_at")
