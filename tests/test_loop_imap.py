"""Closing the referral loop end to end against a real Dovecot, through the `refmail` CLI, on
SQLite and PostgreSQL.

- A referral, then the owner's invoice to the referred person: a suggestion shows in `refmail
  report` and in the digest draft, and nothing goes to anyone. The owner then replies to the
  thread at refmail+won@: the introduction is converted, and the conversion thank-you to the
  referrer is drafted within the caps, naming the referred person and carrying the reward line.
- An opt-in ask (the owner BCCs refmail+ask@ on a note to Dana): Dana's "yes, happy to" drafts
  the double-sided introduction to both; in another mailbox, "no thanks" drafts nothing to
  anyone but a note to the owner.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.dovecot import Dovecot, drafts
from tests.support.mailbox import OWNER, account_toml
from tests.support.messages import partner_referral, rfc_date
from tests.support.outbox import outbox

pytestmark = pytest.mark.integration

WON = "olivia+refmail+won@example.com"
ASK = "olivia+refmail+ask@example.com"
REFERRAL_ID = "<20261117.pat-referral-1@partnerlaw.example>"
REWARD = "a bottle of champagne is on its way"
NOW = datetime.now(UTC).replace(microsecond=0)


def write_config(tmp_path: Path, server: Dovecot, user: str, db_url: str) -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n'
        + account_toml(server.host, server.port, user, folders='"INBOX", "Sent"')
        + "\n[caps]\ndrafts_in_window = false\n"
        + f'\n[rewards]\ntext = "{REWARD}"\n'
    )
    return path


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def invoice_to_carol() -> bytes:
    """The owner's mail to the referred client, with an invoice attached (in Sent)."""
    return crlf(f"""\
From: Olivia Owner <{OWNER}>
To: Carol Chen <carol@chenconsulting.example>
Subject: Welcome, and your first invoice
Date: {rfc_date(NOW - timedelta(minutes=30))}
Message-ID: <owner-invoice-1@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hi Carol,

Great to get started. Attached is the invoice for the first month.

Olivia
--b1
Content-Type: application/pdf
Content-Disposition: attachment; filename="Invoice-2026-031.pdf"

JVBERi0xLjQK
--b1--
""")


def won_reply() -> bytes:
    """The owner replies to the referral thread, to refmail's +won address only."""
    return crlf(f"""\
Delivered-To: {WON}
From: Olivia Owner <{OWNER}>
To: {WON}
Subject: Re: Introduction: Olivia, meet Carol Chen
Date: {rfc_date(NOW - timedelta(minutes=10))}
Message-ID: <owner-won-1@mail.example.com>
In-Reply-To: {REFERRAL_ID}
References: <earlier-thread-1@partnerlaw.example> {REFERRAL_ID}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Carol signed. Worth about 4,800 a year.
""")


def test_invoice_is_suggested_then_plus_won_converts_and_drafts_the_thanks_with_reward(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", partner_referral(NOW - timedelta(hours=2)))
    config = write_config(tmp_path, dovecot, imap_user, db_url)
    run(config, "sync", "--once")
    run(config, "dispatch", "--once")
    assert [d["To"].addresses[0].addr_spec for d, _ in drafts(dovecot, imap_user)] == [
        "pat@partnerlaw.example"  # the thank-you for the referral
    ]
    intro_id = json.loads(run(config, "intros", "list", "--json").output.splitlines()[0])["id"]

    # The owner invoices Carol: a suggestion, in the report and the digest; nothing is sent.
    dovecot.append(imap_user, "Sent", invoice_to_carol())
    synced = run(config, "sync", "--once").output
    assert "Carol Chen may have become a client: invoice" in synced
    before = outbox(db_url)
    run(config, "dispatch", "--once")
    assert outbox(db_url) == before and len(drafts(dovecot, imap_user)) == 1
    shown = run(config, "report").output
    expected = "Carol Chen may have become a client: invoice (attachment Invoice-2026-031.pdf) sent"
    assert expected in shown and f"`refmail intros outcome {intro_id} converted`" in shown
    report = json.loads(run(config, "report", "--json").output)
    assert report["totals"]["converted"] == 0 and report["totals"]["suggestions"] == 1
    assert "digest with 1 suggestions" in run(config, "digest").output
    digest, _ = drafts(dovecot, imap_user)[-1]
    assert digest["To"].addresses[0].addr_spec == OWNER
    assert expected in digest.get_content()
    assert "no digest due" in run(config, "digest").output  # weekly, not on every run
    assert outbox(db_url) == before

    # The owner replies to the thread at refmail+won@: converted, thanks and reward planned.
    dovecot.append(imap_user, "INBOX", won_reply())
    synced = run(config, "sync", "--once").output
    assert "open → converted" in synced
    report = json.loads(run(config, "report", "--json").output)
    assert report["totals"]["converted"] == 1 and report["totals"]["suggestions"] == 0
    assert sum(month["converted"] for month in report["months"]) == 1
    # Within the caps: Pat had a thank-you today, so the conversion thanks waits its turn.
    run(config, "dispatch", "--once")
    waiting = {k: s for k, who, s in outbox(db_url) if who == "pat@partnerlaw.example"}
    assert waiting["conversion_thanks"] == "deferred"
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=3)).isoformat())
    by_kind = {
        d["Subject"]: d
        for d, _ in drafts(dovecot, imap_user)
        if d["To"].addresses[0].addr_spec == "pat@partnerlaw.example"
    }
    thanks = by_kind["Good news from your introduction"]
    text = thanks.get_body(("plain",)).get_content()
    assert "Carol Chen" in text and REWARD in text
    assert thanks["In-Reply-To"] == REFERRAL_ID
    # The owner's to-do to send the reward is about Pat, so Pat's caps pace it too.
    run(config, "dispatch", "--once", "--now", (NOW + timedelta(days=8)).isoformat())
    todo = [d for d, _ in drafts(dovecot, imap_user) if d["Subject"].startswith("Send Pat Partner")]
    assert len(todo) == 1 and REWARD in todo[0].get_content()
    assert todo[0]["To"].addresses[0].addr_spec == OWNER
    partners = json.loads(run(config, "partners", "list", "--json").output.splitlines()[0])
    assert (partners["referrals"], partners["converted"], partners["rewards_owed"]) == (1, 1, 1)
    run(config, "partners", "reward-sent", "pat@partnerlaw.example")
    partners = json.loads(run(config, "partners", "list", "--json").output.splitlines()[0])
    assert partners["rewards_owed"] == 0 and partners["last_rewarded"]


