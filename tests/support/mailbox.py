"""What the tests and benches that drive a private Dovecot share: the owner and refmail's
addresses, a fresh introduction to the owner, and the TOML of an IMAP account."""

from __future__ import annotations

import email.utils
import uuid
from datetime import UTC, datetime

OWNER = "olivia@example.com"
REFMAIL = "olivia+refmail@example.com"
PASSWORD_ENV = "REFMAIL_TEST_IMAP_PASSWORD"


def account_toml(
    host: str,
    port: int,
    user: str,
    *,
    name: str = "main",
    delivery: str = "drafts",
    password_env: str = PASSWORD_ENV,
    folders: str = '"INBOX"',
    imap_extra: str = "",
    auth: str = "require_authentication = false",
) -> str:
    """One [[accounts]] table with its plain-IMAP [accounts.imap] (`folders` is TOML).

    `auth` is TOML for the account's authentication keys: by default the check is off, as the
    test messages carry no Authentication-Results header (tests of the check pass their own)."""
    return f"""
[[accounts]]
name = "{name}"
address = "{REFMAIL}"
owners = ["{OWNER}"]
owner_name = "Olivia Owner"
delivery = "{delivery}"
{auth}

[accounts.imap]
host = "{host}"
port = {port}
tls = "none"
user = "{user}"
password_env = "{password_env}"
folders = [{folders}]
{imap_extra}"""


def referral(tag: str | None = None) -> tuple[str, bytes]:
    """(Message-ID, raw): a partner introduces a new client to the owner. Every tag has its own
    Message-ID, partner and client, so caps never hold one thank-you back for another."""
    tag = tag or uuid.uuid4().hex[:10]
    message_id = f"<referral-{tag}@partner-{tag}.example>"
    raw = f"""\
Delivered-To: {OWNER}
From: Pat Partner {tag} <pat.{tag}@partner-{tag}.example>
To: Olivia Owner <{OWNER}>
Cc: Carol Client {tag} <carol.{tag}@client-{tag}.example>
Subject: Introduction: Olivia, meet Carol ({tag})
Date: {email.utils.format_datetime(datetime.now(UTC))}
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Olivia, meet Carol.

Carol is expanding her consulting firm into Europe and needs someone to run her
marketing there. I told her you are the best I know, so I wanted to connect you two.

Best,
Pat
"""
    return message_id, raw.replace("\n", "\r\n").encode()


# SMTP sends always keep to the recipient's send window: open it all day, every day, so a
# suite that sends does not depend on the hour it runs.
ALL_DAY = """
[caps]
window_start = 00:00:00
window_end = 00:00:00
weekends = true
"""
