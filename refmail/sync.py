"""Sync: reads new mail from a source, keeps what concerns refmail, records it and plans follow-ups.

Per batch: headers → triage (refmail.sieve: read whole, keep to the headers, or skip) → fetch of
the first 256 KB of those read whole → parse → classify → record; then the messages kept to their
headers that the batch's own records made relevant (a new contact writing, a reply to a new
introduction) are read whole too. The folder cursor advances in the same transaction, so a crash
means a re-fetch, never a loss or a duplicate. Parse and classify run inside a per-message guard
with a time budget: a message that fails or overruns is recorded as malformed with the reason,
and the batch goes on. A batch with many candidates is read (parse and classify) in a pool of
worker processes (refmail.readers), and the next batch's candidates are handed to the pool
while the batch in hand is recorded; the records are those of reading here, in the same order.
A batch is recorded whole in one savepoint (one bulk insert of its stored
messages); when that fails it is recorded a message at a time, each in its own savepoint. A stop
request is honoured between messages: the batch in hand is dropped uncommitted and read again by
the next run.

The parser, the detector, the sieve and the effects are imported by the functions that use
them, when a batch brings mail: most cron runs find nothing new, and loading that machinery is
a good part of a process's start (issue 15; tests/test_startup.py holds it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import field, replace
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from refmail import readers, record, standing, startup
from refmail.classes import dataclass
from refmail.clock import Clock
from refmail.config import Account, FollowUps
from refmail.db import SessionFactory, engine_of, exclusive, transaction
from refmail.outcomes import OutcomeRules
from refmail.source import Batch, Cursor, Key, Source

if TYPE_CHECKING:
    from refmail import sieve
    from refmail.authn import Trust
    from refmail.detect import Classification, Identity
    from refmail.parse import Heads, ParsedMessage

log = logging.getLogger(__name__)
STORED_KINDS = ("introduction", "reply", "automatic")


class _Stopped(Exception):
    """A stop was requested in the middle of a batch: the batch is dropped, not committed."""


@dataclass
class SyncReport:
    """What one sync run did, for the CLI, the logs and the metrics."""

    account: str
    scanned: int = 0
    candidates: int = 0  # read whole
    headers_only: int = 0  # involved the owner, but only their headers were read
    recorded: int = 0
    introductions: int = 0
    follow_ups: int = 0  # planned to go
    too_old: int = 0  # stored skipped: their introduction is older than max_age_days
    duplicates: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for the owner: bounces, opt-outs, …

    def summary(self) -> str:
        """One line for the owner; what will go and what was skipped as too old, apart."""
        text = (
            f"{self.account}: scanned {self.scanned}, {self.candidates} for refmail, "
            f"{self.introductions} introductions, {self.follow_ups} follow-ups planned"
        )
        if self.too_old:
            text += f", {self.too_old} skipped as too old"
        return text + (f", {self.malformed} malformed" if self.malformed else "")

    def add(self, other: SyncReport) -> None:
        for name in (
            "scanned",
            "candidates",
            "headers_only",
            "recorded",
            "introductions",
            "follow_ups",
            "too_old",
            "duplicates",
            "malformed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.notices.extend(other.notices)


def identity_for(account: Account) -> Identity:
    # The first batch with mail loads the detector and the parser here (refmail.startup).
    with startup.loading("refmail.detect"):
        from refmail.detect import Identity

    return Identity(owners=frozenset(account.owners), refmail=frozenset({account.address}))


def default_outcome_rules(account: Account, cadence: FollowUps) -> OutcomeRules:
    """Outcome rules with no rewards: what sync uses when the caller gives none."""
    return OutcomeRules(frozenset(account.owners), account.owner_address.split("@", 1)[1], cadence)


def sync_account(
    factory: SessionFactory,
    account: Account,
    source: Source,
    folders: tuple[str, ...],
    cadence: FollowUps,
    clock: Clock,
    on_batch: Callable[[str, Batch, SyncReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    outcome_rules: OutcomeRules | None = None,
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
                    outcome_rules=outcome_rules,
                )
            )
        for folder in reply_folders(folders):
            if not should_stop():
                report.add(
                    scan_replies(factory, account, account_id, source, folder, cadence, clock)
                )
        return report


@dataclass
class _Run:
    """What one folder's sync carries from batch to batch."""

    account: Account
    account_id: int
    folder: str
    cadence: FollowUps
    clock: Clock
    report: SyncReport
    outcome_rules: OutcomeRules
    pool: readers.Readers = field(default_factory=readers.Readers)
    # Each message read whole in this batch: the threads known when it was classified (those
    # among its references), and what reading it gave (refmail.readers).
    classified: dict[Key, tuple[frozenset[str], readers.Read]] = field(default_factory=dict)

    # Built when a batch first needs them (their classes live with the detector and the
    # authentication checks, which a run that finds nothing new does not load).
    @functools.cached_property
    def identity(self) -> Identity:
        return identity_for(self.account)

    @functools.cached_property
    def trust(self) -> Trust | None:
        """Whose Authentication-Results count (None: require_authentication is off)."""
        return standing.trust_for(self.account)


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
    is_candidate: Callable[[bytes, Identity], bool] | None = None,
    cursor_name: str = "",
    outcome_rules: OutcomeRules | None = None,
) -> SyncReport:
    cursor_name = cursor_name or folder
    run = _Run(
        account,
        account_id,
        folder,
        cadence,
        clock,
        SyncReport(account.name),
        outcome_rules or default_outcome_rules(account, cadence),
    )
    with factory() as session:
        cursor = record.load_position(session, account_id, cursor_name)
    with run.pool:
        _sync_batches(
            factory, run, source, cursor, cursor_name, on_batch, should_stop, is_candidate
        )
    return run.report


