"""An introduction's outcome (open · connected · converted · not a fit · closed): set by the owner
(CLI, mail command, owner's page), logged with who, when, why, value and note, and followed by
what it asks for: a converted referral plans the thank-you to the referrer and the reward to-do.

Also keeps the suggested conversions (signs in the mailbox) — suggested, never acted on until
the owner confirms one. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import kinds, outbox
from refmail import models as m
from refmail.classes import dataclass
from refmail.config import Account, FollowUps, Rewards, Settings
from refmail.errors import RefmailError
from refmail.plan import IntroFacts, plan_outcome

OUTCOMES = ("open", "connected", "converted", "not_a_fit", "closed")
ENDED = ("converted", "not_a_fit", "closed")  # check-ins after these would be noise


@dataclass(frozen=True)
class OutcomeRules:
    """What setting an outcome needs from the config: the cadence, the rewards, the owners."""

    owners: frozenset[str]
    domain: str  # of the owner's address: refmail's Message-IDs
    cadence: FollowUps = field(default_factory=FollowUps)
    rewards: Rewards = field(default_factory=Rewards)
    call_first: bool = False  # [optin] call_first: a call reminder before an opt-in's intro


def rules_for(settings: Settings, account: Account) -> OutcomeRules:
    """What setting an outcome needs from this config, for introductions of `account`."""
    return OutcomeRules(
        owners=frozenset(o for a in settings.accounts for o in a.owners),
        domain=account.owner_address.split("@", 1)[1],
        cadence=settings.followups,
        rewards=settings.rewards,
        call_first=settings.optin.call_first,
    )


def find(session: Session, introduction_id: int) -> m.Introduction:
    intro = session.get(m.Introduction, introduction_id)
    if intro is None:
        raise RefmailError(f"no introduction #{introduction_id}")
    return intro


def log_change(
    session: Session,
    intro: m.Introduction,
    old: str,
    new: str,
    source: str,
    reason: str,
    now: datetime,
    *,
    value: float | None = None,
    note: str = "",
) -> None:
    """One entry in the introduction's outcome log (append-only): who, when, why."""
    session.add(
        m.IntroductionChange(
            introduction_id=intro.id,
            at=now,
            source=source,
            old_status=old,
            new_status=new,
            reason=reason[:2000],
            value=value,
            note=note[:2000],
        )
    )


def set_outcome(
    session: Session,
    intro: m.Introduction,
    outcome: str,
    rules: OutcomeRules,
    now: datetime,
    *,
    source: str,
    reason: str,
    value: float | None = None,
    note: str = "",
) -> list[str]:
    """Record the outcome and plan what it asks for; returns notices for the owner."""
    if outcome not in OUTCOMES:
        raise RefmailError(f"outcome must be one of {', '.join(OUTCOMES)}")
    old = intro.status
    if old == outcome and value is None and not note:
        return [f"introduction #{intro.id} is already {outcome}"]
    intro.status, intro.updated_at = outcome, now
    if value is not None:
        intro.value = value
    if note or reason:
        intro.outcome = note or reason
    log_change(session, intro, old, outcome, source, reason, now, value=value, note=note)
    notices = [f"introduction #{intro.id}: {old} → {outcome} ({source}: {reason})"]
    if outcome in ENDED:
        outbox.cancel_open(
            session,
            "outcome",
            f"the introduction is {outcome} ({now:%Y-%m-%d}): a check-in would be noise",
            now,
            introduction_id=intro.id,
            kinds_=kinds.COURTESY,
        )
    if outcome == "converted" and old != "converted":
        notices += _plan_conversion(session, intro, rules, now)
        _confirm_suggestions(session, intro.id, now)
    return notices


