"""IMAP adapter (imapclient): read new mail in UID batches, and put drafts into the Drafts folder.

Nothing here decides anything: sync and dispatch call it. Every fetch uses BODY.PEEK so the
owner's mail is never marked read, and UID sets are explicit lists of bounded size.

Example (what sync does, in short)::

    with connect(settings) as mailbox:
        source = ImapSource(mailbox, batch_size=500)
        for batch in source.scan("INBOX", Cursor(validity=0, position=0)):
            headers = batch.headers          # {uid: b"From: ...\\r\\n..."}
            bodies = source.fetch("INBOX", list(headers))
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, datetime

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import DRAFTS, SENT

from refmail.classes import dataclass
from refmail.config import ImapSettings
from refmail.errors import DeliveryError, SourceError
from refmail.oauth import token_source
from refmail.source import BODY_LIMIT, HEADER_LIMIT, Batch, Cursor, Key

log = logging.getLogger(__name__)

DRAFTS_NAMES = ("Drafts", "INBOX.Drafts", "INBOX/Drafts", "Draft", "[Gmail]/Drafts")
SENT_NAMES = (
    "Sent",
    "INBOX.Sent",
    "INBOX/Sent",
    "Sent Items",
    "Sent Messages",
    "[Gmail]/Sent Mail",
)
DRAFT_FLAGS = (imapclient.DRAFT, imapclient.SEEN)
# What reconciling Drafts and Sent reads of each message: enough to recognise refmail's drafts.
LOOKUP_FIELDS = b"MESSAGE-ID X-REFMAIL-ID TO CC SUBJECT IN-REPLY-TO REFERENCES DATE"
OUTDATED = b"$RefmailOutdated"  # the keyword on a draft refmail would withdraw but you edited
SENT_FLAGS = (imapclient.SEEN,)
NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientError)


@contextmanager
def connect(settings: ImapSettings) -> Iterator[imapclient.IMAPClient]:
    """A logged-in IMAPClient; raises SourceError with one readable line on any failure."""
    where = f"{settings.host}:{settings.effective_port}"
    # One context for the connection (loading the CA store takes tens of milliseconds): STARTTLS
    # upgrades with the same one.
    context = ssl.create_default_context() if settings.tls != "none" else None
    try:
        client = imapclient.IMAPClient(
            settings.host,
            port=settings.effective_port,
            ssl=settings.tls == "ssl",
            ssl_context=context,
            timeout=settings.timeout,
        )
    except NETWORK_ERRORS as exc:
        raise SourceError(f"cannot connect to IMAP server {where}: {exc}") from exc
    try:
        if settings.tls == "starttls":
            client.starttls(context)
        _login(client, settings)
    except LoginError as exc:
        _quietly_close(client)
        how = " (XOAUTH2, after one token refresh)" if settings.auth == "xoauth2" else ""
        raise SourceError(f"IMAP login failed for {settings.user} at {where}{how}") from exc
    except SourceError:
        _quietly_close(client)
        raise
    except NETWORK_ERRORS as exc:
        _quietly_close(client)
        raise SourceError(f"IMAP session with {where} failed: {exc}") from exc
    try:
        yield client
    finally:
        _quietly_close(client)


def _login(client: imapclient.IMAPClient, settings: ImapSettings) -> None:
    """Password login, or XOAUTH2 with a cached token, refreshed once if the server refuses it."""
    if settings.auth != "xoauth2":
        client.login(settings.user, settings.password())
        return
    tokens = token_source(settings)
    try:
        client.oauth2_login(settings.user, tokens.token())
    except LoginError:
        client.oauth2_login(settings.user, tokens.refresh())


def _quietly_close(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone; closing is best effort
        with suppress(Exception):
            client.shutdown()


class ImapSource:
    """Reads new messages of a folder in UID order, headers first, in bounded batches."""

    def __init__(self, client: imapclient.IMAPClient, batch_size: int = 500) -> None:
        self.client = client
        self.batch_size = batch_size
        self._selected: str | None = None

    def _select(self, folder: str) -> tuple[int, int | None]:
        """Select `folder` read-only: its UIDVALIDITY and UIDNEXT (None if the server omits it)."""
        info = self.client.select_folder(folder, readonly=True)
        self._selected = folder
        uidnext = info.get(b"UIDNEXT")
        return int(info[b"UIDVALIDITY"]), int(uidnext) if uidnext is not None else None

    def new_uids(self, folder: str, cursor: Cursor) -> tuple[Cursor, list[int]]:
        """Select `folder`; the UIDs after the cursor (all of them if UIDVALIDITY changed)."""
        validity, uidnext = self._select(folder)
        after = int(cursor.position) if validity == cursor.validity else 0
        if uidnext is not None and uidnext <= after + 1:
            # Every UID in the folder is below UIDNEXT (RFC 3501 2.3.1.1), so none is after the
            # cursor: a run with nothing new spares the SEARCH round trip, as mbsync does.
            return Cursor(validity, after), []
        # "UID n:*" always matches the highest UID, even when it is below n: filter it out.
        uids = sorted(u for u in self.client.search(["UID", f"{after + 1}:*"]) if u > after)
        return Cursor(validity, after), uids

    def scan(self, folder: str, cursor: Cursor) -> Iterator[Batch]:
        """Batches of (uid → header bytes) after the cursor, each with the cursor to store."""
        start, uids = self.new_uids(folder, cursor)
        rescan = start.validity != cursor.validity and cursor.validity != 0
        if rescan:
            log.warning(
                "folder %s: UIDVALIDITY changed (%s → %s), reading it again",
                folder,
                cursor.validity,
                start.validity,
            )
        if not uids and start.validity != cursor.validity:
            yield Batch({}, start, rescan, 0)  # nothing new, but the new UIDVALIDITY must be kept
        for i in range(0, len(uids), self.batch_size):
            chunk = uids[i : i + self.batch_size]
            response = self.client.fetch(chunk, [f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>"])
            headers = {uid: _section(data, b"BODY[HEADER]") for uid, data in response.items()}
            yield Batch(headers, Cursor(start.validity, chunk[-1]), rescan, len(uids))

    def fetch(self, folder: str, uids: Sequence[Key]) -> dict[Key, bytes]:
        """The first BODY_LIMIT bytes of these messages, in one round trip (a partial
        BODY.PEEK: nothing marked read, and a big attachment is never downloaded)."""
        if not uids:
            return {}
        if self._selected != folder:
            self._select(folder)
        response = self.client.fetch(list(uids), [f"BODY.PEEK[]<0.{BODY_LIMIT}>"])
        return {uid: _section(data, b"BODY[]") for uid, data in response.items()}


def _section(data: dict[bytes, object], name: bytes) -> bytes:
    """A fetched section's bytes; a partial fetch answers under "BODY[]<0>", not "BODY[]"."""
    for key, value in data.items():
        if key == name or key.startswith(name + b"<"):
            return value if isinstance(value, bytes) else b""
    return b""


