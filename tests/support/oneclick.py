"""What the tests of the one-click unsubscribe share: a database seeded with synced
introductions whose contacts have follow-ups to cancel, and a contact's public id."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from refmail import models as m
from refmail.config import FollowUps
from refmail.db import SessionFactory, transaction
from refmail.maildir import MaildirSource
from refmail.sync import sync_account
from tests.support.maildirs import CLOCK, account, fill, intro


def seeded(factory: SessionFactory, root: Path, introductions: int) -> None:
    """Introductions synced from a Maildir: a{n}/b{n} get two planned check-ins each; one of
    each of theirs is made a draft waiting in Drafts (delivered, not yet sent)."""
    fill(root, [intro(n) for n in range(1, introductions + 1)])
    sync_account(factory, account(root), MaildirSource(root), ("INBOX",), FollowUps(), CLOCK)
    with transaction(factory) as session:
        for contact in session.scalars(select(m.Contact)):
            first = session.scalars(
                select(m.FollowUp)
                .where(m.FollowUp.contact_id == contact.id)
                .order_by(m.FollowUp.id)
                .limit(1)
            ).first()
            if first is not None:
                session.execute(
                    update(m.FollowUp)
                    .where(m.FollowUp.id == first.id)
                    .values(state="delivered", channel="drafts", delivered_at=CLOCK())
                )


def public_id(factory: SessionFactory, email: str) -> str:
    with factory() as session:
        return session.scalars(select(m.Contact.public_id).where(m.Contact.email == email)).one()
