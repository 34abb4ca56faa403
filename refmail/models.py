"""The ORM classes, mapped onto the schema's Core tables (`tables`, its one home).

Code that works with objects (load, change, relationships) uses these; code that writes rows
in bulk or in one statement may use `tables` alone, without the ORM. The schema's constants
and column type are re-exported here for the modules that name them as `models.*`.
"""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import Mapped, registry, relationship

from refmail import tables as t

# The schema's constants and column type, as the modules that work with objects name them.
CHANNELS = t.CHANNELS
FINISHED_STATES = t.FINISHED_STATES
INTRO_STATUSES = t.INTRO_STATUSES
LEVELS = t.LEVELS
MESSAGE_KINDS = t.MESSAGE_KINDS
OPEN_STATES = t.OPEN_STATES
REWARD_STATES = t.REWARD_STATES
STATES = t.STATES
SUGGESTION_STATES = t.SUGGESTION_STATES
UNSENT_STATES = t.UNSENT_STATES
UTCDateTime = t.UTCDateTime
new_public_id = t.new_public_id

# Two registries on the one metadata. SQLAlchemy configures a registry's mappers (their
# attributes and relationships) when one of its classes is first used, so a sync of ordinary
# mail configures only the classes it works with (`_registry`); the others (`_other`: leases,
# outcomes, the owner's pages' tables) are configured when first used (issue 15).
_registry = registry(metadata=t.metadata)
_other = registry(metadata=t.metadata)
REGISTRIES = (_registry, _other)


class Base:
    """What the mapped classes share: the schema's metadata, their table (`__table__`), and a
    constructor that takes columns and relationships by keyword (unknown names are refused).

    The classes are mapped imperatively (at the end of this module), not declaratively: the
    columns are the tables' already, and declarative scanning costs a sync's start-up ≈ 30 M
    instructions more (issue 15)."""

    metadata = t.metadata
    registry = _registry
    __table__: ClassVar[Table]

    def __init__(self, **kwargs: Any) -> None:
        _registry.constructor(self, **kwargs)


class Account(Base):
    """A watched mailbox, by the name it has in refmail.toml."""

    __table__ = t.account

    id: Mapped[int]
    name: Mapped[str]
    address: Mapped[str]
    created_at: Mapped[datetime]


class FolderState(Base):
    """Sync cursor of one folder: UIDVALIDITY and the last UID recorded (a Maildir folder keeps
    its seen keys in MaildirSeen; last_key is only a name cursor left by an older version)."""

    __table__ = t.folder_state

    id: Mapped[int]
    account_id: Mapped[int]
    folder: Mapped[str]
    uidvalidity: Mapped[int]
    last_uid: Mapped[int]
    last_key: Mapped[str]
    updated_at: Mapped[datetime]


class MaildirSeen(Base):
    """A Maildir file sync has read (its key: the name without flags), per folder. Maildir names
    have no dependable order (a message moved in, a clock stepped back), so what was read is
    remembered rather than a position; written in the transaction of the batch that read it."""

    __table__ = t.maildir_seen

    account_id: Mapped[int]
    folder: Mapped[str]
    key: Mapped[str]
    seen_at: Mapped[datetime]


class Contact(Base):
    """A person refmail knows, by normalised address, with their preferences."""

    __table__ = t.contact

    id: Mapped[int]
    email: Mapped[str]
    public_id: Mapped[str]
    name: Mapped[str]
    organisation: Mapped[str]
    phone: Mapped[str]
    channel: Mapped[str]
    level: Mapped[str]
    paused_until: Mapped[datetime | None]
    timezone: Mapped[str]
    locale: Mapped[str]
    opted_out_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    soft_bounces: Mapped[int]
    last_contact_at: Mapped[datetime | None]
    recent_offsets: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def offsets(self) -> list[int]:
        return [int(o) for o in self.recent_offsets.split(",") if o.strip()]


class ContactChange(Base):
    """Append-only log of every change to a contact: who, when, old, new."""

    __table__ = t.contact_change

    id: Mapped[int]
    contact_id: Mapped[int]
    at: Mapped[datetime]
    source: Mapped[str]  # sync · owner · recipient · bounce
    field: Mapped[str]
    old_value: Mapped[str]
    new_value: Mapped[str]