def _sync_batches(
    factory: SessionFactory,
    run: _Run,
    source: Source,
    cursor: Cursor,
    cursor_name: str,
    on_batch: Callable[[str, Batch, SyncReport], None] | None,
    should_stop: Callable[[], bool],
    is_candidate: Callable[[bytes, Identity], bool] | None,
) -> None:
    """Batch after batch: sort, read, record with the cursor. While a batch read in the pool is
    recorded, the pool reads ahead in the next one (_look_ahead)."""
    folder, account_id, clock = run.folder, run.account_id, run.clock
    committed = cursor
    batches = iter(source.scan(folder, cursor))
    batch: Batch | None = next(batches, None)
    ahead = readers.Ahead()
    while batch is not None:
        run.classified.clear()
        following: Batch | None = None
        looked, failure = False, None
        try:
            sifted = _sift_batch(
                factory, batch, run.identity, should_stop, is_candidate, ahead.heads
            )
            parsed, unreadable = _parse_batch(
                run,
                source,
                batch,
                sifted.whole,
                should_stop,
                sifted.heads,
                sifted.threads,
                ahead.pending,
            )
            ahead.drop()
            ahead = readers.Ahead()
            if is_candidate is None and run.pool.pooled(len(sifted.whole)):
                looked = True
                following, ahead, failure = _look_ahead(factory, run, source, batches)
            with transaction(factory) as session:
                _ingest_batch(session, run, parsed, should_stop)
                _record_unreadable(session, run, unreadable)
                promoted = _read_held(session, run, source, batch, sifted.held, should_stop)
                record.store_position(session, account_id, cursor_name, batch, clock())
        except _Stopped:
            log.info(
                "folder %s: stopping after a committed batch (at %s); the batch in hand is read "
                "again next time",
                folder,
                committed.position,
            )
            break
        committed = batch.cursor
        run.report.scanned += len(batch.headers)
        run.report.candidates += len(sifted.whole) + promoted
        run.report.headers_only += len(sifted.held) - promoted
        _log_batch(folder, batch, run.report)
        if on_batch is not None:
            on_batch(folder, batch, run.report)
        if failure is not None:
            raise failure  # the next batch's scan failed: after this one is committed, as before
        if should_stop():
            log.info(
                "folder %s: stopping after a committed batch (at %s)", folder, batch.cursor.position
            )
            break
        batch = following if looked else next(batches, None)


