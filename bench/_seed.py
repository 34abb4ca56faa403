"""Seeding a fresh refmail database for the web bench: contacts in pairs, one introduction per
pair, two planned check-ins each (so an unsubscribe has follow-ups to cancel). Core inserts in
bulk: seeding is not what is measured."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from refmail import models as m
from refmail.db import make_engine, migrate

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def seed_contacts(url: str, count: int) -> list[str]:
    """Migrate the database at `url` and add `count` contacts; returns their public ids."""
    engine = make_engine(url)
    try:
        migrate(engine)
        public_ids = [secrets.token_urlsafe(16) for _ in range(count)]
        with engine.begin() as conn:
            account_id = conn.execute(
                insert(m.Account)
                .values(name="bench", address="olivia+refmail@example.com", created_at=NOW)
                .returning(m.Account.id)
            ).scalar_one()
            conn.execute(
                insert(m.Contact),
                [
                    {"email": f"person{i}@example.org", "public_id": pid}
                    | {"created_at": NOW, "updated_at": NOW}
                    for i, pid in enumerate(public_ids)
                ],
            )
            ids = dict(conn.execute(select(m.Contact.public_id, m.Contact.id)).all())
            pairs = [public_ids[i : i + 2] for i in range(0, count, 2)]
            _introductions(conn, account_id, ids, pairs)
    finally:
        engine.dispose()
    return public_ids


def _introductions(conn, account_id: int, ids: dict[str, int], pairs: list[list[str]]) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        insert(m.MessageRecord),
        [
            {
                "message_id": f"<intro-{n}@example.com>",
                "account_id": account_id,
                "folder": "INBOX",
                "uid": n + 1,
                "thread_root": f"<intro-{n}@example.com>",
                "subject": f"Intro {n}",
                "sent_at": NOW,
                "kind": "introduction",
                "ingested_at": NOW,
            }
            for n in range(len(pairs))
        ],
    )
    messages = dict(conn.execute(select(m.MessageRecord.message_id, m.MessageRecord.id)).all())
    introducer = ids[pairs[0][0]]
    conn.execute(
        insert(m.Introduction),
        [
            {
                "message_pk": messages[f"<intro-{n}@example.com>"],
                "account_id": account_id,
                "introducer_id": introducer,
                "shape": "owner_intro",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for n in range(len(pairs))
        ],
    )
    intros = dict(conn.execute(select(m.Introduction.message_pk, m.Introduction.id)).all())
    due = NOW + timedelta(days=7)
    rows = [
        {
            "introduction_id": intros[messages[f"<intro-{n}@example.com>"]],
            "account_id": account_id,
            "kind": "check_in",
            "step": step,
            "contact_id": ids[pid],
            "due_at": due + timedelta(days=days),
            "first_due_at": due + timedelta(days=days),
            "state": "planned",
            "message_id": f"<refmail.{uuid.uuid4().hex}@example.com>",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n, pair in enumerate(pairs)
        for pid in pair
        for step, days in ((1, 0), (2, 23))
    ]
    conn.execute(insert(m.FollowUp), rows)
