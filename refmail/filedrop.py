"""The file channel: drafts as .eml files in a local directory (`delivery = "file"`, the
embedded demo's).

One file per follow-up, named after its Message-ID and written atomically, so a re-run finds
what it already wrote and never writes it twice.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from refmail.errors import DeliveryError

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


def open_channel(account: Account, mailbox: Mailbox) -> FileDrafts:
    return FileDrafts(account.drafts_dir)
