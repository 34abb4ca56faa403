"""What became of refmail's drafts, decided from folder headers: pure, no I/O.

Reconciliation (refmail.reconcile) reads the headers of the Drafts folder and, for drafts no
longer there, of the Sent folder; this module matches them to the outbox's delivered drafts and
says what happened:

- still in Drafts: nothing (or withdraw it, when refmail wants it gone; or queue it for
  withdrawal when it is older than `drafts_expire_days`);
- gone from Drafts, found in Sent: the owner sent it, at the time the Sent copy says (or, when
  the copy carries only the draft's own times, as an IMAP MOVE keeps them, when it was seen);
- gone from both: missing; dismissed by the owner once missing for the grace period (at once
  where there is no Sent folder to look in, as for .eml files); withdrawn if refmail wanted it
  gone (whoever removed it, so a crash after deleting and before recording loses nothing).

A draft is withdrawn (deleted) only when it is refmail's own and untouched: the same Message-ID
and X-Refmail-ID, and the same digest as written. Anything else is flagged, never deleted.

>>> subject_key("Re: RE:  Thanks,  Pat!")
'thanks, pat!'
"""

from __future__ import annotations

import email
import email.utils
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message

# A Sent copy whose times are no later than this after the draft's own carries the draft's
# times (a MOVE keeps Date and INTERNALDATE): the time it was seen is the better guess.
SAME_TIME = timedelta(minutes=2)
MAX_HEADER_BYTES = 64 * 1024  # what a header block may take before the rest is ignored
REPLY_PREFIXES = ("re:", "aw:", "sv:", "antw:", "réf:", "ref:")


def digest(raw: bytes) -> str:
    """A digest of a message as written, blind to line endings (servers store LF or CRLF).

    >>> digest(b"Subject: x\\r\\n\\r\\nhi\\r\\n") == digest(b"Subject: x\\n\\nhi")
    True
    """
    return hashlib.sha256(raw.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()


def subject_key(subject: str) -> str:
    """A subject without reply prefixes, case and runs of spaces: how two subjects compare."""
    text = " ".join(subject.split()).lower()
    while True:
        for prefix in REPLY_PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix) :].lstrip()
                break
        else:
            return text


def refmail_id(message_id: str) -> str:
    """The X-Refmail-ID refmail writes for a Message-ID (the Message-ID without brackets)."""
    return message_id.strip().strip("<>")


@dataclass(frozen=True)
class Entry:
    """One message of a folder as its headers say, with the server's arrival time and flags."""

    key: str  # the UID (as text) or the file name: what the channel acts on
    message_id: str = ""
    refmail_id: str = ""
    recipients: frozenset[str] = frozenset()
    subject: str = ""
    thread: frozenset[str] = frozenset()  # the Message-IDs of In-Reply-To and References
    date: datetime | None = None
    arrived: datetime | None = None  # INTERNALDATE, or a file's modification time
    deleted: bool = False  # marked \\Deleted: gone, as far as the owner is concerned


def entry_from_headers(
    key: str, raw: bytes, arrived: datetime | None = None, deleted: bool = False
) -> Entry:
    """An Entry from a header block; hostile input gives empty fields, never an error."""
    # The parser (and its HTML reader) loads only when a folder has drafts to read: a sync or a
    # dispatch with none to reconcile never needs it (issue 15).
    from refmail.parse import decode_header_value, parse_addresses

    msg = email.message_from_bytes(raw[:MAX_HEADER_BYTES])  # compat32, the default
    good = []
    for name in ("to", "cc"):
        found, _bad = parse_addresses(_values(msg, name), name)
        good += [a.email for a in found]
    return Entry(
        key=key,
        message_id=_first(msg, "message-id"),
        refmail_id=_first(msg, "x-refmail-id"),
        recipients=frozenset(good),
        subject=decode_header_value(_first(msg, "subject")),
        thread=frozenset(_ids(" ".join(_values(msg, "in-reply-to") + _values(msg, "references")))),
        date=_date(_first(msg, "date")),
        arrived=_utc(arrived),
        deleted=deleted,
    )


def _values(msg: Message, name: str) -> list[str]:
    return [str(v) for k, v in msg.raw_items() if k.lower() == name]


def _first(msg: Message, name: str) -> str:
    values = _values(msg, name)
    return " ".join(values[0].split()) if values else ""


def _ids(text: str) -> list[str]:
    return [f"<{part.strip('<>')}>" for part in text.replace(">", "> ").split() if "@" in part]


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _utc(parsed)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Tracked:
    """A delivered draft the outbox is waiting on, as reconciliation needs to see it."""

    id: int
    kind: str
    message_id: str
    recipient: str
    subject: str
    thread: str  # the Message-ID of the introduction the draft answers ("" if none)
    delivered_at: datetime
    digest: str = ""  # of the draft as written ("" when unknown: never deleted then)
    missing_since: datetime | None = None
    withdraw_reason: str = ""
    flagged: bool = False


# --- what one look at the folders decides ---------------------------------------------------


@dataclass(frozen=True)
class Sent:
    row: Tracked
    at: datetime
    how: str  # how the Sent copy was recognised


