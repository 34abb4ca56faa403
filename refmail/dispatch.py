"""Dispatch: takes due follow-ups from the outbox, asks policy, renders and delivers them once.

Each delivery is claimed (state `delivering`, a lease), performed, then confirmed. A retry, or a
claim left behind by a crash, first asks the target whether that Message-ID is already there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import record
from refmail.clock import Clock
from refmail.config import Account, Caps, Settings
from refmail.db import SessionFactory, transaction
from refmail.errors import DeliveryError
from refmail.policy import ContactView, Decision, Due, History, contact_zone, decide
from refmail.render import Draft, Links, Person, Renderer
from refmail.tokens import LinkBuilder, Tokens

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(hours=6)


class DraftTarget(Protocol):
    """Where follow-ups go (IMAP Drafts, a directory, SMTP): idempotent by Message-ID.

    `channel` is "drafts", "file" or "smtp"; only "smtp" is sent by refmail itself.
    """

    channel: str

    def contains(self, message_id: str) -> bool: ...

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None: ...


Targets = DraftTarget | Callable[[str], DraftTarget]  # one target, or one per kind


def rules_for(settings: Settings) -> Rules:
    """What a config asks of dispatch: its caps, the owner's zone, and unsubscribe/preference
    links when web.base_url is set (the signing keys are read here, once)."""
    web = settings.web
    links = LinkBuilder(web.base_url, Tokens(web.signing_keys())) if web.base_url else None
    return Rules(settings.caps, settings.timezone, links=links)


def target_for(targets: Targets, kind: str) -> DraftTarget:
    return targets if hasattr(targets, "contains") else targets(kind)  # type: ignore[operator,return-value]


@dataclass(frozen=True)
class Delivered:
    """One follow-up that reached its target."""

    kind: str
    recipient: str
    message_id: str


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
    sending: bool = False  # SMTP sends (always inside the send window) rather than drafts
    links: LinkBuilder | None = None  # unsubscribe / preference links (when web.base_url is set)


def dispatch(
    factory: SessionFactory,
    account: Account,
    targets: Targets,
    renderer: Renderer,
    clock: Clock,
    *,
    rules: Rules | None = None,
    limit: int = 500,
) -> DispatchReport:
    """Deliver what is due for one account now; returns what happened."""
    rules = rules or Rules()
    report = DispatchReport(account.name)
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, clock()).id
    _recover(factory, account_id, targets, clock, report)
    with factory() as session:
        due_ids = list(
            session.scalars(
                select(m.FollowUp.id)
                .where(
                    m.FollowUp.account_id == account_id,
                    m.FollowUp.state.in_(m.OPEN_STATES),
                    m.FollowUp.due_at <= clock(),
                )
                .order_by(m.FollowUp.due_at, m.FollowUp.id)
                .limit(limit)
            )
        )
    queue = list(due_ids)
    while queue:
        follow_up_id = queue.pop(0)
        claimed = _decide_and_claim(
            factory, follow_up_id, account, rules, targets, clock, report, queue
        )
        if claimed is not None:
            _deliver(
                factory, claimed, target_for(targets, claimed.draft.kind), renderer, clock, report
            )
    return report


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
    targets: Targets,
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
        contact = row.contact
        caps = rules.caps.for_contact(contact.email)
        sending = target_for(targets, row.kind).channel == "smtp"
        decision = decide(
            _view(contact),
            Due(row.kind, row.step, row.due_at, row.first_due_at),
            now,
            history_for(session, contact, row.id, caps, now),
            caps,
            contact_zone(contact.timezone, contact.offsets(), rules.owner_zone),
            sending,
        )
        if decision.action == "send" and sending and account.smtp is not None:
            smtp_kinds = [k for k in m.KINDS if account.delivery_for(k) == "smtp"]
            limit = account.smtp.max_per_hour
            decision = _account_rate(session, row.account_id, smtp_kinds, limit, now) or decision
        if decision.action != "send":
            _apply(session, row, decision, now, report, queue)
            return None
        report.merged += len(_merge_into(session, row, caps, now))
        claimed = session.execute(
            update(m.FollowUp)
            .where(m.FollowUp.id == row.id, m.FollowUp.state.in_(m.OPEN_STATES))
            .values(
                state="delivering", claimed_at=now, attempts=m.FollowUp.attempts + 1, updated_at=now
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        session.refresh(row)
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
        row.state, row.due_at = "deferred", decision.until
        report.deferred += 1
    elif decision.action == "call":
        call = _call_task_for(session, row, now)
        row.state = "skipped"
        decision = Decision("call", decision.rule, f"{decision.reason} (call reminder #{call.id})")
        queue.insert(0, call.id)
        report.calls += 1
    else:
        row.state = "skipped"
        report.skipped += 1
    row.reason, row.updated_at = decision.reason, now
    record.add_event(session, row, now, decision.rule, decision.reason)


def _account_rate(
    session: Session, account_id: int, smtp_kinds: list[str], per_hour: int, now: datetime
) -> Decision | None:
    """The account's own send budget (a send log counted in a window, as Mailman does)."""
    hour = timedelta(hours=1)
    sent = sorted(
        session.scalars(
            select(func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)).where(
                m.FollowUp.account_id == account_id,
                or_(
                    and_(m.FollowUp.channel == "smtp", m.FollowUp.delivered_at > now - hour),
                    and_(
                        m.FollowUp.state == "delivering",
                        m.FollowUp.kind.in_(smtp_kinds),
                        m.FollowUp.claimed_at > now - hour,
                    ),
                ),
            )
        )
    )
    if len(sent) < per_hour:
        return None
    until = sent[-per_hour] + hour
    return Decision("defer", "send_rate", f"{per_hour} sends per hour from this account", until)


