"""What incoming mail does to relationships: bounces stop mail to an address, replies move an
introduction on, and a reply asking to stop (or to wait) is honoured at once.

Called by sync inside the batch's transaction; each effect is logged on the contact or the
follow-up it changes, and returned as a notice for the owner.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import contacts, kinds, outbox, outcomes
from refmail import models as m
from refmail.bounce import Bounce
from refmail.detect import Classification, Identity
from refmail.parse import ParsedMessage
from refmail.record import ContactCache, log_change
from refmail.replies import reply_intent

log = logging.getLogger(__name__)

DEFAULT_PAUSE = timedelta(days=30)  # "not now" with no date we can read
SOFT_BOUNCES_TO_STOP = 3  # this many soft bounces in a row count as a hard one


def apply_bounce(session: Session, bounce: Bounce, now: datetime) -> list[str]:
    """Hard bounces stop everything to the address; soft ones are counted (three stop it too)."""
    notices: list[str] = []
    for failure in bounce.failures:
        contact = session.scalar(select(m.Contact).where(m.Contact.email == failure.address))
        if contact is None:
            contact = _recipient_of(session, bounce.original_message_id)
        if contact is None:
            continue
        words = " ".join(filter(None, (failure.status, failure.diagnostic)))[:300]
        if failure.hard or contact.soft_bounces + 1 >= SOFT_BOUNCES_TO_STOP:
            if contact.bounced_at is None:
                contact.bounced_at = now
                log_change(
                    session,
                    contact,
                    "bounced_at",
                    "",
                    now.isoformat(timespec="minutes"),
                    "bounce",
                    now,
                )
            cancelled = contacts.cancel_open(session, contact, f"mail bounced: {words}", now)
            notices.append(f"{contact.email} bounced ({words}); {cancelled} follow-ups cancelled")
        else:
            contact.soft_bounces += 1
            log_change(
                session,
                contact,
                "soft_bounces",
                str(contact.soft_bounces - 1),
                str(contact.soft_bounces),
                "bounce",
                now,
            )
            notices.append(f"{contact.email} soft bounce #{contact.soft_bounces} ({words})")
        contact.updated_at = now
    return notices


def _recipient_of(session: Session, message_id: str | None) -> m.Contact | None:
    """The contact a follow-up of ours was written to, found by its Message-ID."""
    if not message_id:
        return None
    row = session.scalar(select(m.FollowUp).where(m.FollowUp.message_id == message_id))
    return row.contact if row is not None and not kinds.get(row.kind).to_owner else None


def apply_reply(
    session: Session,
    msg: ParsedMessage,
    verdict: Classification,
    identity: Identity,
    people: ContactCache,
    now: datetime,
) -> list[str]:
    """A person's reply: parties talking to each other connect the introduction; a reply that
    asks to stop or to wait changes the sender's preferences."""
    sender = msg.sender.email if msg.sender else ""
    contact = people.get(sender) if sender and not identity.is_owner(sender) else None
    if contact is None:
        return []
    notices = _connected(session, msg, contact, now)
    if verdict.kind == "reply":
        notices += _intent(session, msg, contact, now)
    return notices


def _connected(session: Session, msg: ParsedMessage, sender: m.Contact, now: datetime) -> list[str]:
    """The sender wrote to another party of one of their open introductions: they connected.

    Their first check-ins would now be noise and are cancelled; later ones stay.
    """
    recipients = {a.email for a in msg.envelope.recipients}
    intros = session.scalars(
        select(m.Introduction)
        .join(m.IntroductionParty, m.IntroductionParty.introduction_id == m.Introduction.id)
        .where(m.IntroductionParty.contact_id == sender.id, m.Introduction.status == "open")
    ).all()
    notices = []
    for intro in intros:
        others = {p.contact.email for p in intro.parties if p.contact_id != sender.id}
        if not others & recipients:
            continue
        intro.status, intro.updated_at = "connected", now
        intro.outcome = (
            f"{sender.email} wrote to {', '.join(sorted(others & recipients))} on {now:%Y-%m-%d}"
        )
        outcomes.log_change(session, intro, "open", "connected", "sync", intro.outcome, now)
        outbox.cancel_open(
            session,
            "connected",
            f"the introduction connected on {now:%Y-%m-%d}: a check-in would be noise",
            now,
            introduction_id=intro.id,
            kinds_=kinds.COURTESY,
            max_step=0,
        )
        notices.append(f"introduction #{intro.id} connected ({intro.outcome})")
    return notices


def _intent(session: Session, msg: ParsedMessage, contact: m.Contact, now: datetime) -> list[str]:
    intent = reply_intent(msg.own_text, now)
    if intent is None:
        return []
    if intent.kind == "stop":
        contacts.update(session, contact, {"level": "none"}, "reply", now)
        log.warning(
            "%s asked to stop by reply (%r): contact level set to none",
            contact.email,
            intent.phrase,
        )
        return [f"{contact.email} asked to stop ({intent.phrase!r}): nothing more will be sent"]
    until = intent.until or now + DEFAULT_PAUSE
    contacts.update(session, contact, {"paused_until": until}, "reply", now)
    return [f"{contact.email} asked to wait ({intent.phrase!r}): paused until {until:%Y-%m-%d}"]
