"""A contact's whole outbox stopped at once (the one-click unsubscribe): the outbox's set-based
half (`refmail.outbox` is the rest, and the one writer of follow-up state with it). Every row
changed gets the same why-log entry and log line as `outbox.cancel_open` + `withdraw_drafts`
would write one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    case,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.types import Text

from refmail import models as m
from refmail import tables
from refmail.outbox import DRAFT_CHANNELS, log_line

log = logging.getLogger("refmail.outbox")

_FOLLOW_UP = tables.follow_up
_EVENT = tables.follow_up_event
_NOW = bindparam("p_now", type_=tables.UTCDateTime())
_RETURNED = (
    _FOLLOW_UP.c.id,
    _FOLLOW_UP.c.kind,
    _FOLLOW_UP.c.state,
    _FOLLOW_UP.c.due_at,
    _FOLLOW_UP.c.channel,
)
# Built once: the one-click path runs these and nothing else of the outbox.
_WITHDRAW_ALL = (
    update(_FOLLOW_UP)
    .where(
        _FOLLOW_UP.c.contact_id == bindparam("p_contact"),
        _FOLLOW_UP.c.state == "delivered",
        _FOLLOW_UP.c.channel.in_(DRAFT_CHANNELS),
        _FOLLOW_UP.c.withdraw_reason == "",
    )
    .values(withdraw_reason=bindparam("p_reason"), updated_at=_NOW)
    .returning(*_RETURNED)
)
_SKIP_ALL = (
    update(_FOLLOW_UP)
    .where(
        _FOLLOW_UP.c.contact_id == bindparam("p_contact"),
        _FOLLOW_UP.c.state.in_(m.OPEN_STATES),
    )
    .values(state="skipped", reason=bindparam("p_reason"), updated_at=_NOW)
    .returning(*_RETURNED)
)
_ADD_EVENTS = insert(_EVENT)


def stop_all_to(
    connection: Connection, contact_id: int, rule: str, reason: str, now: datetime, email: str = ""
) -> int:
    """Everything `contacts.cancel_open` does, set-based: the drafts to this contact waiting in
    Drafts are queued for withdrawal and every open follow-up to them is skipped, each with the
    same why-log entry as one by one (inserted in one statement). Three or four statements
    whatever the number of rows; returns how many open follow-ups were skipped. `email` only
    names the contact in the log lines."""
    values = {"p_contact": contact_id, "p_now": now}
    withdrawn = sorted(connection.execute(_WITHDRAW_ALL, {**values, "p_reason": reason}))
    skipped = sorted(connection.execute(_SKIP_ALL, {**values, "p_reason": reason}))
    events = [(row, f"draft to be withdrawn: {reason}") for row in withdrawn] + [
        (row, reason) for row in skipped
    ]
    if events:
        connection.execute(
            _ADD_EVENTS,
            [
                {"follow_up_id": row.id, "at": now, "state": row.state, "rule": rule, "reason": why}
                for row, why in events
            ],
        )
    for row, why in events:
        _announce_row(row, email, rule, why)
    return len(skipped)


def _announce_row(row: Row[Any], email: str, rule: str, reason: str) -> None:
    """`_announce` for a row changed by a set-based statement (no ORM object at hand)."""
    if not log.isEnabledFor(logging.INFO):
        return
    shown = f"delivered ({row.channel})" if row.state == "delivered" else row.state
    log_line(row, email, shown, rule, reason)


def stop_all_ctes(contact_id: ColumnElement[int]) -> tuple[CTE, CTE]:
    """`stop_all_to` as two data-modifying CTEs for one PostgreSQL statement (a round trip, not
    four): the follow-ups changed (id, kind, state, due_at, channel) and their why-log rows
    (withdrawals first, then skips, each in id order, as `stop_all_to` writes them). Bind
    parameters: p_rule, p_reason, p_now."""
    # IN lists of single values: an expanding parameter is re-rendered on every execution
    open_ = _FOLLOW_UP.c.state.in_([literal(s) for s in m.OPEN_STATES])
    reason = bindparam("p_reason", type_=Text())
    changed = (
        update(_FOLLOW_UP)
        .where(
            _FOLLOW_UP.c.contact_id == contact_id,
            or_(
                open_,
                and_(
                    _FOLLOW_UP.c.state == "delivered",
                    _FOLLOW_UP.c.channel.in_([literal(c) for c in DRAFT_CHANNELS]),
                    _FOLLOW_UP.c.withdraw_reason == "",
                ),
            ),
        )
        .values(
            state=case((open_, "skipped"), else_=_FOLLOW_UP.c.state),
            reason=case((open_, reason), else_=_FOLLOW_UP.c.reason),
            withdraw_reason=case((open_, _FOLLOW_UP.c.withdraw_reason), else_=reason),
            updated_at=_NOW,
        )
        .returning(*_RETURNED)
        .cte("stopped")
    )
    withdrawn = changed.c.state == "delivered"
    why = case((withdrawn, literal("draft to be withdrawn: ") + reason), else_=reason)
    events = (
        insert(_EVENT)
        .from_select(
            ["follow_up_id", "at", "state", "rule", "reason"],
            select(
                changed.c.id, _NOW, changed.c.state, bindparam("p_rule", type_=Text()), why
            ).order_by(withdrawn.desc(), changed.c.id),
        )
        .returning(_EVENT.c.id)
        .cte("stopped_events")
    )
    return changed, events


def announce_stopped(rows: Sequence[Row[Any]], email: str, rule: str, reason: str) -> int:
    """The log lines of the follow-ups `stop_all_ctes` changed; returns how many were skipped."""
    for row in rows:
        withdrawn = row.state == "delivered"
        _announce_row(row, email, rule, f"draft to be withdrawn: {reason}" if withdrawn else reason)
    return sum(1 for row in rows if row.state == "skipped")
