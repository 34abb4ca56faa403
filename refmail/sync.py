"""Sync: reads new mail from a source, keeps what concerns refmail, records it and plans follow-ups.

Per batch: headers → triage → one fetch of the candidates → parse → classify → record, and the
folder cursor advances in the same transaction, so a crash means a re-fetch, never a loss or a
duplicate. One bad message is recorded as malformed and the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from refmail import effects, record
from refmail.bounce import parse_bounce
from refmail.clock import Clock
from refmail.config import Account, FollowUps
from refmail.db import SessionFactory, engine_of, exclusive, transaction
from refmail.detect import Identity, classify, looks_like_bounce, triage
from refmail.parse import ParsedMessage, parse_envelope, parse_message
from refmail.source import Batch, Key, Source

log = logging.getLogger(__name__)
STORED_KINDS = ("introduction", "reply", "automatic")


@dataclass
class SyncReport:
    """What one sync run did, for the CLI, the logs and the metrics."""

    account: str
    scanned: int = 0
    candidates: int = 0
    recorded: int = 0
    introductions: int = 0
    follow_ups: int = 0
    duplicates: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for the owner: bounces, opt-outs, …

    def add(self, other: SyncReport) -> None:
        for name in (
            "scanned",
            "candidates",
            "recorded",
            "introductions",
            "follow_ups",
            "duplicates",
            "malformed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.notices.extend(other.notices)


def identity_for(account: Account) -> Identity:
    return Identity(owners=frozenset(account.owners), refmail=frozenset({account.address}))


def sync_account(
    factory: SessionFactory,
    account: Account,
    source: Source,
    folders: tuple[str, ...],
    cadence: FollowUps,
    clock: Clock,
    on_batch: Callable[[str, Batch, SyncReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SyncReport:
    """Sync every folder of one account; returns what was done.

    `should_stop` is asked after each committed batch: a daemon shutting down stops there, and
    the next run goes on from the stored cursor. One sync of an account runs at a time (across
    processes too); another one raises BusyError at once.
    """
    with exclusive(engine_of(factory), f"sync of account {account.name}"):
        with transaction(factory) as session:
            account_id = record.ensure_account(session, account, clock()).id
        report = SyncReport(account.name)
        for folder in folders:
            if should_stop():
                break
            report.add(
                sync_folder(
                    factory,
                    account,
                    account_id,
                    source,
                    folder,
                    cadence,
                    clock,
                    on_batch,
                    should_stop,
                )
            )
        return report


@dataclass
class _Run:
    """What one folder's sync carries from batch to batch."""

    account: Account
    account_id: int
    folder: str
    identity: Identity
    cadence: FollowUps
    clock: Clock
    report: SyncReport


