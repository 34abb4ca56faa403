"""SMTP delivery end to end: a real Dovecot and a real SMTP server (aiosmtpd) on loopback.

Runs the `refmail` CLI (in process, through click) on SQLite and PostgreSQL. Follow-ups go out
once each, with Auto-Submitted, threaded to the introduction, with their copy in Sent; 4xx
refusals and dropped connections are retried (the retry looks in Sent first), 5xx refusals fail
with the server's words, and the account's send rate holds back what is over budget.
"""

from __future__ import annotations

import email
import email.message
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import imapclient
import pytest
from click.testing import CliRunner
from imapclient.imapclient import SENT
from sqlalchemy import select

from refmail import models as m
from refmail.cli import cli
from refmail.db import make_engine, session_factory
from tests.support.cli import ENV, dispatch, run
from tests.support.dovecot import Dovecot, drafts
from tests.support.mailbox import ALL_DAY, OWNER, account_toml
from tests.support.messages import numbered_referral, owner_intro, partner_referral
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
PAT = "pat@partnerlaw.example"
BASE_URL = "https://refmail.example"


def write_config(
    tmp_path: Path,
    server: Dovecot,
    user: str,
    db_url: str,
    sink: SmtpSink,
    *,
    delivery: str = "smtp",
    per_kind: str = "",
    sent_copy: str = "append",
    max_per_hour: int = 30,
    web: bool = False,
) -> Path:
    path = tmp_path / "refmail.toml"
    per_kind_table = f"\n[accounts.per_kind]\n{per_kind}\n" if per_kind else ""
    web_table = f'\n[web]\nbase_url = "{BASE_URL}"\n' if web else ""
    path.write_text(
        f'database = "{db_url}"\n'
        + account_toml(server.host, server.port, user, delivery=delivery)
        + per_kind_table
        + f"""
[accounts.smtp]
host = "{sink.host}"
port = {sink.port}
tls = "none"
sent_copy = "{sent_copy}"
max_per_hour = {max_per_hour}
"""
        + ALL_DAY
        + web_table
    )
    return path


def sent_folder(server: Dovecot, user: str) -> list[tuple[email.message.EmailMessage, tuple]]:
    """The messages in the Sent folder found by SPECIAL-USE, with their flags."""
    client = server.client(user)
    try:
        folder = client.find_special_folder(SENT)
        assert folder, "the server announces no \\Sent folder"
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return [
            (email.message_from_bytes(d[b"BODY[]"], policy=email.policy.default), d[b"FLAGS"])
            for _, d in sorted(data.items())
        ]
    finally:
        client.logout()


def sent_ids(server: Dovecot, user: str) -> list[str]:
    return sorted(str(msg["Message-ID"]) for msg, _ in sent_folder(server, user))


def rows(db_url: str) -> list[m.FollowUp]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            found = list(session.scalars(select(m.FollowUp).order_by(m.FollowUp.id)))
            for row in found:
                _ = row.contact.email, [e.rule for e in row.events]  # load before closing
            session.expunge_all()
            return found
    finally:
        engine.dispose()