def find_folder(
    client: imapclient.IMAPClient, special: bytes, names: tuple[str, ...], configured: str = ""
) -> str:
    """The configured folder, else the SPECIAL-USE one, else a usual name, else a new one."""
    if configured:
        return configured
    folder = client.find_special_folder(special)
    if folder:
        return folder
    existing = {name for _flags, _delim, name in client.list_folders()}
    for name in names:
        if name in existing:
            return name
    log.info("no %s folder found: creating %s", special.decode(), names[0])
    client.create_folder(names[0])
    return names[0]


def find_drafts_folder(client: imapclient.IMAPClient, configured: str = "") -> str:
    return find_folder(client, DRAFTS, DRAFTS_NAMES, configured)


def find_sent_folder(client: imapclient.IMAPClient, configured: str = "") -> str:
    return find_folder(client, SENT, SENT_NAMES, configured)


class Mailbox:
    """One logged-in connection to an account's mailbox, shared by the channels of a dispatch
    run (Drafts, and the Sent copies of SMTP), opened the first time one asks for it."""

    def __init__(self, settings: ImapSettings | None, stack: ExitStack) -> None:
        self.settings = settings
        self._stack = stack
        self._client: imapclient.IMAPClient | None = None

    def client(self) -> imapclient.IMAPClient:
        if self.settings is None:
            raise SourceError("this account has no IMAP mailbox")
        if self._client is None:
            self._client = self._stack.enter_context(connect(self.settings))
        return self._client

    def drafts(self) -> ImapFolder:
        """The Drafts folder (configured, SPECIAL-USE, a usual name, or created)."""
        assert self.settings is not None
        client = self.client()
        return ImapFolder(client, find_drafts_folder(client, self.settings.drafts_folder))

    def sent(self, configured: str = "") -> ImapFolder | None:
        """The Sent folder, or None for an account without IMAP (nowhere to file a copy)."""
        if self.settings is None:
            return None
        client = self.client()
        return ImapFolder(client, find_sent_folder(client, configured), SENT_FLAGS)


