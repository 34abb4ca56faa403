"""Issue 10 done-when, against a real Dovecot: the owner forwards an introduction to refmail;
one sync later the introduction names both parties, the party who was not on the original mail
gets a double-sided introduction that tells them about the other; a reply in the thread ends
that pair's check-ins; `refmail intros show` prints the outcome and the quotes.
"""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.db import make_engine, session_factory
from tests.support.cli import run
from tests.support.dovecot import Dovecot, drafts
from tests.support.mailbox import OWNER, REFMAIL, account_toml

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
DANA, ERIN = "dana@crumbandco.example", "erin@shelfwise.example"
DANA_ABOUT = "Dana runs Crumb & Co, a bakery that has outgrown her stock spreadsheet."
ERIN_ABOUT = (
    "Erin builds inventory tools for small shops and has helped three bakeries move off "
    "spreadsheets."
)


def write_config(tmp_path: Path, server: Dovecot, user: str, db_url: str) -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n'
        + account_toml(server.host, server.port, user)
        + "\n[caps]\ndrafts_in_window = false  # drafts at once, whatever the hour\n"
    )
    return path


def mail(headers: dict[str, str], body: str) -> bytes:
    lines = [f"{k}: {v}" for k, v in headers.items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def gmail_forward(at: datetime) -> bytes:
    """What Gmail sends when the owner forwards a thread to refmail's address: Dana asked for
    help, the owner answered her with an introduction to Erin, who was not on the mail."""
    original, earlier = at - timedelta(hours=3), at - timedelta(days=1)
    return mail(
        {
            "From": f"Olivia Owner <{OWNER}>",
            "To": REFMAIL,
            "Subject": "Fwd: stock counts",
            "Date": email.utils.format_datetime(at),
            "Message-ID": "<CAFwd-dana-erin@mail.gmail.example>",
        },
        "For refmail.\n\n"
        "---------- Forwarded message ---------\n"
        f"From: Olivia Owner <{OWNER}>\n"
        f"Date: {original:%a, %b %d, %Y at %I:%M %p}\n"
        "Subject: Re: stock counts\n"
        f"To: Dana Reyes <{DANA}>\n\n\n"
        "Hi Dana,\n\n"
        f"I'd love for you to meet Erin Walsh. {ERIN_ABOUT} You can reach Erin at {ERIN}.\n\n"
        f"{DANA_ABOUT}\n\n"
        "I think you two should talk before the holiday rush. I'll let you take it from here.\n\n"
        "Olivia\n\n"
        f"On {earlier:%a, %b %d, %Y at %I:%M %p} Dana Reyes <{DANA}> wrote:\n"
        "> Olivia, do you know anyone who could help with our stock counts? Our\n"
        "> spreadsheet is falling apart now that we supply three cafes.\n>\n> Dana\n",
    )


def reply_in_thread(at: datetime, in_reply_to: str) -> bytes:
    return mail(
        {
            "From": f"Erin Walsh <{ERIN}>",
            "To": f"Olivia Owner <{OWNER}>",
            "Cc": f"Dana Reyes <{DANA}>",
            "Subject": "Re: Introduction: Erin <> Dana Reyes",
            "Date": email.utils.format_datetime(at),
            "Message-ID": "<erin-reply-1@shelfwise.example>",
            "In-Reply-To": in_reply_to,
            "References": in_reply_to,
        },
        "Thank you Olivia! Dana and I met on Tuesday and we signed the agreement this morning.\n\n"
        "Erin\n\n> Hi Erin,\n> I'd like to introduce you to Dana Reyes.\n",
    )


def check_ins(db_url: str) -> list[tuple[str, int, str, str]]:
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        rows = [
            (f.contact.email, f.step, f.state, f.events[-1].reason)
            for f in session.scalars(select(m.FollowUp).order_by(m.FollowUp.id))
            if f.kind == "check_in"
        ]
    engine.dispose()
    return rows


def test_forwarded_introduction_reaches_the_missing_party_and_a_reply_ends_it(
    dovecot: Dovecot, imap_user: str, db_url: str, tmp_path: Path
) -> None:
    dovecot.append(imap_user, "INBOX", gmail_forward(NOW - timedelta(hours=1)))
    config = write_config(tmp_path, dovecot, imap_user, db_url)
    assert "1 introductions" in run(config, "sync", "--once").output

    [intro] = [
        json.loads(line) for line in run(config, "intros", "list", "--json").output.splitlines()
    ]
    assert sorted(intro["parties"]) == sorted([DANA, ERIN])

    run(config, "dispatch", "--once")
    [(draft, _)] = drafts(dovecot, imap_user)
    assert draft["To"].addresses[0].addr_spec == ERIN  # the party not on the original mail
    text = draft.get_body(("plain",)).get_content()
    quoted = " ".join(line[2:] for line in text.splitlines() if line.startswith("> "))
    assert DANA_ABOUT in quoted  # about the other, as quoted text
    assert "Erin builds" not in text  # never about herself in the third person
    assert f"You can reach Dana at {DANA}." in text
    assert sorted((who, step, state) for who, step, state, _ in check_ins(db_url)) == [
        (DANA, 0, "planned"),
        (DANA, 1, "planned"),
        (ERIN, 0, "planned"),
        (ERIN, 1, "planned"),
    ]

    dovecot.append(imap_user, "INBOX", reply_in_thread(NOW, draft["Message-ID"]))
    output = run(config, "sync", "--once").output
    rows = check_ins(db_url)
    assert {(who, state) for who, _, state, _ in rows} == {(DANA, "skipped"), (ERIN, "skipped")}
    assert all(ERIN in why for _, _, _, why in rows), rows  # the why-log says who wrote

    shown = json.loads(run(config, "intros", "show", str(intro["id"]), "--json").output)
    assert shown["status"] == "converted"
    assert "signed the agreement" in shown["outcome"] and ERIN in shown["outcome"]
    about = {p["email"]: p["about"] for p in shown["parties"]}
    assert about == {DANA: DANA_ABOUT, ERIN: ERIN_ABOUT}
    assert {p["email"]: p["reached"] for p in shown["parties"]} == {DANA: True, ERIN: False}
    printed = run(config, "intros", "show", str(intro["id"])).output
    assert f'"{DANA_ABOUT}"' in printed and "Status: converted" in printed
    assert "introduction" in output
