"""worker leases: accounts shared by several `refmail run --worker` processes

Revision ID: 0010_worker_leases
Revises: 0009_draft_lifecycle
Create Date: 2026-11-27 10:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_worker_leases"
down_revision: str | None = "0009_draft_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker")),
    )
    op.create_table(
        "account_lease",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_account_lease")),
    )


def downgrade() -> None:
    op.drop_table("account_lease")
    op.drop_table("worker")
