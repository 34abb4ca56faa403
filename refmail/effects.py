"""What incoming mail does to relationships: bounces stop mail to an address, replies move an
introduction on, and a reply asking to stop (or to wait) is honoured at once — when it has the
standing to: a bounce of a message refmail delivered, a reply that authenticates as its sender.

Called by sync inside the batch's transaction; each effect is logged on the contact or the
follow-up it changes, and returned as a notice for the owner.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from refmail import contacts, kinds, outbox, outcomes
from refmail import models as m
from refmail.authn import Verdict
from refmail.classes import dataclass
from refmail.detect import Classification, Identity
from refmail.parse import ParsedMessage
from refmail.record import ContactCache, log_change

if TYPE_CHECKING:
    # The bounce parser and the reply phrases load only when mail needs them (issue 15): most
    # mail sync reads is neither a bounce nor a reply to an introduction.
    from refmail.bounce import Bounce
    from refmail.replies import Intent, Outcome

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
    """A person's reply: parties talking to each other connect the introduction (and end its
    check-ins to them), an outcome it states is recorded; a reply that asks to stop or to wait
    changes the sender's preferences.

    `standing` is whether the mail authenticates as its sender (None: not checked); mail that
    does not changes nothing and is only reported to the owner."""
    sender = msg.sender.email if msg.sender else ""
    contact = people.get(sender) if sender and not identity.is_owner(sender) else None
    if contact is None:
        return []
    intent = _reply_intent(msg, now) if verdict.kind == "reply" else None
    if standing is not None and not standing.authenticated:
        return _unheeded(session, msg, contact, identity, intent, standing.why)
    notices: list[str] = []
    links = _links_to_introductions(session, msg, contact, identity, answering=intent is None)
    outcome = _reply_outcome(msg) if links else None  # read only where it can count
    for link in links:
        notices += _connected(session, link, contact, now)
        if outcome is not None:
            notices += record_outcome(session, link.intro, outcome, contact, now)
    if intent is not None:
        notices += _intent(session, msg, contact, intent, now)
    return notices


def _reply_intent(msg: ParsedMessage, now: datetime) -> Intent | None:
    from refmail.replies import reply_intent

    return reply_intent(msg.own_text, now)


def _reply_outcome(msg: ParsedMessage) -> Outcome | None:
    from refmail.replies import reply_outcome

    return reply_outcome(msg.own_text)


@dataclass(frozen=True)
class _Link:
    """An introduction a party's message answers: how (`how`), and whose check-ins it ends."""

    intro: m.Introduction
    how: str
    pair: tuple[m.Contact, ...]


def _links_to_introductions(
    session: Session, msg: ParsedMessage, sender: m.Contact, identity: Identity, answering: bool
) -> list[_Link]:
    """The sender's open (or connected) introductions this message answers: it writes to
    another party (or, when someone introduced the owner, to the owner), or it replies in the
    introduction's thread (unless it only asks to stop or to wait: `answering` False)."""
    recipients = {a.email for a in msg.envelope.recipients}
    refs = {r for r in (msg.in_reply_to, *msg.references) if r}
    intros = (
        session.scalars(
            select(m.Introduction)
            .join(m.IntroductionParty, m.IntroductionParty.introduction_id == m.Introduction.id)
            .where(
                m.IntroductionParty.contact_id == sender.id,
                m.Introduction.status.in_(("open", "connected")),
            )
            .options(joinedload(m.Introduction.parties))  # with the query, not one more each
            .order_by(m.Introduction.id)
        )
        .unique()
        .all()
    )
    links = []
    for intro in intros:
        others = [p.contact for p in intro.parties if p.contact_id != sender.id]
        addressed = [c for c in others if c.email in recipients]
        owner_met = not identity.is_owner(intro.introducer.email) and any(
            identity.is_owner(r) for r in recipients
        )
        if addressed:
            names = ", ".join(c.email for c in addressed)
            links.append(_Link(intro, f"wrote to {names}", (sender, *addressed)))
        elif refs & _thread_ids(session, intro) and (answering or owner_met):
            pair = (sender, *others) if len(others) == 1 else (sender,)
            links.append(_Link(intro, "replied in the introduction's thread", pair))
        elif owner_met:
            links.append(_Link(intro, "wrote to the owner", (sender,)))
    return links


def _thread_ids(session: Session, intro: m.Introduction) -> set[str]:
    """Message-IDs a reply to this introduction refers to: it, its thread, our follow-ups."""
    ids = {intro.message.message_id, intro.message.thread_root}
    ids.update(
        session.scalars(select(m.FollowUp.message_id).where(m.FollowUp.introduction_id == intro.id))
    )
    return {i for i in ids if i}


def _connected(session: Session, link: _Link, sender: m.Contact, now: datetime) -> list[str]:
    """The pair talked: the introduction is connected, and every remaining check-in to them
    (all steps) is cancelled, the why-log saying who wrote what."""
    intro, notices = link.intro, []
    what = f"{sender.email} {link.how} on {now:%Y-%m-%d}"
    if intro.status == "open":
        intro.status, intro.outcome, intro.updated_at = "connected", what, now
        outcomes.log_change(session, intro, "open", "connected", "sync", what, now)
        notices.append(f"introduction #{intro.id} connected ({what})")
    noise = f"{what}: the introduction connected, a check-in would be noise"
    outbox.stand_down(  # open ones, and drafts, of the whole pair in one query
        session,
        "connected",
        noise,
        now,
        contact_id=[contact.id for contact in link.pair],
        introduction_id=intro.id,
        kinds_=kinds.COURTESY,
    )
    return notices


def record_outcome(
    session: Session, intro: m.Introduction, outcome: Outcome, said_by: m.Contact, now: datetime
) -> list[str]:
    """An outcome stated in a reply: the introduction is converted or closed, with the words;
    its remaining check-ins end. (The one place an outcome is written.)"""
    what = f"{said_by.email} on {now:%Y-%m-%d}: {outcome.sentence!r}"
    outcomes.log_change(session, intro, intro.status, outcome.status, "sync", what, now)
    intro.status, intro.outcome, intro.updated_at = outcome.status, what, now
    outbox.stand_down(
        session,
        f"outcome_{outcome.status}",
        f"the introduction is {outcome.status} ({what})",
        now,
        introduction_id=intro.id,
        kinds_=kinds.COURTESY,
    )
    return [f"introduction #{intro.id} {outcome.status} ({what})"]


def _intent(
    session: Session, msg: ParsedMessage, contact: m.Contact, intent: Intent, now: datetime
) -> list[str]:
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


def _unheeded(
    session: Session,
    msg: ParsedMessage,
    contact: m.Contact,
    identity: Identity,
    intent: Intent | None,
    why: str,
) -> list[str]:
    """What unauthenticated mail in a contact's name asked for, as a notice; nothing changes."""
    links = _links_to_introductions(session, msg, contact, identity, answering=intent is None)
    asked = [f"connect introduction #{link.intro.id}" for link in links]
    if intent is not None:
        asked.append(f"{intent.kind} ({intent.phrase!r})")
    if not asked:
        return []
    log.warning("unauthenticated mail from %s not acted on: %s", contact.email, why)
    return [
        f"mail claiming to be from {contact.email} would {', '.join(asked)}, but it does not "
        f"authenticate ({why}): nothing changed"
    ]
