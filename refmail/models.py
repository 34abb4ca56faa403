"""The database schema (SQLAlchemy 2.x): contacts, messages, introductions and the outbox.

Times are stored as naive UTC and read back timezone-aware, so SQLite and PostgreSQL agree.
Schema changes go through Alembic (refmail/migrations); this module is the source of truth.
"""

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
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


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Account(Base):
    """A watched mailbox, by the name it has in refmail.toml."""

    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FolderState(Base):
    """Sync cursor of one folder: UIDVALIDITY and the last UID recorded (a Maildir folder keeps
    its seen keys in MaildirSeen; last_key is only a name cursor left by an older version)."""

    __tablename__ = "folder_state"
    __table_args__ = (UniqueConstraint("account_id", "folder"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_key: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MaildirSeen(Base):
    """A Maildir file sync has read (its key: the name without flags), per folder. Maildir names
    have no dependable order (a message moved in, a clock stepped back), so what was read is
    remembered rather than a position; written in the transaction of the batch that read it."""

    __tablename__ = "maildir_seen"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(500), primary_key=True)
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


def new_public_id() -> str:
    """A contact's id in links: 128 random bits, URL-safe; reveals nothing, cannot be counted."""
    return secrets.token_urlsafe(16)


class Contact(Base):
    """A person refmail knows, by normalised address, with their preferences."""

    __tablename__ = "contact"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("level", LEVELS), name="level"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(300), default="")
    organisation: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    channel: Mapped[str] = mapped_column(String(10), default="email")
    level: Mapped[str] = mapped_column(String(10), default="normal")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="")
    locale: Mapped[str] = mapped_column(String(20), default="")
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    # The last email between this person and the owner that refmail saw (either direction).
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # UTC offsets (minutes) of the Date headers of their latest mail: a guess at their zone.
    recent_offsets: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def offsets(self) -> list[int]:
        return [int(o) for o in self.recent_offsets.split(",") if o.strip()]


class ContactChange(Base):
    """Append-only log of every change to a contact: who, when, old, new."""

    __tablename__ = "contact_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(50))  # sync · owner · recipient · bounce
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")