class MessageRecord(Base):
    """A message refmail took note of (not its raw bytes): who, when, what it was."""

    __table__ = t.message

    id: Mapped[int]
    message_id: Mapped[str]
    synthetic_id: Mapped[bool]
    account_id: Mapped[int]
    folder: Mapped[str]
    uid: Mapped[int]
    thread_root: Mapped[str]
    in_reply_to: Mapped[str]
    sender: Mapped[str]
    recipients: Mapped[str]
    subject: Mapped[str]
    sent_at: Mapped[datetime | None]
    utc_offset_minutes: Mapped[int | None]
    kind: Mapped[str]
    rule: Mapped[str]
    reason: Mapped[str]
    ingested_at: Mapped[datetime]


class Introduction(Base):
    """Who introduced whom, from which message, why, and how it turned out."""

    __table__ = t.introduction

    id: Mapped[int]
    message_pk: Mapped[int]
    account_id: Mapped[int]
    introducer_id: Mapped[int]
    shape: Mapped[str]
    context: Mapped[str]  # why they should talk
    about_owner: Mapped[str]  # a referrer's words about the owner
    status: Mapped[str]
    outcome: Mapped[str]
    verified: Mapped[bool]
    auth: Mapped[str]
    value: Mapped[float | None]  # of the business won
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    message: Mapped[MessageRecord]
    introducer: Mapped[Contact]
    parties: Mapped[list["IntroductionParty"]]


class IntroductionParty(Base):
    """One of the people an introduction connects; `reached` if the intro was addressed to them."""

    __table__ = t.introduction_party

    id: Mapped[int]
    introduction_id: Mapped[int]
    contact_id: Mapped[int]
    reached: Mapped[bool]
    about: Mapped[str]  # the sentences describing this party

    introduction: Mapped[Introduction]
    contact: Mapped[Contact]


class FollowUp(Base):
    """The outbox: one planned message (or call reminder), its due time and delivery state.

    The Message-ID is fixed when the row is planned, so a retry can always ask the server
    whether the message is already there before writing it again.
    """

    __table__ = t.follow_up

    id: Mapped[int]
    introduction_id: Mapped[int]
    account_id: Mapped[int]
    kind: Mapped[str]
    step: Mapped[int]
    contact_id: Mapped[int]
    due_at: Mapped[datetime]
    first_due_at: Mapped[datetime | None]
    state: Mapped[str]
    reason: Mapped[str]
    message_id: Mapped[str]
    attempts: Mapped[int]
    channel: Mapped[str]  # drafts · file · smtp, once delivered
    origin_id: Mapped[int | None]
    claimed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    body_digest: Mapped[str]
    subject: Mapped[str]  # as written, to know a re-sent copy
    sent_at: Mapped[datetime | None]
    missing_since: Mapped[datetime | None]
    withdraw_reason: Mapped[str]
    flagged_at: Mapped[datetime | None]

    introduction: Mapped[Introduction]
    contact: Mapped[Contact]
    events: Mapped[list["FollowUpEvent"]]


class FollowUpEvent(Base):
    """The why-log: every decision about a follow-up (planned, deferred, delivered, skipped…)."""

    __table__ = t.follow_up_event

    id: Mapped[int]
    follow_up_id: Mapped[int]
    at: Mapped[datetime]
    state: Mapped[str]
    rule: Mapped[str]
    reason: Mapped[str]


class Worker(Base):
    """A `refmail run --worker` process, seen alive at `seen_at` (its heartbeat)."""

    __table__ = t.worker

    id: Mapped[str]
    seen_at: Mapped[datetime]


class AccountLease(Base):
    """Which worker runs an account's sync, IDLE and dispatch, until when (renewed while held)."""

    __table__ = t.account_lease

    account: Mapped[str]
    worker: Mapped[str]
    expires_at: Mapped[datetime]


