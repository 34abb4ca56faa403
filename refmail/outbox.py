"""The outbox: the only code that writes a follow-up's state and its why-log (refmail.sendlog
reads what went to whom, when, for the caps; refmail.queue reads what is due).

States: planned → (deferred ⇄) → delivering → delivered, or skipped / failed; a delivered draft
then ends sent (by the owner), dismissed (the owner deleted it) or withdrawn (refmail took it
back; `withdraw_reason` set and not yet done is the queue of withdrawals). Every change goes
through one function here and leaves one why-log entry (`follow_up_event`) naming the rule and
the reason, so `refmail outbox why ID` tells the whole story. Callers own the transaction.
A contact's whole outbox stopped in one statement (the one-click path) is this module's other
half, `outbox_stop` (apart only to keep each module readable in one sitting).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from refmail import kinds, tables
from refmail import models as m
from refmail.classes import dataclass

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
DRAFT_CHANNELS = ("drafts", "file")  # channels whose follow-ups wait for the owner to send them
BACKOFF_CAP = timedelta(hours=6)
# Reminders to the owner about a contact (call_task, reward_task) are not mail to that contact:
# they count in none of the contact's caps.


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
    # A contact loaded with the row, or held by the session (sync has just upserted the
    # parties it plans for), costs no query; any other is read for the line.
    contact = row.__dict__.get("contact")
    if not isinstance(contact, m.Contact):
        contact = session.identity_map.get(identity_key(m.Contact, row.contact_id))
    email = (
        contact.email
        if isinstance(contact, m.Contact)
        else session.scalar(select(m.Contact.email).where(m.Contact.id == row.contact_id))
    )
    state = row.state
    if state == "deferred":
        state = f"deferred until {row.due_at:%Y-%m-%d %H:%M} UTC"
    elif state == "delivered":
        state = f"delivered ({row.channel})"
    log_line(row, email, state, rule, reason)


def log_line(
    row: m.FollowUp | Row[Any], email: str | None, shown: str, rule: str, reason: str
) -> None:
    """The one log line of a decision: readable, and its fields for the JSON formatter."""
    log.info(
        "follow-up #%s %s to %s: %s [%s] %s",
        row.id,
        row.kind,
        email,
        shown,
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


def _log_many(
    session: Session, entries: Sequence[tuple[m.FollowUp, str, str]], now: datetime
) -> None:
    """The why-log entries (row, rule, reason) of many changes, in one INSERT: nothing needs
    their ids back, so none is inserted alone."""
    if not entries:
        return
    session.execute(
        insert(m.FollowUpEvent),
        [
            {"follow_up_id": r.id, "at": now, "state": r.state, "rule": rule, "reason": reason}
            for r, rule, reason in entries
        ],
    )
    for row, rule, reason in entries:
        _announce(session, row, rule, reason)


# --- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewFollowUp:
    """A follow-up to plan (outbox.add_many): what the plan fixed; `skip_reason` stores it
    skipped, so a follow-up that will never go is still on record."""

    introduction_id: int
    account_id: int
    kind: str
    step: int
    contact_id: int
    due_at: datetime
    skip_reason: str = ""
    origin_id: int | None = None
    note: str = ""


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
    new = NewFollowUp(
        introduction_id, account_id, kind, step, contact_id, due_at, skip_reason, origin_id, note
    )
    return add_many(session, [new], domain, now, rule)[0]


def add_many(
    session: Session, planned: Sequence[NewFollowUp], domain: str, now: datetime, rule: str = "plan"
) -> list[m.FollowUp]:
    """New follow-ups, each with its Message-ID fixed now, inserted together (one flush: the
    ORM sends them as one INSERT … RETURNING), and their why-log entries in one more INSERT:
    an introduction's plan costs two statements, not two per follow-up."""
    rows = []
    for new in planned:
        kinds.get(new.kind)  # an unknown kind is a programming error, caught before the CHECK is
        rows.append(
            m.FollowUp(
                introduction_id=new.introduction_id,
                account_id=new.account_id,
                kind=new.kind,
                step=new.step,
                contact_id=new.contact_id,
                due_at=new.due_at,
                first_due_at=new.due_at,
                state="skipped" if new.skip_reason else "planned",
                message_id=new_message_id(domain),
                origin_id=new.origin_id,
                created_at=now,
                updated_at=now,
                reason=new.skip_reason or new.note,
            )
        )
    session.add_all(rows)
    session.flush()
    _log_many(
        session,
        [
            (row, rule, new.skip_reason or new.note or _planned(new))
            for row, new in zip(rows, planned, strict=True)
        ],
        now,
    )
    return rows