@dataclass(frozen=True)
class Survey:
    """Drafts matched against the Drafts folder (first step)."""

    present: dict[int, Entry] = field(default_factory=dict)  # row id → its entry in Drafts
    missing: list[Tracked] = field(default_factory=list)  # not in Drafts
    back: list[Tracked] = field(default_factory=list)  # missing before, in Drafts again
    expired: list[Tracked] = field(default_factory=list)  # old enough to withdraw

    def since(self) -> datetime | None:
        """How far back the Sent folder needs reading (None: not at all)."""
        if not self.missing:
            return None
        return min(r.delivered_at for r in self.missing) - timedelta(days=1)


@dataclass(frozen=True)
class Outcome:
    """What became of the drafts that are not in Drafts (second step)."""

    sent: list[Sent] = field(default_factory=list)
    missing: list[Tracked] = field(default_factory=list)  # newly missing: the grace starts
    dismissed: list[Tracked] = field(default_factory=list)
    withdrawn: list[Tracked] = field(default_factory=list)  # wanted gone, and gone


def survey(
    rows: Sequence[Tracked], drafts: Iterable[Entry], now: datetime, expire_days: float = 0
) -> Survey:
    """Which drafts are still in Drafts (by Message-ID, then X-Refmail-ID, then recipient,
    subject and thread), and which of those expired."""
    found = _Index([e for e in drafts if not e.deleted]).match(rows)
    result = Survey()
    for row in rows:
        if row.id not in found:
            result.missing.append(row)
            continue
        result.present[row.id] = found[row.id][0]
        if row.missing_since is not None:
            result.back.append(row)
        old = expire_days > 0 and now - row.delivered_at >= timedelta(days=expire_days)
        if old and not row.withdraw_reason:
            result.expired.append(row)
    return result


def resolve(
    missing: Sequence[Tracked], sent: Iterable[Entry] | None, now: datetime, grace: timedelta
) -> Outcome:
    """What became of drafts gone from Drafts, given the Sent folder (None: there is none to
    look in, so a draft gone is a draft dismissed)."""
    found = _Index([e for e in sent or () if not e.deleted]).match(missing)
    result = Outcome()
    for row in missing:
        if row.id in found:
            entry, how = found[row.id]
            result.sent.append(Sent(row, sent_time(entry, row.delivered_at, now), how))
        elif row.withdraw_reason:
            result.withdrawn.append(row)
        elif sent is None or (row.missing_since is not None and now - row.missing_since >= grace):
            result.dismissed.append(row)
        elif row.missing_since is None:
            result.missing.append(row)
    return result


def sent_time(entry: Entry, drafted: datetime, now: datetime) -> datetime:
    """When the owner sent it: the Sent copy's latest time (never in the future), unless the
    copy only carries the draft's own times; then now, when it was first seen in Sent."""
    stamps = [t for t in (entry.date, entry.arrived) if t is not None]
    if not stamps or max(stamps) <= drafted + SAME_TIME:
        return now
    return min(max(stamps), now)


def untouched(row: Tracked, entry: Entry, body: bytes | None) -> bool:
    """Whether the draft in Drafts is exactly what refmail wrote: only then may it be deleted."""
    return (
        bool(row.digest)
        and body is not None
        and entry.message_id == row.message_id
        and entry.refmail_id == refmail_id(row.message_id)
        and digest(body) == row.digest
    )


def same_headers(row: Tracked, entry: Entry) -> bool:
    """Whether the headers alone allow the draft to be refmail's untouched one (so its body is
    worth fetching to compare)."""
    return (
        bool(row.digest)
        and entry.message_id == row.message_id
        and entry.refmail_id == refmail_id(row.message_id)
    )


class _Index:
    """Folder entries by Message-ID, X-Refmail-ID and (recipient, subject); each entry answers
    for one draft at most, exact matches first."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.by_id: dict[str, Entry] = {}
        self.by_refmail: dict[str, Entry] = {}
        self.by_subject: dict[tuple[str, str], list[Entry]] = {}
        for e in entries:
            if e.message_id:
                self.by_id.setdefault(e.message_id, e)
            if e.refmail_id:
                self.by_refmail.setdefault(e.refmail_id, e)
            for rcpt in e.recipients:
                self.by_subject.setdefault((rcpt, subject_key(e.subject)), []).append(e)

    def match(self, rows: Sequence[Tracked]) -> dict[int, tuple[Entry, str]]:
        """Row id → (its entry, how it was recognised)."""
        found: dict[int, tuple[Entry, str]] = {}
        used: set[str] = set()
        for row in rows:  # exact matches first, so a loose one never takes another's copy
            for entry, how in (
                (self.by_id.get(row.message_id), "same Message-ID"),
                (self.by_refmail.get(refmail_id(row.message_id)), "same X-Refmail-ID"),
            ):
                if entry is not None and entry.key not in used:
                    found[row.id] = (entry, how)
                    used.add(entry.key)
                    break
        for row in rows:
            if row.id in found or not row.subject:
                continue
            for entry in self.by_subject.get((row.recipient, subject_key(row.subject)), []):
                if entry.key not in used and (not row.thread or row.thread in entry.thread):
                    found[row.id] = (entry, "same recipient, subject and thread")
                    used.add(entry.key)
                    break
        return found
