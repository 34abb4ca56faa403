"""A local Maildir account for the tests that need no server: numbered introductions by the
owner, a Maildir filled with raw messages, the account settings that read it (and a config
file naming such an account), and the fixed clock those tests run at."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from refmail.clock import FixedClock
from refmail.config import Account, MaildirSettings
from refmail.maildir import deliver
from tests.support.mailbox import OWNER, REFMAIL

CLOCK = FixedClock(datetime(2026, 11, 20, 12, tzinfo=UTC))


def intro(n: int) -> bytes:
    """Introduction number n: the owner introduces A{n} (To) to B{n} (Cc) and BCCs refmail."""
    return (
        f"Delivered-To: {REFMAIL}\r\nFrom: Olivia <{OWNER}>\r\n"
        f"To: Party A{n} <a{n}@example.org>\r\nCc: Party B{n} <b{n}@example.net>\r\n"
        f"Subject: Intro: A{n} <> B{n}\r\nDate: Thu, 19 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <intro-{n}@example.com>\r\n\r\n"
        f"Hi A{n},\r\n\r\nI'd like to introduce you to B{n}, who builds boats.\r\n"
        "You two should talk.\r\n"
    ).encode()


def account(root: Path, batch_size: int = 3) -> Account:
    """An account named "t" that reads the Maildir at `root`, `batch_size` messages at a time."""
    return Account(
        name="t",
        address=REFMAIL,
        owners=(OWNER,),
        maildir=MaildirSettings(path=str(root), batch_size=batch_size),
        require_authentication=False,  # these messages carry no Authentication-Results
    )


def fill(root: Path, messages: Sequence[bytes]) -> None:
    """Deliver `messages` into the Maildir at `root`, in order (unique, ordered file names)."""
    for i, raw in enumerate(messages):
        deliver(root, raw, f"{1700000000 + i}.M{i}.test")


def demo_config(tmp_path: Path, db_url: str) -> Path:
    """tmp_path/refmail.toml: the account "t" reading the empty Maildir tmp_path/md, drafts to
    files, on the database at `db_url`."""
    path = tmp_path / "refmail.toml"
    path.write_text(f"""
database = "{db_url}"
[[accounts]]
name = "t"
address = "olivia+refmail@example.com"
owners = ["{OWNER}"]
delivery = "file"
require_authentication = false
[accounts.maildir]
path = "md"
""")
    (tmp_path / "md" / "new").mkdir(parents=True)
    return path
