"""Writes what sync learned into the database: contacts, messages, introductions, the outbox.

Every function takes an open session and adds rows; the caller owns the transaction, so a batch
of messages and its folder cursor commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Insert, select
from sqlalchemy.orm import Session

from refmail import models as m
from refmail import outbox, tables
from refmail.config import Account as AccountSettings
from refmail.config import FollowUps
from refmail.errors import RefmailError
from refmail.plan import IntroFacts, plan
from refmail.source import Batch, Cursor

if TYPE_CHECKING:  # types only: a sync that finds nothing new loads neither parser nor detector
    from refmail.authn import Verdict
    from refmail.detect import Classification
    from refmail.parse import Address, ParsedMessage

OFFSETS_KEPT = 10
LONGEST_WORDS = 2000  # of the sentences kept from an introduction (third-party text)


def ensure_account(session: Session, settings: AccountSettings, now: datetime) -> m.Account:
    """The account's row, created on first use.

    A sync and a dispatch of a new account hold different locks and may both find no row on an
    empty database: the row is inserted ignoring a duplicate, then read (on PostgreSQL the
    second insert waits for the first transaction and then does nothing), so neither fails on
    the unique name.
    """
    by_name = select(m.Account).where(m.Account.name == settings.name)
    account = session.scalar(by_name)
    if account is None:
        row = {"name": settings.name, "address": settings.address, "created_at": now}
        session.execute(_insert_ignoring_duplicates(session, tables.account, "name"), [row])
        account = session.scalar(by_name)
        if account is None:  # inserted here, or committed by the run this one waited for
            raise RefmailError(f"account {settings.name!r} could not be created")
    return account


def load_cursor(session: Session, account_id: int, folder: str) -> Cursor:
    state = _folder_state(session, account_id, folder)
    if state is None:
        return Cursor(0, 0)
    return Cursor(state.uidvalidity, state.last_key or state.last_uid)


def store_cursor(
    session: Session, account_id: int, folder: str, cursor: Cursor, now: datetime
) -> None:
    state = _folder_state(session, account_id, folder)
    if state is None:
        state = m.FolderState(account_id=account_id, folder=folder)
        session.add(state)
    state.uidvalidity = cursor.validity
    if isinstance(cursor.position, int):
        state.last_uid, state.last_key = cursor.position, ""
    else:
        state.last_uid, state.last_key = 0, cursor.position
    state.updated_at = now


def load_position(session: Session, account_id: int, folder: str) -> Cursor:
    """The folder's cursor with the Maildir keys already seen (none for an IMAP folder)."""
    cursor = load_cursor(session, account_id, folder)
    seen = tables.maildir_seen.c  # Core: a sync need not configure MaildirSeen's mapper
    keys = session.scalars(
        select(seen.key).where(seen.account_id == account_id, seen.folder == folder)
    )
    return Cursor(cursor.validity, cursor.position, frozenset(keys))


def store_position(
    session: Session, account_id: int, folder: str, batch: Batch, now: datetime
) -> None:
    """What a batch read: its cursor, and the Maildir keys it saw (in the caller's transaction,
    with the messages it recorded). Keys seen already are skipped, so a replay is harmless."""
    store_cursor(session, account_id, folder, batch.cursor, now)
    seen = tables.maildir_seen  # Core: a sync need not configure MaildirSeen's mapper
    for chunk in _chunks(sorted(set(batch.seen))):
        known = set(
            session.scalars(
                select(seen.c.key).where(
                    seen.c.account_id == account_id,
                    seen.c.folder == folder,
                    seen.c.key.in_(chunk),
                )
            )
        )
        new = [
            {"account_id": account_id, "folder": folder, "key": key, "seen_at": now}
            for key in chunk
            if key not in known
        ]
        if new:
            session.execute(sa.insert(seen), new)


def _folder_state(session: Session, account_id: int, folder: str) -> m.FolderState | None:
    return session.scalar(
        select(m.FolderState).where(
            m.FolderState.account_id == account_id, m.FolderState.folder == folder
        )
    )


