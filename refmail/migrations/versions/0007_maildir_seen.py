"""maildir seen keys

Revision ID: 0007_maildir_seen
Revises: 0006_unverified
Create Date: 2026-11-27 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_maildir_seen"
down_revision: str | None = "0006_unverified"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maildir_seen",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_maildir_seen_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", "folder", "key", name=op.f("pk_maildir_seen")),
    )


def downgrade() -> None:
    op.drop_table("maildir_seen")