def _planned(new: NewFollowUp) -> str:
    return f"{new.kind} planned for {new.due_at:%Y-%m-%d %H:%M} UTC"


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


def defer_many(
    session: Session, items: Sequence[tuple[m.FollowUp, datetime, str, str]], now: datetime
) -> None:
    """`defer` for many rows (row, until, rule, reason): one UPDATE and one INSERT at flush."""
    for row, until, _, reason in items:
        row.due_at = until
        row.state, row.reason, row.updated_at = "deferred", reason, now
    _log_many(session, [(row, rule, reason) for row, _, rule, reason in items], now)


def skip_many(
    session: Session, items: Sequence[tuple[m.FollowUp, str, str]], now: datetime
) -> None:
    """`skip` for many rows (row, rule, reason): one UPDATE and one INSERT at flush."""
    for row, _, reason in items:
        row.state, row.reason, row.updated_at = "skipped", reason, now
    _log_many(session, items, now)


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


def merge_many(session: Session, keepers: Sequence[m.FollowUp], now: datetime) -> int:
    """`merge` for many rows at once (one read): the others due of each keeper's kind to its
    person fold into it. Returns how many were folded."""
    if not keepers:
        return 0
    into = {(k.contact_id, k.kind): k.id for k in keepers}
    others = session.scalars(
        select(m.FollowUp)
        .where(
            m.FollowUp.contact_id.in_({k.contact_id for k in keepers}),
            m.FollowUp.kind.in_({k.kind for k in keepers}),
            m.FollowUp.state.in_(m.OPEN_STATES),
            m.FollowUp.id.not_in([k.id for k in keepers]),
            func.coalesce(m.FollowUp.first_due_at, m.FollowUp.due_at) <= now,
        )
        .options(selectinload(m.FollowUp.contact))
        .order_by(m.FollowUp.id)
    ).all()
    folded: list[tuple[m.FollowUp, str, str]] = []
    for other in others:
        keeper = into.get((other.contact_id, other.kind))
        if keeper is not None:
            other.origin_id = keeper
            folded.append((other, "merged", f"merged into #{keeper}"))
    skip_many(session, folded, now)
    return len(folded)


def cancel_open(
    session: Session,
    rule: str,
    reason: str,
    now: datetime,
    *,
    contact_id: int | Sequence[int] | None = None,
    introduction_id: int | None = None,
    kinds_: tuple[str, ...] = (),
    max_step: int | None = None,
) -> int:
    """Skip the open follow-ups to a contact (or to any of several) and/or of an introduction
    (only of `kinds_`, and only steps up to `max_step`, when given); returns how many."""
    query = select(m.FollowUp).where(m.FollowUp.state.in_(m.OPEN_STATES))
    rows = _narrowed(session, query, contact_id, introduction_id, kinds_, max_step)
    for row in rows:
        skip(session, row, rule, reason, now)
    return len(rows)


