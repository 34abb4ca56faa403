"""Opt-in introductions: the owner asks one person first ("would you like an introduction to Leo,
who …?"), refmail records a *pending* introduction, and only that person's yes plans the
double-sided introduction to both. A no, or silence past `[optin] wait_days`, plans nothing and
tells the owner.

The asked person is the party with `reached` set (the ask was addressed to them); on a yes both
become unreached, so the ordinary planner drafts the double-sided introduction to each.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import kinds, outbox, patterns
from refmail import models as m
from refmail.classes import dataclass
from refmail.detect import Identity, context_sentence
from refmail.outcomes import OutcomeRules, log_change, note_owner
from refmail.parse import Address, ParsedMessage, normalise_address
from refmail.patterns import Lazy
from refmail.plan import IntroFacts, plan
from refmail.record import upsert_contact

if TYPE_CHECKING:
    from refmail.replies import Answer  # an answer's words are read by owner_mail

SHAPE = "opt_in"
CALL_LEAD = timedelta(days=1)  # with [optin] call_first: the call, then a day later the intro
# Patterns for the owner's asks only, so compiled on first use: at import they cost every sync
# that loads this module (issue 15). _NAMED is completed with the address it names (re keeps the
# compiled ones).
_NAMED = r"(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})\s*[<(\[]\s*ADDRESS\s*[>)\]]"
_TO_NAME = Lazy(r"\bintroduc\w*\s+(?:you\s+)?to\s+(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?)")


@dataclass(frozen=True)
class Ask:
    """Whom the owner asked, about whom, and why (the context sentence of the note)."""

    asked: Address
    other: Address
    context: str


def read_ask(msg: ParsedMessage, identity: Identity, about: tuple[str, ...]) -> Ask | None:
    """The ask in the owner's note: the first recipient who is not the owner or refmail is asked;
    the other person is the address on the command line, else the first address in the text."""
    asked = next((a for a in msg.envelope.recipients if not identity.is_self(a)), None)
    if asked is None:
        return None
    text = msg.own_text
    candidates = [*about, *(a.lower() for a in patterns.ADDRESS().findall(text))]
    for raw in candidates:
        email = normalise_address(raw)
        if email and email != asked.email and not identity.is_self(email) and "+" not in email:
            return Ask(asked, Address(email, _name_of(text, raw)), _context(text))
    return None


def _context(text: str) -> str:
    """Why they should meet: the note's context sentence, leaving out the question itself and
    anything naming an address (it goes to both, and neither has said yes to the other yet)."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    kept = [s for s in sentences if not s.endswith("?") and not patterns.ADDRESS().search(s)]
    return context_sentence(" ".join(kept))


def _name_of(text: str, address: str) -> str:
    named = re.search(_NAMED.replace("ADDRESS", re.escape(address)), text)
    if named is not None:
        return named.group("name")
    offered = _TO_NAME().search(text)
    return offered.group("name") if offered is not None else ""