class IntroductionChange(Base):
    """Append-only log of an introduction's outcome: who set it, when, why, value and note."""

    __table__ = t.introduction_change

    id: Mapped[int]
    introduction_id: Mapped[int]
    at: Mapped[datetime]
    source: Mapped[str]  # owner · mail · web · sync
    old_status: Mapped[str]
    new_status: Mapped[str]
    reason: Mapped[str]
    value: Mapped[float | None]
    note: Mapped[str]


class Suggestion(Base):
    """A sign in the mailbox that an introduction became business: suggested, never assumed."""

    __table__ = t.suggestion

    id: Mapped[int]
    introduction_id: Mapped[int]
    contact_id: Mapped[int]
    message_id: Mapped[str]
    signal: Mapped[str]
    evidence: Mapped[str]
    seen_at: Mapped[datetime]
    state: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    introduction: Mapped[Introduction]
    contact: Mapped[Contact]


class Partner(Base):
    """What the owner wants to remember about someone who refers them (their expectations)."""

    __table__ = t.partner

    id: Mapped[int]
    contact_id: Mapped[int]
    expectations: Mapped[str]
    updated_at: Mapped[datetime]


class Reward(Base):
    """A reward promised to a referrer for a converted introduction, and whether it was sent."""

    __table__ = t.reward

    id: Mapped[int]
    introduction_id: Mapped[int]
    contact_id: Mapped[int]
    text: Mapped[str]
    state: Mapped[str]
    promised_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Suppression(Base):
    """A forgotten person: only a salted hash of their address, so refmail never writes again."""

    __table__ = t.suppression

    id: Mapped[int]
    salt: Mapped[str]
    digest: Mapped[str]
    created_at: Mapped[datetime]


class OwnerNote(Base):
    """Something the owner should be told (an opt-in declined, an ask gone unanswered): shown on
    the owner's page and in the next digest."""

    __table__ = t.owner_note

    id: Mapped[int]
    account_id: Mapped[int]
    introduction_id: Mapped[int | None]
    at: Mapped[datetime]
    text: Mapped[str]
    digest_id: Mapped[int | None]


class Digest(Base):
    """A digest drafted to the owner: suggestions and notes since the last one."""

    __table__ = t.digest

    id: Mapped[int]
    account_id: Mapped[int]
    at: Mapped[datetime]
    message_id: Mapped[str]
    where: Mapped[str]


class RateEvent(Base):
    """One counted request of a rate limit shared by several `refmail web` workers: the
    limit's name, a digest of what it counts by (never the address itself), when (epoch s)."""

    __table__ = t.rate_event

    id: Mapped[int]
    bucket: Mapped[str]
    key: Mapped[str]
    at: Mapped[float]


def _map(cls: type[Base], **relationships: Any) -> None:
    _registry.map_imperatively(cls, cls.__table__, properties=relationships)


def _map_other(cls: type[Base], **relationships: Any) -> None:
    """Classes a sync of ordinary mail does not use; their relationships may name the others'."""
    _other.map_imperatively(cls, cls.__table__, properties=relationships)


# In the order of the classes above.
_map(Account)
_map(FolderState)
_map_other(MaildirSeen)
_map(Contact)
_map(ContactChange)
_map(MessageRecord)
_map(
    Introduction,
    message=relationship(MessageRecord),
    introducer=relationship(Contact),
    parties=relationship(
        IntroductionParty, back_populates="introduction", order_by="IntroductionParty.id"
    ),
)
_map(
    IntroductionParty,
    introduction=relationship(Introduction, back_populates="parties"),
    contact=relationship(Contact),
)
_map(
    FollowUp,
    introduction=relationship(Introduction),
    contact=relationship(Contact),
    events=relationship(FollowUpEvent, order_by="FollowUpEvent.id"),
)
_map(FollowUpEvent)
_map_other(Worker)
_map_other(AccountLease)
_map_other(IntroductionChange)
_map_other(Suggestion, introduction=relationship(Introduction), contact=relationship(Contact))
_map_other(Partner)
_map_other(Reward)
_map_other(Suppression)
_map_other(OwnerNote)
_map_other(Digest)
_map_other(RateEvent)
