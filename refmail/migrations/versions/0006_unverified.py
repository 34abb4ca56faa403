"""introductions claimed by the owner but not authenticated

Revision ID: 0006_unverified
Revises: 0005
Create Date: 2026-11-27 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_unverified"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("auth", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.drop_column("auth")
        batch_op.drop_column("verified")
