"""Complete records of a person: who refmail knows (`contacts list`), everything it holds about
one of them (`contacts export`), and forgetting them (`contacts forget`): their rows deleted, their
address and name scrubbed from every other row, and only a salted hash kept on a suppression list
so refmail never writes to them, or plans for them, again.

The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, delete, func, or_, select, update
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import tables
from refmail.classes import dataclass
from refmail.detect import Classification
from refmail.errors import RefmailError
from refmail.parse import normalise_address

ERASED = "[forgotten]"
MIN_NAME_PART = 3  # name parts shorter than this are not scrubbed on their own ("Al", "Li")


# --- the suppression list ------------------------------------------------------------------


def _digest(salt: str, email: str) -> str:
    return hashlib.sha256(f"{salt}:{email}".encode()).hexdigest()


def suppress(session: Session, email: str, now: datetime) -> None:
    """Keep only a salted hash of the address: enough to recognise it, not to read it."""
    if is_suppressed(session, email):
        return
    salt = secrets.token_hex(16)
    session.add(m.Suppression(salt=salt, digest=_digest(salt, email), created_at=now))


def is_suppressed(session: Session, email: str) -> bool:
    return any(
        hmac.compare_digest(_digest(salt, email), digest)
        for salt, digest in session.execute(select(m.Suppression.salt, m.Suppression.digest))
    )


_SUPPRESSIONS = select(func.count()).select_from(tables.suppression)


def unsuppressed(session: Session, verdict: Classification) -> Classification:
    """The introduction without forgotten people: a forgotten introducer, or no party left,
    makes it mail refmail does not keep."""
    # Core, not the ORM: the count need not configure the mappers a sync does not use. Asked
    # for each introduction, not once per batch: on PostgreSQL a forget another process commits
    # during the batch must be seen by the rest of it (the contact it deletes is gone too).
    if verdict.kind != "introduction" or session.scalar(_SUPPRESSIONS) == 0:
        return verdict
    if verdict.introducer is not None and is_suppressed(session, verdict.introducer.email):
        return Classification("other", "suppressed", "the introducer asked to be forgotten")
    parties = tuple(p for p in verdict.parties if not is_suppressed(session, p.address.email))
    if not parties:
        return Classification("other", "suppressed", "every party asked to be forgotten")
    return replace(verdict, parties=parties)


# --- list and export -----------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def listing(session: Session) -> list[dict[str, Any]]:
    """Who refmail knows: level, channel, last contact and open follow-ups of each."""
    open_counts = dict(
        session.execute(
            select(m.FollowUp.contact_id, func.count(m.FollowUp.id))
            .where(m.FollowUp.state.in_(m.OPEN_STATES))
            .group_by(m.FollowUp.contact_id)
        ).all()
    )
    return [
        {
            "email": c.email,
            "name": c.name,
            "level": c.level,
            "channel": c.channel,
            "opted_out": bool(c.opted_out_at),
            "bounced": bool(c.bounced_at),
            "last_contact": _iso(c.last_contact_at),
            "open_follow_ups": open_counts.get(c.id, 0),
        }
        for c in session.scalars(select(m.Contact).order_by(m.Contact.email))
    ]


def _row(obj: object) -> dict[str, Any]:
    """Every column of an ORM row, times as ISO-8601."""
    table = obj.__table__  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.key)
        out[column.key] = _iso(value) if isinstance(value, datetime) else value
    return out


def find_contact(session: Session, address: str) -> m.Contact:
    email = normalise_address(address)
    if email is None:
        raise RefmailError(f"{address!r} is not a valid address")
    contact = session.scalar(select(m.Contact).where(m.Contact.email == email))
    if contact is None:
        raise RefmailError(f"no contact {email}")
    return contact


def _mentions(column: Any, email: str) -> Any:
    return func.lower(column).contains(email, autoescape=True)


def export(session: Session, address: str) -> dict[str, Any]:
    """Everything refmail holds about a person, as plain data."""
    contact = find_contact(session, address)
    intro_ids = _introductions_of(session, contact)
    follow_ups = session.scalars(
        select(m.FollowUp).where(m.FollowUp.contact_id == contact.id).order_by(m.FollowUp.id)
    ).all()

    def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
        return [_row(r) for r in session.scalars(select(model).where(*where).order_by(model.id))]

    return {
        "contact": _row(contact),
        "changes": rows(m.ContactChange, m.ContactChange.contact_id == contact.id),
        "introductions": [
            {
                **_row(intro),
                "parties": [p.contact.email for p in intro.parties],
                "introducer": intro.introducer.email,
                "outcome_changes": rows(
                    m.IntroductionChange, m.IntroductionChange.introduction_id == intro.id
                ),
            }
            for intro in session.scalars(
                select(m.Introduction)
                .where(m.Introduction.id.in_(intro_ids))
                .order_by(m.Introduction.id)
            )
        ],
        "follow_ups": [{**_row(f), "events": [_row(e) for e in f.events]} for f in follow_ups],
        "messages": rows(
            m.MessageRecord,
            or_(
                m.MessageRecord.sender == contact.email,
                _mentions(m.MessageRecord.recipients, contact.email),
            ),
        ),
        "suggestions": rows(m.Suggestion, m.Suggestion.contact_id == contact.id),
        "rewards": rows(m.Reward, m.Reward.contact_id == contact.id),
        "partner": rows(m.Partner, m.Partner.contact_id == contact.id),
    }


def _introductions_of(session: Session, contact: m.Contact) -> list[int]:
    as_party = select(m.IntroductionParty.introduction_id).where(
        m.IntroductionParty.contact_id == contact.id
    )
    return list(
        session.scalars(
            select(m.Introduction.id)
            .where(or_(m.Introduction.introducer_id == contact.id, m.Introduction.id.in_(as_party)))
            .order_by(m.Introduction.id)
        )
    )


# --- forget --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a person removed."""

    email: str
    introductions: int
    follow_ups: int
    messages: int
    scrubbed: int  # values in other rows where their address or name was replaced


