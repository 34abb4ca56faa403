"""Looking ahead: what dispatch would do with the due follow-ups at a given time, changing nothing.

The decisions are dispatch's own (`dispatch.decide_due`: refmail.batch over what refmail.queue
reads), taken in one read-only session that is rolled back: no claim, no why-log entry, no
draft. Within one preview a follow-up that would go counts towards the caps of the next ones to
the same person, and follow-ups of a merging kind to the same person fold into the first, as
dispatch does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from refmail import models as m
from refmail.config import Account
from refmail.db import SessionFactory
from refmail.dispatch import Routes, Rules, decide_due
from refmail.policy import contact_zone, next_window_open

ACTIONS = {"send": "deliver", "defer": "defer", "skip": "skip", "call": "call instead"}


@dataclass(frozen=True)
class Outlook:
    """What would become of one follow-up, and when it would appear."""

    id: int
    kind: str
    recipient: str
    due: datetime
    action: str  # deliver · defer · skip · call instead · merge
    rule: str
    reason: str
    channel: str
    appears: datetime | None  # when the draft (or the sent mail) would appear; None: never


def preview(
    factory: SessionFactory,
    account: Account,
    routes: Routes,
    rules: Rules,
    at: datetime,
    limit: int | None = None,
) -> list[Outlook]:
    """Dispatch's decisions for `account` at time `at`, without writing anything."""
    with factory() as session:
        account_id = session.scalar(select(m.Account.id).where(m.Account.name == account.name))
        if account_id is None:
            return []  # never synced: nothing planned
        rows, outcomes = decide_due(session, account_id, account, rules, routes, at, limit=limit)
        by_id = {r.id: r for r in rows}
        outlooks = []
        for outcome in outcomes:
            row, decision = by_id[outcome.row.id], outcome.decision
            channel = routes(row.kind).name
            if decision is None:
                why = f"merged into #{outcome.merged_into}"
                outlooks.append(_outlook(row, "merge", "merged", why, channel, None))
                continue
            appears = at if decision.action == "send" else decision.until
            action = ACTIONS[decision.action]
            outlooks.append(_outlook(row, action, decision.rule, decision.reason, channel, appears))
        session.rollback()  # nothing was written; say so to the database too
    return outlooks


def _outlook(
    row: m.FollowUp, action: str, rule: str, reason: str, channel: str, appears: datetime | None
) -> Outlook:
    return Outlook(
        row.id, row.kind, row.contact.email, row.due_at, action, rule, reason, channel, appears
    )


def expected_at(
    row: m.FollowUp, account: Account, rules: Rules, sends: bool, now: datetime
) -> datetime | None:
    """When an open follow-up would appear at the earliest: its due time (or now, if that has
    passed), moved into the recipient's send window when it waits for it (always for mail
    refmail sends, for drafts when caps.drafts_in_window). Caps and pauses may move it later;
    `preview` says exactly."""
    if row.state not in m.OPEN_STATES:
        return None
    earliest = max(row.due_at, now)
    caps = rules.caps.for_contact(row.contact.email)
    if not (sends or caps.drafts_in_window):
        return earliest
    zone = contact_zone(row.contact.timezone, row.contact.offsets(), rules.owner_zone)
    return next_window_open(earliest, zone, caps)