def is_recorded(session: Session, message_id: str) -> bool:
    return (
        session.scalar(select(m.MessageRecord.id).where(m.MessageRecord.message_id == message_id))
        is not None
    )


def recorded_ids(session: Session, message_ids: Iterable[str]) -> set[str]:
    """Which of these Message-IDs are recorded already (one query per chunk)."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(message_ids))):
        found.update(
            session.scalars(
                select(m.MessageRecord.message_id).where(m.MessageRecord.message_id.in_(chunk))
            )
        )
    return found


def known_thread_ids(session: Session, refs: Iterable[str]) -> set[str]:
    """Which of these Message-IDs are introductions or follow-ups refmail recorded."""
    found: set[str] = set()
    for chunk in _chunks(sorted({r for r in refs if r})):
        found.update(
            session.scalars(
                select(m.MessageRecord.message_id)
                .join(m.Introduction, m.Introduction.message_pk == m.MessageRecord.id)
                .where(m.MessageRecord.message_id.in_(chunk))
            )
        )
        found.update(
            session.scalars(select(m.FollowUp.message_id).where(m.FollowUp.message_id.in_(chunk)))
        )
    return found


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def contact_emails(session: Session, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses are contacts refmail keeps (one query per chunk of 500)."""
    found: set[str] = set()
    for chunk in _chunks(sorted({a for a in addresses if a})):
        found.update(session.scalars(select(m.Contact.email).where(m.Contact.email.in_(chunk))))
    return found


class ContactCache:
    """Known contacts by address, looked up once per batch (most addresses are not contacts)."""

    def __init__(self, session: Session, addresses: Iterable[str]) -> None:
        self.session = session
        self._known: dict[str, m.Contact | None] = dict.fromkeys(addresses)
        self._forgot = False  # whether the caller said rows may have changed behind the cache
        for chunk in _chunks(sorted(self._known)):
            for contact in session.scalars(select(m.Contact).where(m.Contact.email.in_(chunk))):
                self._known[contact.email] = contact

    def get(self, address: str) -> m.Contact | None:
        known = self._known.get(address)
        if address not in self._known or (known is not None and not sa.inspect(known).persistent):
            # (not yet looked up, or created in a savepoint rolled back since)
            self._known[address] = self.session.scalar(
                select(m.Contact).where(m.Contact.email == address)
            )
        return self._known[address]

    def learn(self, contact: m.Contact) -> None:
        """A contact created (or found) since the batch's lookup."""
        self._known[contact.email] = contact

    def forget(self, addresses: Iterable[str]) -> None:
        """These addresses' rows may have changed (an owner's command, a lost race): look them
        up again; and recheck_absent looks at the rest again too."""
        self._forgot = True
        for address in addresses:
            self._known.pop(address, None)

    def recheck_absent(self, addresses: Iterable[str]) -> None:
        """Look again, in one query, at those of `addresses` the cache holds as no contact: one
        may have been created since the batch's lookup (an opt-in ask earlier in the batch named
        it in its text: the command's caller then calls `forget`), and inserting it again would
        fail. Until then nothing this sync wrote can have created one, so no query (one per
        introduction, a round trip each on PostgreSQL); a contact another process commits
        meanwhile fails the insert, and sync records the batch again a message at a time."""
        if not self._forgot:
            return
        absent = sorted({a for a in addresses if a in self._known and self._known[a] is None})
        for chunk in _chunks(absent):
            for contact in self.session.scalars(
                select(m.Contact).where(m.Contact.email.in_(chunk))
            ):
                self._known[contact.email] = contact


def upsert_contact(
    session: Session, address: Address, now: datetime, source: str = "sync"
) -> m.Contact:
    """The contact for this address, created if new; a name learned later fills an empty one."""
    return upsert_contacts(session, [address], now, ContactCache(session, ()), source)[
        address.email
    ]


