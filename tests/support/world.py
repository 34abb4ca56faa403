"""A Maildir account with two introductions synced, on a fixed clock, and the mail that feeds
it more: the replies, bounces and robots whose effects the tests of incoming mail compare."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import FollowUps
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource, deliver
from refmail.sync import SyncReport, sync_account
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import account

NOW = datetime(2026, 11, 18, 15, tzinfo=UTC)
ALICE, BOB, CAROL, PAT = (
    "alice@archer.example",
    "bob@baker.example",
    "carol@chen.example",
    "pat@partner.example",
)


def message(headers: dict[str, str], body: str) -> bytes:
    """Raw CRLF mail: `headers` in order, then `body`."""
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def intro_mail() -> bytes:
    """The owner introduces Alice (To) to Bob (Cc), BCC to refmail, the day before NOW."""
    return message(
        {
            "Delivered-To": REFMAIL,
            "From": f"Olivia <{OWNER}>",
            "To": f"Alice Archer <{ALICE}>",
            "Cc": f"Bob Baker <{BOB}>",
            "Subject": "Intro: Alice <> Bob",
            "Date": email.utils.format_datetime(NOW - timedelta(days=1)),
            "Message-ID": "<intro-ab@example.com>",
        },
        "Hi Alice,\n\nI'd like to introduce you to Bob, who makes product videos.\n\nOlivia\n",
    )


def referral_mail() -> bytes:
    """Pat introduces Carol (Cc) to the owner, the day before NOW."""
    return message(
        {
            "From": f"Pat Partner <{PAT}>",
            "To": f"Olivia <{OWNER}>",
            "Cc": f"Carol Chen <{CAROL}>",
            "Subject": "Introduction: Olivia, meet Carol",
            "Date": email.utils.format_datetime(NOW - timedelta(days=1)),
            "Message-ID": "<referral-c@partner.example>",
        },
        "Olivia, meet Carol. I wanted to connect you two: Carol needs marketing help.\n\nPat\n",
    )


def reply(
    sender: str,
    to: str,
    cc: str,
    subject: str,
    in_reply_to: str,
    body: str,
    extra: dict[str, str] | None = None,
    msg_id: str = "",
) -> bytes:
    """A reply dated NOW in the thread of `in_reply_to`, with the `extra` headers too."""
    headers = {
        "From": sender,
        "To": to,
        "Cc": cc,
        "Subject": subject,
        "Date": email.utils.format_datetime(NOW),
        "Message-ID": msg_id or f"<r-{abs(hash((sender, body))) % 10**12}@example.org>",
        "In-Reply-To": in_reply_to,
        "References": in_reply_to,
    }
    return message({**headers, **(extra or {})}, body)


class World:
    """A mailbox with two introductions synced, and a way to feed it one more message."""

    def __init__(self, factory: SessionFactory, root: Path) -> None:
        self.factory, self.root, self.n = factory, root, 0
        self.feed(intro_mail())
        self.feed(referral_mail())

    def feed(self, raw: bytes) -> SyncReport:
        self.n += 1
        deliver(self.root, raw, f"{1790000000 + self.n}.M{self.n}.test")
        return sync_account(
            self.factory,
            account(self.root),
            MaildirSource(self.root),
            ("INBOX",),
            FollowUps(),
            FixedClock(NOW),
        )

    def state(self) -> dict[str, object]:
        with self.factory() as s:
            return {
                "intros": sorted(
                    (i.message.message_id, i.status) for i in s.scalars(select(m.Introduction))
                ),
                "contacts": sorted(
                    (c.email, c.level, c.paused_until, c.bounced_at, c.soft_bounces, c.opted_out_at)
                    for c in s.scalars(select(m.Contact))
                ),
                "follow_ups": sorted(
                    (f.id, f.kind, f.contact.email, f.step, f.state, f.due_at)
                    for f in s.scalars(select(m.FollowUp))
                ),
                "messages": sorted(
                    (r.message_id, r.kind) for r in s.scalars(select(m.MessageRecord))
                ),
            }

    def follow_up_id(self, kind: str, recipient: str, delivered: bool = False) -> str:
        """The Message-ID of a follow-up; `delivered` marks it so (a bounce needs it to be)."""
        with self.factory() as s, s.begin():
            row = next(
                f
                for f in s.scalars(select(m.FollowUp))
                if f.kind == kind and f.contact.email == recipient
            )
            if delivered:
                row.state, row.delivered_at = "delivered", NOW
            return row.message_id


def changed(before: dict[str, object], after: dict[str, object]) -> dict[str, tuple[set, set]]:
    """For each part of the state: (rows gone, rows new)."""
    out = {}
    for key in before:
        old, new = set(before[key]), set(after[key])  # type: ignore[call-overload]
        if old != new:
            out[key] = (old - new, new - old)
    return out


def dsn(recipient: str, original_id: str, status: str, action: str = "failed") -> bytes:
    """A delivery status notification to the owner: `original_id` to `recipient` failed with
    `status` (5.x.x hard, else soft)."""
    code = "550" if status.startswith("5") else "452"
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: {OWNER}
Subject: Undelivered Mail Returned to Sender
Date: {email.utils.format_datetime(NOW)}
Message-ID: <dsn-{abs(hash((recipient, status))) % 10**10}@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.com. I'm sorry to have to inform you that your
message could not be delivered to one or more recipients.

<{recipient}>: host mx.chen.example said: {code} {status} mailbox problem

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {code} {status} mailbox problem

--B
Content-Type: text/rfc822-headers

From: {OWNER}
To: {recipient}
Message-ID: {original_id}
Subject: Checking in

--B--
""".replace("\n", "\r\n").encode()
