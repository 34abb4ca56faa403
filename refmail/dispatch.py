"""Dispatch: takes due follow-ups from the outbox, asks policy, renders and delivers them once.

Each delivery is claimed (state `delivering`, a lease), performed, then confirmed. A retry, or a
claim left behind by a crash, first asks the channel whether that Message-ID is already there.
Every state change goes through refmail.outbox; the channels (drafts, file, smtp) are chosen by
refmail.wiring and reach dispatch as a function of the follow-up's kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import kinds, lifecycle, outbox, partners, record
from refmail import models as m
from refmail.clock import Clock
from refmail.config import Account, Caps
from refmail.db import SessionFactory, engine_of, exclusive, transaction
from refmail.errors import CredentialsError, DeliveryError
from refmail.policy import ContactView, Decision, Due, History, contact_zone, decide
from refmail.render import Draft, Links, Person, Renderer
from refmail.tokens import LinkBuilder

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


class Channel(Protocol):
    """A way out for follow-ups, idempotent by Message-ID: one module per channel (drafts,
    filedrop, smtp), chosen by the table in refmail.wiring."""

    name: str  # as the config names it: "drafts", "file", "smtp"
    sends: bool  # refmail sends it itself: Auto-Submitted, the account's hourly send budget

    def contains(self, message_id: str) -> bool: ...

    def put(self, message: bytes, message_id: str, recipients: Sequence[str]) -> None: ...

    def where(self, message_id: str) -> str:
        """Where the owner finds it (a folder, a file, "sent")."""
        ...


Channels = Callable[[str], Channel]  # the channel for a kind of follow-up


@dataclass(frozen=True)
class Delivered:
    """One follow-up that reached its channel."""

    kind: str
    recipient: str
    message_id: str
    where: str = ""


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    account: str
    delivered: list[Delivered] = field(default_factory=list)
    deferred: int = 0
    skipped: int = 0
    calls: int = 0
    retry_later: int = 0
    failed: int = 0
    recovered: int = 0
    merged: int = 0


@dataclass(frozen=True)
class Rules:
    """The policy settings dispatch applies (from [caps] and the owner's time zone)."""

    caps: Caps = field(default_factory=Caps)
    owner_zone: str = "UTC"
    links: LinkBuilder | None = None  # unsubscribe / preference links (when web.base_url is set)


def dispatch(
    factory: SessionFactory,
    account: Account,
    channels: Channels,
    renderer: Renderer,
    clock: Clock,
    *,
    rules: Rules | None = None,
    limit: int = 500,
) -> DispatchReport:
    """Deliver what is due for one account now; returns what happened. One dispatch of an
    account runs at a time (across processes too); another one raises BusyError at once."""
    with exclusive(engine_of(factory), f"dispatch of account {account.name}"):
        return _dispatch(factory, account, channels, renderer, clock, rules or Rules(), limit)


def _dispatch(
    factory: SessionFactory,
    account: Account,
    channels: Channels,
    renderer: Renderer,
    clock: Clock,
    rules: Rules,
    limit: int,
) -> DispatchReport:
    report = DispatchReport(account.name)
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, clock()).id
    _recover(factory, account_id, channels, clock, report)
    with factory() as session:
        queue = due_ids(session, account_id, clock(), limit)
    while queue:
        follow_up_id = queue.pop(0)
        claimed = _decide_and_claim(
            factory, follow_up_id, account, rules, channels, clock, report, queue
        )
        if claimed is not None:
            _deliver(factory, claimed, channels(claimed.draft.kind), renderer, clock, report)
    return report