def _look_ahead(
    factory: SessionFactory, run: _Run, source: Source, batches: Iterator[Batch]
) -> tuple[Batch | None, readers.Ahead, Exception | None]:
    """The next batch, scanned now, its candidates fetched and handed to the pool, so the
    workers read them while this process records the batch in hand. A scan that fails is
    raised only once the batch in hand is committed (as it was when the scan came after);
    anything else that fails here is left to the batch's own turn."""
    try:
        following = next(batches, None)
    except Exception as exc:  # noqa: BLE001 - raised by the caller after its commit
        return None, readers.Ahead(), exc
    if following is None:
        return None, readers.Ahead(), None
    never = lambda: False  # noqa: E731 - a stop is honoured in the batch's own turn
    try:
        sifted = _sift_batch(factory, following, run.identity, never, None)
        ahead = readers.Ahead(sifted.heads)
        if run.pool.pooled(len(sifted.whole)):
            bodies = readers.bodies(source, run.folder, sifted.whole, sifted.heads, lambda: None)
            for key, raw, heads in bodies:
                ahead.pending[key] = run.pool.submit(key, raw, heads, run.identity, sifted.threads)
        return following, ahead, None
    except Exception as exc:  # noqa: BLE001 - reading ahead only saves time
        log.info("folder %s: could not read ahead (%s)", run.folder, readers.why_of(exc))
        return following, readers.Ahead(), None


@dataclass
class _Sifted:
    """A batch sorted by its headers: the keys to read whole, and those kept to their headers
    (looked at again once the rest of the batch is recorded)."""

    whole: list[Key] = field(default_factory=list)
    held: dict[Key, Heads] = field(default_factory=dict)
    heads: dict[Key, Heads] = field(default_factory=dict)  # every header block read
    threads: frozenset[str] = frozenset()  # the known threads the batch's headers refer to


def _sift_batch(
    factory: SessionFactory,
    batch: Batch,
    identity: Identity,
    should_stop: Callable[[], bool],
    is_candidate: Callable[[bytes, Identity], bool] | None,
    parsed: dict[Key, Heads] | None = None,
) -> _Sifted:
    """Sort the batch by its headers (refmail.sieve), or by `is_candidate` when the caller
    gives one (the replies scan); a stop is honoured here too (a batch of 500 header blocks of
    256 KB each takes a while to read)."""
    from refmail import sieve
    from refmail.parse import parse_heads

    sifted = _Sifted()
    if is_candidate is not None:
        for key, raw in batch.headers.items():
            if should_stop():
                raise _Stopped
            if is_candidate(raw, identity):
                sifted.whole.append(key)
        return sifted
    heads = sifted.heads
    for key, raw in batch.headers.items():
        if should_stop():
            raise _Stopped
        if parsed and key in parsed:  # read ahead already
            heads[key] = parsed[key]
            continue
        try:
            heads[key] = parse_heads(raw)
        except Exception:  # noqa: BLE001 - unreadable headers: the full parse records what it can
            sifted.whole.append(key)
    with factory() as session:  # what makes mail relevant: two queries for the whole batch
        known = _known(session, identity, heads.values())
    sifted.threads = known.threads
    for key, head in heads.items():
        fate = sieve.sift(head, known).fate
        if fate == sieve.WHOLE:
            sifted.whole.append(key)
        elif fate == sieve.HEADERS:
            sifted.held[key] = head
    order = {key: i for i, key in enumerate(batch.headers)}
    sifted.whole.sort(key=order.__getitem__)  # messages are recorded in the folder's order
    return sifted


def _known(session: Session, identity: Identity, heads: Iterable[Heads]) -> sieve.Known:
    from refmail import sieve

    heads = list(heads)
    senders = {h.envelope.sender.email for h in heads if h.envelope.sender is not None}
    return sieve.Known(
        identity,
        threads=frozenset(record.known_thread_ids(session, {r for h in heads for r in h.refs})),
        contacts=frozenset(record.contact_emails(session, senders)),
    )


def _read_held(
    session: Session,
    run: _Run,
    source: Source,
    batch: Batch,
    held: dict[Key, Heads],
    should_stop: Callable[[], bool],
) -> int:
    """The held messages that the batch's own records made relevant (an introduction made
    their sender a contact, or is the thread they answer), read whole now, in this
    transaction; how many. The rest stay unread: nothing refmail knows concerns them."""
    if not held:
        return 0
    from refmail import sieve

    known = _known(session, run.identity, held.values())
    keys = [key for key, head in held.items() if sieve.sift(head, known).fate == sieve.WHOLE]
    if not keys:
        return 0
    parsed, unreadable = _parse_batch(run, source, batch, keys, should_stop, held, known.threads)
    _ingest_batch(session, run, parsed, should_stop)
    _record_unreadable(session, run, unreadable)
    return len(keys)


