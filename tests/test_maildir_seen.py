"""Maildir sync reads every file it has not recorded, whatever its name, exactly once (SQLite and
PostgreSQL): the seen keys commit with the batch that read them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select, update

from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Account, FollowUps, MaildirSettings
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource, deliver
from refmail.sync import SyncReport, sync_account

OWNER = "olivia@example.com"
REFMAIL = "olivia+refmail@example.com"
CLOCK = FixedClock(datetime(2026, 11, 20, 12, tzinfo=UTC))


def intro(n: int) -> bytes:
    return (
        f"Delivered-To: {REFMAIL}\r\nFrom: Olivia <{OWNER}>\r\n"
        f"To: Party A{n} <a{n}@example.org>\r\nCc: Party B{n} <b{n}@example.net>\r\n"
        f"Subject: Intro: A{n} <> B{n}\r\nDate: Thu, 19 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <seen-intro-{n}@example.com>\r\n\r\n"
        f"Hi A{n},\r\n\r\nI'd like to introduce you to B{n}, who builds boats.\r\n"
        "You two should talk.\r\n"
    ).encode()


def sync(factory: SessionFactory, root: Path) -> SyncReport:
    account = Account(
        name="seen", address=REFMAIL, owners=(OWNER,), maildir=MaildirSettings(path=str(root))
    )
    return sync_account(factory, account, MaildirSource(root, 2), ("INBOX",), FollowUps(), CLOCK)


def introductions(factory: SessionFactory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(m.Introduction)) or 0


def test_an_old_message_moved_in_after_the_cursor_is_read_once(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "Maildir"
    for n in range(3):
        deliver(root, intro(n), f"{1700000000 + n}.M{n}P1.host")
    assert sync(factory, root).introductions == 3
    # An archived message moved in (its name is years older) and one delivered while the clock
    # had stepped back: both sort before every name already read.
    (root / "cur" / "1500000000.M7P1.host:2,S").write_bytes(intro(7))
    deliver(root, intro(8), "1699999999.M8P1.host")
    report = sync(factory, root)
    assert (report.scanned, report.introductions, report.duplicates) == (2, 2, 0)
    assert introductions(factory) == 5
    again = sync(factory, root)
    assert (again.scanned, again.introductions) == (0, 0)  # idempotent: read once
    with factory() as session:
        keys = set(session.scalars(select(m.MaildirSeen.key)))
    files = [p.name for sub in ("new", "cur") for p in (root / sub).iterdir()]
    assert keys == {name.split(":2,")[0] for name in files}


def test_a_name_cursor_from_before_the_upgrade_is_not_read_again(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "Maildir"
    names = [f"{1700000000 + n}.M{n}P1.host" for n in range(4)]
    for n, name in enumerate(names):
        deliver(root, intro(n), name)
    sync(factory, root)
    with factory.begin() as session:  # as an older version left it: a name cursor, no seen set
        session.execute(delete(m.MaildirSeen))
        session.execute(update(m.FolderState).values(last_key=names[1]))
    report = sync(factory, root)
    assert (report.scanned, report.duplicates) == (2, 2)  # after the cursor only
    with factory() as session:
        assert set(session.scalars(select(m.MaildirSeen.key))) == set(names)
        assert session.scalar(select(m.FolderState.last_key)) == ""
    assert sync(factory, root).scanned == 0
