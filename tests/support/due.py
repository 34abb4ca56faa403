"""Due follow-ups over many contacts, built straight into the models, as the dispatch tests use
them: an account whose caps hold nothing back, the rows, and what a run left on the shelf and
in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as daytime
from pathlib import Path

from sqlalchemy import func, select

from refmail import models as m
from refmail import outbox
from refmail.config import Account, Caps
from refmail.db import SessionFactory, transaction
from tests.support.outbox import introduction

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # a Friday, noon
OWNER = "olivia@owner.example"
ACCOUNT = Account(
    name="main", address="olivia+refmail@owner.example", owners=(OWNER,), owner_name="Olivia"
)
OPEN = Caps(  # nothing holds a row back: no window, no gap, no merging, all day every day
    windows=(),
    min_gap_hours=0,
    cooldown_days=0,
    window_start=daytime(0),
    window_end=daytime(0),
    weekends=True,
    merge=(),
)


def build(
    factory: SessionFactory, rows: int, contacts: int, kind: str = "double_intro"
) -> list[int]:
    """`contacts` contacts, then `rows` follow-ups of `kind` due an hour ago, round-robin over
    the contacts (each on its own introduction). Returns the contact ids."""
    with transaction(factory) as s:
        account = m.Account(name=ACCOUNT.name, address=ACCOUNT.address, created_at=NOW)
        owner = m.Contact(email=OWNER, name="Olivia", created_at=NOW, updated_at=NOW)
        people = [
            m.Contact(email=f"p{i}@example.org", name=f"P {i}", created_at=NOW, updated_at=NOW)
            for i in range(contacts)
        ]
        s.add_all([account, owner, *people])
        s.flush()
        for n in range(rows):
            person = people[n % contacts]
            intro = introduction(
                s,
                account.id,
                owner.id,
                n,
                [person.id],
                NOW,
                sent_at=NOW - timedelta(days=1),
                context="you both ship parcels",
            )
            outbox.add(
                s,
                introduction_id=intro.id,
                account_id=account.id,
                kind=kind,
                step=0,
                contact_id=person.id,
                due_at=NOW - timedelta(hours=1),
                domain="owner.example",
                now=NOW,
            )
        return [p.id for p in people]


def on_shelf(directory: Path) -> list[str]:
    """The Message-ID of every .eml file in `directory` (one per file, duplicates kept)."""
    ids = []
    for path in directory.glob("*.eml"):
        for line in path.read_bytes().split(b"\r\n\r\n", 1)[0].splitlines():
            if line.lower().startswith(b"message-id:"):
                ids.append(line.split(b":", 1)[1].strip().decode())
    return ids


def states(factory: SessionFactory) -> dict[str, int]:
    with factory() as s:
        return dict(
            s.execute(select(m.FollowUp.state, func.count()).group_by(m.FollowUp.state)).all()
        )


class Crash(BaseException):
    """The process dies (not an error dispatch could catch and record)."""
