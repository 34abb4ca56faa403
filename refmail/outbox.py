"""The outbox: the only code that writes a follow-up's state and its why-log, and the one place
that answers "what went to whom, when" (the send log the caps count).

States: planned → (deferred ⇄) → delivering → delivered, or skipped / failed. Every change goes
through one function here and leaves one why-log entry (`follow_up_event`) naming the rule and
the reason, so `refmail outbox why ID` tells the whole story. Callers own the transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from refmail import kinds
from refmail import models as m

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(hours=6)


def new_message_id(domain: str) -> str:
    """A Message-ID that is unguessable and says it is refmail's (for loop detection)."""
    return f"<refmail.{secrets.token_hex(12)}@{domain}>"


def _log(session: Session, row: m.FollowUp, now: datetime, rule: str, reason: str) -> None:
    session.add(
        m.FollowUpEvent(follow_up_id=row.id, at=now, state=row.state, rule=rule, reason=reason)
    )
    _announce(session, row, rule, reason)


def _announce(session: Session, row: m.FollowUp, rule: str, reason: str) -> None:
    """One log line per decision, from the one place that writes them (text or JSON logs; the
    JSON formatter adds the `refmail` fields)."""
    if not log.isEnabledFor(logging.INFO):
        return
    email = session.scalar(select(m.Contact.email).where(m.Contact.id == row.contact_id))
    state = row.state
    if state == "deferred":
        state = f"deferred until {row.due_at:%Y-%m-%d %H:%M} UTC"
    elif state == "delivered":
        state = f"delivered ({row.channel})"
    log.info(
        "follow-up #%s %s to %s: %s [%s] %s",
        row.id,
        row.kind,
        email,
        state,
        rule,
        reason,
        extra={
            "refmail": {
                "follow_up": row.id,
                "kind": row.kind,
                "to": email,
                "state": row.state,
                "rule": rule,
                "reason": reason,
                "due": row.due_at.isoformat() if row.due_at else None,
            }
        },
    )


def _set(
    session: Session, row: m.FollowUp, state: str, now: datetime, rule: str, reason: str
) -> None:
    row.state, row.reason, row.updated_at = state, reason, now
    _log(session, row, now, rule, reason)


# --- planning ------------------------------------------------------------------------------


def add(
    session: Session,
    *,
    introduction_id: int,
    account_id: int,
    kind: str,
    step: int,
    contact_id: int,
    due_at: datetime,
    domain: str,
    now: datetime,
    skip_reason: str = "",
    origin_id: int | None = None,
    rule: str = "plan",
    note: str = "",
) -> m.FollowUp:
    """A new follow-up, with its Message-ID fixed now; `skip_reason` stores it skipped (so a
    follow-up that will never go is still on record, never silently not planned)."""
    kinds.get(kind)  # an unknown kind is a programming error, caught before the CHECK is
    row = m.FollowUp(
        introduction_id=introduction_id,
        account_id=account_id,
        kind=kind,
        step=step,
        contact_id=contact_id,
        due_at=due_at,
        first_due_at=due_at,
        state="skipped" if skip_reason else "planned",
        message_id=new_message_id(domain),
        origin_id=origin_id,
        created_at=now,
        updated_at=now,
        reason=skip_reason or note,
    )
    session.add(row)
    session.flush()
    planned = f"{kind} planned for {due_at:%Y-%m-%d %H:%M} UTC"
    _log(session, row, now, rule, skip_reason or note or planned)
    return row


def call_instead(
    session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime
) -> m.FollowUp:
    """Skip `row` for a reminder to the owner to call instead; the reminder points back at it."""
    call = add(
        session,
        introduction_id=row.introduction_id,
        account_id=row.account_id,
        kind=kinds.CALL_TASK,
        step=row.id,
        contact_id=row.contact_id,
        due_at=now,
        domain=row.message_id.rsplit("@", 1)[-1].rstrip(">"),
        now=now,
        origin_id=row.id,
        rule=rule,
        note=f"instead of {row.kind} #{row.id}",
    )
    _set(session, row, "skipped", now, rule, f"{reason} (call reminder #{call.id})")
    return call


