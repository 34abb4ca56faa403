"""The file channel's draft lifecycle, through the CLI on a Maildir account: an .eml draft the
owner removes is dismissed (there is no Sent folder to look in), a withdrawn one is deleted if
unchanged and kept (with a notice) if the owner edited it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from refmail import config, contacts, outbox, wiring
from refmail import models as m
from refmail.cli import cli
from refmail.clock import FixedClock
from refmail.db import make_engine, session_factory, transaction
from refmail.drafts import DraftsChannel
from refmail.filedrop import FileDrafts
from refmail.maildir import deliver
from refmail.smtp import SmtpChannel
from tests.support.messages import owner_intro, partner_referral

NOW = datetime.now(UTC).replace(microsecond=0)
PAT = "pat@partnerlaw.example"


def setup(tmp_path: Path) -> Path:
    deliver(tmp_path / "Maildir", partner_referral(NOW - timedelta(hours=1)), "1.M1.test")
    deliver(tmp_path / "Maildir", owner_intro(NOW - timedelta(hours=2)), "2.M2.test")
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "sqlite:///{tmp_path / "r.db"}"\n\n[followups]\ncheck_in_days = [0]\n'
        "[caps]\ndrafts_in_window = false\nmin_gap_hours = 0\ncooldown_days = 0\n\n[[accounts]]\n"
        'name = "files"\naddress = "olivia+refmail@example.com"\n'
        'owners = ["olivia@example.com"]\ndelivery = "file"\ndrafts_dir = "drafts"\n'
        "require_authentication = false\n\n"
        '[accounts.maildir]\npath = "Maildir"\n'
    )
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    return path


def run(path: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(path), *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def states(path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{path.parent / 'r.db'}")
    with session_factory(engine)() as session:
        found = {
            f"{f.kind} {f.contact.email}": f.state for f in session.scalars(select(m.FollowUp))
        }
    engine.dispose()
    return found


def file_to(drafts: Path, address: str) -> Path:
    to = re.compile(rb"(?m)^To:.*" + re.escape(address.encode()))
    [found] = [p for p in drafts.glob("*.eml") if to.search(p.read_bytes())]
    return found


def test_a_removed_file_is_dismissed_and_withdrawal_spares_an_edited_one(tmp_path: Path) -> None:
    path = setup(tmp_path)
    drafts = tmp_path / "drafts"
    assert len(list(drafts.glob("*.eml"))) == 4  # thanks to Pat; check-ins: Alice, Bob, Carol
    file_to(drafts, PAT).unlink()  # the owner threw it away
    bob = file_to(drafts, "bob@bakervideo.example")
    carol = file_to(drafts, "carol@chenconsulting.example")
    bob.write_bytes(bob.read_bytes().replace(b"\r\n\r\n", b"\r\n\r\nPS: call me!\r\n", 1))
    out = run(path, "sync", "--once").output
    assert "1 dismissed" in out
    assert states(path)[f"thank_you {PAT}"] == "dismissed"

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    factory = session_factory(engine)
    with transaction(factory) as session:
        for who in ("alice@archer-design.example", "bob@bakervideo.example"):
            person = contacts.find(session, who)
            assert person is not None
            contacts.opt_out(session, person, "recipient", NOW)
    settings = config.load(path)
    done = wiring.reconcile_drafts(
        settings, factory, settings.accounts[0], FixedClock(NOW + timedelta(minutes=1))
    )
    engine.dispose()
    assert (done.withdrawn, done.flagged) == (1, 1)
    left = sorted(p.name for p in drafts.glob("*.eml"))
    assert left == sorted([bob.name, carol.name])  # Alice's went, Bob's edit stays
    assert b"PS: call me!" in bob.read_bytes()
    assert any("bob@bakervideo.example is outdated" in n for n in done.notices)
    found = states(path)
    assert found["check_in alice@archer-design.example"] == "withdrawn"
    assert found["check_in bob@bakervideo.example"] == "delivered"  # left to the owner


def test_the_draft_channels_are_the_channels_that_do_not_send() -> None:
    waiting = {c.name for c in (DraftsChannel, FileDrafts, SmtpChannel) if not c.sends}
    assert set(wiring.DRAFT_CHANNELS) == set(outbox.DRAFT_CHANNELS) == waiting
    assert set(wiring.DRAFT_CHANNELS) < set(wiring.CHANNELS)


def test_forgetting_a_person_first_takes_their_drafts_out(tmp_path: Path) -> None:
    """`contacts forget` withdraws the drafts to the person and about them (the other party's
    check-in names them) before their rows go: afterwards nothing could find those files."""
    path = setup(tmp_path)
    drafts = tmp_path / "drafts"
    bob = "bob@bakervideo.example"
    about_bob = [p.name for p in drafts.glob("*.eml") if b"Bob" in p.read_bytes()]
    assert len(about_bob) >= 2  # his own check-in and the other party's
    out = run(path, "contacts", "forget", bob, "--yes").output
    assert f"{len(about_bob)} drafts withdrawn" in out
    assert f"{bob} forgotten" in out
    left = list(drafts.glob("*.eml"))
    assert left and all(
        b"Bob" not in p.read_bytes() and b"bakervideo" not in p.read_bytes() for p in left
    )
    file_to(drafts, PAT)  # the drafts that do not concern him stay
    assert run(path, "sync", "--once").exit_code == 0  # and nothing is left half-done