def _plan_conversion(
    session: Session, intro: m.Introduction, rules: OutcomeRules, now: datetime
) -> list[str]:
    referrer = intro.introducer
    facts = IntroFacts(
        shape=intro.shape,
        introducer=referrer.email,
        introducer_is_owner=referrer.email in rules.owners,
        parties=tuple((p.contact.email, p.reached) for p in intro.parties),
        at=intro.created_at,
    )
    reward = rules.rewards.for_partner(referrer.email)
    notices = []
    for planned in plan_outcome("converted", facts, rules.cadence, reward, now):
        if _already_planned(session, intro.id, planned.kind, referrer.id):
            continue  # converted, reopened, converted again: one thank-you is enough
        row = outbox.add(
            session,
            introduction_id=intro.id,
            account_id=intro.account_id,
            kind=planned.kind,
            step=planned.step,
            contact_id=referrer.id,
            due_at=planned.due_at,
            domain=rules.domain,
            now=now,
            rule="outcome",
            note=f"{planned.kind}: introduction #{intro.id} converted",
        )
        notices.append(f"{planned.kind} to {referrer.email} planned (#{row.id})")
        if planned.kind == "reward_task":
            _promise(session, intro, reward, now)
    return notices


def _already_planned(session: Session, introduction_id: int, kind: str, contact_id: int) -> bool:
    return (
        session.scalar(
            select(m.FollowUp.id).where(
                m.FollowUp.introduction_id == introduction_id,
                m.FollowUp.kind == kind,
                m.FollowUp.contact_id == contact_id,
            )
        )
        is not None
    )


def _promise(session: Session, intro: m.Introduction, text: str, now: datetime) -> None:
    exists = session.scalar(select(m.Reward).where(m.Reward.introduction_id == intro.id))
    if exists is None:
        session.add(
            m.Reward(
                introduction_id=intro.id,
                contact_id=intro.introducer_id,
                text=text,
                state="promised",
                promised_at=now,
            )
        )
        session.flush()


# --- suggested conversions -----------------------------------------------------------------


def suggest(
    session: Session,
    intro: m.Introduction,
    contact: m.Contact,
    message_id: str,
    signal: str,
    evidence: str,
    seen_at: datetime,
    now: datetime,
) -> m.Suggestion | None:
    """Record a sign that `contact` became a client (once per introduction and message)."""
    known = session.scalar(
        select(m.Suggestion.id).where(
            m.Suggestion.introduction_id == intro.id, m.Suggestion.message_id == message_id
        )
    )
    if known is not None:
        return None
    row = m.Suggestion(
        introduction_id=intro.id,
        contact_id=contact.id,
        message_id=message_id[:998],
        signal=signal,
        evidence=evidence[:500],
        seen_at=seen_at,
        state="open",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def suggestion_text(row: m.Suggestion) -> str:
    """ "Carl Chen may have become a client: invoice sent 3 Mar — `refmail intros outcome 12
    converted`" """
    who = row.contact.name or row.contact.email
    return (
        f"{who} may have become a client: {row.evidence} — "
        f"`refmail intros outcome {row.introduction_id} converted`"
    )


def open_suggestions(session: Session) -> list[m.Suggestion]:
    """Open suggestions of introductions not yet converted or ended, newest first."""
    return list(
        session.scalars(
            select(m.Suggestion)
            .join(m.Introduction, m.Introduction.id == m.Suggestion.introduction_id)
            .where(m.Suggestion.state == "open", m.Introduction.status.in_(("open", "connected")))
            .order_by(m.Suggestion.seen_at.desc(), m.Suggestion.id.desc())
        )
    )


def confirm_suggestion(
    session: Session, suggestion_id: int, rules: OutcomeRules, now: datetime, source: str
) -> list[str]:
    """The owner confirms a suggestion: the introduction is converted."""
    row = session.get(m.Suggestion, suggestion_id)
    if row is None:
        raise RefmailError(f"no suggestion #{suggestion_id}")
    return set_outcome(
        session,
        row.introduction,
        "converted",
        rules,
        now,
        source=source,
        reason=f"suggestion #{row.id} confirmed ({row.evidence})",
    )


def _confirm_suggestions(session: Session, introduction_id: int, now: datetime) -> None:
    for row in session.scalars(
        select(m.Suggestion).where(
            m.Suggestion.introduction_id == introduction_id, m.Suggestion.state == "open"
        )
    ):
        row.state, row.updated_at = "confirmed", now


def note_owner(
    session: Session, account_id: int, introduction_id: int | None, text: str, now: datetime
) -> m.OwnerNote:
    """Something to tell the owner: shown on the owner's page and in the next digest."""
    row = m.OwnerNote(
        account_id=account_id, introduction_id=introduction_id, at=now, text=text[:2000]
    )
    session.add(row)
    return row