# --- decisions before delivery -------------------------------------------------------------


def defer(
    session: Session, row: m.FollowUp, until: datetime, rule: str, reason: str, now: datetime
) -> None:
    row.due_at = until
    _set(session, row, "deferred", now, rule, reason)


def skip(session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime) -> None:
    _set(session, row, "skipped", now, rule, reason)


def merge(session: Session, row: m.FollowUp, now: datetime) -> list[m.FollowUp]:
    """Fold the other due follow-ups of the same kind to the same person into `row`."""
    others = session.scalars(
        select(m.FollowUp).where(
            m.FollowUp.contact_id == row.contact_id,
            m.FollowUp.kind == row.kind,
            m.FollowUp.state.in_(m.OPEN_STATES),
            m.FollowUp.id != row.id,
            func.coalesce(m.FollowUp.first_due_at, m.FollowUp.due_at) <= now,
        )
    ).all()
    for other in others:
        other.origin_id = row.id
        _set(session, other, "skipped", now, "merged", f"merged into #{row.id}")
    return list(others)


def cancel_open(
    session: Session,
    rule: str,
    reason: str,
    now: datetime,
    *,
    contact_id: int | None = None,
    introduction_id: int | None = None,
    kinds_: tuple[str, ...] = (),
    max_step: int | None = None,
) -> int:
    """Skip the open follow-ups to a contact and/or of an introduction (only of `kinds_`, and
    only steps up to `max_step`, when given); returns how many."""
    query = select(m.FollowUp).where(m.FollowUp.state.in_(m.OPEN_STATES))
    if contact_id is not None:
        query = query.where(m.FollowUp.contact_id == contact_id)
    if introduction_id is not None:
        query = query.where(m.FollowUp.introduction_id == introduction_id)
    if kinds_:
        query = query.where(m.FollowUp.kind.in_(kinds_))
    if max_step is not None:
        query = query.where(m.FollowUp.step <= max_step)
    rows = session.scalars(query.order_by(m.FollowUp.id)).all()
    for row in rows:
        skip(session, row, rule, reason, now)
    return len(rows)


def postpone_open(
    session: Session, contact_id: int, until: datetime, reason: str, now: datetime
) -> int:
    """Move open follow-ups due before `until` to `until` (policy decides again then)."""
    rows = session.scalars(
        select(m.FollowUp).where(
            m.FollowUp.contact_id == contact_id,
            m.FollowUp.state.in_(m.OPEN_STATES),
            m.FollowUp.due_at < until,
        )
    ).all()
    for row in rows:
        defer(session, row, until, "paused", f"{reason} until {until:%Y-%m-%d}", now)
    return len(rows)


# --- the owner's own decisions --------------------------------------------------------------


class NotOpen(ValueError):
    """The follow-up is no longer planned or deferred: there is nothing to cancel or move."""


def _open(row: m.FollowUp) -> None:
    if row.state not in m.OPEN_STATES:
        raise NotOpen(f"follow-up #{row.id} is {row.state}, not planned or deferred")


def cancel(session: Session, row: m.FollowUp, now: datetime, note: str = "") -> None:
    """The owner cancels one open follow-up (`refmail outbox cancel`)."""
    _open(row)
    skip(session, row, "owner", "cancelled by the owner" + (f": {note}" if note else ""), now)


def snooze(session: Session, row: m.FollowUp, until: datetime, now: datetime) -> None:
    """The owner moves one open follow-up to `until`; policy decides again then."""
    _open(row)
    defer(
        session, row, until, "owner", f"snoozed by the owner until {until:%Y-%m-%d %H:%M} UTC", now
    )


def dismiss(session: Session, intro: m.Introduction, now: datetime) -> int:
    """The owner says a message was not an introduction: it is closed and its open follow-ups
    are cancelled (returns how many)."""
    intro.status = "closed"
    return cancel_open(
        session,
        "owner",
        "dismissed by the owner: not an introduction",
        now,
        introduction_id=intro.id,
    )