def _better_name(session: Session, contact: m.Contact, address: Address) -> bool:
    """`address.name` may fill the contact's name: it has none, or only one that names nobody
    ("sbwhoeop", "you") and that neither the owner nor the contact gave."""
    if not contact.name:
        return True
    # (here, not at the top: a sync that finds nothing new loads neither parser nor detector)
    from refmail.detect_names import says_nothing
    from refmail.parse import Address

    if says_nothing(address) or not says_nothing(Address(contact.email, contact.name)):
        return False
    given = session.scalar(
        select(m.ContactChange.id).where(
            m.ContactChange.contact_id == contact.id,
            m.ContactChange.field == "name",
            m.ContactChange.source.in_(("owner", "recipient")),
        )
    )
    return given is None


def log_change(
    session: Session, contact: m.Contact, field: str, old: str, new: str, source: str, now: datetime
) -> None:
    session.add(
        m.ContactChange(
            contact_id=contact.id, at=now, source=source, field=field, old_value=old, new_value=new
        )
    )


def message_values(
    account_id: int,
    folder: str,
    key: int | str,
    parsed: ParsedMessage,
    verdict: Classification,
    now: datetime,
) -> dict[str, object]:
    """The columns of a stored message's row."""
    refs = parsed.references
    return {
        "message_id": parsed.message_id,
        "synthetic_id": parsed.synthetic_id,
        "account_id": account_id,
        "folder": folder,
        "uid": key if isinstance(key, int) else 0,
        "thread_root": refs[0] if refs else (parsed.in_reply_to or parsed.message_id),
        "in_reply_to": parsed.in_reply_to or "",
        "sender": parsed.sender.email if parsed.sender else "",
        "recipients": ", ".join(a.email for a in parsed.envelope.recipients),
        "subject": parsed.subject[:2000],
        "sent_at": parsed.date if parsed.date and parsed.date.tzinfo else None,
        "utc_offset_minutes": parsed.utc_offset_minutes,
        "kind": verdict.kind,
        "rule": verdict.rule,
        "reason": verdict.reason[:2000],
        "ingested_at": now,
    }


def record_message(
    session: Session,
    account_id: int,
    folder: str,
    key: int | str,
    parsed: ParsedMessage,
    verdict: Classification,
    now: datetime,
) -> m.MessageRecord:
    row = m.MessageRecord(**message_values(account_id, folder, key, parsed, verdict, now))
    session.add(row)
    session.flush()
    return row


_MESSAGES = tables.message


class AlreadyRecorded(Exception):
    """A bulk insert met Message-IDs recorded meanwhile (by another sync, or a batch read
    again): the caller rolls back and records the batch a message at a time."""


class MessageRows:
    """A batch's stored messages that nothing later in the batch reads by their row (replies,
    robots' mail), inserted together in one statement by `insert`. The caller inserts what is
    held before anything that must see them: an introduction (rows stay in folder order), an
    owner's command (one may forget a sender's messages), the end of the batch."""

    def __init__(self) -> None:
        self._rows: list[dict[str, object]] = []

    def add(self, values: dict[str, object]) -> None:
        self._rows.append(values)

    def insert(self, session: Session) -> None:
        """One INSERT … ON CONFLICT DO NOTHING RETURNING for every row held (executemany);
        raises AlreadyRecorded when a row was there already, so nothing is applied twice."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        session.flush()  # the ORM's pending rows (contacts, introductions) go first
        statement = _insert_ignoring_duplicates(session, _MESSAGES, "message_id")
        inserted: set[str] = set(session.scalars(statement.returning(_MESSAGES.c.message_id), rows))
        if len(inserted) < len(rows):
            missing = [r["message_id"] for r in rows if r["message_id"] not in inserted]
            raise AlreadyRecorded(f"{len(missing)} recorded meanwhile, e.g. {missing[0]}")


def _insert_ignoring_duplicates(session: Session, table: sa.Table, key: str) -> Insert:
    """INSERT … ON CONFLICT (key) DO NOTHING, in the session's dialect (SQLite or PostgreSQL)."""
    # Imported here: a SQLite-only start-up does not load the PostgreSQL dialect.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing(index_elements=[key])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])