# --- replies wherever they land -------------------------------------------------------------

REPLY_FOLDERS = ("INBOX",)  # where replies land when a server rule files only refmail's mail
_OWN_ID = re.compile(rb"<refmail\.[0-9a-f]+@[^>\s]+>")


def reply_folders(folders: tuple[str, ...]) -> tuple[str, ...]:
    """Folders refmail does not read but scans (headers only) for replies to its own mail."""
    read = {f.upper() for f in folders}
    return tuple(f for f in REPLY_FOLDERS if f.upper() not in read)


def scan_replies(
    factory: SessionFactory,
    account: Account,
    account_id: int,
    source: Source,
    folder: str,
    cadence: FollowUps,
    clock: Clock,
) -> SyncReport:
    """Read `folder`'s headers for replies to refmail's own Message-IDs (In-Reply-To or
    References): a "please stop" that lands in INBOX while refmail reads only its own folder
    still stops. Only those replies are fetched whole; the scan keeps its own cursor."""
    return sync_folder(
        factory,
        account,
        account_id,
        source,
        folder,
        cadence,
        clock,
        is_candidate=answers_refmail,
        cursor_name=f"{folder} (replies)",
    )


def answers_refmail(raw_headers: bytes, identity: Identity) -> bool:
    """Whether these headers reply to mail refmail wrote (cheap: a byte search first)."""
    if b"<refmail." not in raw_headers:
        return False
    headers = BytesHeaderParser().parsebytes(raw_headers)  # compat32, the default
    answered = " ".join(str(headers.get(h, "")) for h in ("In-Reply-To", "References"))
    return _OWN_ID.search(answered.encode("utf-8", "replace")) is not None


def _parse_batch(
    run: _Run,
    source: Source,
    batch: Batch,
    candidates: list[Key],
    should_stop: Callable[[], bool],
    heads: dict[Key, Heads] | None = None,
    threads: frozenset[str] = frozenset(),
    ready: dict[Key, readers.Pending] | None = None,
) -> tuple[list[tuple[Key, ParsedMessage, bytes]], list[tuple[Key, str, str]]]:
    """Fetch the candidates (FETCH_CHUNK at a time) and read each (refmail.readers: parse and
    classify, inside its own guard; in worker processes when there are many, which read the
    first chunks while the next are fetched): (parsed messages, (key, Message-ID, why) of those
    that failed or overran the budget). The raw bytes (at most BODY_LIMIT each) stay with the
    message: authentication reads its headers, a bounce its report, the signs of business its
    parts. `heads`: the header blocks triage parsed already, not parsed again; `threads`: the
    known threads they refer to, which classification needs; `ready`: those read ahead (the
    pool has them already: neither fetched nor handed over again)."""
    ready = ready if ready is not None else {}
    parsed: list[tuple[Key, ParsedMessage, bytes]] = []
    unreadable: list[tuple[Key, str, str]] = []
    fetched = readers.bodies(source, run.folder, candidates, heads or {}, _stop(should_stop), ready)
    reads = run.pool.read(len(candidates), fetched, run.identity, threads, ready)
    for key, raw, read, used in reads:
        if should_stop():
            raise _Stopped
        if read.msg is None:
            from refmail.parse import unreadable_id

            log.warning("folder %s key %s: could not parse: %s", run.folder, key, read.why)
            unreadable.append((key, unreadable_id(batch.headers.get(key, b""), raw), read.why))
            continue
        run.classified[key] = (_threads_of(read.msg, used), read)
        parsed.append((key, read.msg, raw))
    return parsed, unreadable


def _stop(should_stop: Callable[[], bool]) -> Callable[[], None]:
    """A check that raises _Stopped when a stop was requested."""

    def check() -> None:
        if should_stop():
            raise _Stopped

    return check


def _threads_of(msg: ParsedMessage, known: Container[str]) -> frozenset[str]:
    return frozenset(r for r in (msg.in_reply_to, *msg.references) if r and r in known)


def _record_unreadable(session: Session, run: _Run, unreadable: list[tuple[Key, str, str]]) -> None:
    for key, message_id, why in unreadable:
        run.report.malformed += 1
        run.report.errors.append(f"{run.folder}/{key}: {why}")
        with session.begin_nested():
            if not record.is_recorded(session, message_id):
                record.record_malformed(
                    session, run.account_id, run.folder, key, message_id, why, run.clock()
                )


