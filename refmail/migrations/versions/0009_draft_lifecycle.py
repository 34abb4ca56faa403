"""draft lifecycle: what the owner did with a draft (sent, dismissed) and drafts withdrawn

Revision ID: 0009_draft_lifecycle
Revises: 0007_maildir_seen
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_draft_lifecycle"
down_revision: str | None = "0007_maildir_seen"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = ("planned", "deferred", "delivering", "delivered", "skipped", "failed")
NEW_STATES = (*OLD_STATES, "sent", "dismissed", "withdrawn")


def _check(states: tuple[str, ...]) -> str:
    return f"state IN ({', '.join(repr(s) for s in states)})"


def upgrade() -> None:
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("body_digest", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("subject", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("missing_since", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("withdraw_reason", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("flagged_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint(op.f("ck_follow_up_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_follow_up_state"), _check(NEW_STATES))


def downgrade() -> None:
    # Rows in the new states go back to what the old schema can say: a draft was delivered.
    op.execute(
        "UPDATE follow_up SET state = 'delivered' WHERE state IN ('sent', 'dismissed', 'withdrawn')"
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_follow_up_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_follow_up_state"), _check(OLD_STATES))
        for column in (
            "flagged_at",
            "withdraw_reason",
            "missing_since",
            "sent_at",
            "subject",
            "body_digest",
        ):
            batch_op.drop_column(column)