def record_malformed(
    session: Session,
    account_id: int,
    folder: str,
    key: int | str,
    message_id: str,
    why: str,
    now: datetime,
) -> None:
    session.add(
        m.MessageRecord(
            message_id=message_id,
            synthetic_id=True,
            account_id=account_id,
            folder=folder,
            uid=key if isinstance(key, int) else 0,
            thread_root=message_id,
            kind="malformed",
            rule="error",
            reason=why[:2000],
            ingested_at=now,
        )
    )


def record_introduction(
    session: Session,
    message: m.MessageRecord,
    parsed: ParsedMessage,
    verdict: Classification,
    settings: AccountSettings,
    cadence: FollowUps,
    now: datetime,
    auth: Verdict | None = None,
    people: ContactCache | None = None,
) -> tuple[m.Introduction, list[m.FollowUp]]:
    """The introduction, its parties, and the follow-ups the plan asks for.

    Its people are resolved together (`people`, the batch's contacts, when given; the new ones
    inserted in one flush), and its plan written with the contacts in hand: a few statements
    per introduction, not a few per person and per follow-up. An introduction whose `auth` did
    not authenticate is recorded unverified and plans nothing until the owner confirms it
    (`plan_introduction` then)."""
    assert verdict.introducer is not None
    people = people if people is not None else ContactCache(session, ())
    found = upsert_contacts(
        session, [verdict.introducer, *(p.address for p in verdict.parties)], now, people
    )
    introducer = found[verdict.introducer.email]
    intro = m.Introduction(
        message_pk=message.id,
        account_id=message.account_id,
        introducer_id=introducer.id,
        shape=verdict.shape or "owner_intro",
        context=verdict.context[:LONGEST_WORDS],
        about_owner=verdict.about_owner[:LONGEST_WORDS],
        status="open",
        verified=auth is None or auth.authenticated,
        auth=auth.why[:2000] if auth is not None else "",
        created_at=now,
        updated_at=now,
    )
    session.add(intro)
    session.flush()
    session.add_all(
        m.IntroductionParty(
            introduction_id=intro.id,
            contact_id=found[party.address.email].id,
            reached=party.reached,
            about=party.about[:LONGEST_WORDS],
        )
        for party in verdict.parties
    )
    session.flush()
    if not intro.verified:
        return intro, []
    # Due times run from when refmail saw the message, never from a Date header in the future.
    at = min(parsed.date, now) if parsed.date is not None and parsed.date.tzinfo else now
    parties = [(found[party.address.email], party.reached) for party in verdict.parties]
    return intro, _plan(session, intro, introducer, parties, settings, cadence, at, now)


def upsert_contacts(
    session: Session,
    addresses: Iterable[Address],
    now: datetime,
    people: ContactCache,
    source: str = "sync",
) -> dict[str, m.Contact]:
    """The contact of each address (by email), as upsert_contact on each in turn would leave
    them, in fewer statements: the ones that exist come from `people` (the batch's contacts),
    the new ones are inserted together in one flush, which `people` then knows."""
    found: dict[str, m.Contact] = {}
    fresh: list[tuple[m.Contact, Address]] = []
    named: list[Address] = []  # may fill a name (not the address that created its contact)
    addresses = list(addresses)
    people.recheck_absent(a.email for a in addresses)
    for address in addresses:
        contact = found.get(address.email) or people.get(address.email)
        if contact is None:
            contact = m.Contact(
                email=address.email, name=address.name, created_at=now, updated_at=now
            )
            fresh.append((contact, address))
        elif address.name:
            named.append(address)
        found[address.email] = contact
    if fresh:
        session.add_all(contact for contact, _ in fresh)
        session.flush()
        for contact, address in fresh:
            people.learn(contact)
            log_change(session, contact, "created", "", address.email, source, now)
    for address in named:
        contact = found[address.email]
        if _better_name(session, contact, address):
            log_change(session, contact, "name", contact.name, address.name, source, now)
            contact.name = address.name
            contact.updated_at = now
    return found