def ask_dana(at_minutes: int) -> bytes:
    return crlf(f"""\
Delivered-To: {ASK}
From: Olivia Owner <{OWNER}>
To: Dana Diaz <dana@diaz.example>
Subject: Would you like an introduction to Leo?
Date: {rfc_date(NOW - timedelta(minutes=at_minutes))}
Message-ID: <owner-ask-dana@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi Dana,

Would you like an introduction to Leo Lane (leo@lane.example)? Leo runs payroll for
small agencies and is looking for a designer for his new site.

Olivia
""")


def dana_says(text: str) -> bytes:
    return crlf(f"""\
From: Dana Diaz <dana@diaz.example>
To: Olivia Owner <{OWNER}>
Subject: Re: Would you like an introduction to Leo?
Date: {rfc_date(NOW - timedelta(minutes=5))}
Message-ID: <dana-answer-{abs(hash(text))}@diaz.example>
In-Reply-To: <owner-ask-dana@mail.example.com>
References: <owner-ask-dana@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{text}

Dana
""")


def test_opt_in_yes_drafts_the_double_intro_to_both_and_no_only_tells_the_owner(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", ask_dana(60))
    config = write_config(tmp_path, dovecot, imap_user, db_url)
    assert "pending" in run(config, "sync", "--once").output
    run(config, "dispatch", "--once")
    assert drafts(dovecot, imap_user) == [] and outbox(db_url) == []

    dovecot.append(imap_user, "INBOX", dana_says("Yes, happy to! Thanks for thinking of me."))
    run(config, "sync", "--once")
    run(config, "dispatch", "--once")
    doubles = {
        d["To"].addresses[0].addr_spec: d.get_body(("plain",)).get_content()
        for d, _ in drafts(dovecot, imap_user)
    }
    assert set(doubles) == {"dana@diaz.example", "leo@lane.example"}
    assert "Leo" in doubles["dana@diaz.example"] and "Dana" in doubles["leo@lane.example"]
    # Each is told about the other: Dana hears what the owner wrote of Leo; Leo is never told
    # about himself.
    assert "payroll" in doubles["dana@diaz.example"]
    assert "payroll" not in doubles["leo@lane.example"]


def test_opt_in_no_thanks_drafts_nothing_but_a_note_to_the_owner(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", ask_dana(60))
    dovecot.append(imap_user, "INBOX", dana_says("No thanks, we already have someone."))
    config = write_config(tmp_path, dovecot, imap_user, db_url)
    assert "said no" in run(config, "sync", "--once").output
    run(config, "dispatch", "--once")
    assert drafts(dovecot, imap_user) == [] and outbox(db_url) == []
    assert "digest with 0 suggestions and 1 notes" in run(config, "digest").output
    (note, _), *rest = drafts(dovecot, imap_user)
    assert rest == [] and note["To"].addresses[0].addr_spec == OWNER
    assert "Dana Diaz said no" in note.get_content()
