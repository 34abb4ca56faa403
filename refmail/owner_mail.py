"""What sync does with mail that closes the loop: the owner's commands (`refmail+won@`, a
`refmail: converted` line, `+ask`), the answers to opt-in asks, and the signs that a referral
became business (recorded as suggestions, never acted on).

Called by sync inside the message's savepoint; returns notices for the owner. Commands are
honoured only from mail that `is_owner_command` accepts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import commands, optin, outcomes, record
from refmail import models as m
from refmail.detect import Classification, Identity
from refmail.outcomes import OutcomeRules
from refmail.parse import ParsedMessage
from refmail.patterns import Lazy

if TYPE_CHECKING:
    from refmail import signals

# Compiled on first use: only an owner's command looks for the introduction it answers.
_SUBJECT_PREFIX = Lazy(r"^\s*(?:(?:re|fwd?|aw|wg|tr|sv)\s*:\s*)+", re.IGNORECASE)


def is_owner_command(msg: ParsedMessage, identity: Identity) -> bool:
    """Whether this message may command refmail. For now: its From is one of the owner's
    addresses; the lead points this at refmail.authn's verdict (authenticated owner mail only)
    when that lands."""
    return identity.is_owner(msg.sender)


def is_command(msg: ParsedMessage, identity: Identity) -> bool:
    """Whether `msg` carries a command to refmail (honoured or not: take_command says)."""
    return _command(msg, identity) is not None


def take_command(
    session: Session,
    msg: ParsedMessage,
    identity: Identity,
    account_id: int,
    folder: str,
    key: int | str,
    rules: OutcomeRules,
    now: datetime,
) -> list[str] | None:
    """The owner's command in `msg`, carried out; None when `msg` is not a command (sync then
    treats it as ordinary mail)."""
    command = _command(msg, identity)
    if command is None:
        return None
    if not is_owner_command(msg, identity):
        return [f"command {command.words!r} in {msg.message_id} ignored: not the owner's mail"]
    if command.action == commands.ASK:
        return _ask(session, msg, identity, command, account_id, folder, key, now)
    intro = _introduction_for(session, msg, command)
    verdict = Classification(
        "command",
        f"command_{command.action}",
        f"the owner: {command.words}"
        + (f" → introduction #{intro.id}" if intro else " (no introduction found)"),
    )
    record.record_message(session, account_id, folder, key, msg, verdict, now)
    if intro is None:
        return [f"{command.words}: no introduction found for “{msg.subject[:80]}”; nothing changed"]
    return outcomes.set_outcome(
        session,
        intro,
        command.action,
        rules,
        now,
        source="mail",
        reason=f"{command.words} ({msg.message_id})",
        value=command.value,
        note=command.note,
    )


def _command(msg: ParsedMessage, identity: Identity) -> commands.Command | None:
    addressed = [a.email for a in msg.envelope.recipients] + list(msg.envelope.delivered_to)
    for address in sorted(identity.refmail):
        found = commands.parse(address, addressed, msg.own_text)
        if found is not None:
            return found
    return None


def _ask(
    session: Session,
    msg: ParsedMessage,
    identity: Identity,
    command: commands.Command,
    account_id: int,
    folder: str,
    key: int | str,
    now: datetime,
) -> list[str]:
    ask = optin.read_ask(msg, identity, command.about)
    reason = (
        f"the owner asked {ask.asked.email} about an introduction to {ask.other.email}"
        if ask is not None
        else "an ask with no second person (name their address on a `refmail: ask` line)"
    )
    verdict = Classification("introduction" if ask else "command", "owner_ask", reason)
    row = record.record_message(session, account_id, folder, key, msg, verdict, now)
    if ask is None or msg.sender is None:
        return [f"{command.words}: {reason}; nothing recorded"]
    intro = optin.record_ask(session, row, msg.sender, ask, now)
    return [f"introduction #{intro.id} pending: {reason}"]


def _introduction_for(
    session: Session, msg: ParsedMessage, command: commands.Command
) -> m.Introduction | None:
    """The introduction a command means: the one it names (#12), else the one its thread
    belongs to (the introduction or one of refmail's follow-ups), else by subject (a forward)."""
    if command.introduction_id is not None:
        return session.get(m.Introduction, command.introduction_id)
    refs = [r for r in (*reversed(msg.references), msg.in_reply_to) if r]
    for ref in refs:
        intro = session.scalar(
            select(m.Introduction)
            .join(m.MessageRecord, m.MessageRecord.id == m.Introduction.message_pk)
            .where(m.MessageRecord.message_id == ref)
        )
        if intro is None:
            intro = session.scalar(
                select(m.Introduction)
                .join(m.FollowUp, m.FollowUp.introduction_id == m.Introduction.id)
                .where(m.FollowUp.message_id == ref)
            )
        if intro is not None:
            return intro
    subject = _SUBJECT_PREFIX().sub("", msg.subject).strip().lower()
    if subject:
        for intro in session.scalars(select(m.Introduction).order_by(m.Introduction.id.desc())):
            if _SUBJECT_PREFIX().sub("", intro.message.subject).strip().lower() == subject:
                return intro
    return _by_forwarded_people(session, msg)


def _by_forwarded_people(session: Session, msg: ParsedMessage) -> m.Introduction | None:
    """A forward of someone's mail: the one open introduction the forwarded people are in."""
    own = {a.email for a in (*msg.envelope.recipients, *((msg.sender,) if msg.sender else ()))}
    people = {
        a.email
        for q in msg.quoted
        for a in (*((q.sender,) if q.sender else ()), *q.to, *q.cc)
        if a.email not in own
    }
    if not people:
        return None
    found = {intro.id: intro for intro, _ in _open_parties(session, people)}
    return next(iter(found.values())) if len(found) == 1 else None


# --- mail between people: answers to asks, signs of business --------------------------------


def observe(
    session: Session,
    msg: ParsedMessage,
    raw: bytes,
    identity: Identity,
    people: record.ContactCache,
    rules: OutcomeRules,
    now: datetime,
) -> list[str]:
    """A person's answer to an opt-in ask; signs of business between the owner and a party."""
    sender = msg.sender.email if msg.sender else ""
    if not sender:
        return []
    notices: list[str] = []
    if not identity.is_owner(sender):
        contact = people.get(sender)
        if contact is not None:
            notices += _answer(session, msg, contact, rules, now)
    notices += _signs(session, msg, raw, identity, people, now)
    return notices


def _answer(
    session: Session, msg: ParsedMessage, contact: m.Contact, rules: OutcomeRules, now: datetime
) -> list[str]:
    intro = optin.pending_for(session, contact, (*msg.references, msg.in_reply_to or ""))
    if intro is None:
        return []
    from refmail.replies import answer_intent  # only for a pending opt-in (issue 15)

    said = answer_intent(msg.own_text)
    if said is None:
        return []
    return optin.answer(session, intro, said, rules, now)


def _signs(
    session: Session,
    msg: ParsedMessage,
    raw: bytes,
    identity: Identity,
    people: record.ContactCache,
    now: datetime,
) -> list[str]:
    """Mail between the owner and a party of an open introduction, with signs of business."""
    sender = msg.sender.email if msg.sender else ""
    recipients = {a.email for a in msg.envelope.recipients}
    if identity.is_owner(sender):
        others, verb = recipients - identity.owners, "sent"
    elif recipients & identity.owners:
        others, verb = {sender}, "received"
    else:
        return []
    if not any(people.get(a) is not None for a in others):
        return []  # a party is a contact: the batch's contact lookup spares a query per message
    parties = _open_parties(session, others)
    if not parties:
        return []
    from refmail import signals  # read only for mail with a party of an open introduction

    found = signals.find(msg.subject, msg.own_text, signals.parts(raw))
    if not found:
        return []
    sign = found[0]
    seen = min(msg.date, now) if msg.date is not None and msg.date.tzinfo else now
    evidence = f"{_sign_words(sign)} {verb} {seen.day} {seen:%b}"
    notices = []
    for intro, contact in parties:
        row = outcomes.suggest(
            session, intro, contact, msg.message_id, sign.name, evidence, seen, now
        )
        if row is not None:
            notices.append(outcomes.suggestion_text(row))
    return notices


def _sign_words(sign: signals.Signal) -> str:
    name = sign.name.replace("_", " ")
    return f"{name} ({sign.evidence})" if sign.evidence.startswith("attachment") else name


def _open_parties(session: Session, addresses: set[str]) -> list[tuple[m.Introduction, m.Contact]]:
    if not addresses:
        return []
    rows = session.execute(
        select(m.Introduction, m.Contact)
        .join(m.IntroductionParty, m.IntroductionParty.introduction_id == m.Introduction.id)
        .join(m.Contact, m.Contact.id == m.IntroductionParty.contact_id)
        .where(
            m.Contact.email.in_(sorted(addresses)),
            m.Introduction.status.in_(("open", "connected")),
        )
    ).all()
    return [(intro, contact) for intro, contact in rows]
