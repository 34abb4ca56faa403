"""Reads the queue in chunks: due follow-ups, their contacts and those contacts' send history,
in one statement per kind of data (never one per row), shaped for refmail.batch.

On PostgreSQL a chunk taken for dispatch is locked as it is read (`FOR NO KEY UPDATE SKIP
LOCKED`): two workers never take the same row, and neither waits for the other's rows. What a
chunk's drafts need (introductions, parties, merged follow-ups, rewards) is read the same way,
once per chunk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from refmail import batch, sendlog
from refmail import models as m
from refmail.config import Caps
from refmail.policy import ContactView, contact_zone


@dataclass
class Chunk:
    """Due rows (ORM, with their contacts) and what refmail.batch needs to decide them."""

    rows: list[m.FollowUp]
    due: list[batch.Row]
    people: dict[int, batch.Person]
    sent: dict[int, list[datetime]]

    def __len__(self) -> int:
        return len(self.rows)


def due(
    session: Session, account_id: int, now: datetime, limit: int | None, *, lock: bool = False
) -> list[m.FollowUp]:
    """The open follow-ups of an account due at `now`, in the order dispatch takes them, with
    their contacts; `lock`: take them for this transaction (PostgreSQL skips rows another
    worker holds; SQLite has one writer at a time anyway)."""
    query = (
        select(m.FollowUp)
        .where(
            m.FollowUp.account_id == account_id,
            m.FollowUp.state.in_(m.OPEN_STATES),
            m.FollowUp.due_at <= now,
        )
        .options(selectinload(m.FollowUp.contact))
        .order_by(m.FollowUp.due_at, m.FollowUp.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, key_share=True)  # FOR NO KEY UPDATE
    return list(session.scalars(query))


def chunk(
    session: Session,
    rows: list[m.FollowUp],
    caps: Caps,
    owner_zone: str,
    sends: Callable[[str], bool],
    now: datetime,
) -> Chunk:
    """The rows with their contacts as policy sees them and the contacts' history (one query)."""
    people: dict[int, batch.Person] = {}
    for row in rows:
        if row.contact_id not in people:
            people[row.contact_id] = person(row.contact, caps, owner_zone)
    since = {cid: batch.history_since(p.caps, now) for cid, p in people.items()}
    loaded = sendlog.sent_to_many(session, people, min(since.values(), default=now))
    sent = {cid: [t for t in times if t > since[cid]] for cid, times in loaded.items()}
    due_rows = [
        batch.Row(r.id, r.contact_id, r.kind, r.step, r.due_at, r.first_due_at, sends(r.kind))
        for r in rows
    ]
    return Chunk(rows, due_rows, people, sent)


def view(contact: m.Contact) -> ContactView:
    """A contact's preferences as policy sees them."""
    return ContactView(
        email=contact.email,
        channel=contact.channel,
        level=contact.level,
        paused_until=contact.paused_until,
        opted_out_at=contact.opted_out_at,
        bounced_at=contact.bounced_at,
        phone=contact.phone,
    )


def person(contact: m.Contact, caps: Caps, owner_zone: str) -> batch.Person:
    """A contact with their own caps and zone, for refmail.batch."""
    return batch.Person(
        view(contact),
        caps.for_contact(contact.email),
        contact_zone(contact.timezone, contact.offsets(), owner_zone),
        contact.last_contact_at,
    )


def budget(
    session: Session,
    account_id: int,
    per_hour: int,
    channels: Sequence[str],
    sending_kinds: Iterable[str],
    now: datetime,
) -> batch.Budget:
    """The account's hourly send budget as it stands (one query)."""
    since = now - timedelta(hours=1)
    return batch.Budget(
        per_hour, sendlog.sent_by_account(session, account_id, channels, sending_kinds, since)
    )


@dataclass
class Known:
    """What drafts of a chunk need beyond their rows, read once for the chunk."""

    merged: dict[int, list[m.FollowUp]] = field(default_factory=dict)  # by the row they fold into
    origin_kind: dict[int, str] = field(default_factory=dict)  # follow-up id → its kind
    rewards: dict[int, str] = field(default_factory=dict)  # introduction id → reward line
    held: list[m.Introduction] = field(default_factory=list)  # the session only holds weakly


def drafting(session: Session, rows: Sequence[m.FollowUp]) -> Known:
    """Introductions (message, introducer, parties), merged follow-ups, origins and rewards of
    `rows`, in a handful of statements whatever their number."""
    if not rows:
        return Known()
    kind_of = {r.id: r.kind for r in rows}
    merged: dict[int, list[m.FollowUp]] = defaultdict(list)
    for f in session.scalars(
        select(m.FollowUp).where(m.FollowUp.origin_id.in_(kind_of)).order_by(m.FollowUp.id)
    ):
        if f.origin_id is not None and f.kind == kind_of[f.origin_id]:
            merged[f.origin_id].append(f)
    intro_ids = {r.introduction_id for r in rows}
    intro_ids |= {f.introduction_id for fs in merged.values() for f in fs}
    # Held by the session, they answer `row.introduction` without a query (many-to-one lookups
    # go to the identity map first).
    held = session.scalars(
        select(m.Introduction)
        .where(m.Introduction.id.in_(intro_ids))
        .options(
            selectinload(m.Introduction.message),
            selectinload(m.Introduction.introducer),
            selectinload(m.Introduction.parties).selectinload(m.IntroductionParty.contact),
        )
    ).all()
    origins = {r.origin_id for r in rows if r.origin_id}
    origin_kind = (
        dict(
            session.execute(
                select(m.FollowUp.id, m.FollowUp.kind).where(m.FollowUp.id.in_(origins))
            ).all()
        )
        if origins
        else {}
    )
    rewards: dict[int, str] = {}
    for intro_id, text in session.execute(
        select(m.Reward.introduction_id, m.Reward.text)
        .where(m.Reward.introduction_id.in_(intro_ids))
        .order_by(m.Reward.id)
    ):
        rewards.setdefault(intro_id, text or "")  # the first, as partners.reward_text reads it
    return Known(dict(merged), origin_kind, rewards, list(held))