class MessageRecord(Base):
    """A message refmail took note of (not its raw bytes): who, when, what it was."""

    __tablename__ = "message"
    __table_args__ = (CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    synthetic_id: Mapped[bool] = mapped_column(Boolean, default=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    folder: Mapped[str] = mapped_column(String(500))
    uid: Mapped[int] = mapped_column(BigInteger, default=0)
    thread_root: Mapped[str] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str] = mapped_column(String(998), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    recipients: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    utc_offset_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Introduction(Base):
    """Who introduced whom, from which message, why, and how it turned out."""

    __tablename__ = "introduction"
    __table_args__ = (CheckConstraint(_in("status", INTRO_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("message.id"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    introducer_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    shape: Mapped[str] = mapped_column(String(30))
    context: Mapped[str] = mapped_column(Text, default="")  # why they should talk
    about_owner: Mapped[str] = mapped_column(Text, default="")  # a referrer's words about the owner
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    # False: it claims to be the owner's but did not authenticate; nothing is planned for it until
    # the owner confirms it (`refmail intros confirm`). `auth` says why, either way.
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    auth: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # of the business won
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    message: Mapped[MessageRecord] = relationship()
    introducer: Mapped[Contact] = relationship()
    parties: Mapped[list["IntroductionParty"]] = relationship(
        back_populates="introduction", order_by="IntroductionParty.id"
    )


class IntroductionParty(Base):
    """One of the people an introduction connects; `reached` if the intro was addressed to them."""

    __tablename__ = "introduction_party"
    __table_args__ = (UniqueConstraint("introduction_id", "contact_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(ForeignKey("introduction.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    reached: Mapped[bool] = mapped_column(Boolean, default=True)
    about: Mapped[str] = mapped_column(Text, default="")  # the sentences describing this party

    introduction: Mapped[Introduction] = relationship(back_populates="parties")
    contact: Mapped[Contact] = relationship()


class FollowUp(Base):
    """The outbox: one planned message (or call reminder), its due time and delivery state.

    The Message-ID is fixed when the row is planned, so a retry can always ask the server
    whether the message is already there before writing it again.
    """

    __tablename__ = "follow_up"
    __table_args__ = (
        UniqueConstraint("introduction_id", "kind", "contact_id", "step", name="plan_once"),
        CheckConstraint(_in("kind", kinds.NAMES), name="kind"),
        CheckConstraint(_in("state", STATES), name="state"),
        Index("ix_follow_up_state_due", "state", "due_at"),
        Index("ix_follow_up_contact_delivered", "contact_id", "delivered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(ForeignKey("introduction.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str] = mapped_column(String(30))
    step: Mapped[int] = mapped_column(Integer, default=0)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="planned")
    reason: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(
        String(10), default=""
    )  # drafts · file · smtp, once delivered
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("follow_up.id"), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The draft's life after delivery (refmail.reconcile): a digest of the draft as written (to
    # tell the owner's edits) and its subject, when the owner sent it, when it was first missing
    # from Drafts, why refmail wants it withdrawn (non-empty: the queue of withdrawals), and when
    # an edited draft was flagged as outdated instead.
    body_digest: Mapped[str] = mapped_column(String(64), default="")
    subject: Mapped[str] = mapped_column(Text, default="")  # as written, to know a re-sent copy
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    introduction: Mapped[Introduction] = relationship()
    contact: Mapped[Contact] = relationship()
    events: Mapped[list["FollowUpEvent"]] = relationship(order_by="FollowUpEvent.id")


class FollowUpEvent(Base):
    """The why-log: every decision about a follow-up (planned, deferred, delivered, skipped…)."""

    __tablename__ = "follow_up_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class Worker(Base):
    """A `refmail run --worker` process, seen alive at `seen_at` (its heartbeat)."""

    __tablename__ = "worker"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountLease(Base):
    """Which worker runs an account's sync, IDLE and dispatch, until when (renewed while held)."""

    __tablename__ = "account_lease"
    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    worker: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IntroductionChange(Base):
    """Append-only log of an introduction's outcome: who set it, when, why, value and note."""

    __tablename__ = "introduction_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(ForeignKey("introduction.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(50))  # owner · mail · web · sync
    old_status: Mapped[str] = mapped_column(String(20), default="")
    new_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class Suggestion(Base):
    """A sign in the mailbox that an introduction became business: suggested, never assumed."""

    __tablename__ = "suggestion"
    __table_args__ = (
        UniqueConstraint("introduction_id", "message_id"),
        CheckConstraint(_in("state", SUGGESTION_STATES), name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(ForeignKey("introduction.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(998))
    signal: Mapped[str] = mapped_column(String(50))
    evidence: Mapped[str] = mapped_column(Text, default="")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    introduction: Mapped[Introduction] = relationship()
    contact: Mapped[Contact] = relationship()


class Partner(Base):
    """What the owner wants to remember about someone who refers them (their expectations)."""

    __tablename__ = "partner"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), unique=True)
    expectations: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Reward(Base):
    """A reward promised to a referrer for a converted introduction, and whether it was sent."""

    __tablename__ = "reward"
    __table_args__ = (CheckConstraint(_in("state", REWARD_STATES), name="state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    introduction_id: Mapped[int] = mapped_column(ForeignKey("introduction.id"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="promised")
    promised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Suppression(Base):
    """A forgotten person: only a salted hash of their address, so refmail never writes again."""

    __tablename__ = "suppression"
    id: Mapped[int] = mapped_column(primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OwnerNote(Base):
    """Something the owner should be told (an opt-in declined, an ask gone unanswered): shown on
    the owner's page and in the next digest."""

    __tablename__ = "owner_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    introduction_id: Mapped[int | None] = mapped_column(
        ForeignKey("introduction.id"), nullable=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id"), nullable=True)


class Digest(Base):
    """A digest drafted to the owner: suggestions and notes since the last one."""

    __tablename__ = "digest"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    where: Mapped[str] = mapped_column(Text, default="")


class RateEvent(Base):
    """One counted request of a rate limit shared by several `refmail web` workers: the
    limit's name, a digest of what it counts by (never the address itself), when (epoch s)."""

    __tablename__ = "rate_event"
    __table_args__ = (Index("ix_rate_event_bucket_key_at", "bucket", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