# --- delivery ------------------------------------------------------------------------------


def claim(session: Session, row: m.FollowUp, now: datetime) -> bool:
    """Take an open row for delivery; False if another worker took it first."""
    taken = session.execute(
        update(m.FollowUp)
        .where(m.FollowUp.id == row.id, m.FollowUp.state.in_(m.OPEN_STATES))
        .values(
            state="delivering", claimed_at=now, attempts=m.FollowUp.attempts + 1, updated_at=now
        )
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(row)
    return True


def confirm(
    session: Session, row: m.FollowUp, channel: str, rule: str, reason: str, now: datetime
) -> None:
    row.delivered_at, row.channel = now, channel
    row.state, row.updated_at, row.reason = "delivered", now, ""
    _log(session, row, now, rule, reason)


def fail(session: Session, row: m.FollowUp, why: str, permanent: bool, now: datetime) -> bool:
    """A delivery that did not happen: retried later with backoff unless it is permanent or
    out of attempts. Returns True when the follow-up has failed for good."""
    final = permanent or row.attempts >= MAX_ATTEMPTS
    if not final:
        row.due_at = now + backoff(row.attempts)
    _set(session, row, "failed" if final else "planned", now, "delivery_error", why)
    return final


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff: 1, 2, 4 … minutes, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def stale_claims(session: Session, account_id: int, older_than: datetime) -> list[m.FollowUp]:
    """Claims left behind (by a crash) before `older_than`."""
    return list(
        session.scalars(
            select(m.FollowUp).where(
                m.FollowUp.account_id == account_id,
                m.FollowUp.state == "delivering",
                m.FollowUp.claimed_at < older_than,
            )
        )
    )


def reopen(session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime) -> None:
    """A claim that did not reach its target goes back to the queue."""
    if row.state == "delivering":
        _set(session, row, "planned", now, rule, reason)


# --- the send log --------------------------------------------------------------------------


def sent_to(
    session: Session, contact_id: int, since: datetime, exclude_id: int = 0
) -> tuple[datetime, ...]:
    """When refmail prepared mail for this contact since `since` (a draft counts when made, a
    claim by another worker counts too): what the per-person caps count."""
    sent_at = func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)
    # Spelled so that (contact_id, delivered_at) serves it: see bench/policy_throughput.py.
    rows = session.scalars(
        select(sent_at).where(
            m.FollowUp.contact_id == contact_id,
            m.FollowUp.id != exclude_id,
            or_(
                m.FollowUp.delivered_at > since,
                and_(m.FollowUp.state == "delivering", m.FollowUp.claimed_at > since),
            ),
        )
    )
    return tuple(s for s in rows if s is not None)


def sent_by_account(
    session: Session,
    account_id: int,
    channels: Sequence[str],
    claimable_kinds: Iterable[str],
    since: datetime,
) -> list[datetime]:
    """When this account itself sent mail since `since` (delivered through one of `channels`,
    or claimed now for one of `claimable_kinds`): what the hourly send budget counts."""
    sent_at = func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)
    return sorted(
        session.scalars(
            select(sent_at).where(
                m.FollowUp.account_id == account_id,
                or_(
                    and_(m.FollowUp.channel.in_(channels), m.FollowUp.delivered_at > since),
                    and_(
                        m.FollowUp.state == "delivering",
                        m.FollowUp.kind.in_(list(claimable_kinds)),
                        m.FollowUp.claimed_at > since,
                    ),
                ),
            )
        )
    )


# --- housekeeping --------------------------------------------------------------------------


def prune(session: Session, cutoff: datetime) -> int:
    """Drop why-log entries older than `cutoff` of follow-ups finished before it; the rows stay."""
    finished = select(m.FollowUp.id).where(
        m.FollowUp.state.in_(("delivered", "skipped", "failed")),
        m.FollowUp.updated_at < cutoff,
    )
    result = session.execute(
        delete(m.FollowUpEvent).where(
            m.FollowUpEvent.follow_up_id.in_(finished), m.FollowUpEvent.at < cutoff
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
