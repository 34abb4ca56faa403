"""What incoming mail does, end to end through sync, on SQLite and PostgreSQL.

Each real-world shape (reply-all by each party, the introducer's reply, an unsubscribe by reply,
"not now", an echo of refmail's own follow-up, out-of-office robots, list mail, bounces) gives
its expected effect and nothing else: the test compares the whole relationship state before and
after.
"""

from __future__ import annotations

import email.utils
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.bounce import parse_bounce
from refmail.clock import FixedClock
from refmail.config import FollowUps
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource, deliver
from refmail.sync import sync_account
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import account
from tests.support.world import (
    ALICE,
    BOB,
    CAROL,
    NOW,
    PAT,
    World,
    changed,
    dsn,
    intro_mail,
    message,
    reply,
)


@pytest.fixture
def world(factory: SessionFactory, tmp_path: Path) -> World:
    return World(factory, tmp_path / "md")


@pytest.mark.parametrize("sender,other", [(ALICE, BOB), (BOB, ALICE)])
def test_reply_all_by_either_party_connects_the_introduction(
    world: World, sender: str, other: str
) -> None:
    before = world.state()
    world.feed(
        reply(
            sender,
            other,
            OWNER,
            "Re: Intro: Alice <> Bob",
            "<intro-ab@example.com>",
            "Thanks Olivia! Great to meet you, let's talk Tuesday.\n",
        )
    )
    diff = changed(before, world.state())
    assert set(diff) == {"intros", "follow_ups", "messages"}
    assert diff["intros"][1] == {("<intro-ab@example.com>", "connected")}
    gone, new = diff["follow_ups"]
    every_check_in = {("check_in", p, step) for p in (ALICE, BOB) for step in (0, 1)}
    assert {(f[1], f[2], f[3]) for f in gone} == every_check_in  # all steps, not only the first
    assert {f[4] for f in new} == {"skipped"}


def test_a_new_thread_between_the_parties_copying_the_owner_connects_too(world: World) -> None:
    raw = message(
        {
            "From": BOB,
            "To": ALICE,
            "Cc": OWNER,
            "Subject": "Video ideas",
            "Date": email.utils.format_datetime(NOW),
            "Message-ID": "<new-thread@b.example>",
        },
        "Alice, here are three ideas for your launch video.\n",
    )
    world.feed(raw)
    assert ("<intro-ab@example.com>", "connected") in world.state()["intros"]  # type: ignore[operator]


def test_the_introducers_reply_changes_no_status(world: World) -> None:
    before = world.state()
    report = world.feed(
        reply(
            PAT,
            OWNER,
            CAROL,
            "Re: Introduction: Olivia, meet Carol",
            "<referral-c@partner.example>",
            "Glad to help, you two!\n",
        )
    )
    diff = changed(before, world.state())
    assert set(diff) <= {"messages"}  # recorded as a reply in the thread; nothing else moves
    assert not report.notices


def test_unsubscribe_by_reply_stops_everything_and_says_so(world: World) -> None:
    thanks_id = world.follow_up_id("check_in", CAROL)
    report = world.feed(
        reply(
            CAROL,
            OWNER,
            "",
            "Re: Checking in",
            thanks_id,
            "Please remove me from these emails.\n\n> Checking in...\n",
        )
    )
    with world.factory() as s:
        carol = s.scalars(select(m.Contact).where(m.Contact.email == CAROL)).one()
        assert carol.level == "none"
        rows = s.scalars(select(m.FollowUp).where(m.FollowUp.contact_id == carol.id)).all()
        assert rows and all(r.state == "skipped" for r in rows)
        assert any(
            c.source == "reply" and c.field == "level"
            for c in s.scalars(
                select(m.ContactChange).where(m.ContactChange.contact_id == carol.id)
            )
        )
    assert any("asked to stop" in n for n in report.notices)


def test_not_now_in_march_pauses_until_march(world: World) -> None:
    report = world.feed(
        reply(
            BOB,
            OWNER,
            "",
            "Re: Intro: Alice <> Bob",
            "<intro-ab@example.com>",
            "Not right now, we're swamped. Maybe in March?\n",
        )
    )
    with world.factory() as s:
        bob = s.scalars(select(m.Contact).where(m.Contact.email == BOB)).one()
        assert bob.paused_until is not None and (bob.paused_until.year, bob.paused_until.month) == (
            2027,
            3,
        )
    assert any("paused until 2027-03" in n for n in report.notices)


