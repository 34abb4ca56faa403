"""An introduction recorded in a few statements (issue 15), on SQLite and PostgreSQL: its people
resolved together and the new ones inserted in one flush, its follow-ups and their why-log in
one INSERT each, the batch's contact cache kept up to date instead of dropped. What is written
is what the one-at-a-time writes gave: the same rows whether a batch goes in whole or a message
at a time, whether contacts are upserted together or one by one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import record
from refmail import sync as sync_module
from refmail.config import FollowUps
from refmail.db import SessionFactory, engine_of, transaction
from refmail.parse import Address
from refmail.sync import SyncReport, sync_account
from tests.support.maildir_sync import CLOCK, CountingSource, account, fill
from tests.support.mailgen import SHAPES, MailGenerator
from tests.support.sql_log import recorded


@pytest.fixture
def statements(factory: SessionFactory) -> Iterator[list[str]]:
    """Every SQL statement the engine runs, in order."""
    with recorded(engine_of(factory), 2000) as seen:
        yield seen


def snapshot(factory: SessionFactory) -> dict[str, list[tuple[object, ...]]]:
    """What sync wrote, without the ids and random tokens: contacts and their change log,
    messages, introductions with their parties, follow-ups with their why-log."""
    with factory() as session:
        email = {c.id: c.email for c in session.scalars(select(m.Contact))}
        fu_of = {f.id: f for f in session.scalars(select(m.FollowUp))}
        msg_of = {r.id: r.message_id for r in session.scalars(select(m.MessageRecord))}
        intro_of = {i.id: msg_of[i.message_pk] for i in session.scalars(select(m.Introduction))}

        def fu_key(f: m.FollowUp) -> tuple[object, ...]:
            return (intro_of[f.introduction_id], f.kind, email[f.contact_id], f.step)

        return {
            "contacts": sorted(
                (c.email, c.name, c.last_contact_at, c.recent_offsets)
                for c in session.scalars(select(m.Contact))
            ),
            "changes": sorted(
                (email[c.contact_id], c.field, c.old_value, c.new_value, c.source)
                for c in session.scalars(select(m.ContactChange))
            ),
            "messages": sorted(
                (r.message_id, r.kind, r.rule, r.sender)
                for r in session.scalars(select(m.MessageRecord))
            ),
            "introductions": sorted(
                (intro_of[i.id], email[i.introducer_id], i.shape, i.status, i.outcome)
                for i in session.scalars(select(m.Introduction))
            ),
            "parties": sorted(
                (intro_of[p.introduction_id], email[p.contact_id], p.reached)
                for p in session.scalars(select(m.IntroductionParty))
            ),
            "follow_ups": sorted((*fu_key(f), f.due_at, f.state, f.reason) for f in fu_of.values()),
            "why_log": sorted(
                (*fu_key(fu_of[e.follow_up_id]), e.state, e.rule, e.reason)
                for e in session.scalars(select(m.FollowUpEvent))
            ),
        }


def run(factory: SessionFactory, root: Path, batch_size: int) -> SyncReport:
    """A first sync of the Maildir, with every introduction young enough to plan mail (the
    generated mail is months older than the clock)."""
    cadence = FollowUps(max_age_days=3650)
    source = CountingSource(root, batch_size)
    return sync_account(factory, account(root, batch_size), source, ("INBOX",), cadence, CLOCK)


def generated(root: Path, n: int = 240) -> int:
    """A realistic mailbox (the bench's kind: introductions of each shape and the parties'
    answers to them); how many introductions it holds."""
    gen = MailGenerator(n, 11, owner_share=0.8, signatures=True, shapes=SHAPES, intro_every=12)
    fill(root, list(gen.messages()))
    return len(gen.introductions)


def test_a_batch_recorded_whole_writes_what_one_message_at_a_time_writes(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "md"
    intros = generated(root)
    whole = run(factory, root, batch_size=60)
    assert whole.introductions == intros > 10
    assert whole.malformed == 0
    written = snapshot(factory)
    # Replies connected introductions: their check-ins were skipped in the same batches.
    assert any(e[4:6] == ("skipped", "connected") for e in written["why_log"])
    assert len(written["follow_ups"]) > 3 * intros

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the batch goes a message at a time")

    with transaction(factory) as session:  # the same mailbox again, into an empty database
        for table in reversed(m.Base.metadata.sorted_tables):
            session.execute(table.delete())
    monkeypatch.setattr(sync_module, "_ingest_together", refuse)
    alone = run(factory, root, batch_size=60)
    assert (alone.introductions, alone.recorded, alone.follow_ups) == (
        whole.introductions,
        whole.recorded,
        whole.follow_ups,
    )
    assert snapshot(factory) == written


def test_an_introduction_plans_its_follow_ups_in_one_insert_and_one_why_log_insert(
    factory: SessionFactory, tmp_path: Path, statements: list[str]
) -> None:
    root = tmp_path / "md"
    intros = generated(root, 120)
    report = run(factory, root, batch_size=200)
    assert report.introductions == intros
    assert report.follow_ups > 2 * intros  # each plans several: still one INSERT each
    inserts = [s for s in statements if s.startswith("INSERT INTO FOLLOW_UP ")]
    events = [s for s in statements if s.startswith("INSERT INTO FOLLOW_UP_EVENT ")]
    if engine_of(factory).dialect.name == "postgresql":  # where each statement is a round trip
        assert len(inserts) == intros
        # One why-log INSERT per plan; the rest are the check-ins connected replies skipped.
        assert len(events) < intros + report.follow_ups // 2
    else:  # SQLite (in-process) is sent a row at a time by its driver: counted, not bounded
        assert len(inserts) == report.follow_ups
    # Everyone named is looked up with the batch: none is read again by address alone.
    by_address = [s for s in statements if s.startswith("SELECT CONTACT.ID") and "IN (" not in s]
    assert len(by_address) <= 2


def test_contacts_upserted_together_are_those_upserted_one_by_one(
    factory: SessionFactory,
) -> None:
    now = CLOCK()
    people = [
        Address("known@example.com", "Known Person"),  # exists, no name: the name fills it
        Address("new@example.com", ""),
        Address("new@example.com", "New Person"),  # named the second time: the name fills it
        Address("other@example.com", "Other"),
        Address("known@example.com", "Someone Else"),  # has a name by now: kept
    ]

    def seeded(session) -> None:  # type: ignore[no-untyped-def]
        session.add(m.Contact(email="known@example.com", name="", created_at=now, updated_at=now))
        session.flush()

    def rows(session) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]:  # type: ignore[no-untyped-def]
        email = {c.id: c.email for c in session.scalars(select(m.Contact))}
        contacts = sorted((c.email, c.name) for c in session.scalars(select(m.Contact)))
        changes = sorted(
            (email[c.contact_id], c.field, c.old_value, c.new_value)
            for c in session.scalars(select(m.ContactChange))
        )
        return contacts, changes

    with transaction(factory) as session:
        seeded(session)
        one_by_one = {a.email: record.upsert_contact(session, a, now).email for a in people}
        expected = rows(session)
        session.rollback()
    with transaction(factory) as session:
        seeded(session)
        cache = record.ContactCache(session, [a.email for a in people])
        together = record.upsert_contacts(session, people, now, cache)
        assert {k: c.email for k, c in together.items()} == one_by_one
        assert rows(session) == expected
        assert cache.get("new@example.com") is together["new@example.com"]  # learnt, no query


def test_the_contact_cache_forgets_a_contact_whose_savepoint_rolled_back(
    factory: SessionFactory,
) -> None:
    now = CLOCK()
    with transaction(factory) as session:
        cache = record.ContactCache(session, ["gone@example.com"])
        assert cache.get("gone@example.com") is None
        with pytest.raises(RuntimeError), session.begin_nested():
            record.upsert_contacts(session, [Address("gone@example.com", "Gone")], now, cache)
            raise RuntimeError("the message failed after its contacts were written")
        assert cache.get("gone@example.com") is None  # not the rolled-back row
        kept = record.upsert_contacts(session, [Address("gone@example.com", "Gone")], now, cache)
        assert cache.get("gone@example.com") is kept["gone@example.com"]


def test_a_contact_created_since_the_batch_lookup_is_not_inserted_again(
    factory: SessionFactory,
) -> None:
    """The cache held x@ as no contact; an opt-in ask earlier in the batch created it (sync
    then tells the cache to forget the ask's addresses); the introduction naming x@ then finds
    that contact instead of inserting a second one (which failed the batch, and lost the
    introduction when x@ was on no header). A contact another process commits meanwhile fails
    the batch's insert instead, and the batch goes a message at a time (test_concurrency)."""
    now = CLOCK()
    with transaction(factory) as session:
        cache = record.ContactCache(session, ["x@example.com", "owner@example.com"])
        made = record.upsert_contact(session, Address("x@example.com", "Xavier"), now)
        cache.forget(["owner@example.com"])  # what sync forgets: the ask's own headers
        with session.begin_nested():
            found = record.upsert_contacts(
                session,
                [Address("new@example.com", "New"), Address("x@example.com", "Xavier")],
                now,
                cache,
            )
        assert found["x@example.com"] is made
        emails = session.scalars(select(m.Contact.email).order_by(m.Contact.email)).all()
        assert emails == ["new@example.com", "x@example.com"]


def test_standing_down_is_cancel_open_then_withdraw_drafts_in_one_query(
    factory: SessionFactory, tmp_path: Path, statements: list[str]
) -> None:
    from refmail import outbox

    root = tmp_path / "md"
    generated(root, 40)
    run(factory, root, batch_size=40)
    states = [("planned", ""), ("deferred", ""), ("delivered", "drafts"), ("delivered", "smtp")]
    with transaction(factory) as session:
        rows = session.scalars(select(m.FollowUp).order_by(m.FollowUp.id)).all()
        assert len(rows) >= 2 * len(states)
        for row, (state, channel) in zip(rows, states * len(rows), strict=False):
            row.state, row.channel = state, channel

    def change(both: bool) -> list[tuple[object, ...]]:
        with transaction(factory) as session:
            intro_id = session.scalars(select(m.FollowUp.introduction_id)).first()
            contacts = list(session.scalars(select(m.FollowUp.contact_id).distinct()))
            narrowing = {"contact_id": contacts, "introduction_id": intro_id}
            before = len(statements)
            if both:
                done = outbox.cancel_open(session, "r", "why", CLOCK(), **narrowing)
                done += outbox.withdraw_drafts(session, "r", "why", CLOCK(), **narrowing)
            else:
                done = outbox.stand_down(session, "r", "why", CLOCK(), **narrowing)
            selects = [s for s in statements[before:] if s.startswith("SELECT FOLLOW_UP.ID")]
            assert len(selects) == (2 if both else 1)
            written = [
                (f.id, f.state, f.withdraw_reason, [(e.state, e.reason) for e in f.events])
                for f in session.scalars(select(m.FollowUp).order_by(m.FollowUp.id))
            ]
            assert done > 1
            assert any(reason for _, _, reason, _ in written)  # a draft asked back too
            session.rollback()
            return [(done, *w) for w in written]

    assert change(both=False) == change(both=True)
