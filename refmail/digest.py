"""The owner's digest: a draft to the owner, at most every `[optin] digest_days`, listing the
suggested conversions (with the command that confirms each), the notes refmail has for them
(asks declined or lapsed) and what is due next. Lapsed opt-in asks are closed here first.

The draft goes through the channel the account uses for mail to the owner (the call reminders').
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import optin, outbox, outcomes, record, report
from refmail.config import Account
from refmail.db import SessionFactory, transaction
from refmail.dispatch import Channel
from refmail.render import Person, Renderer

TEMPLATE = "owner_digest"


@dataclass(frozen=True)
class Drafted:
    """A digest that reached the owner's channel."""

    message_id: str
    where: str
    suggestions: int
    notes: int


def draft(
    factory: SessionFactory,
    account: Account,
    channel: Channel,
    renderer: Renderer,
    now: datetime,
    *,
    every: timedelta,
    ask_wait: timedelta,
    force: bool = False,
) -> Drafted | None:
    """Draft the digest if one is due (or `force`) and there is something to say."""
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, now).id
        last = session.scalar(
            select(m.Digest.at)
            .where(m.Digest.account_id == account_id)
            .order_by(m.Digest.at.desc())
        )
        if not force and last is not None and now - last < every:
            return None
        optin.expire(session, ask_wait, now)
        if not force and not _anything_to_say(session, account_id):
            return None
    with factory() as session:
        full = report.build(session, frozenset(account.owners), now)
        notes = session.scalars(
            select(m.OwnerNote).where(
                m.OwnerNote.account_id == account_id, m.OwnerNote.digest_id.is_(None)
            )
        ).all()
        note_ids = [n.id for n in notes]
        note_texts = [n.text for n in notes]
    owner = Person(account.owner_address, account.owner_name)
    message_id = outbox.new_message_id(account.owner_address.split("@", 1)[1])
    message = renderer.note(
        TEMPLATE,
        owner,
        owner,
        now,
        message_id,
        suggestions=[s.text for s in full.suggestions],
        notes=note_texts,
        due=[f"{d.due} {d.kind} to {d.recipient}" for d in full.due],
        totals=full.totals,
    )
    channel.put(message.as_bytes(), message_id, [account.owner_address])
    where = channel.where(message_id)
    with transaction(factory) as session:
        row = m.Digest(account_id=account_id, at=now, message_id=message_id, where=where)
        session.add(row)
        session.flush()
        for note in session.scalars(select(m.OwnerNote).where(m.OwnerNote.id.in_(note_ids))):
            note.digest_id = row.id
    return Drafted(message_id, where, len(full.suggestions), len(note_texts))


def _anything_to_say(session: Session, account_id: int) -> bool:
    """Open suggestions or undelivered notes: checked before the whole report is built."""
    notes = session.scalar(
        select(func.count(m.OwnerNote.id)).where(
            m.OwnerNote.account_id == account_id, m.OwnerNote.digest_id.is_(None)
        )
    )
    return bool(notes) or bool(outcomes.open_suggestions(session))
