"""Where a party's name is kept: the name the author gave a nameless party fills the contact's
name when it has no better one, and never replaces a name the owner or the contact gave.

Against SQLite and PostgreSQL; the whole path (parse → classify → record) for one message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from refmail import contacts, record
from refmail import models as m
from refmail.config import Account, FollowUps
from refmail.db import SessionFactory
from refmail.detect import Identity, classify
from refmail.parse import Address, parse_message

NOW = datetime(2026, 6, 2, 11, tzinfo=UTC)
OWNER = "ruth@hale.example.com"
MAIL = (
    f"From: Ruth Hale <{OWNER}>\nTo: tkwx <tkwx@mill.example.net>\n"
    "Cc: Ines Ruiz <ines@ruiz.example.org>\nSubject: the pilot\n"
    "Message-ID: <n2@hale.example.com>\nDate: Tue, 02 Jun 2026 10:00:00 +0000\n\n"
    "Tom--\nI'm copying Ines who ran the pilot and can get back to you on the budget.\n"
)


def _record(factory: SessionFactory) -> None:
    account = Account("names", "refmail@hale.example.com", (OWNER,), "Ruth Hale")
    identity = Identity(frozenset({OWNER}), frozenset({account.address}))
    parsed = parse_message(MAIL.encode())
    verdict = classify(parsed, identity)
    assert verdict.kind == "introduction"
    with factory() as session:
        settings = record.ensure_account(session, account, NOW)
        row = record.record_message(session, settings.id, "INBOX", 1, parsed, verdict, NOW)
        record.record_introduction(session, row, parsed, verdict, account, FollowUps(), NOW)
        session.commit()


def _name(factory: SessionFactory, email: str) -> str:
    with factory() as session:
        contact = session.scalar(select(m.Contact).where(m.Contact.email == email))
        assert contact is not None
        return contact.name


def test_a_new_party_is_stored_with_the_name_the_author_gave(factory: SessionFactory) -> None:
    _record(factory)
    assert _name(factory, "tkwx@mill.example.net") == "Tom"
    assert _name(factory, "ines@ruiz.example.org") == "Ines Ruiz"


def test_the_name_replaces_a_stored_local_part_and_the_change_is_logged(
    factory: SessionFactory,
) -> None:
    with factory() as session:
        record.upsert_contact(session, Address("tkwx@mill.example.net", "tkwx"), NOW)
        session.commit()
    _record(factory)
    assert _name(factory, "tkwx@mill.example.net") == "Tom"
    with factory() as session:
        changes = session.scalars(select(m.ContactChange).where(m.ContactChange.field == "name"))
        assert [(c.old_value, c.new_value, c.source) for c in changes] == [("tkwx", "Tom", "sync")]


def test_a_name_the_owner_gave_is_never_replaced(factory: SessionFactory) -> None:
    with factory() as session:
        contact = contacts.get_or_create(session, "tkwx@mill.example.net", NOW, "owner")
        contacts.update(session, contact, {"name": "tkwx"}, "owner", NOW)  # as the owner wants
        session.commit()
    _record(factory)
    assert _name(factory, "tkwx@mill.example.net") == "tkwx"


def test_a_real_name_is_never_replaced_by_the_author_s(factory: SessionFactory) -> None:
    with factory() as session:
        record.upsert_contact(session, Address("tkwx@mill.example.net", "Thomas Kwan"), NOW)
        record.upsert_contact(session, Address("tkwx@mill.example.net", "Tom"), NOW)
        session.commit()
    assert _name(factory, "tkwx@mill.example.net") == "Thomas Kwan"