def plan_introduction(
    session: Session,
    intro: m.Introduction,
    settings: AccountSettings,
    cadence: FollowUps,
    at: datetime,
    now: datetime,
) -> list[m.FollowUp]:
    """Store the follow-ups the plan asks for an introduction made at `at`."""
    session.refresh(intro, ["parties"])
    parties = [(p.contact, p.reached) for p in intro.parties]
    return _plan(session, intro, intro.introducer, parties, settings, cadence, at, now)


def _plan(
    session: Session,
    intro: m.Introduction,
    introducer: m.Contact,
    parties: list[tuple[m.Contact, bool]],
    settings: AccountSettings,
    cadence: FollowUps,
    at: datetime,
    now: datetime,
) -> list[m.FollowUp]:
    """The follow-ups of an introduction made at `at`, its people in hand, stored together."""
    contacts: dict[str, m.Contact] = {introducer.email: introducer}
    contacts.update({contact.email: contact for contact, _ in parties})
    facts = IntroFacts(
        shape=intro.shape,
        introducer=introducer.email,
        introducer_is_owner=introducer.email in settings.owners,
        parties=tuple((contact.email, reached) for contact, reached in parties),
        at=at,
    )
    too_old = now - at > timedelta(days=cadence.max_age_days)
    skip_reason = _too_old(now - at, cadence) if too_old else ""
    domain = settings.owner_address.split("@", 1)[1]
    planned = [
        outbox.NewFollowUp(
            introduction_id=intro.id,
            account_id=intro.account_id,
            kind=p.kind,
            step=p.step,
            contact_id=contacts[p.recipient].id,
            due_at=p.due_at,
            skip_reason=skip_reason,
        )
        for p in plan(facts, cadence, now)
    ]
    return outbox.add_many(session, planned, domain, now)


def confirm_introduction(
    session: Session,
    intro: m.Introduction,
    settings: AccountSettings,
    cadence: FollowUps,
    now: datetime,
) -> list[m.FollowUp]:
    """The owner vouches for an unverified introduction: plan its follow-ups now, timed from
    when refmail first saw it (so a long-held one is recorded as too old, not sent late)."""
    if intro.verified:
        return []
    intro.verified, intro.updated_at = True, now
    intro.auth = f"{intro.auth}; confirmed by the owner on {now:%Y-%m-%d %H:%M} UTC"[-2000:]
    return plan_introduction(session, intro, settings, cadence, intro.created_at, now)


def _too_old(age: timedelta, cadence: FollowUps) -> str:
    return f"introduction is {age.days} days old (max_age_days = {cadence.max_age_days})"


def touch_contacts(
    people: ContactCache, parsed: ParsedMessage, owners: frozenset[str], now: datetime
) -> None:
    """Note human contact with known people: mail from them, or the owner's mail to them.

    Their own mail also records its Date offset, from which policy guesses their time zone.
    """
    sender = parsed.sender.email if parsed.sender else ""
    at = parsed.date if parsed.date is not None and parsed.date.tzinfo else now
    at = min(at, now)
    addresses = [a.email for a in parsed.envelope.recipients] if sender in owners else [sender]
    for address in filter(None, addresses):
        contact = people.get(address)
        if contact is None:
            continue
        if contact.last_contact_at is None or contact.last_contact_at < at:
            contact.last_contact_at = at
        if contact.email == sender and parsed.utc_offset_minutes is not None:
            recent = [*contact.offsets(), parsed.utc_offset_minutes][-OFFSETS_KEPT:]
            contact.recent_offsets = ",".join(map(str, recent))
