"""Sync a batch at a time (issue 15), on SQLite and PostgreSQL, from a real Maildir: a batch
read again records nothing new; a poison message in a batch is recorded unreadable and the rest
is stored; mail kept to its headers is read whole once the batch's own introduction makes its
sender a contact; a stranger's mail to the owner alone is never read whole."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from refmail import models as m
from refmail import parse as parse_module
from refmail import sync as sync_module
from refmail.db import SessionFactory, transaction
from tests.support import poison
from tests.support.mailbox import OWNER, referral
from tests.support.maildir_sync import counts, fill, run


def letter(sender: str, to: str, subject: str, tag: str, date: datetime) -> bytes:
    return (
        f"Delivered-To: {OWNER}\r\nFrom: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.format_datetime(date)}\r\nMessage-ID: <{tag}@batch.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello Olivia, see you on Tuesday.\r\n"
    ).encode()


def test_a_batch_read_again_records_nothing_new(factory: SessionFactory, tmp_path: Path) -> None:
    root = tmp_path / "md"
    fill(root, [referral(f"again{i}")[1] for i in range(3)])
    first, _ = run(factory, root)
    assert (first.introductions, first.duplicates) == (3, 0)
    before = counts(factory)
    assert before["FollowUp"] > 0 and before["Contact"] == 6
    # Forget where the folder stands (as a changed UIDVALIDITY would): the batch is read again.
    with transaction(factory) as session:
        session.execute(delete(m.MaildirSeen))
        session.execute(delete(m.FolderState))
    again, fetched = run(factory, root)
    assert (again.scanned, again.introductions, again.duplicates) == (3, 0, 3)
    assert len(fetched) == 3
    assert counts(factory) == before


def test_a_poison_message_in_a_batch_is_recorded_unreadable_and_the_rest_stored(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message whose parse raises, one whose recording fails: both are recorded malformed
    (so never retried forever), the two others are stored, the cursor moves past all four."""
    root = tmp_path / "md"
    good = [referral(f"good{i}") for i in range(3)]
    fill(root, [good[0][1], poison.at_signs(), good[1][1], good[2][1]])
    real_parse, real_record = parse_module.parse_message, sync_module.record.record_introduction

    def parse(raw: bytes, heads=None):  # type: ignore[no-untyped-def]
        if b"poison-at-signs" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(raw, heads)

    def record(session, row, msg, *args, **kwargs):  # type: ignore[no-untyped-def]
        if msg.message_id == good[0][0]:
            raise ValueError("the database refused this one")
        return real_record(session, row, msg, *args, **kwargs)

    monkeypatch.setattr(parse_module, "parse_message", parse)  # sync imports it when used
    monkeypatch.setattr(sync_module.record, "record_introduction", record)
    report, _ = run(factory, root)
    assert (report.scanned, report.malformed, report.introductions) == (4, 2, 2)
    with factory() as session:
        rows = session.execute(select(m.MessageRecord.message_id, m.MessageRecord.kind))
        kinds = {message_id: kind for message_id, kind in rows}
        seen = session.scalar(select(func.count()).select_from(m.MaildirSeen))
    assert kinds == {
        good[0][0]: "malformed",
        "<poison-at-signs@poison.example>": "malformed",
        good[1][0]: "introduction",
        good[2][0]: "introduction",
    }
    assert seen == 4  # the cursor moved past all four, in the batch's transaction
    assert counts(factory)["Introduction"] == 2


def test_a_strangers_mail_to_the_owner_alone_is_read_by_its_headers_only(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    when = datetime(2026, 11, 19, 9, tzinfo=UTC)
    keys = fill(
        root,
        [
            letter("Sam <sam@stranger.example>", OWNER, "Lunch", "lunch", when),
            letter(f"Olivia <{OWNER}>", "sam@stranger.example", "Re: Lunch", "mine", when),
        ],
    )
    report, fetched = run(factory, root)
    assert (report.scanned, report.candidates, report.headers_only) == (2, 1, 1)
    assert fetched == [keys[1]]  # the owner's own mail is read whole; the stranger's is not


def test_mail_made_relevant_by_the_batch_itself_is_read_whole(
    factory: SessionFactory, tmp_path: Path
) -> None:
    """The referral makes Carol a contact; her later mail to the owner alone, in the same batch,
    was kept to its headers at first and is then read: her contact time is recorded."""
    root = tmp_path / "md"
    _, intro = referral("same-batch")
    carol = "carol.same-batch@client-same-batch.example"
    when = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
    keys = fill(root, [intro, letter(f"Carol <{carol}>", OWNER, "Hello", "carol-hi", when)])
    report, fetched = run(factory, root)
    assert (report.introductions, report.candidates, report.headers_only) == (1, 2, 0)
    assert fetched == keys
    with factory() as session:
        contact = session.scalar(select(m.Contact).where(m.Contact.email == carol))
        assert contact is not None
        assert contact.last_contact_at is not None
        assert contact.last_contact_at.replace(tzinfo=UTC) == when
    # In a later batch her mail is read whole from the start: she is a contact now.
    more = fill(root, [letter(f"Carol <{carol}>", OWNER, "Again", "carol-again", when)], 2)
    later, fetched = run(factory, root)
    assert (later.candidates, later.headers_only) == (1, 0) and fetched == more