def test_an_echo_of_refmails_own_follow_up_is_not_ingested(world: World) -> None:
    before = world.state()
    own_id = world.follow_up_id("thank_you", PAT)
    world.feed(
        message(
            {
                "From": OWNER,
                "To": PAT,
                "Subject": "Thank you for the introduction",
                "Date": email.utils.format_datetime(NOW),
                "Message-ID": own_id,
                "X-Refmail-ID": own_id.strip("<>"),
                "In-Reply-To": "<referral-c@partner.example>",
            },
            "Thank you for introducing me to Carol.\n",
        )
    )
    assert changed(before, world.state()) == {}


@pytest.mark.parametrize(
    "extra,subject",
    [
        ({"Auto-Submitted": "auto-replied"}, "Out of office: Re: Intro: Alice <> Bob"),  # Gmail
        ({"X-Auto-Response-Suppress": "All"}, "Automatic reply: Intro: Alice <> Bob"),  # Exchange
        ({"List-Id": "<designers.lists.example>", "Precedence": "list"}, "Re: Intro: Alice <> Bob"),
    ],
)
def test_robots_change_nothing(world: World, extra: dict[str, str], subject: str) -> None:
    before = world.state()
    world.feed(
        reply(
            ALICE,
            OWNER,
            BOB,
            subject,
            "<intro-ab@example.com>",
            "I am out of the office until Monday with limited access to email.\n",
            extra,
        )
    )
    assert changed(before, world.state()) == {}


def test_a_hard_bounce_stops_everything_to_the_address(world: World) -> None:
    report = world.feed(dsn(CAROL, world.follow_up_id("check_in", CAROL, delivered=True), "5.1.1"))
    with world.factory() as s:
        carol = s.scalars(select(m.Contact).where(m.Contact.email == CAROL)).one()
        assert carol.bounced_at is not None
        rows = s.scalars(select(m.FollowUp).where(m.FollowUp.contact_id == carol.id)).all()
        assert [f.state for f in rows].count("delivered") == 1  # the one that bounced
        assert all(
            f.state == "skipped" and "bounced" in f.reason for f in rows if f.state != "delivered"
        )
    assert any("bounced" in n for n in report.notices)


def test_soft_bounces_are_counted_and_three_stop_it(world: World) -> None:
    original = world.follow_up_id("check_in", BOB, delivered=True)
    for i in range(2):
        world.feed(dsn(BOB, original, "4.2.2").replace(b"<dsn-", f"<dsn{i}-".encode()))
    with world.factory() as s:
        bob = s.scalars(select(m.Contact).where(m.Contact.email == BOB)).one()
        assert (bob.soft_bounces, bob.bounced_at) == (2, None)
    world.feed(dsn(BOB, original, "4.2.2").replace(b"<dsn-", b"<dsn9-"))
    with world.factory() as s:
        assert (
            s.scalars(select(m.Contact).where(m.Contact.email == BOB)).one().bounced_at is not None
        )


@pytest.mark.parametrize(
    "fixture,failed", [("o365_ndr.eml", "marcus.hale@contoso.com"), ("postfix_hard_dsn.eml", None)]
)
def test_real_world_bounce_shapes_stop_the_address(
    world: World, fixture: str, failed: str | None
) -> None:
    """An Office 365 NDR and a Postfix DSN, as those servers write them, addressed to the owner
    about a follow-up of ours to Carol."""
    raw = (Path(__file__).parent / "fixtures" / "robots" / fixture).read_bytes()
    bounce_of = parse_bounce(raw)
    assert bounce_of is not None and bounce_of.failures
    address = failed or bounce_of.failures[0].address
    raw = re.sub(re.escape(address.encode()), CAROL.encode(), raw, flags=re.IGNORECASE)
    assert bounce_of.original_message_id is not None
    ours = world.follow_up_id("check_in", CAROL, delivered=True)
    raw = raw.replace(bounce_of.original_message_id.encode(), ours.encode())
    raw = f"Delivered-To: {REFMAIL}\r\n".encode() + raw
    before = world.state()
    report = world.feed(raw)
    diff = changed(before, world.state())
    assert set(diff) == {"contacts", "follow_ups", "messages"}  # Carol, her rows, the record
    assert {kind for _, kind in diff["messages"][1]} == {"automatic"}
    with world.factory() as s:
        carol = s.scalars(select(m.Contact).where(m.Contact.email == CAROL)).one()
        assert carol.bounced_at is not None
    assert any(CAROL in n and "bounced" in n for n in report.notices)