def _ingest_batch(
    session: Session,
    run: _Run,
    parsed: list[tuple[Key, ParsedMessage, bytes]],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Record a batch: what the database already knows is asked once per batch, not per message.

    The batch is tried whole, in one savepoint, its stored messages inserted together
    (record.MessageRows); only if that fails (a message whose recording raises, a Message-ID
    another sync recorded meanwhile) is it rolled back and each message recorded alone in its
    own savepoint, so a failure still costs only that message."""
    recorded = record.recorded_ids(session, [msg.message_id for _, msg, _ in parsed])
    known = record.known_thread_ids(
        session, {r for _, msg, _ in parsed for r in (msg.in_reply_to, *msg.references) if r}
    )
    fresh = []
    for key, msg, raw in parsed:
        if msg.message_id in recorded:
            run.report.duplicates += 1
            continue
        recorded.add(msg.message_id)
        fresh.append((key, msg, raw))
    addresses = {a for _, msg, _ in fresh for a in _addresses(msg)}
    if len(fresh) > 1:
        trial = replace(run, report=SyncReport(run.account.name))
        try:
            with session.begin_nested():
                _ingest_together(session, trial, fresh, set(known), addresses, should_stop)
        except _Stopped:
            raise
        except Exception as exc:  # noqa: BLE001 - the batch is recorded a message at a time
            log.info(
                "folder %s: the batch failed whole (%s); one message at a time",
                run.folder,
                f"{type(exc).__name__}: {exc}",
            )
        else:
            run.report.add(trial.report)
            return
    people = record.ContactCache(session, addresses)
    for key, msg, raw in fresh:
        if should_stop():
            raise _Stopped  # the transaction rolls back: the batch is read again next time
        try:
            _ingest_racing(session, run, key, msg, raw, known, people)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
            _malformed(session, run, key, msg, exc)


def _ingest_together(
    session: Session,
    run: _Run,
    fresh: list[tuple[Key, ParsedMessage, bytes]],
    known: set[str],
    addresses: set[str],
    should_stop: Callable[[], bool],
) -> None:
    """The whole batch with no savepoint per message; any failure propagates (the caller then
    goes a message at a time). A message that cannot be classified touched nothing yet: it is
    recorded malformed here, and the batch goes on."""
    people = record.ContactCache(session, addresses)
    rows = record.MessageRows()
    for key, msg, raw in fresh:
        if should_stop():
            raise _Stopped
        try:
            verdict = _classify(run, key, msg, known)
        except Exception as exc:  # noqa: BLE001 - a poison message costs only itself
            _malformed(session, run, key, msg, exc, guard=contextlib.nullcontext)
            continue
        _ingest(session, run, key, msg, raw, known, people, verdict, rows)
    rows.insert(session)


def _ingest_racing(
    session: Session,
    run: _Run,
    key: Key,
    msg: ParsedMessage,
    raw: bytes,
    known: set[str],
    people: record.ContactCache,
) -> None:
    """_ingest, beside other syncs: a unique row another sync wrote at the same moment (the
    same message, or a contact both messages name) rolls back this message's savepoint; it is
    then a duplicate if the message is recorded, else tried once more, the row now visible."""
    for attempt in (1, 2):
        try:
            _ingest(session, run, key, msg, raw, known, people, _classify(run, key, msg, known))
            return
        except IntegrityError:
            if attempt == 2 or record.is_recorded(session, msg.message_id):
                run.report.duplicates += 1  # another worker (or folder) recorded it first
                return
            people.forget(_addresses(msg))  # the contact cache may miss the other's new rows


def _addresses(msg: ParsedMessage) -> list[str]:
    people = [*msg.envelope.recipients, *([msg.sender] if msg.sender else [])]
    return [a.email for a in people]


def _classify(run: _Run, key: Key, msg: ParsedMessage, known: set[str]) -> Classification:
    """What reading the message found, while the threads it refers to are known as they were
    then (so the fallback path does not classify a batch twice); classified again here when an
    introduction recorded since is one of them (the reply rule then answers, cheaply)."""
    from refmail.detect import classify

    threads, read = run.classified.get(key, (None, None))
    if read is not None and threads == _threads_of(msg, known):
        if read.verdict is None:
            raise readers.Failed(read.why)
        return read.verdict
    started = time.thread_time()
    verdict = classify(msg, run.identity, known)
    readers.check_budget(started, "classify")
    return verdict


def _ingest(
    session: Session,
    run: _Run,
    key: Key,
    msg: ParsedMessage,
    raw: bytes,
    known: set[str],
    people: record.ContactCache,
    verdict: Classification,
    rows: record.MessageRows | None = None,
) -> None:
    """Record one classified message and apply what it means. Alone (`rows` None) each step
    has its own savepoint; within a batch tried whole (`rows` given) none has, and a reply's
    or a robot's row waits in `rows` for the batch's one insert."""
    from refmail import effects, owner_mail, records
    from refmail.detect import looks_like_bounce

    guard = session.begin_nested if rows is None else contextlib.nullcontext
    now = run.clock()
    # Robots and refmail's own mail need no standing (a bounce is matched to what we sent).
    auth = (
        None if verdict.kind in ("automatic", "own") else standing.authenticate(run.trust, msg, raw)
    )
    if auth is None or auth.authenticated:  # commands only from the owner's authenticated mail
        if rows is not None and owner_mail.is_command(msg, run.identity):
            rows.insert(session)  # a command may read or forget the rows held so far
        with guard():  # the owner's commands to refmail (+won, +ask, "refmail: …")
            taken = owner_mail.take_command(
                session, msg, run.identity, run.account_id, run.folder, key, run.outcome_rules, now
            )
        if taken is not None:
            run.report.notices += taken
            people.forget(_addresses(msg))  # an ask may have created contacts
            return
    verdict = records.unsuppressed(session, verdict)  # forgotten people are never planned for
    if verdict.kind in STORED_KINDS:  # other mail (and refmail's own) is not stored
        with guard():
            if rows is not None and verdict.kind != "introduction":
                rows.add(record.message_values(run.account_id, run.folder, key, msg, verdict, now))
            else:
                if rows is not None:
                    rows.insert(session)  # the rows held first: they stay in folder order
                row = record.record_message(
                    session, run.account_id, run.folder, key, msg, verdict, now
                )
            if verdict.kind == "introduction":
                allowed = standing.of_introduction(run.identity, msg, verdict, auth)
                intro, follow_ups = record.record_introduction(  # a row: it is an introduction
                    session, row, msg, verdict, run.account, run.cadence, now, allowed, people
                )
                if not intro.verified:
                    run.report.notices.append(standing.unverified_notice(intro.id, msg, allowed))
                known.add(msg.message_id)  # a reply to it later in this batch is a reply
                run.report.introductions += 1
                too_old = sum(1 for f in follow_ups if f.state == "skipped")
                run.report.follow_ups += len(follow_ups) - too_old
                run.report.too_old += too_old
                log.info(
                    "introduction %s by %s: %s", msg.message_id, verdict.introducer, verdict.reason
                )
            run.report.recorded += 1  # counted once written: a row another sync wrote is not
    with guard():
        if verdict.kind == "automatic" and looks_like_bounce(msg.envelope):
            from refmail.bounce import parse_bounce  # loaded for bounces only

            bounce = parse_bounce(raw)
            if bounce is not None:
                run.report.notices += effects.apply_bounce(session, bounce, now)
        elif verdict.kind not in ("automatic", "own"):
            if auth is None or auth.authenticated:  # forged mail must not defer check-ins
                record.touch_contacts(people, msg, run.identity.owners, now)
            run.report.notices += effects.apply_reply(
                session, msg, verdict, run.identity, people, now, auth
            )
            run.report.notices += owner_mail.observe(
                session, msg, raw, run.identity, people, run.outcome_rules, now
            )


def _malformed(
    session: Session,
    run: _Run,
    key: Key,
    msg: ParsedMessage,
    exc: Exception,
    guard: Callable[[], AbstractContextManager[object]] | None = None,
) -> None:
    """A message that could not be recorded is recorded as such, so it is neither lost nor
    retried forever (in its own savepoint unless `guard` says otherwise)."""
    why = readers.why_of(exc)
    log.exception(
        "folder %s key %s (%s): could not record: %s", run.folder, key, msg.message_id, why
    )
    run.report.malformed += 1
    run.report.errors.append(f"{run.folder}/{key}: {why}")
    with (guard or session.begin_nested)():
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