def due_ids(session: Session, account_id: int, now: datetime, limit: int = 500) -> list[int]:
    """The open follow-ups of an account that are due at `now`, in the order dispatch takes them."""
    return list(
        session.scalars(
            select(m.FollowUp.id)
            .where(
                m.FollowUp.account_id == account_id,
                m.FollowUp.state.in_(m.OPEN_STATES),
                m.FollowUp.due_at <= now,
            )
            .order_by(m.FollowUp.due_at, m.FollowUp.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Route:
    """What a decision needs to know of a channel without opening it: its name and whether
    refmail sends through it itself."""

    name: str
    sends: bool


Routes = Callable[[str], Route | Channel]  # a kind's channel, or just what a decision needs of it


def decision_for(
    session: Session,
    row: m.FollowUp,
    account: Account,
    rules: Rules,
    routes: Routes,
    now: datetime,
    also_sent: Sequence[datetime] = (),
) -> Decision:
    """Policy's decision for one open follow-up at `now`: the one decision dispatch acts on and
    `refmail outbox preview` shows (`also_sent`: sends the preview would have made already)."""
    contact = row.contact
    caps = rules.caps.for_contact(contact.email)
    sending = routes(row.kind).sends
    history = history_for(session, contact, row.id, caps, now)
    if also_sent:
        history = History(tuple(sorted((*history.sent, *also_sent))), history.last_human)
    decision = decide(
        _view(contact),
        Due(row.kind, row.step, row.due_at, row.first_due_at),
        now,
        history,
        caps,
        contact_zone(contact.timezone, contact.offsets(), rules.owner_zone),
        sending,
    )
    if decision.action == "send" and sending and account.smtp is not None:
        decision = _account_rate(session, row.account_id, routes, account, now) or decision
    return decision


@dataclass(frozen=True)
class _Claim:
    id: int
    message_id: str
    attempts: int
    draft: Draft


def _decide_and_claim(
    factory: SessionFactory,
    follow_up_id: int,
    account: Account,
    rules: Rules,
    channels: Channels,
    clock: Clock,
    report: DispatchReport,
    queue: list[int],
) -> _Claim | None:
    """Apply policy; if it says send, claim the row (only one worker can) and build the draft."""
    now = clock()
    with transaction(factory) as session:
        row = session.get(m.FollowUp, follow_up_id)
        if row is None or row.state not in m.OPEN_STATES:
            return None  # another worker took it
        decision = decision_for(session, row, account, rules, channels, now)
        if decision.action != "send":
            _apply(session, row, decision, now, report, queue)
            return None
        caps = rules.caps.for_contact(row.contact.email)
        if row.kind in caps.merge:
            report.merged += len(outbox.merge(session, row, now))
        if not outbox.claim(session, row, now):
            return None
        sending = channels(row.kind).sends
        draft = replace(build_draft(session, row, account, rules.links), automatic=sending)
        return _Claim(row.id, row.message_id, row.attempts, draft)


def _apply(
    session: Session,
    row: m.FollowUp,
    decision: Decision,
    now: datetime,
    report: DispatchReport,
    queue: list[int],
) -> None:
    if decision.action == "defer" and decision.until is not None:
        outbox.defer(session, row, decision.until, decision.rule, decision.reason, now)
        report.deferred += 1
    elif decision.action == "call":
        call = outbox.call_instead(session, row, decision.rule, decision.reason, now)
        queue.insert(0, call.id)
        report.calls += 1
    else:
        outbox.skip(session, row, decision.rule, decision.reason, now)
        report.skipped += 1


def _account_rate(
    session: Session, account_id: int, channels: Routes, account: Account, now: datetime
) -> Decision | None:
    """The account's own send budget (a send log counted in a window, as Mailman does)."""
    assert account.smtp is not None
    per_hour = account.smtp.max_per_hour
    sending = [k for k in kinds.NAMES if channels(k).sends]
    names = sorted({channels(k).name for k in sending})
    sent = outbox.sent_by_account(session, account_id, names, sending, now - timedelta(hours=1))
    if len(sent) < per_hour:
        return None
    until = sent[-per_hour] + timedelta(hours=1)
    return Decision("defer", "send_rate", f"{per_hour} sends per hour from this account", until)


def history_for(
    session: Session, contact: m.Contact, exclude_id: int, caps: Caps, now: datetime
) -> History:
    """What policy needs to know of past contact: refmail's messages to them, and the last
    human contact."""
    longest = max((w.days for w in caps.windows), default=0.0) * 2  # reduced contacts: ×2
    since = now - timedelta(days=longest + 1, hours=caps.min_gap_hours)
    return History(outbox.sent_to(session, contact.id, since, exclude_id), contact.last_contact_at)


def _deliver(
    factory: SessionFactory,
    claim: _Claim,
    channel: Channel,
    renderer: Renderer,
    clock: Clock,
    report: DispatchReport,
) -> None:
    try:
        rendered = renderer.render(claim.draft, clock())
        message = rendered.as_bytes()
        # A second attempt may follow one that reached the server: look before writing again.
        if claim.attempts == 1 or not channel.contains(claim.message_id):
            channel.put(message, claim.message_id, [claim.draft.recipient.email])
    except CredentialsError as exc:
        # The account, not this follow-up: give the claim back and stop this run; the caller
        # reports it once and backs off, and everything due stays due.
        with transaction(factory) as session:
            row = session.get(m.FollowUp, claim.id)
            assert row is not None
            outbox.release(session, row, "credentials_refused", str(exc), clock())
        raise
    except DeliveryError as exc:
        _failed(factory, claim, clock, report, str(exc), permanent=exc.permanent)
        return
    except Exception as exc:
        log.exception("follow-up %s could not be rendered", claim.id)
        _failed(factory, claim, clock, report, f"{type(exc).__name__}: {exc}", permanent=True)
        return
    reason = f"{claim.draft.kind} to {claim.draft.recipient.email} ({channel.name})"
    # What was written, so reconciliation can tell the owner's edits and their sent copy.
    written = (lifecycle.digest(message), str(rendered["Subject"] or ""))
    _confirm(factory, claim.id, clock(), "delivered", reason, channel.name, written)
    report.delivered.append(
        Delivered(
            claim.draft.kind,
            claim.draft.recipient.email,
            claim.message_id,
            channel.where(claim.message_id),
        )
    )


def _confirm(
    factory: SessionFactory,
    follow_up_id: int,
    now: datetime,
    rule: str,
    reason: str,
    channel: str,
    written: tuple[str, str] = ("", ""),
) -> None:
    with transaction(factory) as session:
        row = session.get(m.FollowUp, follow_up_id)
        assert row is not None
        outbox.confirm(session, row, channel, rule, reason, now, *written)


def _failed(
    factory: SessionFactory,
    claim: _Claim,
    clock: Clock,
    report: DispatchReport,
    why: str,
    *,
    permanent: bool,
) -> None:
    with transaction(factory) as session:
        row = session.get(m.FollowUp, claim.id)
        assert row is not None
        final = outbox.fail(session, row, why, permanent, clock())
    if final:
        report.failed += 1
    else:
        report.retry_later += 1
    log.warning("follow-up %s: %s (%s)", claim.id, why, "failed" if final else "will retry")


def _recover(
    factory: SessionFactory,
    account_id: int,
    channels: Channels,
    clock: Clock,
    report: DispatchReport,
) -> None:
    """Claims older than the lease were left by a crash: confirm them if delivered, else reopen."""
    now = clock()
    with factory() as session:
        stale = [
            (r.id, r.message_id, r.kind)
            for r in outbox.stale_claims(session, account_id, now - LEASE)
        ]
    for follow_up_id, message_id, kind in stale:
        channel = channels(kind)
        try:
            there = channel.contains(message_id)
        except DeliveryError as exc:
            log.warning("cannot check follow-up %s after a crash: %s", follow_up_id, exc)
            continue
        if there:
            found = "found at the channel after a crash"
            _confirm(factory, follow_up_id, now, "recovered", found, channel.name)
        else:
            with transaction(factory) as session:
                row = session.get(m.FollowUp, follow_up_id)
                if row is not None:
                    outbox.reopen(
                        session, row, "recovered", "claim expired, not at the channel: retry", now
                    )
        report.recovered += 1


# --- building the draft --------------------------------------------------------------------


def _view(contact: m.Contact) -> ContactView:
    return ContactView(
        email=contact.email,
        channel=contact.channel,
        level=contact.level,
        paused_until=contact.paused_until,
        opted_out_at=contact.opted_out_at,
        bounced_at=contact.bounced_at,
        phone=contact.phone,
    )


def person(contact: m.Contact, about: str = "") -> Person:
    return Person(contact.email, contact.name, contact.organisation, contact.phone, about)


def _links(builder: LinkBuilder | None, row: m.FollowUp) -> Links:
    if builder is None or kinds.get(row.kind).to_owner:  # reminders to the owner: no links
        return Links()
    pid = row.contact.public_id
    return Links(builder.unsubscribe(pid), builder.preferences(pid))


def build_draft(
    session: Session, row: m.FollowUp, account: Account, links: LinkBuilder | None = None
) -> Draft:
    """Everything the template needs, read from the database."""
    intro = row.introduction
    message = intro.message
    owner = Person(account.owner_address, account.owner_name)
    merged = session.scalars(
        select(m.FollowUp).where(m.FollowUp.origin_id == row.id, m.FollowUp.kind == row.kind)
    ).all()
    parties: list[Person] = []
    for introduction in (intro, *(f.introduction for f in merged)):
        for party in introduction.parties:
            if all(p.email != party.contact.email for p in parties):
                parties.append(person(party.contact, party.about))
    to_owner = kinds.get(row.kind).to_owner
    about = {p.email: p.about for p in parties}
    recipient = owner if to_owner else person(row.contact, about.get(row.contact.email, ""))
    origin = session.get(m.FollowUp, row.origin_id) if row.origin_id else None
    references = tuple(r for r in (message.thread_root,) if r and r != message.message_id)
    return Draft(
        kind=row.kind,
        message_id=row.message_id,
        sender=owner,
        recipient=recipient,
        introducer=person(intro.introducer),
        parties=tuple(parties),
        context=intro.context,
        intro_subject=message.subject,
        intro_message_id=message.message_id,
        intro_references=references,
        intro_date=message.sent_at,
        links=_links(links, row),
        subject_person=person(row.contact, about.get(row.contact.email, "")) if to_owner else None,
        merged_introducers=tuple(person(f.introduction.introducer) for f in merged),
        for_kind=origin.kind if origin is not None else "",
        reward=partners.reward_text(session, intro.id),
        about_owner=intro.about_owner,
    )
