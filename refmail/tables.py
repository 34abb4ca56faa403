"""The database schema as SQLAlchemy Core tables: contacts, messages, introductions, the outbox.

The one home of the schema: `models` maps its ORM classes onto these tables, and code that
needs no objects (bulk writes, set-based updates) uses them directly without the ORM. Alembic
compares the migrations against `metadata`. A column is NOT NULL unless it says otherwise
(`col`), as the ORM's non-Optional `Mapped[...]` annotations made it before.

Times are stored as naive UTC and read back timezone-aware, so SQLite and PostgreSQL agree.
Schema changes go through Alembic (refmail/migrations); this module is the source of truth.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from refmail import kinds

# A draft, once delivered, may end "sent" (the owner sent it), "dismissed" (the owner deleted it)
# or "withdrawn" (refmail took it back: it became wrong, or expired).
STATES = (
    "planned",
    "deferred",
    "delivering",
    "delivered",
    "skipped",
    "failed",
    "sent",
    "dismissed",
    "withdrawn",
)
OPEN_STATES = ("planned", "deferred")
FINISHED_STATES = ("delivered", "skipped", "failed", "sent", "dismissed", "withdrawn")
UNSENT_STATES = ("dismissed", "withdrawn")  # drafts that never went: they count in no cap
CHANNELS = ("email", "phone", "none")
LEVELS = ("normal", "reduced", "essential", "none")
# An introduction's outcome; "pending" is an opt-in introduction whose party has not said yes.
INTRO_STATUSES = ("open", "connected", "converted", "not_a_fit", "closed", "pending")
MESSAGE_KINDS = ("introduction", "reply", "automatic", "own", "malformed", "command")
SUGGESTION_STATES = ("open", "confirmed", "dismissed")
REWARD_STATES = ("promised", "sent")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out; stored naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def col(name: str, *args: Any, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    """A column, NOT NULL unless `nullable`."""
    return Column(name, *args, nullable=nullable, **kwargs)


def new_public_id() -> str:
    """A contact's id in links: 128 random bits, URL-safe; reveals nothing, cannot be counted."""
    return secrets.token_urlsafe(16)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

account = Table(
    "account",
    metadata,
    col("id", Integer, primary_key=True),
    col("name", String(200), unique=True),
    col("address", String(320)),
    col("created_at", UTCDateTime()),
)

# Sync cursor of one folder: UIDVALIDITY and the last UID recorded (a Maildir folder keeps its seen
# keys in maildir_seen; last_key is only a name cursor left by an older version).
folder_state = Table(
    "folder_state",
    metadata,
    col("id", Integer, primary_key=True),
    col("account_id", Integer, ForeignKey("account.id")),
    col("folder", String(500)),
    col("uidvalidity", BigInteger, default=0),
    col("last_uid", BigInteger, default=0),
    col("last_key", String(500), default=""),
    col("updated_at", UTCDateTime()),
    UniqueConstraint("account_id", "folder"),
)

# A Maildir file sync has read (its key: the name without flags), per folder: Maildir names have no
# dependable order, so what was read is remembered rather than a position.
maildir_seen = Table(
    "maildir_seen",
    metadata,
    col("account_id", Integer, ForeignKey("account.id"), primary_key=True),
    col("folder", String(500), primary_key=True),
    col("key", String(500), primary_key=True),
    col("seen_at", UTCDateTime()),
)

contact = Table(
    "contact",
    metadata,
    col("id", Integer, primary_key=True),
    col("email", String(320), unique=True),
    col("public_id", String(32), unique=True, default=new_public_id),
    col("name", String(300), default=""),
    col("organisation", String(300), default=""),
    col("phone", String(50), default=""),
    col("channel", String(10), default="email"),
    col("level", String(10), default="normal"),
    col("paused_until", UTCDateTime(), nullable=True),
    col("timezone", String(64), default=""),
    col("locale", String(20), default=""),
    col("opted_out_at", UTCDateTime(), nullable=True),
    col("bounced_at", UTCDateTime(), nullable=True),
    col("soft_bounces", Integer, default=0),
    # The last email between this person and the owner that refmail saw (either direction).
    col("last_contact_at", UTCDateTime(), nullable=True),
    # UTC offsets (minutes) of the Date headers of their latest mail: a guess at their zone.
    col("recent_offsets", String(200), default=""),
    col("created_at", UTCDateTime()),
    col("updated_at", UTCDateTime()),
    CheckConstraint(_in("channel", CHANNELS), name="channel"),
    CheckConstraint(_in("level", LEVELS), name="level"),
)

