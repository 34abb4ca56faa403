"""introduction words: per party the sentences that describe them, and what a referrer said
about the owner

Revision ID: 0011_intro_words
Revises: 0008_outcomes
Create Date: 2026-11-27 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_intro_words"
down_revision: str | None = "0008_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("introduction_party") as batch:
        batch.add_column(sa.Column("about", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("introduction") as batch:
        batch.add_column(sa.Column("about_owner", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("introduction") as batch:
        batch.drop_column("about_owner")
    with op.batch_alter_table("introduction_party") as batch:
        batch.drop_column("about")
