"""The referral loop through a real sync of a local Maildir: a partner's referral to the owner,
the outcome rules with a reward, and syncing more mail with them at the Maildir tests' clock."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from refmail import outcomes
from refmail.config import FollowUps, RewardOverride, Rewards
from refmail.db import SessionFactory
from refmail.maildir import MaildirSource, deliver
from refmail.sync import SyncReport, sync_account
from tests.support.mailbox import OWNER
from tests.support.maildirs import CLOCK, account

REWARDS = Rewards(
    text="a bottle of champagne is on its way",
    overrides=(RewardOverride(partners=("@stingy.example",), text=""),),
)
RULES = outcomes.OutcomeRules(frozenset({OWNER}), "example.com", FollowUps(), REWARDS)
REFERRAL_ID = "<referral-1@partnerlaw.example>"


def referral(partner: str = "pat@partnerlaw.example", n: int = 1) -> bytes:
    """Referral n: `partner` introduces Carl n (Cc) to the owner; REFERRAL_ID is number 1's."""
    return (
        f"Delivered-To: {OWNER}\r\nFrom: Pat Partner <{partner}>\r\nTo: Olivia <{OWNER}>\r\n"
        f"Cc: Carl Chen <carl{n}@chenconsulting.example>\r\n"
        f"Subject: Introduction: Olivia, meet Carl ({n})\r\n"
        "Date: Thu, 19 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <referral-{n}@partnerlaw.example>\r\n\r\n"
        "Olivia, meet Carl.\r\n\r\nCarl needs a bookkeeper for his consulting firm. "
        "I told him you are the best I know, so I wanted to connect you two.\r\n\r\nPat\r\n"
    ).encode()


def sync(factory: SessionFactory, root: Path, messages: Sequence[bytes]) -> SyncReport:
    """Deliver `messages` after what the Maildir at `root` holds, and sync it with RULES at
    CLOCK's time."""
    existing = len(list((root / "new").glob("*"))) + len(list((root / "cur").glob("*")))
    for i, raw in enumerate(messages, start=existing):
        deliver(root, raw, f"{1700000000 + i}.M{i}.loop")
    acc = account(root)
    source = MaildirSource(str(root), 50)
    return sync_account(factory, acc, source, ("INBOX",), FollowUps(), CLOCK, outcome_rules=RULES)