def history_for(
    session: Session, contact: m.Contact, exclude_id: int, caps: Caps, now: datetime
) -> History:
    """What policy needs to know of past contact: refmail's messages to them (a claim by another
    worker counts too), and the last human contact."""
    longest = max((w.days for w in caps.windows), default=0.0) * 2  # reduced contacts: ×2
    since = now - timedelta(days=longest + 1, hours=caps.min_gap_hours)
    sent_at = func.coalesce(m.FollowUp.delivered_at, m.FollowUp.claimed_at)
    # Spelled so that (contact_id, delivered_at) serves it: see bench/policy_throughput.py.
    sent = session.scalars(
        select(sent_at).where(
            m.FollowUp.contact_id == contact.id,
            m.FollowUp.id != exclude_id,
            or_(
                m.FollowUp.delivered_at > since,
                and_(m.FollowUp.state == "delivering", m.FollowUp.claimed_at > since),
            ),
        )
    )
    return History(tuple(s for s in sent if s is not None), contact.last_contact_at)


def _merge_into(session: Session, row: m.FollowUp, caps: Caps, now: datetime) -> list[m.FollowUp]:
    """Fold other due follow-ups of the same kind to the same person into this one."""
    if row.kind not in caps.merge:
        return []
    others = session.scalars(
        select(m.FollowUp).where(
            m.FollowUp.contact_id == row.contact_id,
            m.FollowUp.kind == row.kind,
            m.FollowUp.state.in_(m.OPEN_STATES),
            m.FollowUp.id != row.id,
            func.coalesce(m.FollowUp.first_due_at, m.FollowUp.due_at) <= now,
        )
    ).all()
    for other in others:
        other.state, other.origin_id, other.updated_at = "skipped", row.id, now
        other.reason = f"merged into #{row.id}"
        record.add_event(session, other, now, "merged", other.reason)
    return list(others)


def _call_task_for(session: Session, row: m.FollowUp, now: datetime) -> m.FollowUp:
    """A reminder for the owner to call instead of writing; it points back at the follow-up."""
    domain = row.message_id.rsplit("@", 1)[-1].rstrip(">")
    call = m.FollowUp(
        introduction_id=row.introduction_id,
        account_id=row.account_id,
        kind="call_task",
        step=row.id,
        contact_id=row.contact_id,
        due_at=now,
        first_due_at=now,
        state="planned",
        message_id=record.new_message_id(domain),
        origin_id=row.id,
        created_at=now,
        updated_at=now,
        reason=f"instead of {row.kind} #{row.id}",
    )
    session.add(call)
    session.flush()
    record.add_event(
        session, call, now, "channel_phone", f"call reminder instead of {row.kind} #{row.id}"
    )
    return call


