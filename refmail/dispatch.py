"""Dispatch: takes due follow-ups from the outbox, asks policy, renders and delivers them once.

Due rows are taken in chunks (refmail.queue reads a chunk, its contacts and their history in
a few statements; refmail.batch decides it in memory; refmail.outbox applies the decisions
set-based) until nothing is due. Each delivery is claimed (state `delivering`, a lease) before
it is performed and confirmed after, confirmations in groups. A retry, or a claim left behind
by a crash, first asks the channel whether that Message-ID is already there.

Exactly once across processes rests on two guards. The account's dispatch lock (db.exclusive)
is held from the claim to the confirmation, so while a dispatch lives nobody else looks at its
claims; a process that dies loses the lock with its connections. And the claim is a lease,
renewed while its holder works: a claim is given up for recovery only once it has not been
renewed for `claim_ttl`, and a holder checks that each claim is still its own (state and
attempt number, in the renewing UPDATE) within a third of that before it delivers it, so even
if the lock were lost with the process alive (a database restart, a killed backend) a delivery
in flight has two thirds of the lease to land before another process looks for it. A short
lease thus hands a dead worker's claims over about as soon as its accounts.
Every state change goes through refmail.outbox; the channels (drafts, file, smtp) are chosen by
refmail.wiring and reach dispatch as a function of the follow-up's kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session

from refmail import batch, claimed, kinds, lifecycle, outbox, partners, queue, record, sendlog
from refmail import models as m
from refmail.clock import Clock
from refmail.config import Account, Caps
from refmail.db import SessionFactory, engine_of, exclusive, transaction
from refmail.errors import CredentialsError, DeliveryError
from refmail.policy import ContactView, History
from refmail.tokens import LinkBuilder

if TYPE_CHECKING:  # refmail.render loads when a first draft is built (issue 15)
    from refmail.render import Draft, Links, Person, Rendered

log = logging.getLogger(__name__)

# A claim's lease by default (one-off `refmail dispatch`); `run --worker` passes a shorter one,
# renewed every third of it, so a dead worker's claims follow its accounts (daemon.claim_ttl).
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


@runtime_checkable
class Settles(Protocol):
    """A channel that can write a group of follow-ups and make them durable together
    (refmail.filedrop): dispatch stages each, and settles the group before confirming it."""

    name: str

    def stage(self, message: bytes, message_id: str, recipients: Sequence[str]) -> None: ...

    def settle(self) -> None: ...


class Writes(Protocol):
    """What dispatch writes a draft's message with: refmail.render.Renderer, or the parts of
    a configuration (refmail.wiring.Parts), which make their renderer for the first draft."""

    def render(self, draft: Draft, now: datetime) -> Rendered: ...


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
    waiting: int = 0  # claims left by a run that is gone, not yet past their lease: try again


@dataclass(frozen=True)
class Rules:
    """The policy settings dispatch applies (from [caps] and the owner's time zone)."""

    caps: Caps = field(default_factory=Caps)
    owner_zone: str = "UTC"
    links: LinkBuilder | None = None  # unsubscribe / preference links (when web.base_url is set)


# Claims are renewed every third of their lease, and at least this often, so that a process
# judging them by a shorter lease (a worker beside a one-off `refmail dispatch`, 5 minutes)
# does not take a live run's claims for stale ones (it could not act on them anyway while that
# run holds the account's dispatch lock).
RENEW_AT_LEAST_EVERY = timedelta(seconds=10)
CHUNK = 500  # due rows read, decided and claimed together
CONFIRM_EVERY = 100  # deliveries confirmed together…
CONFIRM_SECONDS = 5.0  # …or after this long, whichever comes first


def dispatch(
    factory: SessionFactory,
    account: Account,
    channels: Channels,
    renderer: Writes,
    clock: Clock,
    *,
    rules: Rules | None = None,
    chunk: int = CHUNK,
    stop: Callable[[], bool] = lambda: False,
    claim_ttl: timedelta = LEASE,
) -> DispatchReport:
    """Deliver everything due for one account now, `chunk` rows at a time, until nothing is
    due or `stop()` says so (asked between chunks: a chunk in hand is finished); returns what
    happened. One dispatch of an account runs at a time (across processes too); another one
    raises BusyError at once. Claims are renewed every third of `claim_ttl` (10 s at most);
    claims of a run that is gone are recovered once they are that old."""
    with exclusive(engine_of(factory), f"dispatch of account {account.name}"):
        return _dispatch(
            factory, account, channels, renderer, clock, rules or Rules(), chunk, stop, claim_ttl
        )


def _dispatch(
    factory: SessionFactory,
    account: Account,
    channels: Channels,
    renderer: Writes,
    clock: Clock,
    rules: Rules,
    size: int,
    stop: Callable[[], bool],
    ttl: timedelta,
) -> DispatchReport:
    report = DispatchReport(account.name)
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, clock()).id
    _recover(factory, account_id, channels, clock, report, ttl)
    seen: set[int] = set()
    while not stop():
        now = clock()
        with transaction(factory) as session:
            decided, claims = _take(
                session, account_id, account, rules, channels, now, size, report
            )
        if not decided - seen:
            break  # nothing due, or only rows this run decided already: never loop on them
        seen |= decided
        _deliver_all(factory, claims, channels, renderer, clock, report, ttl, now)
    return report


