"""Contacts: preferences set by the owner, their change log, and what they do to the outbox.

Also the two things sync learns about people: when they were last in touch, and their zone.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from refmail import models as m
from refmail.cli import cli
from refmail.clock import FixedClock
from refmail.config import Caps, FollowUps
from refmail.db import SessionFactory, make_engine, session_factory
from refmail.dispatch import Rules, dispatch
from refmail.filedrop import FileDrafts
from refmail.maildir import MaildirSource, deliver
from refmail.render import Renderer
from refmail.sync import sync_account
from tests.support.cli import cli_run
from tests.support.mailbox import OWNER
from tests.support.maildirs import account, demo_config, fill, intro

ALWAYS_OPEN = Caps(window_start=Caps().window_start, window_end=Caps().window_start, weekends=True)


def test_set_creates_logs_and_shows(tmp_path: Path, db_url: str) -> None:
    config = demo_config(tmp_path, db_url)
    out = cli_run(
        config,
        "contacts",
        "set",
        "Dana@Example.org",
        "--level",
        "reduced",
        "--channel",
        "phone",
        "--phone",
        "+1 555 0100",
        "--timezone",
        "Europe/Berlin",
        "--pause-until",
        "2027-01-15",
    )
    assert "dana@example.org: level: normal → reduced" in out
    shown = json.loads(cli_run(config, "contacts", "show", "dana@example.org", "--json"))
    assert (shown["level"], shown["channel"], shown["phone"], shown["timezone"]) == (
        "reduced",
        "phone",
        "+1 555 0100",
        "Europe/Berlin",
    )
    assert shown["paused_until"].startswith("2027-01-15")
    fields = [(c["field"], c["old"], c["new"], c["source"]) for c in shown["changes"]]
    assert ("created", "", "dana@example.org", "owner") in fields
    assert ("level", "normal", "reduced", "owner") in fields
    assert ("channel", "email", "phone", "owner") in fields
    # Setting the same value again changes (and logs) nothing.
    assert cli_run(config, "contacts", "set", "dana@example.org", "--level", "reduced") == ""
    again = json.loads(cli_run(config, "contacts", "show", "dana@example.org", "--json"))
    assert len(again["changes"]) == len(shown["changes"])


def test_bad_values_are_refused(tmp_path: Path, db_url: str) -> None:
    config = demo_config(tmp_path, db_url)
    bad_zone = CliRunner().invoke(
        cli,
        ["--config", str(config), "contacts", "set", "x@example.org", "--timezone", "Mars/Olympus"],
    )
    assert bad_zone.exit_code == 1 and "unknown time zone" in bad_zone.output
    bad_level = CliRunner().invoke(
        cli, ["--config", str(config), "contacts", "set", "x@example.org", "--level", "loud"]
    )
    assert bad_level.exit_code == 2
    bad_address = CliRunner().invoke(
        cli, ["--config", str(config), "contacts", "show", "not-an-address"]
    )
    assert bad_address.exit_code == 1 and "not a valid address" in bad_address.output


def test_opt_out_cancels_everything_planned_at_once(tmp_path: Path, db_url: str) -> None:
    config = demo_config(tmp_path, db_url)
    fill(tmp_path / "md", [intro(1)])
    cli_run(config, "sync", "--once")
    out = cli_run(config, "contacts", "set", "a1@example.org", "--opt-out")
    assert "2 planned follow-ups cancelled" in out
    rows = [json.loads(line) for line in cli_run(config, "outbox", "list", "--json").splitlines()]
    mine = [r for r in rows if r["recipient"] == "a1@example.org"]
    assert mine and all(r["state"] == "skipped" and "opted out" in r["reason"] for r in mine)
    assert all(r["state"] == "planned" for r in rows if r["recipient"] != "a1@example.org")


def reply_from(sender: str, at: datetime) -> bytes:
    return (
        f"From: Someone <{sender}>\r\nTo: Olivia <{OWNER}>\r\nSubject: hello\r\n"
        f"Date: {email.utils.format_datetime(at)}\r\n"
        f"Message-ID: <hello-{at.timestamp()}@example.org>\r\n\r\nGood to hear from you.\r\n"
    ).encode()


def test_human_contact_pushes_check_ins_back_and_offsets_give_the_zone(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    t0 = datetime(2026, 11, 2, 15, tzinfo=UTC)  # a Monday
    fill(root, [intro(1).replace(b"19 Nov 2026", b"02 Nov 2026")])
    acc = account(root)
    cadence = FollowUps(check_in_days=(7,))
    clock = FixedClock(t0)
    sync_account(factory, acc, MaildirSource(root), ("INBOX",), cadence, clock)
    # On Tuesday 10 Nov, 20:00 at UTC-5, a1 writes to the owner (twice from UTC-5, once from
    # UTC+1 while travelling): check-ins to a1 now wait three days, and a1's zone is UTC-5.
    minus5, plus1 = timezone(timedelta(hours=-5)), timezone(timedelta(hours=1))
    seen = datetime(2026, 11, 10, 20, tzinfo=minus5)
    for i, at in enumerate([seen, seen.astimezone(plus1), seen]):
        deliver(root, reply_from("a1@example.org", at + timedelta(minutes=i)), f"180000000{i}.R.t")
    clock.at = seen.astimezone(UTC) + timedelta(hours=1)
    sync_account(factory, acc, MaildirSource(root), ("INBOX",), cadence, clock)
    with factory() as session:
        a1 = session.scalars(select(m.Contact).where(m.Contact.email == "a1@example.org")).one()
        assert a1.offsets() == [-300, 60, -300]
        assert a1.last_contact_at == (seen + timedelta(minutes=2)).astimezone(UTC)

    drafts = FileDrafts(tmp_path / "drafts")
    report = dispatch(factory, acc, lambda _kind: drafts, Renderer(), clock, rules=Rules(Caps()))
    assert report.deferred == 2
    with factory() as session:
        rows = {f.contact.email: f for f in session.scalars(select(m.FollowUp))}
        held = rows["a1@example.org"]
        assert held.state == "deferred" and held.events[-1].rule == "cooldown"
        # The cooldown ends Friday 20:02 at UTC-5, outside her window; the next window opens
        # Monday 09:00 UTC-5 (weekends are off), which is 14:00 UTC.
        assert held.due_at == datetime(2026, 11, 16, 14, tzinfo=UTC)
        assert rows["b1@example.net"].state == "deferred"  # b1: owner's zone (UTC), 02:00 there
        assert rows["b1@example.net"].events[-1].rule == "quiet_hours"


def test_outbox_why_explains_a_merge(tmp_path: Path, db_url: str) -> None:
    """Three referrals from one partner in a day: one thank-you naming all three."""
    config = demo_config(tmp_path, db_url)

    def referral(n: int) -> bytes:
        return (
            f"From: Pat <pat@partner.example>\r\nTo: Olivia <{OWNER}>\r\n"
            f"Cc: Client {n} <client{n}@example.org>\r\n"
            f"Subject: Introduction: Olivia, meet Client {n}\r\n"
            f"Date: {datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
            f"Message-ID: <ref-{n}@partner.example>\r\n\r\nOlivia, meet Client {n}. I wanted to "
            f"introduce you two: Client {n} needs help with marketing.\r\n"
        ).encode()

    fill(tmp_path / "md", [referral(n) for n in (1, 2, 3)])
    config.write_text(
        config.read_text().replace("[[accounts]]", "[caps]\ndrafts_in_window = false\n[[accounts]]")
    )
    cli_run(config, "sync", "--once")
    assert "1 delivered" in cli_run(config, "dispatch", "--once")
    rows = [json.loads(line) for line in cli_run(config, "outbox", "list", "--json").splitlines()]
    thanks = [r for r in rows if r["kind"] == "thank_you"]
    survivor = next(r for r in thanks if r["state"] == "delivered")
    merged = [r for r in thanks if r["state"] == "skipped"]
    assert len(merged) == 2 and all(r["reason"] == f"merged into #{survivor['id']}" for r in merged)
    assert "merged" in cli_run(config, "outbox", "why", str(merged[0]["id"]))
    draft = next((tmp_path / "refmail-demo").parent.glob("drafts/*.eml")).read_text()
    for n in (1, 2, 3):
        assert f"Client {n}" in draft
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        assert (
            session.scalar(select(m.FollowUp.origin_id).where(m.FollowUp.id == merged[0]["id"]))
            == survivor["id"]
        )
    engine.dispose()


def test_phone_preferring_contact_gets_a_call_reminder_not_an_email(
    tmp_path: Path, db_url: str
) -> None:
    config = demo_config(tmp_path, db_url)
    config.write_text(
        config.read_text().replace("[[accounts]]", "[caps]\ndrafts_in_window = false\n[[accounts]]")
    )
    fill(tmp_path / "md", [intro(1)])
    cli_run(config, "sync", "--once")
    cli_run(
        config,
        "contacts",
        "set",
        "a1@example.org",
        "--channel",
        "phone",
        "--phone",
        "+44 20 7946 0000",
    )
    week = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    out = cli_run(config, "dispatch", "--once", "--now", week)
    assert "call_task to olivia@example.com" in out and "check_in to b1@example.net" in out
    assert "check_in to a1@example.org" not in out
    rows = [json.loads(line) for line in cli_run(config, "outbox", "list", "--json").splitlines()]
    original = next(
        r
        for r in rows
        if r["kind"] == "check_in"
        and r["recipient"] == "a1@example.org"
        and r["state"] == "skipped"
    )
    assert "call reminder" in original["reason"]
    call = next(r for r in rows if r["kind"] == "call_task")
    assert call["state"] == "delivered" and call["recipient"] == "a1@example.org"
    reminder = next(p for p in (tmp_path / "drafts").glob("*.eml") if "Call" in p.read_text())
    text = reminder.read_text()
    assert "To: olivia@example.com" in text and "+44 20 7946 0000" in text
    assert "who builds boats" in text  # the context of the introduction