def row_for(db_url: str, kind: str, recipient: str) -> m.FollowUp:
    (row,) = [r for r in rows(db_url) if r.kind == kind and r.contact.email == recipient]
    return row


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def setup_two_intros(server: Dovecot, user: str, config: Path) -> None:
    server.append(user, "INBOX", owner_intro(NOW - timedelta(hours=2)))
    server.append(user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    assert "2 introductions" in run(config, "sync", "--once").output


# --- the happy path ------------------------------------------------------------------------


def test_follow_ups_are_sent_once_threaded_and_filed_in_sent(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)

    output = dispatch(config, NOW)
    assert "1 delivered" in output and "sent <" in output, output
    (thanks,) = smtp_sink.received
    assert thanks.mail_from == OWNER
    assert thanks.rcpt_tos == (PAT,)
    msg = thanks.message
    assert msg["To"].addresses[0].addr_spec == PAT
    assert msg["From"].addresses[0].addr_spec == OWNER
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] == "<20261117.pat-referral-1@partnerlaw.example>"
    assert msg["References"].split() == [
        "<earlier-thread-1@partnerlaw.example>",
        "<20261117.pat-referral-1@partnerlaw.example>",
    ]
    assert msg["List-Unsubscribe"] is None  # no [web] base_url: no links to offer
    assert "Carol Chen" in msg.get_body(("plain",)).get_content()
    assert thanks.message_id == row_for(db_url, "thank_you", PAT).message_id

    # Its copy is in the Sent folder (found by SPECIAL-USE), read, with the same Message-ID.
    ((copy, flags),) = sent_folder(dovecot, imap_user)
    assert copy["Message-ID"] == thanks.message_id
    assert imapclient.SEEN in flags and imapclient.DRAFT not in flags
    assert drafts(dovecot, imap_user) == []

    # Again, at the same time and later the same day: nothing more goes out.
    dispatch(config, NOW)
    dispatch(config, NOW + timedelta(hours=3))
    assert len(smtp_sink.received) == 1
    assert len(sent_folder(dovecot, imap_user)) == 1

    # A week later the check-ins go, once each, threaded to their introduction.
    dispatch(config, NOW + timedelta(days=8))
    dispatch(config, NOW + timedelta(days=8, minutes=10))
    received = smtp_sink.received
    check_ins = sorted(r.rcpt_tos[0] for r in received[1:])
    assert check_ins == [
        "alice@archer-design.example",
        "bob@bakervideo.example",
        "carol@chenconsulting.example",
    ]
    for item in received[1:]:
        assert item.message["Auto-Submitted"] == "auto-generated"
        assert item.message["To"].addresses[0].addr_spec == item.rcpt_tos[0]
        assert item.message["In-Reply-To"] in (
            "<CAOwner-intro-1@mail.example.com>",
            "<20261117.pat-referral-1@partnerlaw.example>",
        )
    assert len(smtp_sink.by_message_id()) == 4  # four distinct Message-IDs, one message each
    assert sent_ids(dovecot, imap_user) == sorted(r.message_id for r in received)
    states = [(r.kind, r.state) for r in rows(db_url)]
    assert states.count(("thank_you", "delivered")) == 1
    assert states.count(("check_in", "delivered")) == 3
    assert states.count(("check_in", "planned")) == 3  # the 30-day ones are still ahead
    assert {r.channel for r in rows(db_url) if r.state == "delivered"} == {"smtp"}


def test_per_kind_thank_you_sent_check_ins_drafted(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(
        tmp_path, dovecot, imap_user, db_url, smtp_sink, delivery="drafts",
        per_kind='thank_you = "smtp"',
    )  # fmt: skip
    setup_two_intros(dovecot, imap_user, config)

    dispatch(config, NOW)
    (thanks,) = smtp_sink.received
    assert thanks.rcpt_tos == (PAT,)
    assert thanks.message["Auto-Submitted"] == "auto-generated"
    assert drafts(dovecot, imap_user) == []

    dispatch(config, NOW + timedelta(days=8))
    assert len(smtp_sink.received) == 1  # check-ins are not sent ...
    found = drafts(dovecot, imap_user)  # ... they wait in Drafts for the owner
    assert sorted(d["To"].addresses[0].addr_spec for d, _ in found) == [
        "alice@archer-design.example",
        "bob@bakervideo.example",
        "carol@chenconsulting.example",
    ]
    for draft, flags in found:
        assert draft["Auto-Submitted"] is None  # the owner sends drafts as themselves
        assert imapclient.DRAFT in flags
    assert sent_ids(dovecot, imap_user) == [thanks.message_id]


# --- what the server says ------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_4xx_is_retried_later_and_sent_once(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    stage: str,
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)
    smtp_sink.refuse(stage, "451 4.3.0 Mailbox busy, try again later", times=1)  # type: ignore[arg-type]

    output = dispatch(config, NOW)
    assert "1 to retry" in output, output
    assert smtp_sink.received == []
    assert smtp_sink.attempts(stage) == 1
    row = row_for(db_url, "thank_you", PAT)
    assert row.state == "planned"
    assert aware(row.due_at) > NOW
    why = run(config, "outbox", "why", str(row.id)).output
    assert "451" in why and "4.3.0 Mailbox busy, try again later" in why, why
    assert sent_folder(dovecot, imap_user) == []

    dispatch(config, NOW)  # not due yet: the server is not asked again
    assert smtp_sink.attempts(stage) == 1

    dispatch(config, aware(row.due_at))
    dispatch(config, aware(row.due_at) + timedelta(hours=1))
    (thanks,) = smtp_sink.received
    assert thanks.message_id == row.message_id
    assert sent_ids(dovecot, imap_user) == [row.message_id]
    assert row_for(db_url, "thank_you", PAT).state == "delivered"


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_5xx_fails_with_the_servers_reply_and_is_not_retried(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    tmp_path: Path,
    smtp_sink: SmtpSink,
    stage: str,
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)
    reply = "550 5.1.1 <pat@partnerlaw.example>: Recipient address rejected: User unknown"
    smtp_sink.refuse(stage, reply)  # type: ignore[arg-type]

    output = dispatch(config, NOW)
    assert "1 failed" in output, output
    row = row_for(db_url, "thank_you", PAT)
    assert row.state == "failed"
    assert "550" in row.reason and "Recipient address rejected: User unknown" in row.reason
    why = run(config, "outbox", "why", str(row.id)).output
    assert "Recipient address rejected: User unknown" in why

    for later in (timedelta(hours=1), timedelta(days=1), timedelta(days=3)):
        dispatch(config, NOW + later)
    assert smtp_sink.attempts(stage) == 1  # never retried
    assert smtp_sink.received == []
    assert sent_folder(dovecot, imap_user) == []
    assert row_for(db_url, "thank_you", PAT).state == "failed"


