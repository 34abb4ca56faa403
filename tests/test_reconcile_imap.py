"""Drafts that stay true, against a real Dovecot: what the owner does with refmail's drafts in
another mail client (send, delete, edit) is recorded, and drafts that became wrong are withdrawn.

The owner's mail client is played by a second IMAP connection doing what clients do: MOVE a
draft to Sent, or APPEND a sent copy and expunge the draft, or replace a draft by an edited one.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import config, contacts, sendlog, wiring
from refmail import models as m
from refmail.clock import FixedClock
from refmail.db import SessionFactory, make_engine, session_factory, transaction
from refmail.drafts import DraftsChannel
from refmail.reconcile import ReconcileReport
from tests.support.cli import run
from tests.support.dovecot import PASSWORD, Dovecot, drafts
from tests.support.mailbox import PASSWORD_ENV, account_toml, referral
from tests.support.messages import owner_intro, partner_referral

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
PAT = "pat@partnerlaw.example"


@pytest.fixture(autouse=True)
def imap_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def write_config(tmp_path: Path, server: Dovecot, user: str, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n\n[followups]\ncheck_in_days = [7, 8]\n{extra}\n'
        "[caps]\ndrafts_in_window = false\n" + account_toml(server.host, server.port, user)
    )
    return path


@pytest.fixture
def db(db_url: str) -> Iterator[SessionFactory]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def reconcile(path: Path, factory: SessionFactory, at: datetime) -> ReconcileReport:
    settings = config.load(path)
    return wiring.reconcile_drafts(settings, factory, settings.accounts[0], FixedClock(at))


def rows_to(factory: SessionFactory, address: str) -> list[m.FollowUp]:
    with factory() as session:
        return list(
            session.scalars(
                select(m.FollowUp)
                .join(m.Contact, m.FollowUp.contact_id == m.Contact.id)
                .where(m.Contact.email == address)
                .order_by(m.FollowUp.id)
            )
        )


def events(factory: SessionFactory, follow_up_id: int) -> list[tuple[str, str, str]]:
    with factory() as session:
        row = session.get(m.FollowUp, follow_up_id)
        assert row is not None
        return [(e.state, e.rule, e.reason) for e in row.events]


class Client:
    """The owner's mail client: a second IMAP connection."""

    def __init__(self, server: Dovecot, user: str) -> None:
        self.imap = server.client(user)

    def close(self) -> None:
        self.imap.logout()

    def draft_uid(self, to: str) -> int:
        self.imap.select_folder("Drafts")
        uids = self.imap.search(["HEADER", "To", to])
        assert len(uids) == 1, uids
        return int(uids[0])

    def raw(self, uid: int) -> bytes:
        return bytes(self.imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])

    def move_to_sent(self, to: str) -> None:
        self.imap.move([self.draft_uid(to)], "Sent")

    def expunge(self, uid: int) -> None:
        self.imap.delete_messages([uid])
        self.imap.uid_expunge([uid])

    def send_as_new_message(self, to: str, at: datetime) -> None:
        """Send it the way some clients do: a new Message-ID, refmail's header dropped, a Sent
        copy dated when it went, and the draft removed."""
        uid = self.draft_uid(to)
        msg = email.message_from_bytes(self.raw(uid), policy=email.policy.SMTP)
        del msg["X-Refmail-ID"], msg["Message-ID"], msg["Date"]
        msg["Message-ID"] = "<sent-by-client-1@mail.example.com>"
        msg["Date"] = email.utils.format_datetime(at)
        self.imap.append("Sent", msg.as_bytes(), flags=[b"\\Seen"], msg_time=at)
        self.imap.select_folder("Drafts")
        self.expunge(uid)

    def edit(self, to: str, new_text: str) -> None:
        """Edit and save: the client replaces the draft with a changed one, same Message-ID."""
        uid = self.draft_uid(to)
        msg = email.message_from_bytes(self.raw(uid), policy=email.policy.SMTP)
        plain = msg.get_body(("plain",))
        assert plain is not None
        plain.set_content(plain.get_content() + "\n" + new_text + "\n")
        self.imap.append("Drafts", msg.as_bytes(), flags=[b"\\Draft", b"\\Seen"])
        self.imap.select_folder("Drafts")
        self.expunge(uid)

    def flags(self, to: str) -> tuple[bytes, ...]:
        uid = self.draft_uid(to)
        return tuple(self.imap.get_flags([uid])[uid])


@pytest.fixture
def client(dovecot: Dovecot, imap_user: str) -> Iterator[Client]:
    c = Client(dovecot, imap_user)
    yield c
    c.close()


def to_addresses(server: Dovecot, user: str, folder: str = "Drafts") -> list[str]:
    return sorted(d["To"].addresses[0].addr_spec for d, _ in drafts(server, user, folder))


