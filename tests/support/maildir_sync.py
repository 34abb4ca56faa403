"""A first sync of a real Maildir with a fixed clock, as the batch tests drive it: the account,
mail delivered under predictable names, a source that remembers what it fetched whole, and
the rows each table holds afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Account, FollowUps, MaildirSettings
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource, deliver
from refmail.source import Key
from refmail.sync import SyncReport, sync_account
from tests.support.mailbox import OWNER, REFMAIL

CLOCK = FixedClock(datetime(2026, 11, 20, 12, tzinfo=UTC))
TABLES = (
    m.MessageRecord,
    m.Introduction,
    m.IntroductionParty,
    m.FollowUp,
    m.FollowUpEvent,
    m.Contact,
)


class CountingSource(MaildirSource):
    """A real Maildir that remembers which messages were fetched whole."""

    def __init__(self, root: Path, batch_size: int) -> None:
        super().__init__(root, batch_size)
        self.fetched: list[Key] = []

    def fetch(self, folder: str, keys: Sequence[Key]) -> dict[Key, bytes]:
        self.fetched.extend(keys)
        return super().fetch(folder, keys)


def account(root: Path, batch_size: int = 10) -> Account:
    return Account(
        name="t",
        address=REFMAIL,
        owners=(OWNER,),
        require_authentication=False,  # the test mail carries no Authentication-Results
        maildir=MaildirSettings(path=str(root), batch_size=batch_size),
    )


def fill(root: Path, messages: Sequence[bytes], first: int = 0) -> list[str]:
    return [
        deliver(root, raw, f"{1700000000 + i}.M{i}.batch").name
        for i, raw in enumerate(messages, start=first)
    ]


def run(factory: SessionFactory, root: Path, batch_size: int = 10) -> tuple[SyncReport, list[Key]]:
    source = CountingSource(root, batch_size)
    acc = account(root, batch_size)
    report = sync_account(factory, acc, source, ("INBOX",), FollowUps(), CLOCK)
    return report, source.fetched


def counts(factory: SessionFactory) -> dict[str, int]:
    """Rows per table (by model name) of what sync writes."""
    with factory() as session:
        return {
            t.__name__: session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES
        }
