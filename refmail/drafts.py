"""The drafts channel (the default): follow-ups become drafts in the owner's IMAP Drafts folder,
for the owner to review, edit and send themselves. Idempotent by Message-ID."""

from __future__ import annotations

from collections.abc import Sequence

from refmail.config import Account
from refmail.imap import ImapFolder, Mailbox


class DraftsChannel:
    """Drafts in an IMAP folder, found again by Message-ID."""

    name = "drafts"
    sends = False  # the owner sends them (or not)

    def __init__(self, folder: ImapFolder) -> None:
        self.folder = folder

    def contains(self, message_id: str) -> bool:
        return self.folder.contains(message_id)

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        self.folder.put(message, message_id)

    def where(self, message_id: str) -> str:
        return f"{self.folder.folder} {message_id}"


def open_channel(account: Account, mailbox: Mailbox) -> DraftsChannel:
    return DraftsChannel(mailbox.drafts())
