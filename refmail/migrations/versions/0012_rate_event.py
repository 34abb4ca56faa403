"""rate events: the pages' rate limit shared by several `refmail web --workers` processes

Revision ID: 0012_rate_event
Revises: 0011_intro_words
Create Date: 2026-12-06 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_rate_event"
down_revision: str | None = "0011_intro_words"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_event")),
    )
    op.create_index("ix_rate_event_bucket_key_at", "rate_event", ["bucket", "key", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_event_bucket_key_at", table_name="rate_event")
    op.drop_table("rate_event")
