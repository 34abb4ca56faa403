"""Changes to a contact's preferences, each logged, each applied to the outbox at once.

Used by `refmail contacts set` (source "owner") and, later, the preference pages ("recipient").
An opt-out, or level or channel "none", cancels every open follow-up in the same transaction.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Select, String, bindparam, insert, literal, select, true
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import outbox, outbox_stop, tables
from refmail.classes import dataclass
from refmail.errors import RefmailError
from refmail.record import log_change, upsert_contact

EDITABLE = ("name", "organisation", "phone", "channel", "level", "paused_until", "timezone")


@dataclass(frozen=True)
class Change:
    """One field changed on one contact."""

    field: str
    old: str
    new: str


def find(session: Session, address: str) -> m.Contact | None:
    # The parser loads when an address is read: a dispatch with nothing due never needs it.
    from refmail.parse import normalise_address

    email = normalise_address(address)
    if email is None:
        raise RefmailError(f"{address!r} is not a valid address")
    return session.scalar(select(m.Contact).where(m.Contact.email == email))


def get_or_create(session: Session, address: str, now: datetime, source: str) -> m.Contact:
    """The contact, created (and logged) if unknown: a do-not-contact list can be made ahead."""
    from refmail.parse import Address, normalise_address

    email = normalise_address(address)
    if email is None:
        raise RefmailError(f"{address!r} is not a valid address")
    return upsert_contact(session, Address(email), now, source)


def update(
    session: Session, contact: m.Contact, values: dict[str, object], source: str, now: datetime
) -> list[Change]:
    """Set fields (validated), log each change, and bring the outbox in line."""
    changes: list[Change] = []
    for field, value in values.items():
        if field not in EDITABLE:
            raise RefmailError(f"{field} cannot be changed")
        _validate(field, value)
        old = getattr(contact, field)
        if old == value:
            continue
        setattr(contact, field, value)
        changes.append(Change(field, _text(old), _text(value)))
        log_change(session, contact, field, _text(old), _text(value), source, now)
    if changes:
        contact.updated_at = now
        if contact.level == "none" or contact.channel == "none":
            cancel_open(session, contact, f"contact level/channel set to none by {source}", now)
        elif contact.paused_until is not None and contact.paused_until > now:
            postpone_open(session, contact, contact.paused_until, f"paused by {source}", now)
    return changes


def opt_out(session: Session, contact: m.Contact, source: str, now: datetime) -> int:
    """Stop everything to this contact; returns how many open follow-ups were cancelled."""
    if contact.opted_out_at is None:
        contact.opted_out_at = now
        contact.updated_at = now
        log_change(session, contact, "opted_out_at", "", _text(now), source, now)
    return cancel_open(session, contact, f"opted out ({source})", now)


@dataclass(frozen=True)
class OptedOut:
    """What `opt_out_by_public_id` did: to whom, and how many open follow-ups it stopped."""

    contact_id: int
    email: str
    cancelled: int


_CONTACT = tables.contact
_CHANGE = tables.contact_change


# The one-click opt-out's statements: each built on its first call and kept (functools.cache),
# since the one-click unsubscribe runs them on every POST, and building them at import cost every
# sync and dispatch, which load this module and never run them (≈ 7 M instructions: issue 15).
@functools.cache
def _opt_out() -> Any:
    """Set the opt-out only if not yet set, so a second click neither moves the time nor logs a
    change."""
    return (
        sql_update(_CONTACT)
        .where(_CONTACT.c.public_id == bindparam("p_public"), _CONTACT.c.opted_out_at.is_(None))
        .values(opted_out_at=_now(), updated_at=_now())
        .returning(_CONTACT.c.id, _CONTACT.c.email)
    )


@functools.cache
def _by_public_id() -> Select[Any]:
    return select(_CONTACT.c.id, _CONTACT.c.email).where(
        _CONTACT.c.public_id == bindparam("p_public")
    )


@functools.cache
def _now() -> Any:
    return bindparam("p_now", type_=tables.UTCDateTime())


@functools.cache
def _opt_out_in_one() -> Select[Any]:
    """The whole opt-out as one PostgreSQL statement (data-modifying CTEs): the contact, its
    change log, `outbox_stop.stop_all_ctes`; one row per follow-up changed (or one with none)."""
    target = (
        select(_CONTACT.c.id, _CONTACT.c.email)
        .where(_CONTACT.c.public_id == bindparam("p_public"))
        .cte("target")
    )
    target_id = select(target.c.id).scalar_subquery()
    opted = (
        sql_update(_CONTACT)
        .where(_CONTACT.c.id == target_id, _CONTACT.c.opted_out_at.is_(None))
        .values(opted_out_at=_now(), updated_at=_now())
        .returning(_CONTACT.c.id)
        .cte("opted")
    )
    logged = (
        insert(_CHANGE)
        .from_select(
            ["contact_id", "at", "source", "field", "old_value", "new_value"],
            select(
                opted.c.id,
                _now(),
                bindparam("p_source", type_=String()),
                literal("opted_out_at"),
                literal(""),
                bindparam("p_now_text", type_=String()),
            ),
        )
        .returning(_CHANGE.c.id)
        .cte("logged")
    )
    stopped, events = outbox_stop.stop_all_ctes(target_id)
    return (
        select(target.c.id.label("contact_id"), target.c.email, *stopped.c)
        .select_from(target.outerjoin(stopped, true()))
        .add_cte(logged, events)
    )


def opt_out_by_public_id(
    connection: Connection, public_id: str, source: str, now: datetime
) -> OptedOut | None:
    """`opt_out` for the contact with this public id, in prebuilt statements on the caller's
    connection (and transaction): the same change, change log and outbox effects. None if no
    contact has that id. On PostgreSQL one statement (one round trip), else four or five."""
    why = f"opted out ({source})"
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            _opt_out_in_one(),
            {
                "p_public": public_id,
                "p_now": now,
                "p_source": source,
                "p_now_text": _text(now),
                "p_rule": "contact_changed",
                "p_reason": why,
            },
        ).all()
        if not rows:
            return None
        changed = [r for r in rows if r.id is not None]
        email = rows[0].email
        cancelled = outbox_stop.announce_stopped(changed, email, "contact_changed", why)
        return OptedOut(rows[0].contact_id, email, cancelled)
    done = connection.execute(_opt_out(), {"p_public": public_id, "p_now": now}).first()
    if done is not None:
        connection.execute(
            insert(_CHANGE),
            {
                "contact_id": done.id,
                "at": now,
                "source": source,
                "field": "opted_out_at",
                "old_value": "",
                "new_value": _text(now),
            },
        )
    else:
        done = connection.execute(_by_public_id(), {"p_public": public_id}).first()
        if done is None:
            return None
    cancelled = outbox_stop.stop_all_to(
        connection, done.id, "contact_changed", why, now, done.email
    )
    return OptedOut(done.id, done.email, cancelled)


def opt_in(session: Session, contact: m.Contact, source: str, now: datetime) -> None:
    if contact.opted_out_at is not None:
        log_change(session, contact, "opted_out_at", _text(contact.opted_out_at), "", source, now)
        contact.opted_out_at = None
        contact.updated_at = now


def clear_bounce(session: Session, contact: m.Contact, source: str, now: datetime) -> bool:
    """Mail may go to this address again (the bounce was wrong, or the mailbox is back)."""
    if contact.bounced_at is None and not contact.soft_bounces:
        return False
    old = contact.bounced_at.isoformat(timespec="minutes") if contact.bounced_at else ""
    log_change(session, contact, "bounced_at", old, "", source, now)
    if contact.soft_bounces:
        log_change(session, contact, "soft_bounces", str(contact.soft_bounces), "0", source, now)
    contact.bounced_at, contact.soft_bounces, contact.updated_at = None, 0, now
    return True


def cancel_open(session: Session, contact: m.Contact, reason: str, now: datetime) -> int:
    """Skip every open follow-up to this contact, and have its drafts waiting in Drafts
    withdrawn (by the next reconciliation); returns how many open ones were skipped."""
    outbox.withdraw_drafts(session, "contact_changed", reason, now, contact_id=contact.id)
    return outbox.cancel_open(session, "contact_changed", reason, now, contact_id=contact.id)


def postpone_open(
    session: Session, contact: m.Contact, until: datetime, reason: str, now: datetime
) -> int:
    """Move open follow-ups due before `until` to `until` (policy decides again then); drafts
    already waiting in Drafts are withdrawn (sending one now would ignore the pause)."""
    outbox.withdraw_drafts(
        session, "paused", f"{reason} until {until:%Y-%m-%d}", now, contact_id=contact.id
    )
    return outbox.postpone_open(session, contact.id, until, reason, now)


def _validate(field: str, value: object) -> None:
    if field == "level" and value not in m.LEVELS:
        raise RefmailError(f"level must be one of {', '.join(m.LEVELS)}")
    if field == "channel" and value not in m.CHANNELS:
        raise RefmailError(f"channel must be one of {', '.join(m.CHANNELS)}")
    if field == "timezone" and value:
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RefmailError(f"unknown time zone {value!r}") from exc
    if field == "paused_until" and value is not None and not isinstance(value, datetime):
        raise RefmailError("paused_until must be a time")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)