def _narrowed(
    session: Session,
    query: Select[m.FollowUp],
    contact_id: int | Sequence[int] | None,
    introduction_id: int | None,
    kinds_: tuple[str, ...],
    max_step: int | None,
) -> Sequence[m.FollowUp]:
    """The rows of `query` to one contact (or several) and/or of one introduction, of `kinds_`,
    up to `max_step` (each only when given), in id order."""
    if isinstance(contact_id, int):
        query = query.where(m.FollowUp.contact_id == contact_id)
    elif contact_id is not None:
        query = query.where(m.FollowUp.contact_id.in_(contact_id))
    if introduction_id is not None:
        query = query.where(m.FollowUp.introduction_id == introduction_id)
    if kinds_:
        query = query.where(m.FollowUp.kind.in_(kinds_))
    if max_step is not None:
        query = query.where(m.FollowUp.step <= max_step)
    return session.scalars(query.order_by(m.FollowUp.id)).all()


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


def dismiss_introduction(session: Session, intro: m.Introduction, now: datetime) -> int:
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
    session: Session,
    row: m.FollowUp,
    channel: str,
    rule: str,
    reason: str,
    now: datetime,
    digest: str = "",
    subject: str = "",
) -> None:
    """Delivered; `digest` and `subject` (of the draft as written) later tell whether the owner
    edited it, and recognise the copy a mail client sends under a new Message-ID."""
    row.delivered_at, row.channel = now, channel
    row.body_digest, row.subject = digest, subject
    row.state, row.updated_at, row.reason = "delivered", now, ""
    _log(session, row, now, rule, reason)


@dataclass(frozen=True)
class Confirmation:
    """One delivery to confirm (see `confirm`)."""

    id: int
    channel: str
    rule: str
    reason: str
    digest: str = ""
    subject: str = ""


def claim_many(session: Session, rows: Sequence[m.FollowUp], now: datetime) -> list[m.FollowUp]:
    """`claim` for many rows in one UPDATE: the rows taken (those still open), in order."""
    if not rows:
        return []
    taken = set(
        session.scalars(
            update(m.FollowUp)
            .where(m.FollowUp.id.in_([r.id for r in rows]), m.FollowUp.state.in_(m.OPEN_STATES))
            .values(
                state="delivering",
                claimed_at=now,
                attempts=m.FollowUp.attempts + 1,
                updated_at=now,
            )
            .returning(m.FollowUp.id)
            .execution_options(synchronize_session="fetch")
        )
    )
    return [r for r in rows if r.id in taken]


# Built once (a dispatch confirms every group of deliveries with them): the UPDATE of one
# confirmed row, run for a group's rows as one executemany, and the why-log's INSERT.
_NOW = bindparam("p_now", type_=tables.UTCDateTime())
_CONFIRM = (
    update(tables.follow_up)
    .where(tables.follow_up.c.id == bindparam("p_id"), tables.follow_up.c.state == "delivering")
    .values(
        state="delivered",
        reason="",
        delivered_at=_NOW,
        updated_at=_NOW,
        channel=bindparam("p_channel"),
        body_digest=bindparam("p_digest"),
        subject=bindparam("p_subject"),
    )
)
_ADD_EVENTS = insert(tables.follow_up_event)


