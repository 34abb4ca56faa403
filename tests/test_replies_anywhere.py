"""Replies wherever they land: with a server rule filing refmail's mail into "Refmail" and
`folders = ["Refmail"]`, a recipient's "please stop" answering refmail's draft lands in INBOX,
which refmail does not read. The header-only reply scan still finds it, and the contact stops.
Against a real Dovecot; the server rule is played by filing each message where it would put it.
"""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from refmail.detect import Identity
from refmail.sync import answers_refmail
from tests.support.dovecot import Dovecot
from tests.support.mailbox import ALL_DAY, OWNER, PASSWORD_ENV, REFMAIL, account_toml, referral


def refmail(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "refmail", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "REFMAIL_CONFIG": "", PASSWORD_ENV: "secret"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stop_reply(answering: str, sender: str) -> bytes:
    return f"""\
From: Pat <{sender}>
To: Olivia Owner <{OWNER}>
Subject: Re: Thank you
Date: {email.utils.format_datetime(datetime.now(UTC))}
Message-ID: <stop-{answering.strip("<>")}@partner.example>
In-Reply-To: {answering}
References: {answering}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Please stop sending me these automated check-ins.

Pat
""".replace("\n", "\r\n").encode()


def test_a_please_stop_in_inbox_stops_the_contact(
    tmp_path: Path, dovecot: Dovecot, imap_user: str
) -> None:
    client = dovecot.client(imap_user)
    client.create_folder("Refmail")
    client.logout()
    _, raw = referral("anywhere")
    dovecot.append(imap_user, "Refmail", raw)  # the rule: mail to +refmail goes to Refmail
    for i in range(3):  # ordinary mail in INBOX, which refmail never fetches whole
        dovecot.append(
            imap_user, "INBOX", f"From: a{i}@x.example\r\nSubject: {i}\r\n\r\nhi\r\n".encode()
        )
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "r.db"}"\n'
        + account_toml(dovecot.host, dovecot.port, imap_user, folders='"Refmail"')
        + ALL_DAY
    )
    # Refmail read whole, INBOX's three headers scanned: nothing there answers refmail yet.
    assert "scanned 4, 1 for refmail, 1 introductions" in refmail(config, "sync")
    refmail(config, "dispatch")
    thanks = next(
        r
        for r in map(json.loads, refmail(config, "outbox", "list", "--json").splitlines())
        if r["kind"] == "thank_you"
    )
    assert thanks["state"] == "delivered"
    pat = str(thanks["recipient"])
    dovecot.append(imap_user, "INBOX", stop_reply(str(thanks["message_id"]), pat))
    out = refmail(config, "sync")
    assert f"{pat} asked to stop" in out
    contact = json.loads(refmail(config, "contacts", "show", pat, "--json"))
    assert contact["level"] == "none"
    assert contact["changes"][-1]["source"] == "reply"
    assert "scanned 1, 1 for refmail" in out  # the reply, and only the new mail
    # And doctor says which folders refmail reads, and that INBOX is scanned for replies.
    doctor = refmail(config, "doctor")
    assert "reads 'Refmail'" in doctor and "INBOX" in doctor and "replies" in doctor


def test_the_scan_takes_only_answers_to_refmails_own_message_ids() -> None:
    me = Identity(frozenset({OWNER}), frozenset({REFMAIL}))
    own = "<refmail.0123abcd@example.com>"
    assert answers_refmail(stop_reply(own, "p@x.example").split(b"\r\n\r\n")[0], me)
    folded = f"References: <a@b>\r\n {own}\r\nSubject: x\r\n".encode()
    assert answers_refmail(folded, me)
    assert not answers_refmail(stop_reply("<other@example.com>", "p@x.example"), me)
    # Its own Message-ID, or the ID in a subject, is not an answer.
    assert not answers_refmail(f"Message-ID: {own}\r\nSubject: {own}\r\n".encode(), me)
