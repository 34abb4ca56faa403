"""Standing, through sync on SQLite and PostgreSQL: only authenticated owner mail plans mail to
third parties; replies change a contact only when they authenticate as that contact; a bounce
counts only for a message refmail delivered; the sender's Date never sets due times."""

from __future__ import annotations

import dataclasses
import email.utils
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import record
from refmail.config import FollowUps
from refmail.db import SessionFactory, make_engine, session_factory, transaction
from tests.support.cli import cli_run
from tests.support.mailbox import OWNER
from tests.support.maildirs import account, demo_config
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
    referral_mail,
    reply,
)

PROVIDER = "mx.owner-provider.example"


def results(domain: str, outcome: str = "pass", authserv: str = PROVIDER) -> str:
    return (
        f"{authserv}; dkim={outcome} header.d={domain} header.s=s1 header.b=abc; "
        f"spf={outcome} smtp.mailfrom=bounce@{domain}; dmarc={outcome} header.from={domain}"
    )


def stamped(raw: bytes, *values: str) -> bytes:
    """The message as the provider delivers it: its results header on top (then any others)."""
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


class CheckedWorld(World):
    """The effects world, with the account requiring authentication from PROVIDER."""

    def feed(self, raw: bytes):  # type: ignore[no-untyped-def]
        from refmail.clock import FixedClock
        from refmail.maildir import MaildirSource, deliver
        from refmail.sync import sync_account

        self.n += 1
        deliver(self.root, raw, f"{1790000000 + self.n}.M{self.n}.test")
        checked = dataclasses.replace(
            account(self.root), require_authentication=True, trusted_authserv_ids=(PROVIDER,)
        )
        return sync_account(
            self.factory,
            checked,
            MaildirSource(self.root),
            ("INBOX",),
            FollowUps(),
            FixedClock(NOW),
        )


class GenuineWorld(CheckedWorld):
    """Both introductions arrive authenticated."""

    def __init__(self, factory: SessionFactory, root: Path) -> None:
        self.factory, self.root, self.n = factory, root, 0
        self.feed(stamped(intro_mail(), results(domain_of(OWNER))))
        self.feed(stamped(referral_mail(), results(domain_of(PAT))))


@pytest.fixture
def world(factory: SessionFactory, tmp_path: Path) -> GenuineWorld:
    return GenuineWorld(factory, tmp_path / "md")


def intros(factory: SessionFactory) -> dict[str, m.Introduction]:
    with factory() as s:
        return {i.message.message_id: i for i in s.scalars(select(m.Introduction))}


def follow_ups(factory: SessionFactory) -> list[tuple[str, str]]:
    with factory() as s:
        return sorted((f.kind, f.contact.email) for f in s.scalars(select(m.FollowUp)))


def test_genuine_introductions_plan_their_follow_ups(world: GenuineWorld) -> None:
    found = intros(world.factory)
    assert all(i.verified for i in found.values())
    assert ("thank_you", PAT) in follow_ups(world.factory)
    assert ("check_in", ALICE) in follow_ups(world.factory)


@pytest.mark.parametrize(
    "headers",
    [
        (results(domain_of(OWNER), "fail"),),  # the provider says it failed
        (),  # no results at all
        ("mx.attacker.example; dmarc=pass header.from=example.com",),  # untrusted id
        # the provider's "fail" on top, the sender's own "pass" lower down
        (results(domain_of(OWNER), "fail"), results(domain_of(OWNER))),
        # DKIM and SPF pass, but for the attacker's domain
        (results("attacker.example").replace("dmarc=pass", "dmarc=fail"),),
    ],
)
def test_forged_owner_introduction_is_unverified_and_plans_nothing(
    factory: SessionFactory, tmp_path: Path, headers: tuple[str, ...]
) -> None:
    world = CheckedWorld.__new__(CheckedWorld)
    world.factory, world.root, world.n = factory, tmp_path / "md", 0
    report = world.feed(stamped(intro_mail(), *headers))
    (intro,) = intros(factory).values()
    assert not intro.verified and intro.auth
    assert follow_ups(factory) == []
    assert any("unverified" in n and "intros confirm" in n for n in report.notices)


