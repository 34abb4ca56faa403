"""A batch recorded whole (issue 15), on SQLite and PostgreSQL, from a real Maildir: its stored
messages go in with one bulk insert and no savepoint per message; a batch ingested a second
time (its Message-IDs recorded between the check and the insert, as when another sync or a
crash after commit replays it) records and plans nothing twice; a message whose recording fails
sends the batch down the per-message path, and the rest of the batch is still recorded."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from refmail import detect as detect_module
from refmail import models as m
from refmail import record
from refmail import sync as sync_module
from refmail.db import SessionFactory, engine_of, transaction
from refmail.detect import Classification
from refmail.parse import parse_message
from tests.support.mailbox import OWNER, referral
from tests.support.maildir_sync import CLOCK, counts, fill, run
from tests.support.sql_log import recorded


def answer(tag: str, to_id: str, n: int) -> bytes:
    """Carol's n-th answer in the referral's thread: stored as a reply."""
    carol = f"carol.{tag}@client-{tag}.example"
    when = email.utils.format_datetime(datetime(2026, 11, 19, 10, n, tzinfo=UTC))
    return (
        f"Delivered-To: {OWNER}\r\nFrom: Carol <{carol}>\r\nTo: {OWNER}\r\n"
        f"Subject: Re: Introduction ({n})\r\nDate: {when}\r\n"
        f"Message-ID: <answer-{n}.{tag}@client.example>\r\nIn-Reply-To: {to_id}\r\n"
        f"References: {to_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Thank you Pat, happy to meet Olivia. Olivia, does Tuesday suit you?\r\n"
    ).encode()


@pytest.fixture
def statements(factory: SessionFactory) -> Iterator[list[str]]:
    """Every SQL statement the engine runs, in order."""
    with recorded(engine_of(factory), 80) as seen:
        yield seen


def thread(tag: str, answers: int) -> tuple[str, list[bytes]]:
    message_id, intro = referral(tag)
    return message_id, [intro, *(answer(tag, message_id, n) for n in range(answers))]


def test_a_batch_goes_in_with_one_insert_and_no_savepoint_per_message(
    factory: SessionFactory, tmp_path: Path, statements: list[str]
) -> None:
    root = tmp_path / "md"
    _, mail = thread("bulk", 8)
    fill(root, mail)
    report, _ = run(factory, root, batch_size=20)
    assert (report.introductions, report.recorded, report.malformed) == (1, 9, 0)
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    inserts = [s for s in statements if s.startswith("INSERT INTO MESSAGE ")]
    # The introduction alone first (two savepoints: its own path); its answers were kept to
    # their headers until it was recorded, then read whole and recorded together (one).
    assert len(savepoints) == 3
    assert len(inserts) == 2  # the introduction's row, then the eight answers together
    with factory() as session:
        kinds = list(session.scalars(select(m.MessageRecord.kind).order_by(m.MessageRecord.id)))
    assert kinds == ["introduction"] + ["reply"] * 8  # in the folder's order


def test_the_same_batch_ingested_twice_records_and_plans_nothing_twice(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second run does not know the batch is recorded (its check sees nothing, as when
    another sync commits the batch between our check and our insert): the bulk insert meets
    the Message-IDs, the batch goes a message at a time, and each is then a duplicate."""
    root = tmp_path / "md"
    fill(root, [*thread("twice-a", 3)[1], *thread("twice-b", 2)[1]])
    first, _ = run(factory, root)
    assert (first.introductions, first.recorded, first.duplicates) == (2, 7, 0)
    before = counts(factory)
    assert before["FollowUp"] > 0
    with transaction(factory) as session:  # the cursor did not advance
        session.query(m.MaildirSeen).delete()
        session.query(m.FolderState).delete()
    monkeypatch.setattr(sync_module.record, "recorded_ids", lambda session, ids: set())
    again, _ = run(factory, root)
    assert (again.introductions, again.recorded, again.follow_ups) == (0, 0, 0)
    assert (again.duplicates, again.malformed) == (7, 0)
    assert counts(factory) == before


def test_a_bulk_insert_of_rows_recorded_already_inserts_nothing_and_says_so(
    factory: SessionFactory,
) -> None:
    msg = parse_message(answer("rows", "<nowhere@example>", 1))
    verdict = Classification("reply", "test", "a reply")
    with transaction(factory) as session:
        account_id = _account(session)
        rows = record.MessageRows()
        rows.add(record.message_values(account_id, "INBOX", 1, msg, verdict, CLOCK()))
        rows.insert(session)
    with transaction(factory) as session:
        rows = record.MessageRows()
        rows.add(record.message_values(account_id, "INBOX", 1, msg, verdict, CLOCK()))
        with pytest.raises(record.AlreadyRecorded), session.begin_nested():
            rows.insert(session)
        assert session.scalar(select(func.count()).select_from(m.MessageRecord)) == 1


def test_a_failing_message_sends_the_batch_one_at_a_time_and_the_rest_is_recorded(
    factory: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statements: list[str],
) -> None:
    root = tmp_path / "md"
    bad_id, mail = thread("poison-b", 2)
    _, more = thread("fine-b", 2)
    fill(root, [*mail, *more])
    real = sync_module.record.record_introduction

    def refuse(session, row, msg, *args, **kwargs):  # type: ignore[no-untyped-def]
        if msg.message_id == bad_id:
            raise ValueError("the database refused this one")
        return real(session, row, msg, *args, **kwargs)

    monkeypatch.setattr(sync_module.record, "record_introduction", refuse)
    report, _ = run(factory, root)
    assert (report.malformed, report.introductions) == (1, 1)
    with factory() as session:
        rows = session.execute(select(m.MessageRecord.message_id, m.MessageRecord.kind))
        kinds = {message_id: kind for message_id, kind in rows}
    # The failing introduction is recorded malformed (so its thread's answers stay unread);
    # the other one and both its answers are recorded.
    assert sorted(kinds.values()) == ["introduction", "malformed", "reply", "reply"]
    assert kinds[bad_id] == "malformed"
    assert any(s.startswith("ROLLBACK TO SAVEPOINT") for s in statements)  # the batch's


def test_a_message_that_cannot_be_classified_costs_only_itself_in_a_whole_batch(
    factory: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statements: list[str],
) -> None:
    """Classifying writes nothing, so a classifier failure is recorded malformed in the batch
    tried whole: no fallback, no second classification of the poison."""
    root = tmp_path / "md"
    fill(root, thread("classify", 4)[1])
    real = detect_module.classify
    calls: list[str] = []

    def flaky(msg, identity, known):  # type: ignore[no-untyped-def]
        calls.append(msg.message_id)
        if msg.message_id.startswith("<answer-2."):
            raise RecursionError("maximum recursion depth exceeded")
        return real(msg, identity, known)

    monkeypatch.setattr(detect_module, "classify", flaky)  # sync imports it when used
    report, _ = run(factory, root)
    assert (report.malformed, report.introductions, report.recorded) == (1, 1, 4)
    assert len(calls) == 5  # each message classified once
    assert len([s for s in statements if s.startswith("SAVEPOINT")]) == 3  # as above


def _account(session) -> int:  # type: ignore[no-untyped-def]
    row = m.Account(name="t", address="olivia+refmail@example.com", created_at=CLOCK())
    session.add(row)
    session.flush()
    return row.id