@dataclass(frozen=True)
class Route:
    """What a decision needs to know of a channel without opening it: its name and whether
    refmail sends through it itself."""

    name: str
    sends: bool


Routes = Callable[[str], Route | Channel]  # a kind's channel, or just what a decision needs of it


def decide_due(
    session: Session,
    account_id: int,
    account: Account,
    rules: Rules,
    routes: Routes,
    now: datetime,
    *,
    limit: int | None = None,
    lock: bool = False,
) -> tuple[list[m.FollowUp], list[batch.Outcome]]:
    """The due rows (at most `limit`) and policy's outcome for each: the decisions dispatch acts
    on and `refmail outbox preview` shows. Rows let go count in the caps of later rows."""
    rows = queue.due(session, account_id, now, limit, lock=lock)
    if not rows:
        return [], []
    chunk = queue.chunk(
        session, rows, rules.caps, rules.owner_zone, lambda kind: routes(kind).sends, now
    )
    budget = _budget(session, account_id, routes, account, now)
    return rows, batch.decide_chunk(chunk.due, chunk.people, chunk.sent, now, budget)


@dataclass(frozen=True)
class _Claim:
    id: int
    message_id: str
    attempts: int
    draft: Draft


def _take(
    session: Session,
    account_id: int,
    account: Account,
    rules: Rules,
    channels: Channels,
    now: datetime,
    size: int,
    report: DispatchReport,
) -> tuple[set[int], list[_Claim]]:
    """Decide a chunk of due rows, apply what policy said, claim the rows it lets go (only one
    worker can) and build their drafts. Returns the ids decided and the claims."""
    rows, outcomes = decide_due(
        session, account_id, account, rules, channels, now, limit=size, lock=True
    )
    by_id = {r.id: r for r in rows}
    sending: list[m.FollowUp] = []
    deferred: list[tuple[m.FollowUp, datetime, str, str]] = []
    skipped: list[tuple[m.FollowUp, str, str]] = []
    for outcome in outcomes:
        row, decision = by_id[outcome.row.id], outcome.decision
        if decision is None:
            continue  # folds into a row let go above it (outbox.merge_many, below)
        if decision.action == "send":
            sending.append(row)
        elif decision.action == "defer" and decision.until is not None:
            deferred.append((row, decision.until, decision.rule, decision.reason))
        elif decision.action == "call":
            outbox.call_instead(session, row, decision.rule, decision.reason, now)  # next chunk
            report.calls += 1
        else:
            skipped.append((row, decision.rule, decision.reason))
    outbox.defer_many(session, deferred, now)
    outbox.skip_many(session, skipped, now)
    report.deferred += len(deferred)
    report.skipped += len(skipped)
    keepers = [r for r in sending if r.kind in rules.caps.for_contact(r.contact.email).merge]
    report.merged += outbox.merge_many(session, keepers, now)
    claimed = outbox.claim_many(session, sending, now)
    known = queue.drafting(session, claimed)
    claims = [
        _Claim(
            r.id,
            r.message_id,
            r.attempts,
            replace(
                build_draft(session, r, account, rules.links, known),
                automatic=channels(r.kind).sends,
            ),
        )
        for r in claimed
    ]
    return {o.row.id for o in outcomes if o.decision is not None}, claims


def _budget(
    session: Session, account_id: int, routes: Routes, account: Account, now: datetime
) -> batch.Budget | None:
    """The account's own send budget (a send log counted in a window, as Mailman does)."""
    sending = [k for k in kinds.NAMES if routes(k).sends]
    if account.smtp is None or not sending:
        return None
    names = sorted({routes(k).name for k in sending})
    return queue.budget(session, account_id, account.smtp.max_per_hour, names, sending, now)


def history_for(
    session: Session, contact: m.Contact, exclude_id: int, caps: Caps, now: datetime
) -> History:
    """What policy needs to know of past contact: refmail's messages to them, and the last
    human contact."""
    since = batch.history_since(caps, now)
    return History(sendlog.sent_to(session, contact.id, since, exclude_id), contact.last_contact_at)


