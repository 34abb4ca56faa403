"""contact public id: the random id that link tokens carry instead of an address or row number

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:04:56.957623
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    contact = sa.table("contact", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    ids = [row.id for row in connection.execute(sa.select(contact.c.id))]
    for contact_id in ids:
        connection.execute(
            contact.update()
            .where(contact.c.id == contact_id)
            .values(public_id=secrets.token_urlsafe(16))
        )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_contact_public_id"), ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_contact_public_id"), type_="unique")
        batch_op.drop_column("public_id")