def test_connection_dropped_mid_data_is_retried_and_delivered_once(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)
    smtp_sink.drop("mid_data", times=1)

    assert "1 to retry" in dispatch(config, NOW)
    assert smtp_sink.drops == 1 and smtp_sink.received == []
    row = row_for(db_url, "thank_you", PAT)
    assert row.state == "planned" and aware(row.due_at) > NOW
    assert "SMTP session" in row.reason, row.reason

    dispatch(config, aware(row.due_at))
    dispatch(config, aware(row.due_at) + timedelta(hours=1))
    assert smtp_sink.by_message_id() == {row.message_id: 1}
    assert sent_ids(dovecot, imap_user) == [row.message_id]
    assert row_for(db_url, "thank_you", PAT).state == "delivered"


def test_reply_lost_after_acceptance_is_found_in_sent_not_resent(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """The server accepted (and filed) the message but the connection died before its 250:
    with sent_copy = "server" the retry finds it in Sent and does not send it again."""
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink, sent_copy="server")
    setup_two_intros(dovecot, imap_user, config)
    smtp_sink.file_into_sent(dovecot, imap_user)
    smtp_sink.drop("after_accept", times=1)

    assert "1 to retry" in dispatch(config, NOW)
    row = row_for(db_url, "thank_you", PAT)
    assert smtp_sink.by_message_id() == {row.message_id: 1}

    dispatch(config, aware(row.due_at))
    dispatch(config, aware(row.due_at) + timedelta(hours=1))
    assert smtp_sink.by_message_id() == {row.message_id: 1}
    assert smtp_sink.attempts("DATA") == 1
    assert sent_ids(dovecot, imap_user) == [row.message_id]
    assert row_for(db_url, "thank_you", PAT).state == "delivered"


def test_reply_lost_after_acceptance_with_append_resends_the_same_message(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    """With sent_copy = "append" nothing tells refmail that a message whose 250 was lost got
    through (the Sent copy is refmail's own, made only after a 250): the retry sends it once
    more. Nothing is lost, the resend repeats the Message-ID, and Sent holds one copy. This is
    SMTP's lost-reply limit (RFC 1047); sent_copy = "server" avoids it (test above)."""
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)
    smtp_sink.drop("after_accept", times=1)

    assert "1 to retry" in dispatch(config, NOW)
    row = row_for(db_url, "thank_you", PAT)
    assert sent_folder(dovecot, imap_user) == []

    dispatch(config, aware(row.due_at))
    dispatch(config, aware(row.due_at) + timedelta(hours=1))
    assert smtp_sink.by_message_id() == {row.message_id: 2}  # one resend, same Message-ID
    assert sent_ids(dovecot, imap_user) == [row.message_id]
    assert row_for(db_url, "thank_you", PAT).state == "delivered"