def sync_folder(
    factory: SessionFactory,
    account: Account,
    account_id: int,
    source: Source,
    folder: str,
    cadence: FollowUps,
    clock: Clock,
    on_batch: Callable[[str, Batch, SyncReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SyncReport:
    run = _Run(
        account, account_id, folder, identity_for(account), cadence, clock, SyncReport(account.name)
    )
    with factory() as session:
        cursor = record.load_position(session, account_id, folder)
    for batch in source.scan(folder, cursor):
        candidates = [k for k, raw in batch.headers.items() if _is_candidate(raw, run.identity)]
        bodies = source.fetch(folder, candidates) if candidates else {}
        parsed = [
            (key, parse_message(bodies[key]), bodies[key]) for key in candidates if key in bodies
        ]
        with transaction(factory) as session:
            _ingest_batch(session, run, parsed)
            record.store_position(session, account_id, folder, batch, clock())
        run.report.scanned += len(batch.headers)
        run.report.candidates += len(candidates)
        _log_batch(folder, batch, run.report)
        if on_batch is not None:
            on_batch(folder, batch, run.report)
        if should_stop():
            log.info(
                "folder %s: stopping after a committed batch (at %s)", folder, batch.cursor.position
            )
            break
    return run.report


def _is_candidate(raw_headers: bytes, identity: Identity) -> bool:
    try:
        return triage(parse_envelope(raw_headers), identity) is None
    except Exception:  # noqa: BLE001 - unreadable headers: let the full parse record what it can
        return True


def _ingest_batch(
    session: Session, run: _Run, parsed: list[tuple[Key, ParsedMessage, bytes]]
) -> None:
    """Record a batch: what the database already knows is asked once per batch, not per message;
    each message that writes gets its own savepoint, so a failure costs only that message."""
    recorded = record.recorded_ids(session, [msg.message_id for _, msg, _ in parsed])
    known = record.known_thread_ids(
        session, {r for _, msg, _ in parsed for r in (msg.in_reply_to, *msg.references) if r}
    )
    people = record.ContactCache(session, {a for _, msg, _ in parsed for a in _addresses(msg)})
    for key, msg, raw in parsed:
        if msg.message_id in recorded:
            run.report.duplicates += 1
            continue
        recorded.add(msg.message_id)
        try:
            _ingest(session, run, key, msg, raw, known, people)
        except IntegrityError:
            run.report.duplicates += 1  # another worker (or folder) recorded it first
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
            _malformed(session, run, key, msg, exc)


def _addresses(msg: ParsedMessage) -> list[str]:
    people = [*msg.envelope.recipients, *([msg.sender] if msg.sender else [])]
    return [a.email for a in people]


def _ingest(
    session: Session,
    run: _Run,
    key: Key,
    msg: ParsedMessage,
    raw: bytes,
    known: set[str],
    people: record.ContactCache,
) -> None:
    verdict = classify(msg, run.identity, known)
    now = run.clock()
    if verdict.kind in STORED_KINDS:  # other mail (and refmail's own) is not stored
        with session.begin_nested():
            row = record.record_message(session, run.account_id, run.folder, key, msg, verdict, now)
            run.report.recorded += 1
            if verdict.kind == "introduction":
                _, follow_ups = record.record_introduction(
                    session, row, msg, verdict, run.account, run.cadence, now
                )
                people.forget(_addresses(msg))  # it may have created contacts
                known.add(msg.message_id)  # a reply to it later in this batch is a reply
                run.report.introductions += 1
                run.report.follow_ups += len(follow_ups)
                log.info(
                    "introduction %s by %s: %s", msg.message_id, verdict.introducer, verdict.reason
                )
    with session.begin_nested():
        if verdict.kind == "automatic" and looks_like_bounce(msg.envelope):
            bounce = parse_bounce(raw)
            if bounce is not None:
                run.report.notices += effects.apply_bounce(session, bounce, now)
        elif verdict.kind not in ("automatic", "own"):
            record.touch_contacts(people, msg, run.identity.owners, now)
            run.report.notices += effects.apply_reply(
                session, msg, verdict, run.identity, people, now
            )


def _malformed(session: Session, run: _Run, key: Key, msg: ParsedMessage, exc: Exception) -> None:
    """A message that could not be recorded is recorded as such, so it is neither lost nor
    retried forever."""
    why = f"{type(exc).__name__}: {exc}"
    log.exception(
        "folder %s key %s (%s): could not record: %s", run.folder, key, msg.message_id, why
    )
    run.report.malformed += 1
    run.report.errors.append(f"{run.folder}/{key}: {why}")
    with session.begin_nested():
        if not record.is_recorded(session, msg.message_id):
            record.record_malformed(
                session, run.account_id, run.folder, key, msg.message_id, why, run.clock()
            )


def _log_batch(folder: str, batch: Batch, report: SyncReport) -> None:
    log.debug(
        "folder %s: batch of %d up to %s (%d candidates so far, %d introductions)",
        folder,
        len(batch.headers),
        batch.cursor.position,
        report.candidates,
        report.introductions,
    )
