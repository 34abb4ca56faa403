"""The outbox as tests build and read it: an introduction recorded straight into the models (to
put follow-ups on), and every follow-up's kind, recipient and state as a run left them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import models as m
from refmail.db import make_engine, session_factory


def outbox(db_url: str) -> list[tuple[str, str, str]]:
    """(kind, recipient, state) of every follow-up in the database at `db_url`, by id."""
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        rows = [
            (f.kind, f.contact.email, f.state)
            for f in session.scalars(select(m.FollowUp).order_by(m.FollowUp.id))
        ]
    engine.dispose()
    return rows


def introduction(
    session: Session,
    account_id: int,
    introducer_id: int,
    n: int,
    parties: Iterable[int],
    now: datetime,
    *,
    sent_at: datetime | None = None,
    shape: str = "owner_intro",
    context: str | None = None,
) -> m.Introduction:
    """An introduction recorded as sync would leave it (its message `<intro-N@example.com>`,
    UID N+1, and its parties), without parsing any mail: a base for follow-ups in tests and
    benches."""
    message = m.MessageRecord(
        message_id=f"<intro-{n}@example.com>",
        account_id=account_id,
        folder="INBOX",
        uid=n + 1,
        thread_root=f"<intro-{n}@example.com>",
        subject=f"Intro {n}",
        sent_at=sent_at,
        kind="introduction",
        ingested_at=now,
    )
    session.add(message)
    session.flush()
    intro = m.Introduction(
        message_pk=message.id,
        account_id=account_id,
        introducer_id=introducer_id,
        shape=shape,
        context=context,
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    session.flush()
    session.add_all([m.IntroductionParty(introduction_id=intro.id, contact_id=c) for c in parties])
    return intro