def confirm_many(session: Session, done: Sequence[Confirmation], now: datetime) -> int:
    """`confirm` for many deliveries, set-based (no ORM object per row: a fifth of a delivery's
    time went to loading and flushing them): one read of the rows still claimed, one UPDATE
    executed for them all, one INSERT of their why-log entries. Only rows still claimed are
    confirmed; returns how many. A row the session holds is expired, to be read afresh."""
    if not done:
        return 0
    still = (
        select(
            m.FollowUp.id,
            m.FollowUp.kind,
            literal("delivered").label("state"),  # as the log line shows it, once confirmed
            m.FollowUp.due_at,
            m.Contact.email,
        )
        .join(m.Contact, m.Contact.id == m.FollowUp.contact_id)
        .where(m.FollowUp.id.in_([d.id for d in done]), m.FollowUp.state == "delivering")
        # locked until commit (PostgreSQL; SQLite writes one at a time): the UPDATE below
        # then changes every row read here, and each why-log entry has its change
        .with_for_update(of=m.FollowUp)
    )
    claimed: dict[int, Any] = {row.id: row for row in session.execute(still)}  # Rows
    confirmed = [d for d in done if d.id in claimed]
    if not confirmed:
        return 0
    changed = cast(
        "CursorResult[Any]",  # an UPDATE's result: it has the count of rows changed
        session.execute(
            _CONFIRM,
            [
                {
                    "p_id": d.id,
                    "p_now": now,
                    "p_channel": d.channel,
                    "p_digest": d.digest,
                    "p_subject": d.subject,
                }
                for d in confirmed
            ],
        ),
    ).rowcount
    if changed != len(confirmed):  # never, with the rows locked; if it were, log nothing
        raise RuntimeError(f"confirmed {changed} of {len(confirmed)} claimed follow-ups")
    session.execute(
        _ADD_EVENTS,
        [
            {
                "follow_up_id": d.id,
                "at": now,
                "state": "delivered",
                "rule": d.rule,
                "reason": d.reason,
            }
            for d in confirmed
        ],
    )
    for d in confirmed:
        held = session.identity_map.get(identity_key(m.FollowUp, d.id))
        if held is not None:
            session.expire(held)
        if log.isEnabledFor(logging.INFO):
            row = claimed[d.id]
            log_line(row, row.email, f"delivered ({d.channel})", d.rule, d.reason)
    return len(confirmed)


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


def release(session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime) -> None:
    """Give a claim back without counting the attempt: nothing about this follow-up failed
    (the account's credentials did), so it stays due as it was."""
    if row.state == "delivering":
        row.attempts = max(row.attempts - 1, 0)
        _set(session, row, "planned", now, rule, reason)


def reopen(session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime) -> None:
    """A claim that did not reach its target goes back to the queue."""
    if row.state == "delivering":
        _set(session, row, "planned", now, rule, reason)


# --- a draft's life after delivery (refmail.reconcile) ------------------------------------


def withdraw_drafts(
    session: Session,
    rule: str,
    reason: str,
    now: datetime,
    *,
    contact_id: int | Sequence[int] | None = None,
    introduction_id: int | None = None,
    kinds_: tuple[str, ...] = (),
    max_step: int | None = None,
) -> int:
    """Ask for the drafts (delivered, not yet sent by the owner) to a contact (or to any of
    several) and/or of an introduction to be withdrawn; the next reconciliation takes them out
    of Drafts. Recorded in the caller's transaction, with the event that made them wrong.
    Returns how many."""
    query = select(m.FollowUp).where(_draft_out())
    rows = _narrowed(session, query, contact_id, introduction_id, kinds_, max_step)
    for row in rows:
        want_withdrawal(session, row, rule, reason, now)
    return len(rows)


def _draft_out() -> ColumnElement[bool]:
    """A draft in the owner's mailbox not yet asked back (what `withdraw_drafts` takes)."""
    return and_(
        m.FollowUp.state == "delivered",
        m.FollowUp.channel.in_(DRAFT_CHANNELS),
        m.FollowUp.withdraw_reason == "",
    )


def stand_down(
    session: Session,
    rule: str,
    reason: str,
    now: datetime,
    *,
    contact_id: int | Sequence[int] | None = None,
    introduction_id: int | None = None,
    kinds_: tuple[str, ...] = (),
) -> int:
    """cancel_open then withdraw_drafts with the same narrowing, in one query: what an
    introduction's connection or outcome ends (its open follow-ups skipped, its drafts asked
    back), the why-log in the same order as the two calls would write it (all the skips, then
    all the withdrawals). Unlike them it takes no `max_step`: a connection ends every step.
    Returns how many."""
    query = select(m.FollowUp).where(or_(m.FollowUp.state.in_(m.OPEN_STATES), _draft_out()))
    rows = _narrowed(session, query, contact_id, introduction_id, kinds_, None)
    drafts = [row for row in rows if row.state not in m.OPEN_STATES]
    for row in rows:
        if row.state in m.OPEN_STATES:
            skip(session, row, rule, reason, now)
    for row in drafts:
        want_withdrawal(session, row, rule, reason, now)
    return len(rows)