def test_a_draft_the_owner_sends_counts_from_when_it_was_sent(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    db: SessionFactory,
    client: Client,
    tmp_path: Path,
) -> None:
    dovecot.append(imap_user, "INBOX", owner_intro(NOW - timedelta(hours=2)))
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    week = NOW + timedelta(days=7)
    run(path, "dispatch", "--once", "--now", week.isoformat())
    assert to_addresses(dovecot, imap_user) == [
        "alice@archer-design.example",
        "bob@bakervideo.example",
    ]

    client.move_to_sent("alice@archer-design.example")  # as a client does when it sends
    bob_sent = week + timedelta(hours=20)
    client.send_as_new_message("bob@bakervideo.example", bob_sent)
    seen = week + timedelta(hours=23)
    report = reconcile(path, db, seen)
    assert report.sent == 2 and not report.dismissed
    assert to_addresses(dovecot, imap_user) == []
    alice, bob = rows_to(db, "alice@archer-design.example"), rows_to(db, "bob@bakervideo.example")
    assert (alice[0].state, alice[0].sent_at) == ("sent", seen)  # the copy kept the draft's times
    assert (bob[0].state, bob[0].sent_at) == ("sent", bob_sent)  # the copy's own Date
    assert "same recipient, subject and thread" in events(db, bob[0].id)[-1][2]
    assert "23 h after it was drafted" in events(db, alice[0].id)[-1][2]

    # The second check-ins come due a day later: the caps (1 in 2 days) count from the sends.
    run(path, "dispatch", "--once", "--now", (NOW + timedelta(days=8)).isoformat())
    alice, bob = rows_to(db, "alice@archer-design.example"), rows_to(db, "bob@bakervideo.example")
    assert (alice[1].state, alice[1].due_at) == ("deferred", seen + timedelta(days=2))
    assert (bob[1].state, bob[1].due_at) == ("deferred", bob[0].sent_at + timedelta(days=2))

    listing = run(path, "outbox", "list", "--json").output
    assert '"draft": "sent by you"' in listing and '"after": "23h"' in listing


