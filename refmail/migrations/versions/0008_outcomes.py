"""outcomes, suggestions, partners, rewards, suppression, owner notes and digests

Revision ID: 0008_outcomes
Revises: 0010_worker_leases
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outcomes"
down_revision: str | None = "0010_worker_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "thank_you",
    "double_intro",
    "check_in",
    "conversion_thanks",
    "call_task",
    "reward_task",
)
OLD_KINDS = KINDS[:-1]
STATUSES = ("open", "connected", "converted", "not_a_fit", "closed", "pending")
OLD_STATUSES = ("open", "connected", "converted", "closed")
MESSAGE_KINDS = ("introduction", "reply", "automatic", "own", "malformed", "command")
OLD_MESSAGE_KINDS = MESSAGE_KINDS[:-1]


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(kinds: tuple[str, ...], statuses: tuple[str, ...], messages: tuple[str, ...]) -> None:
    for table, column, values in (
        ("follow_up", "kind", kinds),
        ("introduction", "status", statuses),
        ("message", "kind", messages),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
            batch_op.create_check_constraint(column, _in(column, values))


def upgrade() -> None:
    _checks(KINDS, STATUSES, MESSAGE_KINDS)
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value", sa.Float(), nullable=True))
    op.create_table(
        "introduction_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("introduction_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("old_status", sa.String(length=20), nullable=False),
        sa.Column("new_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introduction.id"],
            name=op.f("fk_introduction_change_introduction_id_introduction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introduction_change")),
    )
    op.create_index(
        op.f("ix_introduction_change_introduction_id"),
        "introduction_change",
        ["introduction_id"],
    )
    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("introduction_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("signal", sa.String(length=50), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'confirmed', 'dismissed')", name=op.f("ck_suggestion_state")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_suggestion_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introduction.id"],
            name=op.f("fk_suggestion_introduction_id_introduction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
        sa.UniqueConstraint(
            "introduction_id", "message_id", name=op.f("uq_suggestion_introduction_id")
        ),
    )
    op.create_index(op.f("ix_suggestion_contact_id"), "suggestion", ["contact_id"])
    op.create_index(op.f("ix_suggestion_introduction_id"), "suggestion", ["introduction_id"])
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("expectations", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_partner_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_partner_contact_id")),
    )
    op.create_table(
        "reward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("introduction_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("promised_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("state IN ('promised', 'sent')", name=op.f("ck_reward_state")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_reward_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introduction.id"],
            name=op.f("fk_reward_introduction_id_introduction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward")),
        sa.UniqueConstraint("introduction_id", name=op.f("uq_reward_introduction_id")),
    )
    op.create_index(op.f("ix_reward_contact_id"), "reward", ["contact_id"])
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
        sa.UniqueConstraint("digest", name=op.f("uq_suppression_digest")),
    )
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("where", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_digest_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest")),
        sa.UniqueConstraint("message_id", name=op.f("uq_digest_message_id")),
    )
    op.create_table(
        "owner_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("introduction_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_owner_note_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"], ["digest.id"], name=op.f("fk_owner_note_digest_id_digest")
        ),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introduction.id"],
            name=op.f("fk_owner_note_introduction_id_introduction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_note")),
    )
    op.create_index(op.f("ix_owner_note_introduction_id"), "owner_note", ["introduction_id"])


def downgrade() -> None:
    for table in ("owner_note", "digest", "suppression", "reward", "partner", "suggestion"):
        op.drop_table(table)
    op.drop_table("introduction_change")
    with op.batch_alter_table("introduction", schema=None) as batch_op:
        batch_op.drop_column("value")
    op.execute("UPDATE introduction SET status = 'closed' WHERE status IN ('not_a_fit', 'pending')")
    _checks(OLD_KINDS, OLD_STATUSES, OLD_MESSAGE_KINDS)