def _deliver_all(
    factory: SessionFactory,
    claims: list[_Claim],
    channels: Channels,
    renderer: Writes,
    clock: Clock,
    report: DispatchReport,
    ttl: timedelta,
    claimed_at: datetime,
) -> None:
    """Deliver a chunk's claims one by one, confirming them in groups. A claim is confirmed
    only after its delivery; one left unconfirmed by a crash is found by `_recover`. Every
    third of the lease (10 s at most) the claims still to deliver are renewed, which also says
    which are still ours: one another process recovered meanwhile is not delivered (see the
    module's docstring). A renewal that fails stops the run; its claims wait out their lease."""
    pending: list[_Done] = []
    renewed, last = claimed_at, time.monotonic()
    lost: set[int] = set()
    try:
        for k, claim in enumerate(claims):
            if clock() - renewed >= min(ttl / 3, RENEW_AT_LEAST_EVERY):
                renewed = clock()
                group, pending, last = pending, [], time.monotonic()
                done = _settle(factory, group, clock, report)
                lost |= _confirm_and_renew(factory, done, claims[k:], renewed)
            if claim.id in lost:
                continue
            try:
                done_one = _deliver(
                    factory, claim, channels(claim.draft.kind), renderer, clock, report
                )
            except CredentialsError as exc:
                rest = [c for c in claims[k:] if c.id not in lost]
                _release(factory, rest, "credentials_refused", str(exc), clock)
                raise
            if done_one is not None:
                pending.append(done_one)
            if len(pending) >= CONFIRM_EVERY or time.monotonic() - last >= CONFIRM_SECONDS:
                group, pending, last = pending, [], time.monotonic()
                _confirm_many(factory, _settle(factory, group, clock, report), clock())
    finally:
        # What was put before an error is still confirmed (settled first), never put twice.
        group, pending = pending, []
        _confirm_many(factory, _settle(factory, group, clock, report), clock())


@dataclass(frozen=True)
class _Done:
    """A follow-up put to its channel, to confirm once its channel has settled it."""

    confirmation: outbox.Confirmation
    delivered: Delivered
    staged_on: Settles | None  # the channel object holding it staged (None: put for good)


def _settle(
    factory: SessionFactory, pending: Sequence[_Done], clock: Clock, report: DispatchReport
) -> list[outbox.Confirmation]:
    """What of `pending` may be confirmed: each channel object that staged drafts makes them
    durable first, in one go; one that cannot fails its group (retried, as a failed put)."""
    staged = {id(d.staged_on): d.staged_on for d in pending if d.staged_on is not None}
    refused: dict[int, DeliveryError] = {}
    for key, channel in staged.items():
        try:
            channel.settle()
        except DeliveryError as error:
            refused[key] = error
    confirm = []
    for done in pending:
        refusal = refused.get(id(done.staged_on)) if done.staged_on is not None else None
        if refusal is None:
            report.delivered.append(done.delivered)
            confirm.append(done.confirmation)
        else:
            why, permanent = str(refusal), refusal.permanent
            _failed(factory, done.confirmation.id, clock, report, why, permanent=permanent)
    return confirm


def _confirm_and_renew(
    factory: SessionFactory,
    done: Sequence[outbox.Confirmation],
    rest: Sequence[_Claim],
    now: datetime,
) -> set[int]:
    """Confirm what was delivered and renew the claims still to deliver, in one transaction;
    returns the claims that are no longer ours."""
    with transaction(factory) as session:
        outbox.confirm_many(session, done, now)
        kept = claimed.renew(session, [(c.id, c.attempts) for c in rest], now)
    lost = {c.id for c in rest} - kept
    if lost:
        log.warning("%d claim(s) were recovered by another process: not delivered here", len(lost))
    return lost


def _release(
    factory: SessionFactory, claims: Sequence[_Claim], rule: str, reason: str, clock: Clock
) -> None:
    """Give claims back without counting the attempt: nothing about these follow-ups failed."""
    with transaction(factory) as session:
        for claim in claims:
            row = session.get(m.FollowUp, claim.id)
            if row is not None:
                outbox.release(session, row, rule, reason, clock())


def _confirm_many(
    factory: SessionFactory, done: Sequence[outbox.Confirmation], now: datetime
) -> None:
    if done:
        with transaction(factory) as session:
            outbox.confirm_many(session, done, now)