def test_a_draft_the_owner_deletes_is_dismissed_after_the_grace_and_its_budget_returned(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    db: SessionFactory,
    client: Client,
    tmp_path: Path,
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    client.imap.select_folder("Drafts")
    client.expunge(client.draft_uid(PAT))

    assert reconcile(path, db, NOW + timedelta(hours=1)).dismissed == 0
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "delivered" and thanks.missing_since == NOW + timedelta(hours=1)
    assert reconcile(path, db, NOW + timedelta(days=2)).dismissed == 0
    assert reconcile(path, db, NOW + timedelta(days=2, hours=1)).dismissed == 1
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "dismissed"
    assert [e[1] for e in events(db, thanks.id)][-2:] == ["draft_missing", "dismissed"]
    with db() as session:
        assert sendlog.sent_to(session, thanks.contact_id, NOW - timedelta(days=30)) == ()
    assert reconcile(path, db, NOW + timedelta(days=5)).dismissed == 0  # recorded once


def test_an_unsubscribe_takes_the_persons_draft_out_of_drafts_and_says_why(
    dovecot: Dovecot, imap_user: str, db_url: str, db: SessionFactory, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    _, other = referral("keep")
    dovecot.append(imap_user, "INBOX", other)
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    assert PAT in to_addresses(dovecot, imap_user)
    with transaction(db) as session:
        pat = contacts.find(session, PAT)
        assert pat is not None
        contacts.opt_out(session, pat, "recipient", NOW)  # what the one-click endpoint does

    output = run(path, "sync", "--once").output  # `refmail sync` reconciles after reading mail
    assert f"withdrew the thank_you draft to {PAT}: opted out (recipient)" in output
    assert to_addresses(dovecot, imap_user) == ["pat.keep@partner-keep.example"]
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "withdrawn"
    assert events(db, thanks.id)[-2:] == [
        ("delivered", "contact_changed", "draft to be withdrawn: opted out (recipient)"),
        ("withdrawn", "withdrawn", "withdrawn from Drafts: opted out (recipient)"),
    ]
    assert '"draft": "withdrawn"' in run(path, "outbox", "list", "--json").output


def test_a_draft_the_owner_edited_is_flagged_not_deleted(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    db: SessionFactory,
    client: Client,
    tmp_path: Path,
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    client.edit(PAT, "PS: lunch next week?")
    with transaction(db) as session:
        pat = contacts.find(session, PAT)
        assert pat is not None
        contacts.opt_out(session, pat, "recipient", NOW)

    report = reconcile(path, db, NOW + timedelta(minutes=5))
    assert (report.withdrawn, report.flagged) == (0, 1)
    assert "flagged $RefmailOutdated, not deleted" in report.notices[0]
    [(draft, _)] = drafts(dovecot, imap_user)
    assert "lunch next week" in draft.get_body(("plain",)).get_content()
    assert b"$RefmailOutdated" in client.flags(PAT)
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "delivered" and thanks.flagged_at is not None
    assert events(db, thanks.id)[-1][1] == "outdated"
    again = reconcile(path, db, NOW + timedelta(minutes=10))
    assert (again.flagged, again.notices) == (0, [])  # flagged once, said once


class CommandLog:
    """Every IMAP command refmail's connections put on the wire (read off imaplib's socket
    writes: a tagged line is a command, whichever way imapclient builds it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[str] = []
        real = imaplib.IMAP4.send

        def logged(imap: imaplib.IMAP4, data: bytes) -> None:
            tag = getattr(imap, "tagpre", b"")
            match = re.match(rb"(\S+) (UID )?([A-Za-z]+)", data)
            if tag and match and match.group(1).startswith(tag):
                self.commands.append(((match.group(2) or b"") + match.group(3)).decode().upper())
            real(imap, data)

        monkeypatch.setattr(imaplib.IMAP4, "send", logged)

    def count(self, command: str) -> int:
        return self.commands.count(command)


def test_reconciling_costs_one_search_and_one_header_fetch_per_folder(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    db: SessionFactory,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tags = [f"n{i}" for i in range(12)]
    for tag in tags:
        dovecot.append(imap_user, "INBOX", referral(tag)[1])
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    assert len(to_addresses(dovecot, imap_user)) == 12
    for tag in tags[:5]:
        client.move_to_sent(f"pat.{tag}@partner-{tag}.example")
    client.imap.select_folder("Drafts")
    for tag in tags[5:8]:
        client.expunge(client.draft_uid(f"pat.{tag}@partner-{tag}.example"))

    log = CommandLog(monkeypatch)
    report = reconcile(path, db, NOW + timedelta(hours=1))
    assert report.sent == 5
    assert (log.count("UID SEARCH"), log.count("UID FETCH")) == (2, 2)  # Drafts, then Sent
    assert log.count("SELECT") + log.count("EXAMINE") == 2
    assert not {"UID STORE", "UID EXPUNGE"} & set(log.commands)  # nothing withdrawn: read only

    log.commands.clear()
    reconcile(path, db, NOW + timedelta(hours=2))  # the 3 missing ones: Sent is read again
    assert (log.count("UID SEARCH"), log.count("UID FETCH")) == (2, 2)
    log.commands.clear()
    reconcile(path, db, NOW + timedelta(days=3))  # now dismissed: nothing missing any more
    reconcile(path, db, NOW + timedelta(days=3, hours=1))
    assert (log.count("UID SEARCH"), log.count("UID FETCH")) == (3, 3)  # 2 + Drafts only


def test_a_crash_between_deleting_a_draft_and_recording_it_loses_nothing(
    dovecot: Dovecot,
    imap_user: str,
    db_url: str,
    db: SessionFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    path = write_config(tmp_path, dovecot, imap_user, db_url)
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    with transaction(db) as session:
        pat = contacts.find(session, PAT)
        assert pat is not None
        contacts.opt_out(session, pat, "recipient", NOW)

    real_remove = DraftsChannel.remove

    def remove_then_die(self: DraftsChannel, keys: list[str]) -> None:
        real_remove(self, keys)
        raise KeyboardInterrupt("killed right after the IMAP delete")

    monkeypatch.setattr(DraftsChannel, "remove", remove_then_die)
    with pytest.raises(KeyboardInterrupt):
        reconcile(path, db, NOW + timedelta(minutes=1))
    assert to_addresses(dovecot, imap_user) == []  # deleted from Drafts …
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "delivered" and thanks.withdraw_reason  # … but not recorded

    monkeypatch.setattr(DraftsChannel, "remove", real_remove)
    report = reconcile(path, db, NOW + timedelta(minutes=2))
    assert report.withdrawn == 1
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "withdrawn"
    assert [e[1] for e in events(db, thanks.id)].count("withdrawn") == 1
    assert reconcile(path, db, NOW + timedelta(minutes=3)).withdrawn == 0  # idempotent


def test_old_drafts_expire_when_configured(
    dovecot: Dovecot, imap_user: str, db_url: str, db: SessionFactory, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=1)))
    path = write_config(tmp_path, dovecot, imap_user, db_url, "drafts_expire_days = 3")
    run(path, "sync", "--once")
    run(path, "dispatch", "--once")
    [thanks] = rows_to(db, PAT)
    assert thanks.delivered_at is not None
    assert reconcile(path, db, thanks.delivered_at + timedelta(days=2)).withdrawn == 0
    report = reconcile(path, db, thanks.delivered_at + timedelta(days=3))
    assert report.withdrawn == 1
    assert to_addresses(dovecot, imap_user) == []
    [thanks] = rows_to(db, PAT)
    assert thanks.state == "withdrawn"
    assert "not sent after 3 days (drafts_expire_days)" in thanks.reason
