"""Facts a batch asks once, not once per message (issue 15), on SQLite and PostgreSQL: whether
anyone is suppressed, whether any introduction waits for an opt-in answer, whether a contact
appeared behind the batch's contact cache. On PostgreSQL each of those questions was a round
trip per introduction or per reply; now one per batch (db.memo), and none for the cache until a
command may have created contacts. A write of the same transaction that makes the answer stale
is seen at once; the next transaction asks again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import optin, record, records
from refmail.config import FollowUps
from refmail.db import SessionFactory, engine_of, transaction
from refmail.detect import Classification, Party
from refmail.parse import Address
from refmail.sync import sync_account
from tests.support.maildir_sync import CLOCK, CountingSource, account, fill
from tests.support.mailgen import SHAPES, MailGenerator
from tests.support.sql_log import recorded

COUNT_SUPPRESSIONS = "SELECT COUNT(*) AS COUNT_1 FROM SUPPRESSION"
ANY_PENDING = "SELECT INTRODUCTION.ID FROM INTRODUCTION WHERE INTRODUCTION.STATUS"
PENDING_OF = "INTRODUCTION_PARTY.REACHED IS"  # in pending_for's own query only


@pytest.fixture
def statements(factory: SessionFactory) -> Iterator[list[str]]:
    with recorded(engine_of(factory), 2000) as seen:
        yield seen


def introduction(introducer: str, party: str) -> Classification:
    return Classification(
        "introduction",
        "test",
        "an introduction",
        introducer=Address(introducer, ""),
        parties=(Party(Address(party, ""), True),),
    )


def a_message(session: object, account_id: int, message_id: str) -> m.MessageRecord:
    row = m.MessageRecord(
        message_id=message_id,
        account_id=account_id,
        folder="INBOX",
        thread_root=message_id,
        kind="introduction",
        ingested_at=CLOCK(),
    )
    session.add(row)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return row


def an_account(session: object) -> int:
    account = m.Account(name="t", address="refmail@example.com", created_at=CLOCK())
    session.add(account)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return account.id


def test_a_sync_asks_each_rare_fact_once_per_batch(
    factory: SessionFactory, tmp_path: Path, statements: list[str]
) -> None:
    """A realistic mailbox (the bench's kind) in batches of 60: each fact asked once per
    batch, not once per introduction or reply; what is written is held equal to the
    one-at-a-time path by test_record_bulk."""
    root = tmp_path / "md"
    gen = MailGenerator(240, 11, owner_share=0.8, signatures=True, shapes=SHAPES, intro_every=12)
    fill(root, list(gen.messages()))
    source = CountingSource(root, 60)
    cadence = FollowUps(max_age_days=3650)  # the generated mail is older than the clock
    report = sync_account(factory, account(root, 60), source, ("INBOX",), cadence, CLOCK)
    assert report.introductions == len(gen.introductions) > 10
    counted = [s for s in statements if s.startswith(COUNT_SUPPRESSIONS)]
    asked = [s for s in statements if s.startswith(ANY_PENDING)]
    assert 0 < len(counted) <= 240 // 60 < report.introductions  # per batch, not per intro
    assert 0 < len(asked) <= 240 // 60
    assert not [s for s in statements if PENDING_OF in s]  # none pending: not looked


def test_a_suppression_made_in_the_batch_is_seen_by_the_next_introduction(
    factory: SessionFactory, statements: list[str]
) -> None:
    with transaction(factory) as session:
        verdict = introduction("pat@example.com", "carol@example.com")
        assert records.unsuppressed(session, verdict) is verdict  # nobody suppressed: memo set
        assert records.unsuppressed(session, verdict) is verdict
        assert sum(s.startswith(COUNT_SUPPRESSIONS) for s in statements) == 1
        records.suppress(session, "pat@example.com", CLOCK())
        later = records.unsuppressed(session, verdict)
        assert (later.kind, later.rule) == ("other", "suppressed")


def test_the_memo_does_not_outlive_its_transaction(
    factory: SessionFactory, statements: list[str]
) -> None:
    verdict = introduction("pat@example.com", "carol@example.com")
    with factory() as session:  # one session, two transactions (as a long-lived session)
        with session.begin():
            assert records.unsuppressed(session, verdict) is verdict
        with transaction(factory) as other:  # another process forgets Pat meanwhile
            records.suppress(other, "pat@example.com", CLOCK())
        with session.begin():
            assert records.unsuppressed(session, verdict).rule == "suppressed"
    assert sum(s.startswith(COUNT_SUPPRESSIONS) for s in statements) == 2


def test_an_ask_recorded_in_the_batch_is_found_by_the_answer_after_it(
    factory: SessionFactory, statements: list[str]
) -> None:
    with transaction(factory) as session:
        account_id = an_account(session)
        leo = record.upsert_contact(session, Address("leo@example.com", "Leo"), CLOCK())
        assert optin.pending_for(session, leo, ("<ask@example.com>",)) is None
        assert optin.pending_for(session, leo, ("<ask@example.com>",)) is None
        assert sum(s.startswith(ANY_PENDING) for s in statements) == 1
        assert not [s for s in statements if PENDING_OF in s]
        row = a_message(session, account_id, "<ask@example.com>")
        ask = optin.Ask(Address("leo@example.com", "Leo"), Address("mia@example.com", "Mia"), "")
        made = optin.record_ask(session, row, Address("owner@example.com", "O"), ask, CLOCK())
        assert optin.pending_for(session, leo, ("<ask@example.com>",)) is made


def test_the_contact_cache_rechecks_only_after_it_was_told_to_forget(
    factory: SessionFactory, statements: list[str]
) -> None:
    with transaction(factory) as session:
        cache = record.ContactCache(session, ["x@example.com", "y@example.com"])
        looked = len(statements)
        cache.recheck_absent(["x@example.com"])
        assert len(statements) == looked  # nothing this transaction wrote could have made one
        made = record.upsert_contact(session, Address("x@example.com", "Xavier"), CLOCK())
        cache.forget(["owner@example.com"])  # what sync does after an owner's command
        cache.recheck_absent(["x@example.com"])
        assert cache.get("x@example.com") is made
        assert session.scalars(select(m.Contact.email)).all() == ["x@example.com"]