contact_change = Table(
    "contact_change",
    metadata,
    col("id", Integer, primary_key=True),
    col("contact_id", Integer, ForeignKey("contact.id"), index=True),
    col("at", UTCDateTime()),
    col("source", String(50)),  # sync · owner · recipient · bounce
    col("field", String(50)),
    col("old_value", Text, default=""),
    col("new_value", Text, default=""),
)

message = Table(
    "message",
    metadata,
    col("id", Integer, primary_key=True),
    col("message_id", String(998), unique=True),
    col("synthetic_id", Boolean, default=False),
    col("account_id", Integer, ForeignKey("account.id")),
    col("folder", String(500)),
    col("uid", BigInteger, default=0),
    col("thread_root", String(998), index=True),
    col("in_reply_to", String(998), default=""),
    col("sender", String(320), default=""),
    col("recipients", Text, default=""),
    col("subject", Text, default=""),
    col("sent_at", UTCDateTime(), nullable=True),
    col("utc_offset_minutes", Integer, nullable=True),
    col("kind", String(20)),
    col("rule", String(100), default=""),
    col("reason", Text, default=""),
    col("ingested_at", UTCDateTime()),
    CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),
)

introduction = Table(
    "introduction",
    metadata,
    col("id", Integer, primary_key=True),
    col("message_pk", Integer, ForeignKey("message.id"), unique=True),
    col("account_id", Integer, ForeignKey("account.id")),
    col("introducer_id", Integer, ForeignKey("contact.id")),
    col("shape", String(30)),
    col("context", Text, default=""),  # why they should talk
    col("about_owner", Text, default=""),  # a referrer's words about the owner
    col("status", String(20), default="open"),
    col("outcome", Text, default=""),
    # False: it claims to be the owner's but did not authenticate; nothing is planned for it until
    # the owner confirms it (`refmail intros confirm`). `auth` says why, either way.
    col("verified", Boolean, default=True),
    col("auth", Text, default=""),
    col("value", Float, nullable=True),  # of the business won
    col("created_at", UTCDateTime()),
    col("updated_at", UTCDateTime()),
    CheckConstraint(_in("status", INTRO_STATUSES), name="status"),
)

introduction_party = Table(
    "introduction_party",
    metadata,
    col("id", Integer, primary_key=True),
    col("introduction_id", Integer, ForeignKey("introduction.id"), index=True),
    col("contact_id", Integer, ForeignKey("contact.id"), index=True),
    col("reached", Boolean, default=True),
    col("about", Text, default=""),  # the sentences describing this party
    UniqueConstraint("introduction_id", "contact_id"),
)

follow_up = Table(
    "follow_up",
    metadata,
    col("id", Integer, primary_key=True),
    col("introduction_id", Integer, ForeignKey("introduction.id")),
    col("account_id", Integer, ForeignKey("account.id")),
    col("kind", String(30)),
    col("step", Integer, default=0),
    col("contact_id", Integer, ForeignKey("contact.id"), index=True),
    col("due_at", UTCDateTime()),
    col("first_due_at", UTCDateTime(), nullable=True),
    col("state", String(20), default="planned"),
    col("reason", Text, default=""),
    col("message_id", String(998), unique=True),
    col("attempts", Integer, default=0),
    col("channel", String(10), default=""),  # drafts · file · smtp, once delivered
    col("origin_id", Integer, ForeignKey("follow_up.id"), nullable=True),
    col("claimed_at", UTCDateTime(), nullable=True),
    col("delivered_at", UTCDateTime(), nullable=True),
    col("created_at", UTCDateTime()),
    col("updated_at", UTCDateTime()),
    # The draft's life after delivery (refmail.reconcile): a digest of the draft as written (to
    # tell the owner's edits) and its subject, when the owner sent it, when it was first missing
    # from Drafts, why refmail wants it withdrawn (non-empty: the queue of withdrawals), and when
    # an edited draft was flagged as outdated instead.
    col("body_digest", String(64), default=""),
    col("subject", Text, default=""),
    col("sent_at", UTCDateTime(), nullable=True),
    col("missing_since", UTCDateTime(), nullable=True),
    col("withdraw_reason", Text, default=""),
    col("flagged_at", UTCDateTime(), nullable=True),
    UniqueConstraint("introduction_id", "kind", "contact_id", "step", name="plan_once"),
    CheckConstraint(_in("kind", kinds.NAMES), name="kind"),
    CheckConstraint(_in("state", STATES), name="state"),
    Index("ix_follow_up_state_due", "state", "due_at"),
    Index("ix_follow_up_contact_delivered", "contact_id", "delivered_at"),
)