def _deliver(
    factory: SessionFactory,
    claim: _Claim,
    target: DraftTarget,
    renderer: Renderer,
    clock: Clock,
    report: DispatchReport,
) -> None:
    try:
        message = renderer.render(claim.draft, clock()).as_bytes()
        # A second attempt may follow one that reached the server: look before writing again.
        if claim.attempts == 1 or not target.contains(claim.message_id):
            target.put(message, claim.message_id, [claim.draft.recipient.email])
    except DeliveryError as exc:
        _failed(factory, claim, clock, report, str(exc), permanent=exc.permanent)
        return
    except Exception as exc:
        log.exception("follow-up %s could not be rendered", claim.id)
        _failed(factory, claim, clock, report, f"{type(exc).__name__}: {exc}", permanent=True)
        return
    _confirm(
        factory,
        claim.id,
        clock(),
        "delivered",
        f"{claim.draft.kind} to {claim.draft.recipient.email} ({target.channel})",
        target.channel,
    )
    report.delivered.append(
        Delivered(claim.draft.kind, claim.draft.recipient.email, claim.message_id)
    )


def _confirm(
    factory: SessionFactory, follow_up_id: int, now: datetime, rule: str, reason: str, channel: str
) -> None:
    with transaction(factory) as session:
        row = session.get(m.FollowUp, follow_up_id)
        assert row is not None
        row.state, row.delivered_at, row.updated_at, row.reason = "delivered", now, now, ""
        row.channel = channel
        record.add_event(session, row, now, rule, reason)


def _failed(
    factory: SessionFactory,
    claim: _Claim,
    clock: Clock,
    report: DispatchReport,
    why: str,
    *,
    permanent: bool,
) -> None:
    now = clock()
    with transaction(factory) as session:
        row = session.get(m.FollowUp, claim.id)
        assert row is not None
        if permanent or row.attempts >= MAX_ATTEMPTS:
            row.state = "failed"
            report.failed += 1
        else:
            row.state, row.due_at = "planned", now + backoff(row.attempts)
            report.retry_later += 1
        row.reason, row.updated_at = why, now
        record.add_event(session, row, now, "delivery_error", why)
    log.warning("follow-up %s: %s (%s)", claim.id, why, "failed" if permanent else "will retry")


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff: 1, 2, 4 … minutes, at most six hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _recover(
    factory: SessionFactory,
    account_id: int,
    targets: Targets,
    clock: Clock,
    report: DispatchReport,
) -> None:
    """Claims older than the lease were left by a crash: confirm them if delivered, else reopen."""
    now = clock()
    with factory() as session:
        stale = list(
            session.execute(
                select(m.FollowUp.id, m.FollowUp.message_id, m.FollowUp.kind).where(
                    m.FollowUp.account_id == account_id,
                    m.FollowUp.state == "delivering",
                    m.FollowUp.claimed_at < now - LEASE,
                )
            )
        )
    for follow_up_id, message_id, kind in stale:
        target = target_for(targets, kind)
        try:
            there = target.contains(message_id)
        except DeliveryError as exc:
            log.warning("cannot check follow-up %s after a crash: %s", follow_up_id, exc)
            continue
        if there:
            _confirm(
                factory,
                follow_up_id,
                now,
                "recovered",
                "found at the target after a crash",
                target.channel,
            )
        else:
            with transaction(factory) as session:
                row = session.get(m.FollowUp, follow_up_id)
                if row is not None and row.state == "delivering":
                    row.state, row.updated_at = "planned", now
                    record.add_event(
                        session, row, now, "recovered", "claim expired, not at the target: retry"
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


def person(contact: m.Contact) -> Person:
    return Person(contact.email, contact.name, contact.organisation, contact.phone)


def _links(builder: LinkBuilder | None, row: m.FollowUp) -> Links:
    if builder is None or row.kind == "call_task":  # call reminders go to the owner
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
                parties.append(person(party.contact))
    recipient = owner if row.kind == "call_task" else person(row.contact)
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
        subject_person=person(row.contact) if row.kind == "call_task" else None,
        merged_introducers=tuple(person(f.introduction.introducer) for f in merged),
        for_kind=origin.kind if origin is not None else "",
    )
