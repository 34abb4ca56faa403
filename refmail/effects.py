"""What incoming mail does to relationships: bounces stop mail to an address, replies move an
introduction on, and a reply asking to stop (or to wait) is honoured at once — when it has the
standing to: a bounce of a message refmail delivered, a reply that authenticates as its sender.

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
from refmail.authn import Verdict
from refmail.bounce import Bounce
from refmail.detect import Classification, Identity
from refmail.parse import ParsedMessage
from refmail.record import ContactCache, log_change
from refmail.replies import reply_intent

log = logging.getLogger(__name__)

DEFAULT_PAUSE = timedelta(days=30)  # "not now" with no date we can read
SOFT_BOUNCES_TO_STOP = 3  # this many soft bounces in a row count as a hard one


def apply_bounce(session: Session, bounce: Bounce, now: datetime) -> list[str]:
    """Hard bounces stop everything to the address; soft ones are counted (three stop it too).

    A bounce counts only when it returns a message refmail delivered (its Message-ID, which is
    also its X-Refmail-ID): anyone can write a bounce, but only the recipient of our mail knows
    that unguessable id. It then affects only that message's recipient, never other addresses
    the report names."""
    row = _delivered(session, bounce.original_message_id)
    if row is None:
        what = bounce.original_message_id or "no Message-ID"
        return [f"a bounce about a message refmail did not deliver ({what[:100]!r}): ignored"]
    contact = row.contact
    own = [f for f in bounce.failures if f.address == contact.email]
    notices: list[str] = []
    for failure in own or bounce.failures[:1]:  # forwarded mail bounces under another address
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


def _delivered(session: Session, message_id: str | None) -> m.FollowUp | None:
    """The follow-up of ours with this Message-ID, if it went out (or is going out now)."""
    if not message_id:
        return None
    row = session.scalar(select(m.FollowUp).where(m.FollowUp.message_id == message_id))
    if row is None or kinds.get(row.kind).to_owner:
        return None
    sent = row.delivered_at is not None or row.state in ("delivering", "delivered")
    return row if sent else None


def apply_reply(
    session: Session,
    msg: ParsedMessage,
    verdict: Classification,
    identity: Identity,
    people: ContactCache,
    now: datetime,
    standing: Verdict | None = None,
) -> list[str]:
    """A person's reply: parties talking to each other connect the introduction; a reply that
    asks to stop or to wait changes the sender's preferences.

    `standing` is whether the mail authenticates as its sender (None: not checked); mail that
    does not changes nothing and is only reported to the owner."""
    sender = msg.sender.email if msg.sender else ""
    contact = people.get(sender) if sender and not identity.is_owner(sender) else None
    if contact is None:
        return []
    if standing is not None and not standing.authenticated:
        return _unheeded(session, msg, verdict, contact, now, standing.why)
    notices = _connected(session, msg, contact, now)
    if verdict.kind == "reply":
        notices += _intent(session, msg, contact, now)
    return notices


def _connected(session: Session, msg: ParsedMessage, sender: m.Contact, now: datetime) -> list[str]:
    """The sender wrote to another party of one of their open introductions: they connected.

    Their first check-ins would now be noise and are cancelled; later ones stay.
    """
    notices = []
    for intro, others in _connecting(session, msg, sender):
        intro.status, intro.updated_at = "connected", now
        intro.outcome = f"{sender.email} wrote to {', '.join(sorted(others))} on {now:%Y-%m-%d}"
        outcomes.log_change(session, intro, "open", "connected", "sync", intro.outcome, now)
        noise = f"the introduction connected on {now:%Y-%m-%d}: a check-in would be noise"
        for change in (outbox.cancel_open, outbox.withdraw_drafts):  # open ones, and drafts
            change(
                session,
                "connected",
                noise,
                now,
                introduction_id=intro.id,
                kinds_=kinds.COURTESY,
                max_step=0,
            )
        notices.append(f"introduction #{intro.id} connected ({intro.outcome})")
    return notices


def _connecting(
    session: Session, msg: ParsedMessage, sender: m.Contact
) -> list[tuple[m.Introduction, set[str]]]:
    """The sender's open introductions whose other parties this message is addressed to."""
    recipients = {a.email for a in msg.envelope.recipients}
    intros = session.scalars(
        select(m.Introduction)
        .join(m.IntroductionParty, m.IntroductionParty.introduction_id == m.Introduction.id)
        .where(m.IntroductionParty.contact_id == sender.id, m.Introduction.status == "open")
    ).all()
    found = []
    for intro in intros:
        others = {p.contact.email for p in intro.parties if p.contact_id != sender.id}
        if others & recipients:
            found.append((intro, others & recipients))
    return found


def _unheeded(
    session: Session,
    msg: ParsedMessage,
    verdict: Classification,
    contact: m.Contact,
    now: datetime,
    why: str,
) -> list[str]:
    """What unauthenticated mail in a contact's name asked for, as a notice; nothing changes."""
    asked = [f"connect introduction #{intro.id}" for intro, _ in _connecting(session, msg, contact)]
    intent = reply_intent(msg.own_text, now) if verdict.kind == "reply" else None
    if intent is not None:
        asked.append(f"{intent.kind} ({intent.phrase!r})")
    if not asked:
        return []
    log.warning("unauthenticated mail from %s not acted on: %s", contact.email, why)
    return [
        f"mail claiming to be from {contact.email} would {', '.join(asked)}, but it does not "
        f"authenticate ({why}): nothing changed"
    ]


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