follow_up_event = Table(
    "follow_up_event",
    metadata,
    col("id", Integer, primary_key=True),
    col("follow_up_id", Integer, ForeignKey("follow_up.id"), index=True),
    col("at", UTCDateTime()),
    col("state", String(20)),
    col("rule", String(100), default=""),
    col("reason", Text, default=""),
)

worker = Table(
    "worker",
    metadata,
    col("id", String(100), primary_key=True),
    col("seen_at", UTCDateTime()),
)

account_lease = Table(
    "account_lease",
    metadata,
    col("account", String(200), primary_key=True),
    col("worker", String(100)),
    col("expires_at", UTCDateTime()),
)

introduction_change = Table(
    "introduction_change",
    metadata,
    col("id", Integer, primary_key=True),
    col("introduction_id", Integer, ForeignKey("introduction.id"), index=True),
    col("at", UTCDateTime()),
    col("source", String(50)),  # owner · mail · web · sync
    col("old_status", String(20), default=""),
    col("new_status", String(20)),
    col("reason", Text, default=""),
    col("value", Float, nullable=True),
    col("note", Text, default=""),
)

suggestion = Table(
    "suggestion",
    metadata,
    col("id", Integer, primary_key=True),
    col("introduction_id", Integer, ForeignKey("introduction.id"), index=True),
    col("contact_id", Integer, ForeignKey("contact.id"), index=True),
    col("message_id", String(998)),
    col("signal", String(50)),
    col("evidence", Text, default=""),
    col("seen_at", UTCDateTime()),
    col("state", String(20), default="open"),
    col("created_at", UTCDateTime()),
    col("updated_at", UTCDateTime()),
    UniqueConstraint("introduction_id", "message_id"),
    CheckConstraint(_in("state", SUGGESTION_STATES), name="state"),
)

partner = Table(
    "partner",
    metadata,
    col("id", Integer, primary_key=True),
    col("contact_id", Integer, ForeignKey("contact.id"), unique=True),
    col("expectations", Text, default=""),
    col("updated_at", UTCDateTime()),
)

reward = Table(
    "reward",
    metadata,
    col("id", Integer, primary_key=True),
    col("introduction_id", Integer, ForeignKey("introduction.id"), unique=True),
    col("contact_id", Integer, ForeignKey("contact.id"), index=True),
    col("text", Text),
    col("state", String(20), default="promised"),
    col("promised_at", UTCDateTime()),
    col("sent_at", UTCDateTime(), nullable=True),
    CheckConstraint(_in("state", REWARD_STATES), name="state"),
)

suppression = Table(
    "suppression",
    metadata,
    col("id", Integer, primary_key=True),
    col("salt", String(64)),
    col("digest", String(128), unique=True),
    col("created_at", UTCDateTime()),
)

owner_note = Table(
    "owner_note",
    metadata,
    col("id", Integer, primary_key=True),
    col("account_id", Integer, ForeignKey("account.id")),
    col("introduction_id", Integer, ForeignKey("introduction.id"), nullable=True, index=True),
    col("at", UTCDateTime()),
    col("text", Text),
    col("digest_id", Integer, ForeignKey("digest.id"), nullable=True),
)

digest = Table(
    "digest",
    metadata,
    col("id", Integer, primary_key=True),
    col("account_id", Integer, ForeignKey("account.id")),
    col("at", UTCDateTime()),
    col("message_id", String(998), unique=True),
    col("where", Text, default=""),
)

rate_event = Table(
    "rate_event",
    metadata,
    col("id", Integer, primary_key=True),
    col("bucket", String(40)),
    col("key", String(64)),
    col("at", Float),
    Index("ix_rate_event_bucket_key_at", "bucket", "key", "at"),
)
