"""The outbox as the end-to-end tests read it back from a run's database: every follow-up's kind,
recipient and state, in the order they were planned."""

from __future__ import annotations

from sqlalchemy import select

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
