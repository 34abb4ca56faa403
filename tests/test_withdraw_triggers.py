"""The events that make a draft wrong queue its withdrawal in the same transaction, on SQLite and
PostgreSQL: a bounce, the introduction connecting (first check-ins only), a pause asked for by
reply, an opt-out. Drafts already sent or dismissed, and follow-ups of other people, stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import contacts, outbox
from refmail import models as m
from refmail.db import SessionFactory, transaction
from tests.support.mailbox import OWNER
from tests.support.world import ALICE, BOB, CAROL, NOW, PAT, World, dsn, reply


@pytest.fixture
def world(factory: SessionFactory, tmp_path: Path) -> World:
    w = World(factory, tmp_path / "md")
    with transaction(factory) as session:  # every follow-up planned so far is now a draft
        for row in session.scalars(select(m.FollowUp).where(m.FollowUp.state == "planned")):
            assert outbox.claim(session, row, NOW)
            outbox.confirm(session, row, "drafts", "delivered", "test", NOW, "d" * 64, "Hi")
    return w


def wanted(factory: SessionFactory) -> dict[tuple[str, str, int], str]:
    with factory() as s:
        return {
            (f.kind, f.contact.email, f.step): f.withdraw_reason
            for f in s.scalars(select(m.FollowUp))
            if f.withdraw_reason
        }


def test_a_hard_bounce_queues_the_addresss_drafts(world: World) -> None:
    world.feed(dsn(CAROL, world.follow_up_id("check_in", CAROL), "5.1.1"))
    queued = wanted(world.factory)
    assert {k[1] for k in queued} == {CAROL}
    assert len(queued) == 2 and all("mail bounced" in r for r in queued.values())


def test_a_connected_introduction_queues_the_pairs_check_in_drafts(world: World) -> None:
    """The pair talked: every check-in draft to the two of them is pointless now (all steps,
    as their open check-ins are cancelled); other drafts stay."""
    world.feed(reply(ALICE, BOB, OWNER, "Re: Intro", "<intro-ab@example.com>", "Great, Tuesday!\n"))
    assert set(wanted(world.factory)) == {
        ("check_in", ALICE, 0),
        ("check_in", BOB, 0),
        ("check_in", ALICE, 1),
        ("check_in", BOB, 1),
    }


def test_a_pause_by_reply_queues_the_persons_drafts(world: World) -> None:
    world.feed(
        reply(
            BOB,
            OWNER,
            "",
            "Re: Intro",
            "<intro-ab@example.com>",
            "Not right now, we're swamped. Maybe in March?\n",
        )
    )
    queued = wanted(world.factory)
    assert {k[1] for k in queued} == {BOB}
    assert all("paused by reply until 2027-03" in r for r in queued.values())


def test_an_opt_out_queues_only_drafts_still_waiting(world: World) -> None:
    with transaction(world.factory) as session:
        rows = session.scalars(
            select(m.FollowUp).join(m.Contact).where(m.Contact.email == PAT)
        ).all()
        assert rows
        outbox.owner_sent(session, rows[0], NOW, "same Message-ID", NOW)  # already gone out
        pat = contacts.find(session, PAT)
        assert pat is not None
        contacts.opt_out(session, pat, "recipient", NOW)
        assert len(rows) == 1  # Pat is owed one thank-you, which the owner already sent
    assert wanted(world.factory) == {}
    with transaction(world.factory) as session:
        carol = contacts.find(session, CAROL)
        assert carol is not None
        contacts.opt_out(session, carol, "recipient", NOW)
        contacts.opt_out(session, carol, "recipient", NOW)  # twice: queued once, first reason
    queued = wanted(world.factory)
    assert {k[1] for k in queued} == {CAROL}
    with world.factory() as s:
        logged = [
            e.reason
            for e in s.scalars(
                select(m.FollowUpEvent).where(m.FollowUpEvent.rule == "contact_changed")
            )
            if e.reason.startswith("draft to be withdrawn")
        ]
    assert logged == ["draft to be withdrawn: opted out (recipient)"] * len(queued)