class ImapFolder:
    """A folder of the owner's mailbox that follow-ups are put into (Drafts, or Sent copies),
    found again by Message-ID."""

    def __init__(
        self, client: imapclient.IMAPClient, folder: str, flags: tuple[bytes, ...] = DRAFT_FLAGS
    ) -> None:
        self.client = client
        self.folder = folder
        self.flags = flags

    def contains(self, message_id: str) -> bool:
        try:
            self.client.select_folder(self.folder, readonly=True)
            return bool(self.client.search(["HEADER", "Message-ID", message_id]))
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"cannot search {self.folder}: {exc}") from exc

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        try:
            self.client.append(self.folder, message, flags=list(self.flags))
        except IMAPClientError as exc:
            raise DeliveryError(f"APPEND to {self.folder} refused: {exc}") from exc
        except OSError as exc:
            raise DeliveryError(f"connection lost during APPEND to {self.folder}: {exc}") from exc

    # --- reconciliation (refmail.reconcile): read headers in one go, act on UIDs -------------

    def headers(self, since: date | None = None, batch_size: int = 500) -> list[Stored]:
        """Every message (or those that arrived or are dated on or after `since`) with the
        headers that identify it: one UID SEARCH and one FETCH per `batch_size` messages."""
        try:
            self.client.select_folder(self.folder, readonly=True)
            criteria = ["ALL"] if since is None else ["OR", "SINCE", since, "SENTSINCE", since]
            uids = sorted(self.client.search(criteria))
            found: list[Stored] = []
            for i in range(0, len(uids), batch_size):
                chunk = uids[i : i + batch_size]
                response = self.client.fetch(
                    chunk,
                    [
                        b"BODY.PEEK[HEADER.FIELDS (" + LOOKUP_FIELDS + b")]",
                        b"INTERNALDATE",
                        b"FLAGS",
                    ],
                )
                found += [_stored(uid, data) for uid, data in sorted(response.items())]
            return found
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"cannot read the headers of {self.folder}: {exc}") from exc

    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """Whole messages, in one FETCH (BODY.PEEK: nothing marked read)."""
        if not uids:
            return {}
        try:
            self.client.select_folder(self.folder, readonly=True)
            response = self.client.fetch(list(uids), [b"BODY.PEEK[]"])
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"cannot read messages of {self.folder}: {exc}") from exc
        return {uid: data.get(b"BODY[]", b"") for uid, data in response.items()}

    def delete(self, uids: Sequence[int]) -> None:
        """Remove these messages, and only these (UID EXPUNGE leaves others marked deleted)."""
        if not uids:
            return
        try:
            self.client.select_folder(self.folder)
            self.client.delete_messages(list(uids))
            self.client.uid_expunge(list(uids))
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"cannot delete from {self.folder}: {exc}") from exc

    def add_keyword(self, uids: Sequence[int], keyword: bytes = OUTDATED) -> None:
        if not uids:
            return
        try:
            self.client.select_folder(self.folder)
            self.client.add_flags(list(uids), [keyword])
        except NETWORK_ERRORS as exc:
            raise DeliveryError(f"cannot flag messages in {self.folder}: {exc}") from exc


@dataclass(frozen=True)
class Stored:
    """One message of a folder as reconciliation reads it: UID, header block, arrival, flags."""

    uid: int
    headers: bytes
    arrived: datetime | None
    flags: tuple[bytes, ...]

    @property
    def deleted(self) -> bool:
        return imapclient.DELETED in self.flags


def _stored(uid: int, data: dict[bytes, object]) -> Stored:
    raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
    arrived = data.get(b"INTERNALDATE")
    flags = data.get(b"FLAGS") or ()
    return Stored(
        uid,
        raw if isinstance(raw, bytes) else b"",
        # imapclient gives INTERNALDATE as naive local time: make it aware.
        arrived.astimezone() if isinstance(arrived, datetime) else None,
        tuple(f for f in flags if isinstance(f, bytes)),  # type: ignore[attr-defined]
    )