def test_a_stranger_writing_only_to_refmail_plans_nothing(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = CheckedWorld.__new__(CheckedWorld)
    world.factory, world.root, world.n = factory, tmp_path / "md", 0
    raw = intro_mail().replace(f"Olivia <{OWNER}>".encode(), b"Mal <mal@stranger.example>")
    world.feed(stamped(raw, results("stranger.example")))  # their own domain passes
    assert all(not i.verified for i in intros(factory).values())
    assert follow_ups(factory) == []


def test_confirm_plans_the_held_follow_ups(factory: SessionFactory, tmp_path: Path) -> None:
    world = CheckedWorld.__new__(CheckedWorld)
    world.factory, world.root, world.n = factory, tmp_path / "md", 0
    world.feed(intro_mail())  # no results header: unverified
    (intro,) = intros(factory).values()
    settings = dataclasses.replace(account(world.root), trusted_authserv_ids=(PROVIDER,))
    with transaction(factory) as s:
        row = s.get(m.Introduction, intro.id)
        assert row is not None
        planned = record.confirm_introduction(s, row, settings, FollowUps(), NOW)
        assert record.confirm_introduction(s, row, settings, FollowUps(), NOW) == []
    assert {(r.kind, r.state) for r in planned} == {("check_in", "planned")}
    assert ("check_in", BOB) in follow_ups(factory)
    assert intros(factory)["<intro-ab@example.com>"].verified


FORGED_EFFECTS = {
    "please remove me": lambda w: reply(
        CAROL, OWNER, "", "Re: Checking in", w.follow_up_id("check_in", CAROL),
        "Please remove me from these emails.\n",
    ),
    "not now": lambda w: reply(
        ALICE, OWNER, "", "Re: Intro", "<intro-ab@example.com>", "Not now, maybe next year.\n"
    ),
    "Dave writes to Erin": lambda w: reply(
        ALICE, BOB, OWNER, "Re: Intro: Alice <> Bob", "<intro-ab@example.com>",
        "Great to meet you Bob, let's talk Tuesday.\n",
    ),
    "stop in a thread the attacker started": lambda w: reply(
        BOB, OWNER, "", "Re: hello", "<attacker-thread@attacker.example>", "Stop emailing me.\n"
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FORGED_EFFECTS))
def test_forged_effects_change_nothing(world: GenuineWorld, name: str) -> None:
    raw = FORGED_EFFECTS[name](world)
    before = world.state()
    world.feed(stamped(raw, results("attacker.example", "fail")))
    diff = changed(before, world.state())
    assert set(diff) <= {"messages"}, diff  # at most the message is recorded


@pytest.mark.parametrize("name", ["please remove me", "not now", "Dave writes to Erin"])
def test_genuine_effects_still_work(world: GenuineWorld, name: str) -> None:
    raw = FORGED_EFFECTS[name](world)
    sender = email.utils.parseaddr(email.message_from_bytes(raw)["From"])[1]
    before = world.state()
    world.feed(stamped(raw, results(domain_of(sender))))
    diff = changed(before, world.state())
    assert {"contacts", "intros"} & set(diff), diff


def test_a_forged_reply_is_reported_to_the_owner(world: GenuineWorld) -> None:
    raw = FORGED_EFFECTS["please remove me"](world)
    report = world.feed(stamped(raw, results(domain_of(CAROL), "fail")))
    assert any(CAROL in n and "nothing changed" in n for n in report.notices)


def test_a_bounce_of_mail_refmail_never_delivered_changes_nothing(world: GenuineWorld) -> None:
    planned = world.follow_up_id("check_in", CAROL)  # planned, not delivered
    for original in (planned, "<made-up@attacker.example>"):
        before = world.state()
        report = world.feed(
            dsn(CAROL, original, "5.1.1").replace(b"<dsn-", b"<dsnx" + original[1:6].encode())
        )
        assert set(changed(before, world.state())) <= {"messages"}
        assert any("did not deliver" in n for n in report.notices)


def test_a_bounce_affects_only_the_recipient_of_the_returned_message(world: GenuineWorld) -> None:
    original = world.follow_up_id("check_in", CAROL, delivered=True)
    # The report names Alice as well: she is not who the returned message went to.
    raw = dsn(CAROL, original, "5.1.1").replace(
        b"Final-Recipient: rfc822; " + CAROL.encode(),
        b"Final-Recipient: rfc822; " + ALICE.encode(),
    )
    world.feed(raw)
    with world.factory() as s:
        bounced = {c.email for c in s.scalars(select(m.Contact)) if c.bounced_at is not None}
    assert bounced == {CAROL}


def test_a_future_date_does_not_push_due_times(factory: SessionFactory, tmp_path: Path) -> None:
    world = CheckedWorld.__new__(CheckedWorld)
    world.factory, world.root, world.n = factory, tmp_path / "md", 0
    future = email.utils.format_datetime(NOW + timedelta(days=400))
    raw = referral_mail().replace(
        email.utils.format_datetime(NOW - timedelta(days=1)).encode(), future.encode()
    )
    world.feed(stamped(raw, results(domain_of(PAT))))
    with factory() as s:
        thanks = s.scalars(select(m.FollowUp).where(m.FollowUp.kind == "thank_you")).one()
        assert thanks.due_at <= NOW


def test_a_bounce_is_matched_by_x_refmail_id_when_the_message_id_was_rewritten(
    world: GenuineWorld,
) -> None:
    original = world.follow_up_id("check_in", CAROL, delivered=True)
    raw = dsn(CAROL, "<rewritten-by-the-mta@mx.example.com>", "5.1.1").replace(
        b"Subject: Checking in", f"X-Refmail-ID: {original.strip('<>')}\r\nSubject: x".encode()
    )
    assert b"X-Refmail-ID" in raw
    world.feed(raw)
    with world.factory() as s:
        carol = s.scalars(select(m.Contact).where(m.Contact.email == CAROL)).one()
        assert carol.bounced_at is not None


def test_clear_bounce_lets_mail_go_to_the_address_again(tmp_path: Path, db_url: str) -> None:
    config = demo_config(tmp_path, db_url)
    cli_run(config, "contacts", "set", "dana@example.org")
    engine = make_engine(db_url)
    with session_factory(engine)() as s, s.begin():
        dana = s.scalars(select(m.Contact).where(m.Contact.email == "dana@example.org")).one()
        dana.bounced_at, dana.soft_bounces = NOW, 2
    out = cli_run(config, "contacts", "set", "dana@example.org", "--clear-bounce")
    assert "bounces cleared" in out
    with session_factory(engine)() as s:
        dana = s.scalars(select(m.Contact).where(m.Contact.email == "dana@example.org")).one()
        assert (dana.bounced_at, dana.soft_bounces) == (None, 0)
        changes = {(c.field, c.source) for c in dana_changes(s, dana.id)}
        assert {("bounced_at", "owner"), ("soft_bounces", "owner")} <= changes
    engine.dispose()
    assert "bounces cleared" not in cli_run(
        config, "contacts", "set", "dana@example.org", "--clear-bounce"
    )  # nothing to clear: nothing said


def dana_changes(s: object, contact_id: int) -> list[m.ContactChange]:
    return list(
        s.scalars(select(m.ContactChange).where(m.ContactChange.contact_id == contact_id))  # type: ignore[attr-defined]
    )