def introductions_of(session: Session, contact: m.Contact) -> list[int]:
    """The introductions this person made or is a party to."""
    parties = select(m.IntroductionParty.introduction_id).where(
        m.IntroductionParty.contact_id == contact.id
    )
    own = select(m.Introduction.id).where(m.Introduction.introducer_id == contact.id)
    return sorted({*session.scalars(parties), *session.scalars(own)})


def forget(session: Session, address: str, now: datetime) -> Forgotten:
    """Erase a person: delete their rows, scrub them from every other row, keep a salted hash."""
    contact = find_contact(session, address)
    email, needles = contact.email, _needles(contact)
    own = list(
        session.scalars(select(m.Introduction.id).where(m.Introduction.introducer_id == contact.id))
    )
    for intro_id in own:
        _delete_introduction(session, intro_id)
    follow_ups = list(
        session.scalars(select(m.FollowUp.id).where(m.FollowUp.contact_id == contact.id))
    )
    _delete_follow_ups(session, follow_ups)
    for model in (m.Suggestion, m.Reward, m.Partner, m.ContactChange, m.IntroductionParty):
        session.execute(delete(model).where(model.contact_id == contact.id))
    messages = session.execute(
        delete(m.MessageRecord).where(
            m.MessageRecord.sender == email,
            m.MessageRecord.id.not_in(select(m.Introduction.message_pk)),
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(delete(m.Contact).where(m.Contact.id == contact.id))
    session.flush()
    # The address and full name go wherever they appear; a part of the name only as a word.
    scrubbed = sum(_scrub(session, needle, i >= 2) for i, needle in enumerate(needles))
    suppress(session, email, now)
    session.expire_all()
    return Forgotten(email, len(own), len(follow_ups), int(messages or 0), scrubbed)


def _needles(contact: m.Contact) -> list[str]:
    """What must not remain: the address, the full name, then each longer part of the name."""
    name = " ".join(contact.name.split())
    parts = [p for p in re.split(r"[\s,]+", name) if len(p) >= MIN_NAME_PART and p != name]
    return [contact.email, name, *dict.fromkeys(parts)]


def _delete_introduction(session: Session, intro_id: int) -> None:
    follow_ups = list(
        session.scalars(select(m.FollowUp.id).where(m.FollowUp.introduction_id == intro_id))
    )
    _delete_follow_ups(session, follow_ups)
    for model in (m.IntroductionParty, m.IntroductionChange, m.Suggestion, m.Reward, m.OwnerNote):
        session.execute(delete(model).where(model.introduction_id == intro_id))
    message_pk = session.scalar(
        select(m.Introduction.message_pk).where(m.Introduction.id == intro_id)
    )
    session.execute(delete(m.Introduction).where(m.Introduction.id == intro_id))
    session.execute(delete(m.MessageRecord).where(m.MessageRecord.id == message_pk))


def _delete_follow_ups(session: Session, ids: list[int]) -> None:
    if not ids:
        return
    session.execute(update(m.FollowUp).where(m.FollowUp.origin_id.in_(ids)).values(origin_id=None))
    session.execute(delete(m.FollowUpEvent).where(m.FollowUpEvent.follow_up_id.in_(ids)))
    session.execute(delete(m.FollowUp).where(m.FollowUp.id.in_(ids)))


def _scrub(session: Session, needle: str, whole_word: bool) -> int:
    """Replace `needle` (case-insensitively; as a whole word only, when asked) in every text
    column of every table; returns how many values changed."""
    if not needle:
        return 0
    text = re.escape(needle)
    pattern = re.compile(rf"(?<!\w){text}(?!\w)" if whole_word else text, re.IGNORECASE)
    changed = 0
    for table in m.Base.metadata.sorted_tables:
        key = table.primary_key.columns.values()[0]
        for column in table.columns:
            if not isinstance(column.type, String | Text) or column.primary_key:
                continue
            found = session.execute(
                select(key, column).where(_mentions(column, needle.lower()))
            ).all()
            for pk, value in found:
                new = pattern.sub(ERASED, value)
                if new != value:
                    session.execute(update(table).where(key == pk).values({column.key: new}))
                    changed += 1
    return changed
