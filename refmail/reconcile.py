"""Reconciliation: follows what the owner does with refmail's drafts, and takes back the ones
that became wrong.

Per account and draft channel (IMAP Drafts, or the .eml directory), when the outbox has drafts
waiting: read the Drafts headers in one go and, for drafts gone from there, the Sent headers
since the oldest of them; refmail.lifecycle decides (sent by the owner and when, missing,
dismissed, expired); refmail.outbox records it. Withdrawals asked for in the database (an
opt-out, a bounce, a connected introduction, an expiry) are done here: refmail's own untouched
draft is deleted, an edited one flagged and left alone.

The folder is changed before the database records it: after a crash in between, the next run
finds the draft gone from Drafts while its withdrawal is still wanted, and records it then. So
a re-run is idempotent and loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from refmail import kinds, outbox, record
from refmail import models as m
from refmail.classes import dataclass
from refmail.clock import Clock
from refmail.config import Account, FollowUps
from refmail.db import SessionFactory, transaction

if TYPE_CHECKING:
    # What became of each draft is worked out (refmail.lifecycle) only when drafts are out:
    # a sync's reconciliation usually finds none (issue 15).
    from refmail import lifecycle
    from refmail.lifecycle import Entry, Tracked

log = logging.getLogger(__name__)


class DraftChannel(Protocol):
    """A channel whose follow-ups wait for the owner to send them (drafts, file), as seen here."""

    def draft_entries(self) -> list[Entry]: ...

    def sent_entries(self, since: datetime) -> list[Entry] | None:
        """What was sent since `since`; None where the channel cannot know (files)."""
        ...

    def bodies(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def remove(self, keys: Sequence[str]) -> None: ...

    def flag(self, keys: Sequence[str]) -> str:
        """Mark these drafts outdated; says how ("flagged $RefmailOutdated")."""
        ...


@dataclass
class ReconcileReport:
    """What one reconciliation of an account found and did."""

    account: str
    sent: int = 0
    dismissed: int = 0
    withdrawn: int = 0
    flagged: int = 0
    notices: list[str] = field(default_factory=list)  # for the owner


def reconcile_account(
    factory: SessionFactory,
    account: Account,
    channels: Mapping[str, Callable[[], DraftChannel]],
    followups: FollowUps,
    clock: Clock,
) -> ReconcileReport:
    """Reconcile each draft channel of the account that has drafts waiting (a channel with
    none is not even opened)."""
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, clock()).id
    report = ReconcileReport(account.name)
    for name, open_channel in sorted(channels.items()):
        rows = _tracked(factory, account, account_id, name)
        if rows:
            _reconcile(factory, open_channel(), rows, followups, clock, report)
    return report


def _tracked(
    factory: SessionFactory, account: Account, account_id: int, channel: str
) -> list[Tracked]:
    with factory() as session:
        drafts = outbox.drafts_of(session, account_id, channel)
        if not drafts:
            return []
        from refmail.lifecycle import Tracked

        return [
            Tracked(
                id=row.id,
                kind=row.kind,
                message_id=row.message_id,
                recipient=(
                    account.owner_address if kinds.get(row.kind).to_owner else row.contact.email
                ),
                subject=row.subject,
                thread=row.introduction.message.message_id,
                delivered_at=row.delivered_at or row.updated_at,
                digest=row.body_digest,
                missing_since=row.missing_since,
                withdraw_reason=row.withdraw_reason,
                flagged=row.flagged_at is not None,
            )
            for row in drafts
        ]


def _reconcile(
    factory: SessionFactory,
    channel: DraftChannel,
    rows: list[Tracked],
    followups: FollowUps,
    clock: Clock,
    report: ReconcileReport,
) -> None:
    from refmail import lifecycle

    now = clock()
    seen = lifecycle.survey(rows, channel.draft_entries(), now, followups.drafts_expire_days)
    since = seen.since()
    sent = channel.sent_entries(since) if since is not None else []
    grace = timedelta(days=followups.dismissed_after_days)
    done = lifecycle.resolve(seen.missing, sent, now, grace)
    expiry = f"not sent after {followups.drafts_expire_days:g} days (drafts_expire_days)"
    with transaction(factory) as session:
        _record(session, seen, done, expiry, followups, now, report)
    expired = {r.id for r in seen.expired}
    wanted = [
        replace(r, withdraw_reason=expiry) if r.id in expired else r
        for r in rows
        if r.id in seen.present and (r.withdraw_reason or r.id in expired) and not r.flagged
    ]
    if wanted:
        _withdraw(factory, channel, wanted, seen.present, clock, report)


def _record(
    session: Session,
    seen: lifecycle.Survey,
    done: lifecycle.Outcome,
    expiry: str,
    followups: FollowUps,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """What the folders said, in one transaction (rows another worker finished are left be)."""
    for _row, draft in _live(session, seen.back):
        outbox.draft_back(session, draft, now)
    for sent in done.sent:
        for _row, draft in _live(session, [sent.row]):
            outbox.owner_sent(session, draft, sent.at, sent.how, now)
            report.sent += 1
    grace = f"after {followups.dismissed_after_days:g} days (dismissed_after_days)"
    for _row, draft in _live(session, done.missing):
        outbox.draft_missing(session, draft, now, grace)
    for _row, draft in _live(session, done.dismissed):
        outbox.dismiss(session, draft, "deleted from Drafts without being sent", now)
        report.dismissed += 1
    for row, draft in _live(session, done.withdrawn):
        outbox.withdrawn(session, draft, f"no longer in Drafts: {row.withdraw_reason}", now)
        report.withdrawn += 1
        report.notices.append(_withdrew(row, row.withdraw_reason))
    for _row, draft in _live(session, seen.expired):
        outbox.want_withdrawal(session, draft, "expired", expiry, now)


def _withdraw(
    factory: SessionFactory,
    channel: DraftChannel,
    wanted: list[Tracked],
    present: dict[int, Entry],
    clock: Clock,
    report: ReconcileReport,
) -> None:
    """Delete refmail's untouched drafts, flag the edited ones; the folder first, then the
    record (a crash in between: the next run finds them gone and records them)."""
    from refmail import lifecycle

    checkable = [r for r in wanted if lifecycle.same_headers(r, present[r.id])]
    bodies = channel.bodies([present[r.id].key for r in checkable]) if checkable else {}
    delete = [
        r for r in checkable if lifecycle.untouched(r, present[r.id], bodies.get(present[r.id].key))
    ]
    flag = [r for r in wanted if r not in delete]
    if delete:
        channel.remove([present[r.id].key for r in delete])
        with transaction(factory) as session:
            for row, draft in _live(session, delete):
                outbox.withdrawn(
                    session, draft, f"withdrawn from Drafts: {row.withdraw_reason}", clock()
                )
                report.withdrawn += 1
                report.notices.append(_withdrew(row, row.withdraw_reason))
    if flag:
        how = channel.flag([present[r.id].key for r in flag])
        with transaction(factory) as session:
            for row, draft in _live(session, flag):
                why = f"{row.withdraw_reason}; you changed this draft, so it stays: {how}"
                outbox.flag_outdated(session, draft, why, clock())
                report.flagged += 1
                report.notices.append(
                    f"your edited {row.kind} draft to {row.recipient} is outdated "
                    f"({row.withdraw_reason}): {how}, not deleted"
                )


def _live(session: Session, rows: Sequence[Tracked]) -> list[tuple[Tracked, m.FollowUp]]:
    """The rows still waiting as drafts (another worker may have recorded them meanwhile)."""
    pairs = []
    for row in rows:
        draft = session.get(m.FollowUp, row.id, with_for_update=True)
        if draft is not None and draft.state == "delivered":
            pairs.append((row, draft))
    return pairs


def _withdrew(row: Tracked, reason: str) -> str:
    return f"withdrew the {row.kind} draft to {row.recipient}: {reason}"