def test_refused_recipient_reason_is_the_servers_reply_verbatim(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    setup_two_intros(dovecot, imap_user, config)
    reply = "550 5.1.1 <pat@partnerlaw.example>: Recipient address rejected: User unknown"
    smtp_sink.refuse("RCPT", reply)

    dispatch(config, NOW)
    row = row_for(db_url, "thank_you", PAT)
    assert row.state == "failed"
    assert reply in row.reason, row.reason  # as at DATA: "… refused: 550 5.1.1 …"
    assert "b'" not in row.reason


# --- budget and Sent copies ----------------------------------------------------------------


def test_send_rate_defers_what_is_over_the_hourly_budget(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink, max_per_hour=2)
    for i in range(4):
        dovecot.append(imap_user, "INBOX", numbered_referral(i, NOW - timedelta(minutes=40 - i)))
    assert "4 introductions" in run(config, "sync", "--once").output

    output = dispatch(config, NOW)
    assert "2 delivered, 2 deferred" in output, output
    assert len(smtp_sink.received) == 2
    held = [r for r in rows(db_url) if r.kind == "thank_you" and r.state == "deferred"]
    assert len(held) == 2
    for row in held:
        assert aware(row.due_at) == NOW + timedelta(hours=1)
        assert [e.rule for e in row.events][-1] == "send_rate"
        why = run(config, "outbox", "why", str(row.id)).output
        assert "send_rate" in why and "2 sends per hour" in why, why

    dispatch(config, NOW + timedelta(minutes=30))
    assert len(smtp_sink.received) == 2
    dispatch(config, NOW + timedelta(hours=1))
    dispatch(config, NOW + timedelta(hours=2))
    counts = smtp_sink.by_message_id()
    assert len(counts) == 4 and set(counts.values()) == {1}
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == [
        f"pat{i}@partner{i}.example" for i in range(4)
    ]
    thank_yous = [r for r in rows(db_url) if r.kind == "thank_you"]
    assert {r.state for r in thank_yous} == {"delivered"}
    assert sent_ids(dovecot, imap_user) == sorted(counts)


def test_server_filed_sent_copy_is_not_appended_again(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(
        tmp_path, dovecot, imap_user, db_url, smtp_sink, sent_copy="server", web=True
    )
    setup_two_intros(dovecot, imap_user, config)
    smtp_sink.file_into_sent(dovecot, imap_user)

    dispatch(config, NOW)
    (thanks,) = smtp_sink.received
    msg = thanks.message
    assert msg["List-Unsubscribe"].startswith(f"<{BASE_URL}/")  # [web] is configured
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert sent_ids(dovecot, imap_user) == [thanks.message_id]  # the server's copy, only

    dispatch(config, NOW + timedelta(hours=1))
    dispatch(config, NOW + timedelta(days=8))
    assert len(smtp_sink.received) == 4
    assert set(smtp_sink.by_message_id().values()) == {1}
    assert sent_ids(dovecot, imap_user) == sorted(smtp_sink.by_message_id())


# --- the account's credentials refused ---------------------------------------------------


def test_a_refused_login_fails_nothing_and_everything_goes_once_the_password_works(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    config = write_config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    config.write_text(
        config.read_text().replace(
            "sent_copy = ", 'user = "olivia"\npassword_env = "TEST_SMTP_PW"\nsent_copy = '
        )
    )
    smtp_sink.require_login("olivia", "right-password")
    for i in range(3):  # three partners refer three clients: three thank-yous due now
        dovecot.append(imap_user, "INBOX", numbered_referral(i, NOW - timedelta(hours=1)))
    assert "3 introductions" in run(config, "sync", "--once").output
    due_before = [r.id for r in rows(db_url) if r.kind == "thank_you"]
    assert len(due_before) == 3

    wrong = CliRunner().invoke(
        cli,
        ["--config", str(config), "dispatch", "--once", "--now", NOW.isoformat()],
        env={**ENV, "TEST_SMTP_PW": "wrong-password"},
    )
    assert wrong.exit_code == 1
    (line,) = [s for s in wrong.output.splitlines() if "error" in s]  # one line, the account's
    assert "refused the login of olivia" in line and "535" in line, wrong.output
    thanks = [r for r in rows(db_url) if r.kind == "thank_you"]
    assert [r.state for r in thanks] == ["planned"] * 3  # nothing failed, nothing skipped
    assert all(r.attempts == 0 for r in thanks)
    assert smtp_sink.received == []
    assert any(e.rule == "credentials_refused" for r in thanks for e in r.events)

    fixed = CliRunner().invoke(
        cli,
        ["--config", str(config), "dispatch", "--once", "--now", NOW.isoformat()],
        env={**ENV, "TEST_SMTP_PW": "right-password"},
    )
    assert fixed.exit_code == 0, fixed.output
    sent = sorted(r.rcpt_tos[0] for r in smtp_sink.received)
    assert sent == [f"pat{i}@partner{i}.example" for i in range(3)]
    assert [r.state for r in rows(db_url) if r.kind == "thank_you"] == ["delivered"] * 3
