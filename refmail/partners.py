"""Referral partners: everyone who refers the owner, with their numbers (referrals, connected,
converted, value), when they were last thanked and rewarded, what they said about the owner, and
the expectations the owner noted. Also the rewards' state (promised · sent).

The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from refmail import contacts, outbox
from refmail import models as m
from refmail.errors import RefmailError

THANKS = ("thank_you", "conversion_thanks")  # the follow-ups that thank a referrer
REACHED = ("connected", "converted")  # outcomes that mean the parties met


@dataclass(frozen=True)
class PartnerView:
    """One referral partner as the report shows them."""

    email: str
    name: str
    referrals: int
    connected: int
    converted: int
    value: float
    last_thanked: datetime | None
    last_rewarded: datetime | None
    rewards_owed: int  # promised, not yet sent
    quotes: tuple[str, ...]
    expectations: str


def about_owner(intro: m.Introduction) -> str:
    """What the referrer said about the owner in this introduction (what detection kept as
    such), else the introduction's context sentence."""
    return intro.about_owner or intro.context


def partners(session: Session, owners: frozenset[str]) -> list[PartnerView]:
    """Everyone who referred the owner, most referrals first."""
    intros = session.scalars(
        select(m.Introduction)
        .options(selectinload(m.Introduction.introducer))
        .where(m.Introduction.status != "pending")
        .order_by(m.Introduction.id)
    ).all()
    by_partner: dict[int, list[m.Introduction]] = {}
    for intro in intros:
        if intro.introducer.email not in owners:
            by_partner.setdefault(intro.introducer_id, []).append(intro)
    views = [_view(session, rows[0].introducer, rows) for rows in by_partner.values()]
    return sorted(views, key=lambda v: (-v.referrals, v.email))


def _view(session: Session, contact: m.Contact, intros: list[m.Introduction]) -> PartnerView:
    converted = [i for i in intros if i.status == "converted"]
    thanked = session.scalar(
        select(func.max(m.FollowUp.delivered_at)).where(
            m.FollowUp.contact_id == contact.id, m.FollowUp.kind.in_(THANKS)
        )
    )
    rewards = session.scalars(select(m.Reward).where(m.Reward.contact_id == contact.id)).all()
    sent = [r.sent_at for r in rewards if r.sent_at is not None]
    partner = session.scalar(select(m.Partner).where(m.Partner.contact_id == contact.id))
    quotes = tuple(dict.fromkeys(q for q in (about_owner(i) for i in intros) if q))
    return PartnerView(
        email=contact.email,
        name=contact.name,
        referrals=len(intros),
        connected=sum(i.status in REACHED for i in intros),
        converted=len(converted),
        value=sum(i.value or 0.0 for i in converted),
        last_thanked=thanked,
        last_rewarded=max(sent) if sent else None,
        rewards_owed=sum(r.state == "promised" for r in rewards),
        quotes=quotes,
        expectations=partner.expectations if partner is not None else "",
    )


def set_expectations(session: Session, address: str, text: str, now: datetime) -> m.Partner:
    """What the owner wants to remember about a partner ("refers bookkeeping clients…")."""
    contact = contacts.find(session, address)
    if contact is None:
        raise RefmailError(f"no contact {address}")
    partner = session.scalar(select(m.Partner).where(m.Partner.contact_id == contact.id))
    if partner is None:
        partner = m.Partner(contact_id=contact.id, expectations="", updated_at=now)
        session.add(partner)
    partner.expectations, partner.updated_at = text[:2000], now
    session.flush()
    return partner


def reward_sent(
    session: Session, address: str, now: datetime, introduction_id: int | None = None
) -> list[m.Reward]:
    """Mark a partner's promised rewards sent (one introduction's, or all); the to-do reminding
    the owner to send them is done with."""
    contact = contacts.find(session, address)
    if contact is None:
        raise RefmailError(f"no contact {address}")
    query = select(m.Reward).where(m.Reward.contact_id == contact.id, m.Reward.state == "promised")
    if introduction_id is not None:
        query = query.where(m.Reward.introduction_id == introduction_id)
    rows = list(session.scalars(query))
    if not rows:
        raise RefmailError(f"no reward promised to {contact.email} is waiting to be sent")
    for row in rows:
        row.state, row.sent_at = "sent", now
        outbox.cancel_open(
            session,
            "reward_sent",
            f"the owner sent the reward on {now:%Y-%m-%d}",
            now,
            introduction_id=row.introduction_id,
            kinds_=("reward_task",),
        )
    return rows


def reward_text(session: Session, introduction_id: int) -> str:
    """The reward promised for this introduction ("" when none): the line the conversion
    thank-you and the owner's to-do carry."""
    text = session.scalar(select(m.Reward.text).where(m.Reward.introduction_id == introduction_id))
    return text or ""
