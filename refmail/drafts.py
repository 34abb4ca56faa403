"""The drafts channel (the default): follow-ups become drafts in the owner's IMAP Drafts folder,
for the owner to review, edit and send themselves. Idempotent by Message-ID.

It also shows refmail.reconcile what became of them: the headers of Drafts and of Sent (each in
one go), and takes back (or flags) the drafts refmail withdraws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from refmail.config import Account
from refmail.imap import OUTDATED, ImapFolder, Mailbox, Stored
from refmail.lifecycle import Entry, entry_from_headers


class DraftsChannel:
    """Drafts in an IMAP folder, found again by Message-ID."""

    name = "drafts"
    sends = False  # the owner sends them (or not)

    def __init__(
        self, folder: ImapFolder, sent: Callable[[], ImapFolder | None] = lambda: None
    ) -> None:
        self.folder = folder
        self._sent = sent  # opened only when a draft has left Drafts

    def contains(self, message_id: str) -> bool:
        return self.folder.contains(message_id)

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        self.folder.put(message, message_id)

    def where(self, message_id: str) -> str:
        return f"{self.folder.folder} {message_id}"

    # --- what became of the drafts (refmail.reconcile) -------------------------------------

    def draft_entries(self) -> list[Entry]:
        return [_entry(s) for s in self.folder.headers()]

    def sent_entries(self, since: datetime) -> list[Entry] | None:
        sent = self._sent()
        return None if sent is None else [_entry(s) for s in sent.headers(since.date())]

    def bodies(self, keys: Sequence[str]) -> dict[str, bytes]:
        found = self.folder.bodies([int(k) for k in keys])
        return {str(uid): raw for uid, raw in found.items()}

    def remove(self, keys: Sequence[str]) -> None:
        self.folder.delete([int(k) for k in keys])

    def flag(self, keys: Sequence[str]) -> str:
        self.folder.add_keyword([int(k) for k in keys], OUTDATED)
        return f"flagged {OUTDATED.decode()}"


def _entry(stored: Stored) -> Entry:
    return entry_from_headers(str(stored.uid), stored.headers, stored.arrived, stored.deleted)


def open_channel(account: Account, mailbox: Mailbox) -> DraftsChannel:
    sent_folder = account.smtp.sent_folder if account.smtp is not None else ""
    return DraftsChannel(mailbox.drafts(), lambda: mailbox.sent(sent_folder))