def record_ask(
    session: Session,
    message: m.MessageRecord,
    owner: Address,
    ask: Ask,
    now: datetime,
    source: str = "mail",
) -> m.Introduction:
    """The pending introduction: nothing is planned until the asked person says yes."""
    introducer = upsert_contact(session, owner, now)
    intro = m.Introduction(
        message_pk=message.id,
        account_id=message.account_id,
        introducer_id=introducer.id,
        shape=SHAPE,
        context=ask.context,
        status="pending",
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    session.flush()
    # What the owner wrote about the other person is what the asked one will be told of them.
    for address, reached, about in ((ask.asked, True, ""), (ask.other, False, ask.context)):
        contact = upsert_contact(session, address, now)
        session.add(
            m.IntroductionParty(
                introduction_id=intro.id, contact_id=contact.id, reached=reached, about=about
            )
        )
    log_change(session, intro, "", "pending", source, f"asked {ask.asked.email} first", now)
    session.flush()
    return intro


def pending_for(
    session: Session, contact: m.Contact, refs: tuple[str, ...]
) -> m.Introduction | None:
    """The pending introduction `contact` was asked about: the one their reply's thread names,
    else their latest. Mail that refers to no thread answers no ask: no query (a new
    introduction has no references, and recorded Message-IDs are never empty)."""
    if not any(refs):
        return None
    rows = session.scalars(
        select(m.Introduction)
        .join(m.IntroductionParty, m.IntroductionParty.introduction_id == m.Introduction.id)
        .where(
            m.Introduction.status == "pending",
            m.IntroductionParty.contact_id == contact.id,
            m.IntroductionParty.reached.is_(True),
        )
        .order_by(m.Introduction.id.desc())
    ).all()
    for intro in rows:
        if intro.message.message_id in refs:
            return intro
    return rows[0] if rows else None


def answer(
    session: Session,
    intro: m.Introduction,
    said: Answer,
    rules: OutcomeRules,
    now: datetime,
) -> list[str]:
    """A yes plans the double-sided introduction (and check-ins); a no closes it and tells the
    owner."""
    asked = next(p.contact for p in intro.parties if p.reached)
    if not said.yes:
        log_change(session, intro, "pending", "closed", "reply", f"declined: “{said.phrase}”", now)
        intro.status, intro.updated_at, intro.outcome = "closed", now, f"declined ({said.phrase})"
        text = (
            f"{asked.name or asked.email} said no to the introduction you offered "
            f"(“{said.phrase}”): nothing was sent."
        )
        note_owner(session, intro.account_id, intro.id, text, now)
        return [text]
    log_change(session, intro, "pending", "open", "reply", f"accepted: “{said.phrase}”", now)
    intro.status, intro.updated_at = "open", now
    for party in intro.parties:
        party.reached = False  # neither has the other's details yet: a double intro to each
    # An owner who works by phone calls the referred person first; the introduction follows.
    start = now + CALL_LEAD if rules.call_first else now
    facts = IntroFacts(
        shape=intro.shape,
        introducer=intro.introducer.email,
        introducer_is_owner=True,
        parties=tuple((p.contact.email, False) for p in intro.parties),
        at=start,
    )
    by_email = {p.contact.email: p.contact for p in intro.parties}
    rows: dict[tuple[str, str], m.FollowUp] = {}
    for planned in plan(facts, rules.cadence, start):
        rows[planned.kind, planned.recipient] = outbox.add(
            session,
            introduction_id=intro.id,
            account_id=intro.account_id,
            kind=planned.kind,
            step=planned.step,
            contact_id=by_email[planned.recipient].id,
            due_at=planned.due_at,
            domain=rules.domain,
            now=now,
            rule="opt_in",
            note=f"{planned.kind}: {asked.email} said yes (“{said.phrase}”)",
        )
    other = next(p.contact for p in intro.parties if p.contact_id != asked.id)
    double = rows.get(("double_intro", other.email))
    if rules.call_first and double is not None:
        outbox.add(
            session,
            introduction_id=intro.id,
            account_id=intro.account_id,
            kind=kinds.CALL_TASK,
            step=double.id,
            contact_id=other.id,
            due_at=now,
            domain=rules.domain,
            now=now,
            origin_id=double.id,
            rule="opt_in",
            note=f"call {other.email} before the introduction (#{double.id}) goes out",
        )
    return [
        f"{asked.email} said yes to introduction #{intro.id}: double-sided introduction planned"
    ]


def expire(session: Session, wait: timedelta, now: datetime) -> list[str]:
    """Asks left unanswered for longer than `wait` lapse: closed, the owner told."""
    notices = []
    stale = session.scalars(
        select(m.Introduction).where(
            m.Introduction.status == "pending", m.Introduction.created_at < now - wait
        )
    ).all()
    for intro in stale:
        asked = next((p.contact for p in intro.parties if p.reached), None)
        who = (asked.name or asked.email) if asked is not None else "the person you asked"
        log_change(
            session, intro, "pending", "closed", "expiry", f"no answer in {wait.days} days", now
        )
        intro.status, intro.updated_at, intro.outcome = "closed", now, "no answer"
        text = f"{who} did not answer your offer of an introduction in {wait.days} days: closed."
        note_owner(session, intro.account_id, intro.id, text, now)
        notices.append(text)
    return notices
