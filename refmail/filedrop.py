"""The file channel: drafts as .eml files in a local directory (`delivery = "file"`, the
embedded demo's).

One file per follow-up, named after its Message-ID and written atomically, so a re-run finds
what it already wrote and never writes it twice. Dispatch stages a group of drafts and settles
them together (one sync of the file system, then the renames, then one sync of the directory)
before it confirms any of them; a single `put` does the same for one file. For refmail.reconcile
it lists the drafts still there (a file the owner removed is a draft dismissed: there is no Sent
folder to ask) and removes the ones refmail withdraws.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from refmail.errors import DeliveryError
from refmail.lifecycle import MAX_HEADER_BYTES, Entry, entry_from_headers

if TYPE_CHECKING:
    from refmail.config import Account
    from refmail.imap import Mailbox


class FileDrafts:
    """A directory of .eml drafts, found by Message-ID."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final) written by `stage`

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
        """Write one draft for good: its data synced, then renamed into place, then the
        directory synced (so a crash cannot undo a rename the outbox was told of)."""
        tmp, final = self._write(message, message_id, sync=True)
        self._publish([(tmp, final)])

    def stage(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        """Write a draft under a temporary name, not yet synced nor visible: `settle` makes
        every staged draft durable with one sync of the file system instead of one per file
        (issue 15: an fsync per draft was most of a dispatch's time)."""
        self._staged.append(self._write(message, message_id, sync=False))

    def settle(self) -> None:
        """Make the staged drafts durable, then visible under their names. Until this returns,
        none of them may be confirmed: a crash before it leaves only temporary files, which
        `contains` does not see, so the retry writes them again."""
        staged, self._staged = self._staged, []
        if not staged:
            return
        try:
            _sync_file_system(self.directory)
        except OSError as exc:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise DeliveryError(f"cannot sync {self.directory}: {exc.strerror or exc}") from exc
        self._publish(staged)

    def _write(self, message: bytes, message_id: str, *, sync: bool) -> tuple[Path, Path]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # drafts hold contacts' data
        final = self.path_for(message_id)
        tmp = final.with_suffix(".tmp")
        try:
            with os.fdopen(
                os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
            ) as handle:
                handle.write(message)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)  # a half-written draft must not linger
            raise DeliveryError(f"cannot write {final}: {exc.strerror or exc}") from exc
        return tmp, final

    def _publish(self, written: Sequence[tuple[Path, Path]]) -> None:
        """Rename synced drafts into place, then sync the directory that names them. One that
        fails half-way takes back the renames it made: the caller fails the whole group, and a
        draft left under its name would be one the outbox does not count as delivered."""
        renamed: list[Path] = []
        try:
            for tmp, final in written:
                os.replace(tmp, final)
                renamed.append(final)
            _fsync_directory(self.directory)
        except OSError as exc:
            for path in [tmp for tmp, _ in written] + renamed:
                with contextlib.suppress(OSError):  # the error below is the one to report
                    path.unlink(missing_ok=True)
            raise DeliveryError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc

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


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _sync_file_system(directory: Path) -> None:
    """Flush everything written to `directory`'s file system: syncfs(2) where the C library
    has it (Linux), one call for any number of files; elsewhere os.sync(), which flushes all."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        if syncfs(handle) != 0:
            import ctypes

            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
    finally:
        os.close(handle)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    import ctypes  # here: only a dispatch that stages drafts needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return cast("Callable[[int], int]", libc.syncfs)
    except (OSError, AttributeError):
        return None


def open_channel(account: Account, mailbox: Mailbox) -> FileDrafts:
    return FileDrafts(account.drafts_dir)