def _deliver(
    factory: SessionFactory,
    claim: _Claim,
    channel: Channel,
    renderer: Writes,
    clock: Clock,
    report: DispatchReport,
) -> _Done | None:
    """Render and put (or stage) one claimed draft; what to confirm, or None when it failed."""
    try:
        rendered = renderer.render(claim.draft, clock())
        message = rendered.as_bytes()
        # A second attempt may follow one that reached the server: look before writing again.
        staged_on = channel if isinstance(channel, Settles) else None
        if claim.attempts == 1 or not channel.contains(claim.message_id):
            put = channel.put if staged_on is None else staged_on.stage
            put(message, claim.message_id, [claim.draft.recipient.email])
    except CredentialsError:
        # The account, not this follow-up: the caller gives the claims back and stops this run;
        # it is reported once and backed off, and everything due stays due.
        raise
    except DeliveryError as exc:
        _failed(factory, claim.id, clock, report, str(exc), permanent=exc.permanent)
        return None
    except Exception as exc:
        log.exception("follow-up %s could not be rendered", claim.id)
        why = f"{type(exc).__name__}: {exc}"
        _failed(factory, claim.id, clock, report, why, permanent=True)
        return None
    reason = f"{claim.draft.kind} to {claim.draft.recipient.email} ({channel.name})"
    # What was written, so reconciliation can tell the owner's edits and their sent copy.
    written = (lifecycle.digest(message), str(rendered["Subject"] or ""))
    delivered = Delivered(
        claim.draft.kind,
        claim.draft.recipient.email,
        claim.message_id,
        channel.where(claim.message_id),
    )
    confirmation = outbox.Confirmation(claim.id, channel.name, "delivered", reason, *written)
    return _Done(confirmation, delivered, staged_on)


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
    follow_up_id: int,
    clock: Clock,
    report: DispatchReport,
    why: str,
    *,
    permanent: bool,
) -> None:
    with transaction(factory) as session:
        row = session.get(m.FollowUp, follow_up_id)
        assert row is not None
        final = outbox.fail(session, row, why, permanent, clock())
    if final:
        report.failed += 1
    else:
        report.retry_later += 1
    log.warning("follow-up %s: %s (%s)", follow_up_id, why, "failed" if final else "will retry")


def _stale(claimed_at: datetime | None, before: datetime) -> bool:
    return claimed_at is None or claimed_at < before


def _recover(
    factory: SessionFactory,
    account_id: int,
    channels: Channels,
    clock: Clock,
    report: DispatchReport,
    ttl: timedelta,
) -> None:
    """Claims not renewed for `ttl` were left by a run that is gone (this process holds the
    account's dispatch lock, which every run holds while it has claims): confirm them if
    delivered, else reopen. Younger ones are counted in `report.waiting`."""
    now = clock()
    with factory() as session:
        held = claimed.open_claims(session, account_id)
    stale = [(c.id, c.message_id, c.kind) for c in held if _stale(c.claimed_at, now - ttl)]
    report.waiting = len(held) - len(stale)
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
    return queue.view(contact)


def person(contact: m.Contact, about: str = "") -> Person:
    from refmail.render import Person

    return Person(contact.email, contact.name, contact.organisation, contact.phone, about)


def _links(builder: LinkBuilder | None, row: m.FollowUp) -> Links:
    from refmail.render import Links

    if builder is None or kinds.get(row.kind).to_owner:  # reminders to the owner: no links
        return Links()
    pid = row.contact.public_id
    return Links(builder.unsubscribe(pid), builder.preferences(pid))


def build_draft(
    session: Session,
    row: m.FollowUp,
    account: Account,
    links: LinkBuilder | None = None,
    known: queue.Known | None = None,
) -> Draft:
    """Everything the template needs, read from the database (or from `known`, what
    refmail.queue read for a whole chunk)."""
    from refmail.render import Draft, Person

    intro = row.introduction
    message = intro.message
    owner = Person(account.owner_address, account.owner_name)
    if known is not None:
        merged: Sequence[m.FollowUp] = known.merged.get(row.id, [])
        origin_kind = known.origin_kind.get(row.origin_id, "") if row.origin_id else ""
        reward = known.rewards.get(intro.id, "")
    else:
        merged = session.scalars(
            select(m.FollowUp).where(m.FollowUp.origin_id == row.id, m.FollowUp.kind == row.kind)
        ).all()
        origin = session.get(m.FollowUp, row.origin_id) if row.origin_id else None
        origin_kind = origin.kind if origin is not None else ""
        reward = partners.reward_text(session, intro.id)
    parties: list[Person] = []
    for introduction in (intro, *(f.introduction for f in merged)):
        for party in introduction.parties:
            if all(p.email != party.contact.email for p in parties):
                parties.append(person(party.contact, party.about))
    to_owner = kinds.get(row.kind).to_owner
    about = {p.email: p.about for p in parties}
    recipient = owner if to_owner else person(row.contact, about.get(row.contact.email, ""))
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
        for_kind=origin_kind,
        reward=reward,
        about_owner=intro.about_owner,
    )