def test_a_reply_in_the_thread_to_the_owner_only_connects_and_says_why(world: World) -> None:
    report = world.feed(
        reply(
            CAROL,
            OWNER,
            "",
            "Re: Introduction: Olivia, meet Carol",
            "<referral-c@partner.example>",
            "Lovely to meet you Olivia, shall we talk on Thursday?\n",
        )
    )
    with world.factory() as s:
        intro = s.scalars(select(m.Introduction).where(m.Introduction.shape != "owner_intro")).one()
        assert intro.status == "connected"
        rows = [f for f in s.scalars(select(m.FollowUp)) if f.introduction_id == intro.id]
        check_ins = [f for f in rows if f.kind == "check_in"]
        assert check_ins and all(f.state == "skipped" for f in check_ins)
        why = [e.reason for f in check_ins for e in f.events if e.state == "skipped"]
        assert all("replied in the introduction's thread" in w for w in why), why
        assert [f.state for f in rows if f.kind == "thank_you"] == ["planned"]  # not a courtesy
    assert any("connected" in n for n in report.notices)


@pytest.mark.parametrize(
    "words,status",
    [
        ("Thanks Olivia, we're working together now on the spring launch.", "converted"),
        ("Quick update: we signed the contract yesterday!", "converted"),
        ("We talked, but honestly it's not a fit for us right now.", "closed"),
        ("No thanks, we have this covered.", "closed"),
    ],
)
def test_an_outcome_said_in_a_reply_is_recorded(world: World, words: str, status: str) -> None:
    world.feed(
        reply(BOB, ALICE, OWNER, "Re: Intro: Alice <> Bob", "<intro-ab@example.com>", words + "\n")
    )
    with world.factory() as s:
        intro = s.scalars(select(m.Introduction).where(m.Introduction.shape == "owner_intro")).one()
        assert intro.status == status
        assert BOB in intro.outcome and intro.outcome.split(": ", 1)[1].strip("'\"") in words
        open_rows = [f for f in s.scalars(select(m.FollowUp)) if f.state in m.OPEN_STATES]
        assert all(f.introduction_id != intro.id for f in open_rows)


def test_a_pause_in_the_thread_is_not_a_connection(world: World) -> None:
    world.feed(
        reply(
            ALICE,
            OWNER,
            "",
            "Re: Intro: Alice <> Bob",
            "<intro-ab@example.com>",
            "Not right now, we're swamped. Maybe in March?\n",
        )
    )
    assert ("<intro-ab@example.com>", "open") in world.state()["intros"]  # type: ignore[operator]


def test_a_stop_in_the_same_batch_as_its_introduction_is_honoured(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    deliver(root, intro_mail(), "1790000001.M1.test")
    stop = reply(
        BOB,
        OWNER,
        "",
        "Re: Intro: Alice <> Bob",
        "<intro-ab@example.com>",
        "Please stop emailing me.\n",
    )
    deliver(root, stop, "1790000002.M2.test")
    report = sync_account(
        factory, account(root), MaildirSource(root), ("INBOX",), FollowUps(), FixedClock(NOW)
    )
    assert report.introductions == 1
    with factory() as s:
        bob = s.scalars(select(m.Contact).where(m.Contact.email == BOB)).one()
        assert bob.level == "none"
        rows = s.scalars(select(m.FollowUp).where(m.FollowUp.contact_id == bob.id)).all()
        assert rows and all(f.state == "skipped" for f in rows)
        kinds_ = dict(s.execute(select(m.MessageRecord.message_id, m.MessageRecord.kind)).all())
    assert kinds_["<intro-ab@example.com>"] == "introduction"
    assert "reply" in kinds_.values()
