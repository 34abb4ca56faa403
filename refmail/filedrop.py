"""The file channel: drafts as .eml files in a local directory (`delivery = "file"`, the
embedded demo's).

One file per follow-up, named after its Message-ID and written atomically, so a re-run finds
what it already wrote and never writes it twice. For refmail.reconcile it lists the drafts
still there (a file the owner removed is a draft dismissed: there is no Sent folder to ask) and
removes the ones refmail withdraws.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from refmail.errors import DeliveryError
from refmail.lifecycle import MAX_HEADER_BYTES, Entry, entry_from_headers

if TYPE_CHECKING:
    from refmail.config import Account
    from refmail.imap import Mailbox


class FileDrafts:
    """A directory of .eml drafts, found by Message-ID."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, message_id: str) -> Path:
        readable = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.strip("<>"))[:80]
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:8]
        return self.directory / f"{readable}-{digest}.eml"

    name = "file"
    sends = False  # the owner opens and sends them (or not)

    def contains(self, message_id: str) -> bool:
        return self.path_for(message_id).exists()

    def where(self, message_id: str) -> str:
        return str(self.path_for(message_id))

    def put(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # drafts hold contacts' data
        final = self.path_for(message_id)
        tmp = final.with_suffix(".tmp")
        try:
            with os.fdopen(
                os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
            ) as handle:
                handle.write(message)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # a half-written draft must not linger
            raise DeliveryError(f"cannot write {final}: {exc.strerror or exc}") from exc

    # --- what became of the drafts (refmail.reconcile) -------------------------------------

    def draft_entries(self) -> list[Entry]:
        """The .eml files there, by their headers (the owner may have removed some)."""
        if not self.directory.is_dir():
            return []
        entries = []
        for path in sorted(self.directory.glob("*.eml")):
            try:
                with path.open("rb") as handle:
                    head = handle.read(MAX_HEADER_BYTES)
                arrived = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:
                continue  # removed while we looked: gone
            entries.append(entry_from_headers(path.name, head, arrived))
        return entries

    def sent_entries(self, since: datetime) -> list[Entry] | None:
        return None  # the owner sends a file draft elsewhere: nothing here can tell

    def bodies(self, keys: Sequence[str]) -> dict[str, bytes]:
        found = {}
        for key in keys:
            try:
                found[key] = (self.directory / Path(key).name).read_bytes()
            except OSError:
                continue
        return found

    def remove(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                (self.directory / Path(key).name).unlink(missing_ok=True)
            except OSError as exc:
                raise DeliveryError(f"cannot remove {key} from {self.directory}: {exc}") from exc

    def flag(self, keys: Sequence[str]) -> str:
        """A file has no flags: the why-log and the owner's notice say it is outdated."""
        return "left as it is (a file has no flags)"


def open_channel(account: Account, mailbox: Mailbox) -> FileDrafts:
    return FileDrafts(account.drafts_dir)