def want_withdrawal(
    session: Session, row: m.FollowUp, rule: str, reason: str, now: datetime
) -> None:
    """Queue one draft for withdrawal (the first reason given is the one kept)."""
    if row.state == "delivered" and not row.withdraw_reason:
        row.withdraw_reason, row.updated_at = reason, now
        _log(session, row, now, rule, f"draft to be withdrawn: {reason}")


def drafts_of(session: Session, account_id: int, channel: str) -> list[m.FollowUp]:
    """The drafts of this account at this channel that the owner has not sent or deleted yet."""
    return list(
        session.scalars(
            select(m.FollowUp)
            .where(
                m.FollowUp.account_id == account_id,
                m.FollowUp.channel == channel,
                m.FollowUp.state == "delivered",
            )
            .options(
                selectinload(m.FollowUp.contact),
                selectinload(m.FollowUp.introduction).selectinload(m.Introduction.message),
            )
            .order_by(m.FollowUp.id)
        )
    )


def owner_sent(session: Session, row: m.FollowUp, at: datetime, how: str, now: datetime) -> None:
    """The owner sent the draft at `at` (found in Sent): the caps count that time from now on."""
    row.sent_at, row.missing_since = at, None
    drafted = row.delivered_at or at
    _set(
        session,
        row,
        "sent",
        now,
        "owner_sent",
        f"sent by you on {at:%Y-%m-%d %H:%M} UTC, {_span(at - drafted)} after it was drafted"
        f" ({how})",
    )


def draft_missing(session: Session, row: m.FollowUp, now: datetime, grace: str) -> None:
    """The draft left Drafts and is not in Sent (yet): dismissed if it stays so for `grace`."""
    if row.missing_since is None:
        row.missing_since, row.updated_at = now, now
        _log(session, row, now, "draft_missing", f"not in Drafts nor in Sent; dismissed {grace}")


def draft_back(session: Session, row: m.FollowUp, now: datetime) -> None:
    """The draft is in Drafts again (a client that saves by deleting and re-adding)."""
    if row.missing_since is not None:
        row.missing_since, row.updated_at = None, now
        _log(session, row, now, "draft_back", "in Drafts again")


def dismiss(session: Session, row: m.FollowUp, reason: str, now: datetime) -> None:
    """The owner deleted the draft without sending it: it counts in no cap any more."""
    _set(session, row, "dismissed", now, "dismissed", reason)


def withdrawn(session: Session, row: m.FollowUp, reason: str, now: datetime) -> None:
    """refmail took its draft back (or found it already gone): it counts in no cap any more."""
    _set(session, row, "withdrawn", now, "withdrawn", reason)


def flag_outdated(session: Session, row: m.FollowUp, reason: str, now: datetime) -> None:
    """The draft should be withdrawn but the owner edited it: it stays, flagged, and says why."""
    if row.flagged_at is None:
        row.flagged_at, row.updated_at = now, now
        _log(session, row, now, "outdated", reason)


def _span(delta: timedelta) -> str:
    hours = max(delta.total_seconds(), 0) / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


# --- housekeeping --------------------------------------------------------------------------


def prune(session: Session, cutoff: datetime) -> int:
    """Drop why-log entries older than `cutoff` of follow-ups finished before it; the rows stay."""
    finished = select(m.FollowUp.id).where(
        m.FollowUp.state.in_(m.FINISHED_STATES),
        m.FollowUp.updated_at < cutoff,
    )
    result = session.execute(
        delete(m.FollowUpEvent).where(
            m.FollowUpEvent.follow_up_id.in_(finished), m.FollowUpEvent.at < cutoff
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
