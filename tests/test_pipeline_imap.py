"""End to end against a real Dovecot: introductions in, follow-up drafts out, exactly once.

Runs the `refmail` CLI (in process, through click) on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import imapclient
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from refmail import models as m
from refmail.cli import cli
from refmail.db import make_engine, session_factory
from tests.support.cli import run
from tests.support.dovecot import PASSWORD, Dovecot, drafts
from tests.support.mailbox import OWNER, account_toml
from tests.support.messages import owner_intro, partner_referral
from tests.support.outbox import outbox

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def write_config(
    tmp_path: Path, server: Dovecot, user: str, db_url: str, folders: str = '"INBOX"'
) -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n'
        + account_toml(server.host, server.port, user, folders=folders)
        + "\n[caps]\ndrafts_in_window = false  # drafts at once, whatever the hour the suite runs\n"
    )
    return path


def test_intro_in_drafts_out_exactly_once(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", owner_intro(NOW - timedelta(hours=2)))
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    config = write_config(tmp_path, dovecot, imap_user, db_url)

    assert "2 introductions" in run(config, "sync", "--once").output
    run(config, "dispatch", "--once")

    found = drafts(dovecot, imap_user)
    assert len(found) == 1, [d["Subject"] for d, _ in found]
    thanks, flags = found[0]
    assert thanks["To"].addresses[0].addr_spec == "pat@partnerlaw.example"
    assert thanks["From"].addresses[0].addr_spec == OWNER
    assert thanks["In-Reply-To"] == "<20261117.pat-referral-1@partnerlaw.example>"
    assert thanks["References"].split() == [
        "<earlier-thread-1@partnerlaw.example>",
        "<20261117.pat-referral-1@partnerlaw.example>",
    ]
    assert imapclient.DRAFT in flags
    assert "Carol Chen" in thanks.get_body(("plain",)).get_content()
    assert thanks.get_body(("html",)) is not None
    assert thanks["Auto-Submitted"] is None  # the owner sends drafts as themselves

    before = outbox(db_url)
    run(config, "sync", "--once")
    run(config, "dispatch", "--once")
    assert len(drafts(dovecot, imap_user)) == 1
    assert outbox(db_url) == before

    # Check-ins come due only once --now passes their due time (7 and 30 days by default).
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=6)).isoformat())
    assert len(drafts(dovecot, imap_user)) == 1
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=8)).isoformat())
    after_week = drafts(dovecot, imap_user)
    check_ins = sorted(d["To"].addresses[0].addr_spec for d, _ in after_week[1:])
    assert check_ins == [
        "alice@archer-design.example",
        "bob@bakervideo.example",
        "carol@chenconsulting.example",
    ]
    assert all(d["In-Reply-To"] for d, _ in after_week)
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=8)).isoformat())
    assert len(drafts(dovecot, imap_user)) == 4
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=31)).isoformat())
    assert len(drafts(dovecot, imap_user)) == 7
    assert {state for _, _, state in outbox(db_url)} == {"delivered"}

    # Nothing in the owner's inbox was marked read.
    client = dovecot.client(imap_user)
    client.select_folder("INBOX", readonly=True)
    assert all(imapclient.SEEN not in f for f in client.get_flags(client.search(["ALL"])).values())
    client.logout()


def test_same_message_in_two_folders_records_once(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    client = dovecot.client(imap_user)
    client.create_folder("Archive")
    client.logout()
    raw = partner_referral(NOW)
    dovecot.append(imap_user, "INBOX", raw)
    dovecot.append(imap_user, "Archive", raw)
    config = write_config(tmp_path, dovecot, imap_user, db_url, folders='"INBOX", "Archive"')
    assert "1 introductions" in run(config, "sync", "--once").output
    run(config, "dispatch", "--once")
    assert len(drafts(dovecot, imap_user)) == 1


def test_uidvalidity_change_rescans_without_duplicates(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    client = dovecot.client(imap_user)
    client.create_folder("Refmail")
    dovecot.append(imap_user, "Refmail", partner_referral(NOW))
    config = write_config(tmp_path, dovecot, imap_user, db_url, folders='"Refmail"')
    run(config, "sync", "--once")
    # Deleting and re-creating a folder gives it a new UIDVALIDITY: refmail must read it again.
    client.delete_folder("Refmail")
    client.create_folder("Refmail")
    client.logout()
    dovecot.append(imap_user, "Refmail", partner_referral(NOW))
    dovecot.append(imap_user, "Refmail", owner_intro(NOW))
    output = run(config, "sync", "--once").output
    assert "scanned 2" in output and "1 introductions" in output
    kinds = sorted(k for k, _, _ in outbox(db_url))
    assert kinds.count("thank_you") == 1 and kinds.count("check_in") == 6


def test_drafts_folder_created_when_server_has_none(imap_user: str, tmp_path: Path) -> None:
    with Dovecot(special_use=False) as server:
        server.append(imap_user, "INBOX", partner_referral(NOW))
        db_url = f"sqlite:///{tmp_path / 'r.db'}"
        config = write_config(tmp_path, server, imap_user, db_url)
        run(config, "sync", "--once")
        run(config, "dispatch", "--once")
        assert len(drafts(server, imap_user, "Drafts")) == 1


def test_crashed_delivery_is_confirmed_not_repeated(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    """A claim whose APPEND reached the server before the crash is confirmed, not re-sent."""
    dovecot.append(imap_user, "INBOX", partner_referral(NOW))
    config = write_config(tmp_path, dovecot, imap_user, db_url)
    run(config, "sync", "--once")
    run(config, "dispatch", "--once")
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with factory.begin() as session:  # pretend the process died after APPEND, before the commit
        row = session.scalars(select(m.FollowUp).where(m.FollowUp.kind == "thank_you")).one()
        row.state, row.claimed_at, row.delivered_at = "delivering", NOW - timedelta(hours=1), None
    run(config, "dispatch", "--once")
    with factory() as session:
        row = session.scalars(select(m.FollowUp).where(m.FollowUp.kind == "thank_you")).one()
        assert row.state == "delivered"
        assert [e.rule for e in row.events][-1] == "recovered"
    engine.dispose()
    assert len(drafts(dovecot, imap_user)) == 1


def test_unreachable_server_is_one_line_error(tmp_path: Path) -> None:
    server = Dovecot()  # never started: nothing listens on its port
    server.port = 1
    config = write_config(tmp_path, server, "nobody", f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "sync", "--once"],
        env={"REFMAIL_TEST_IMAP_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 1
    assert "cannot connect to IMAP server 127.0.0.1:1" in result.output


def test_wrong_password_is_one_line_error(dovecot: Dovecot, imap_user: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, dovecot, imap_user, f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "sync", "--once"],
        env={"REFMAIL_TEST_IMAP_PASSWORD": "wrong"},
    )
    assert result.exit_code == 1
    assert "IMAP login failed" in result.output
    assert "wrong" not in result.output  # the secret is never echoed
