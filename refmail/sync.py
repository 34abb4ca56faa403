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

from refmail import record
from refmail.clock import Clock
from refmail.config import Account, FollowUps
from refmail.db import SessionFactory, transaction
from refmail.detect import Identity, classify, triage
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


def identity_for(account: Account) -> Identity:
    return Identity(owners=frozenset(account.owners), refmail=frozenset({account.address}))


def sync_account(
    factory: SessionFactory,
    account: Account,
    source: Source,
    folders: tuple[str, ...],
    cadence: FollowUps,
    clock: Clock,
    on_batch: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Sync every folder of one account; returns what was done."""
    with transaction(factory) as session:
        account_id = record.ensure_account(session, account, clock()).id
    report = SyncReport(account.name)
    for folder in folders:
        report.add(
            sync_folder(factory, account, account_id, source, folder, cadence, clock, on_batch)
        )
    return report


def sync_folder(
    factory: SessionFactory,
    account: Account,
    account_id: int,
    source: Source,
    folder: str,
    cadence: FollowUps,
    clock: Clock,
    on_batch: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    identity = identity_for(account)
    report = SyncReport(account.name)
    with factory() as session:
        cursor = record.load_cursor(session, account_id, folder)
    for batch in source.scan(folder, cursor):
        candidates = [key for key, raw in batch.headers.items() if _is_candidate(raw, identity)]
        bodies = source.fetch(folder, candidates) if candidates else {}
        with transaction(factory) as session:
            for key in candidates:
                if key in bodies:
                    _ingest(
                        session,
                        account,
                        account_id,
                        folder,
                        key,
                        bodies[key],
                        identity,
                        cadence,
                        clock,
                        report,
                    )
            record.store_cursor(session, account_id, folder, batch.cursor, clock())
        report.scanned += len(batch.headers)
        report.candidates += len(candidates)
        _log_batch(folder, batch, report)
        if on_batch is not None:
            on_batch(report)
    return report


def _is_candidate(raw_headers: bytes, identity: Identity) -> bool:
    try:
        return triage(parse_envelope(raw_headers), identity) is None
    except Exception:  # noqa: BLE001 - unreadable headers: let the full parse record what it can
        return True


def _ingest(
    session: Session,
    account: Account,
    account_id: int,
    folder: str,
    key: Key,
    raw: bytes,
    identity: Identity,
    cadence: FollowUps,
    clock: Clock,
    report: SyncReport,
) -> None:
    """Record one message inside its own savepoint, so a failure costs only this message."""
    parsed = parse_message(raw)
    try:
        with session.begin_nested():
            _record(
                session, account, account_id, folder, key, parsed, identity, cadence, clock, report
            )
    except IntegrityError:
        report.duplicates += 1  # another worker (or folder) recorded it first
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        log.exception(
            "folder %s key %s (%s): could not record: %s", folder, key, parsed.message_id, why
        )
        report.malformed += 1
        report.errors.append(f"{folder}/{key}: {why}")
        with session.begin_nested():
            if not record.is_recorded(session, parsed.message_id):
                record.record_malformed(
                    session, account_id, folder, key, parsed.message_id, why, clock()
                )


def _record(
    session: Session,
    account: Account,
    account_id: int,
    folder: str,
    key: Key,
    parsed: ParsedMessage,
    identity: Identity,
    cadence: FollowUps,
    clock: Clock,
    report: SyncReport,
) -> None:
    if record.is_recorded(session, parsed.message_id):
        report.duplicates += 1
        return
    known = record.known_thread_ids(session, (parsed.in_reply_to or "", *parsed.references))
    verdict = classify(parsed, identity, known)
    now = clock()
    if verdict.kind in STORED_KINDS:  # other mail (and refmail's own) is not stored
        row = record.record_message(session, account_id, folder, key, parsed, verdict, now)
        report.recorded += 1
        if verdict.kind == "introduction":
            _, follow_ups = record.record_introduction(
                session, row, parsed, verdict, account, cadence, now
            )
            report.introductions += 1
            report.follow_ups += len(follow_ups)
            log.info(
                "introduction %s by %s: %s", parsed.message_id, verdict.introducer, verdict.reason
            )
    if verdict.kind not in ("automatic", "own"):
        record.touch_contacts(session, parsed, identity.owners, now)


def _log_batch(folder: str, batch: Batch, report: SyncReport) -> None:
    log.debug(
        "folder %s: batch of %d up to %s (%d candidates so far, %d introductions)",
        folder,
        len(batch.headers),
        batch.cursor.position,
        report.candidates,
        report.introductions,
    )
