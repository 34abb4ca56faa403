"""What a mail source (IMAP folder, local Maildir) hands to sync: batches of headers and a cursor.

Kept apart so sync depends on this small contract, not on imapclient or the filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from refmail.classes import dataclass

Key = int | str
# How much of a message sync reads: enough for any text a person writes, never the attachments,
# so a 50 MB message costs what a 256 KB one does. The parser copes with the cut.
BODY_LIMIT = 256 * 1024
HEADER_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Cursor:
    """Where a folder's sync stands: UIDVALIDITY (0 for Maildir) and the last key recorded.

    A source whose keys have no order (Maildir) reads `seen`, the keys already recorded, instead
    of a position; `position` is then only a name cursor left by an older version."""

    validity: int
    position: Key
    seen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Batch:
    """A batch of new messages' headers, and the cursor to store once they are recorded."""

    headers: dict[Key, bytes]
    cursor: Cursor
    rescan: bool = False  # UIDVALIDITY changed: the folder is being read again from the start
    total: int = 0  # how many new messages this scan found in all (for progress bars)
    seen: tuple[str, ...] = ()  # keys to record as seen with this batch (Maildir; IMAP: none)


class Source(Protocol):
    """A mailbox sync can read: new messages' headers in batches, then whole messages."""

    def scan(self, folder: str, cursor: Cursor) -> Iterator[Batch]: ...

    def fetch(self, folder: str, keys: Sequence[Key]) -> dict[Key, bytes]:
        """The first BODY_LIMIT bytes of each message (all of a smaller one)."""
        ...
