"""Only the owner's authenticated mail makes refmail act: a real Dovecot, `refmail sync` and SMTP
dispatch to a real SMTP sink (aiosmtpd), on SQLite and PostgreSQL.

Every message arrives as the owner's provider delivers it, with that provider's
Authentication-Results header on top. Genuine owner mail and a partner's referral work as
before; forged owner mail (DMARC fail, no results, a "pass" the sender added lower down) and a
stranger writing only to refmail's address send nothing to anyone and are shown to the owner;
six forged effects change nothing, and their genuine versions still do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.db import make_engine, session_factory
from tests.support.cli import dispatch, run
from tests.support.dovecot import Dovecot
from tests.support.mailbox import ALL_DAY, OWNER, REFMAIL, account_toml
from tests.support.messages import owner_intro, partner_referral, rfc_date
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

PROVIDER = "mx.owner-provider.example"
NOW = datetime.now(UTC).replace(microsecond=0)
OWNER_DOMAIN = OWNER.rpartition("@")[2]
ALICE, BOB = "alice@archer-design.example", "bob@bakervideo.example"
PAT, CAROL = "pat@partnerlaw.example", "carol@chenconsulting.example"
MAL = "mal@attacker.example"


def results(domain: str, outcome: str = "pass", authserv: str = PROVIDER) -> str:
    return (
        f"{authserv}; dkim={outcome} header.d={domain} header.s=s1 header.b=abc; "
        f"spf={outcome} smtp.mailfrom=bounce@{domain}; dmarc={outcome} header.from={domain}"
    )


def delivered(raw: bytes, *values: str) -> bytes:
    """As the provider files it: its results header on top of the message (and any the sender
    wrote, which are further down)."""
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


def forward(n: int, victim: str, sender: str = OWNER, to: str = "") -> bytes:
    """The owner forwards `victim`'s note to an expert: the victim is owed a double-sided
    introduction at once (the mail a forger wants sent in the owner's name)."""
    recipient = to or f"Expert {n} <expert{n}@firm{n}.example>"
    return f"""\
Delivered-To: {REFMAIL}
From: Olivia Owner <{sender}>
To: {recipient}
Subject: Fwd: Help with our warehouse software ({n})
Date: {rfc_date(NOW - timedelta(hours=1))}
Message-ID: <fwd-{n}@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi Expert {n},

Forwarding the note below. I think you would be a great fit and wanted to introduce
you two.

Olivia

---------- Forwarded message ---------
From: Victim {n} <{victim}>
Date: {rfc_date(NOW - timedelta(days=1))}
Subject: Help with our warehouse software
To: Olivia Owner <{OWNER}>

Hi Olivia, do you know anyone who could help us replace our warehouse software?
""".replace("\n", "\r\n").encode()


def config(tmp_path: Path, server: Dovecot, user: str, db_url: str, sink: SmtpSink) -> Path:
    path = tmp_path / "refmail.toml"
    auth = f'require_authentication = true\ntrusted_authserv_ids = ["{PROVIDER}"]'
    path.write_text(
        f'database = "{db_url}"\n'
        + account_toml(server.host, server.port, user, delivery="smtp", auth=auth)
        + f"""
[accounts.smtp]
host = "{sink.host}"
port = {sink.port}
tls = "none"
sent_copy = "none"
"""
        + ALL_DAY
    )
    return path


def recipients(sink: SmtpSink) -> list[str]:
    return sorted(r for item in sink.received for r in item.rcpt_tos)


# --- introductions ---------------------------------------------------------------------------

FORGERIES = {
    "dmarc fail": lambda raw: delivered(raw, results(OWNER_DOMAIN, "fail")),
    "no results": lambda raw: delivered(raw),
    "pass added lower by the sender": lambda raw: delivered(
        raw, results(OWNER_DOMAIN, "fail"), results(OWNER_DOMAIN)
    ),
    "untrusted authserv-id": lambda raw: delivered(
        raw, results(OWNER_DOMAIN, authserv="mx.attacker.example")
    ),
}


def test_forged_and_stranger_introductions_send_nothing_and_genuine_ones_work(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    victims = {name: f"victim{i}@target{i}.example" for i, name in enumerate(FORGERIES)}
    for i, (name, forge) in enumerate(FORGERIES.items()):
        dovecot.append(imap_user, "INBOX", forge(forward(10 + i, victims[name])))
    # A stranger writes only to refmail's address; their own domain authenticates.
    stranger = forward(20, "victim-s@target-s.example", sender=MAL, to=REFMAIL)
    dovecot.append(imap_user, "INBOX", delivered(stranger, results("attacker.example")))
    # The genuine ones: the owner's own forward, and a partner's referral to the owner.
    dovecot.append(
        imap_user, "INBOX", delivered(forward(1, "alice@real.example"), results(OWNER_DOMAIN))
    )
    dovecot.append(
        imap_user,
        "INBOX",
        delivered(partner_referral(NOW - timedelta(hours=1)), results("partnerlaw.example")),
    )
    path = config(tmp_path, dovecot, imap_user, db_url, smtp_sink)

    synced = run(path, "sync", "--once").output
    # The owner is told about every unverified one, and how to release it. The stranger's
    # forward to refmail is either taken for an (unverified) introduction or for none at all.
    stranger_intro = _is_introduction(db_url, "<fwd-20@mail.example.com>")
    unverified = len(FORGERIES) + stranger_intro
    assert synced.count("is unverified") == unverified, synced
    listing = run(path, "intros", "list").output
    assert listing.count("UNVERIFIED") == unverified, listing
    assert "refmail intros confirm ID" in listing

    for at in (NOW, NOW + timedelta(days=8), NOW + timedelta(days=31)):
        dispatch(path, at)
    sent = set(recipients(smtp_sink))
    # Zero mail to third parties from the forged and stranger messages...
    experts = {f"expert{10 + i}@firm{10 + i}.example" for i in range(len(FORGERIES))}
    assert not sent & {*victims.values(), *experts, "victim-s@target-s.example", MAL}
    # ...and the genuine ones are unaffected.
    assert {"alice@real.example", "expert1@firm1.example", PAT, CAROL} <= sent

    # The owner vouches for one: its follow-ups are planned, and go.
    intro_id = _intro_id(db_url, "<fwd-10@mail.example.com>")
    confirmed = run(path, "intros", "confirm", str(intro_id)).output
    assert "confirmed" in confirmed and "double_intro" in confirmed
    dispatch(path, NOW + timedelta(days=31, hours=1))
    assert victims["dmarc fail"] in recipients(smtp_sink)


def _is_introduction(db_url: str, message_id: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            kind = session.scalar(
                select(m.MessageRecord.kind).where(m.MessageRecord.message_id == message_id)
            )
            return int(kind == "introduction")
    finally:
        engine.dispose()


def _intro_id(db_url: str, message_id: str) -> int:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return session.scalars(
                select(m.Introduction.id)
                .join(m.MessageRecord, m.MessageRecord.id == m.Introduction.message_pk)
                .where(m.MessageRecord.message_id == message_id)
            ).one()
    finally:
        engine.dispose()


# --- effects ---------------------------------------------------------------------------------


def reply(
    sender: str, to: str, cc: str, subject: str, in_reply_to: str, body: str, n: str
) -> bytes:
    return f"""\
From: {sender}
To: {to}
Cc: {cc}
Subject: {subject}
Date: {rfc_date(NOW)}
Message-ID: <effect-{n}@{sender.rpartition("@")[2]}>
In-Reply-To: {in_reply_to}
References: {in_reply_to}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
""".replace("\n", "\r\n").encode()


def dsn(recipient: str, original_id: str, n: str) -> bytes:
    return f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.partnerlaw.example>
To: {OWNER}
Subject: Undelivered Mail Returned to Sender
Date: {rfc_date(NOW)}
Message-ID: <dsn-{n}@mx.partnerlaw.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.partnerlaw.example. I'm sorry to have to inform you that
your message could not be delivered to one or more recipients.

<{recipient}>: host mx.partnerlaw.example said: 550 5.1.1 user unknown

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.partnerlaw.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B
Content-Type: text/rfc822-headers

From: {OWNER}
To: {recipient}
Message-ID: {original_id}
Subject: Thank you

--B--
""".replace("\n", "\r\n").encode()


def text_bounce(recipient: str, n: str) -> bytes:
    return f"""\
From: MAILER-DAEMON@mail.attacker.example
To: {OWNER}
Subject: failure notice
Date: {rfc_date(NOW)}
Message-ID: <textbounce-{n}@mail.attacker.example>
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied

This is the mail system at host mail.attacker.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: 550 5.1.1 mailbox does not exist
""".replace("\n", "\r\n").encode()


INTRO_ID = "<CAOwner-intro-1@mail.example.com>"
REFERRAL_ID = "<20261117.pat-referral-1@partnerlaw.example>"


def state(db_url: str) -> dict[str, object]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            return {
                "contacts": sorted(
                    (c.email, c.level, c.paused_until, c.bounced_at, c.soft_bounces, c.opted_out_at)
                    for c in s.scalars(select(m.Contact))
                ),
                "follow_ups": sorted(
                    (f.id, f.state, f.due_at) for f in s.scalars(select(m.FollowUp))
                ),
                "intros": sorted((i.id, i.status) for i in s.scalars(select(m.Introduction))),
            }
    finally:
        engine.dispose()


def test_six_forged_effects_change_nothing_and_the_genuine_ones_still_work(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    path = config(tmp_path, dovecot, imap_user, db_url, smtp_sink)
    dovecot.append(
        imap_user,
        "INBOX",
        delivered(owner_intro(NOW - timedelta(hours=2)), results(OWNER_DOMAIN)),
    )
    dovecot.append(
        imap_user,
        "INBOX",
        delivered(partner_referral(NOW - timedelta(hours=2)), results("partnerlaw.example")),
    )
    # The attacker starts a thread of their own (their own domain passes), copying Bob.
    attacker_thread = reply(
        MAL, OWNER, BOB, "Introduction: Olivia, meet Bob", "<none@x>",
        "Olivia, meet Bob. I wanted to connect you two.", "thread",
    )  # fmt: skip
    dovecot.append(imap_user, "INBOX", delivered(attacker_thread, results("attacker.example")))
    run(path, "sync", "--once")
    dispatch(path, NOW)
    (thanks,) = [r for r in smtp_sink.received if r.rcpt_tos == (PAT,)]

    forged = [
        reply(CAROL, OWNER, "", "Re: Introduction", REFERRAL_ID, "Please remove me.", "f1"),
        dsn(PAT, "<made-up@partnerlaw.example>", "f2"),
        text_bounce(ALICE, "f3"),
        reply(ALICE, BOB, OWNER, "Re: Intro", INTRO_ID, "Great to meet you Bob, Tuesday?", "f4"),
        reply(
            BOB, OWNER, "", "Re: Introduction", "<effect-thread@attacker.example>", "Stop.", "f5"
        ),
        reply(ALICE, OWNER, "", "Re: Intro", INTRO_ID, "Not now, maybe next year.", "f6"),
    ]
    before = state(db_url)
    for raw in forged:
        sender_domain = "attacker.example"
        dovecot.append(imap_user, "INBOX", delivered(raw, results(sender_domain, "fail")))
    out = run(path, "sync", "--once").output
    assert state(db_url) == before, out
    assert "nothing changed" in out  # the owner is told what was tried

    genuine = {
        "remove": reply(CAROL, OWNER, "", "Re: Introduction", REFERRAL_ID, "Remove me.", "g1"),
        "dsn": dsn(PAT, thanks.message_id, "g2"),
        "connected": reply(ALICE, BOB, OWNER, "Re: Intro", INTRO_ID, "Hi Bob, Tuesday?", "g4"),
        "not now": reply(BOB, OWNER, "", "Re: Intro", INTRO_ID, "Not now, maybe next year.", "g6"),
    }  # fmt: skip
    domains = {
        "remove": CAROL,
        "dsn": "x@mx.partnerlaw.example",
        "connected": ALICE,
        "not now": BOB,
    }
    for name, raw in genuine.items():
        dovecot.append(
            imap_user, "INBOX", delivered(raw, results(domains[name].rpartition("@")[2]))
        )
    run(path, "sync", "--once")
    after = {c[0]: c for c in state(db_url)["contacts"]}  # type: ignore[attr-defined]
    assert after[CAROL][1] == "none"  # asked to stop
    assert after[PAT][3] is not None  # bounced
    assert after[BOB][2] is not None  # paused
    assert "connected" in {s for _, s in state(db_url)["intros"]}  # type: ignore[attr-defined]
