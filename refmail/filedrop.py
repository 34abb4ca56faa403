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
import time
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
        self._watch: int | None = None  # the directory, open while drafts are staged
        self._swept = False  # a dead run's old temporaries looked for (once per channel)

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
        self._make_directory()
        tmp, final = self._write(message, message_id, sync=True)
        self._publish([(tmp, final)])

    def stage(self, message: bytes, message_id: str, recipients: Sequence[str] = ()) -> None:
        """Write a draft under a temporary name, not yet synced nor visible: `settle` makes
        every staged draft durable with one sync of the file system instead of one per file
        (issue 15: an fsync per draft was most of a dispatch's time)."""
        if self._watch is None:
            # Opened before the group's first write: syncfs(2) reports the write errors that
            # happened since its handle was opened, even if another process's sync saw them.
            self._make_directory()
            try:
                self._watch = os.open(self.directory, os.O_RDONLY)
            except OSError as exc:
                raise DeliveryError(f"cannot open {self.directory}: {exc.strerror or exc}") from exc
        self._staged.append(self._write(message, message_id, sync=False))

    def settle(self) -> None:
        """Make the staged drafts durable, then visible under their names. Until this returns,
        none of them may be confirmed: a crash before it leaves only temporary files, which
        `contains` does not see, so the retry writes them again."""
        staged, self._staged = self._staged, []
        watch, self._watch = self._watch, None
        if watch is None:
            return
        try:
            _sync_staged(watch, [tmp for tmp, _ in staged])
        except OSError as exc:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise DeliveryError(f"cannot sync {self.directory}: {exc.strerror or exc}") from exc
        finally:
            os.close(watch)
        self._publish(staged)
        if not self._swept:  # once: listing the directory at every group would grow with it
            self._swept = True
            _sweep_temporaries(self.directory)

    def _make_directory(self) -> None:
        """The drafts directory, private (drafts hold contacts' data). A failure is the
        channel's, not the draft's: a DeliveryError, so the follow-up is tried again."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(f"cannot create {self.directory}: {exc.strerror or exc}") from exc

    def _write(self, message: bytes, message_id: str, *, sync: bool) -> tuple[Path, Path]:
        """Write `message` under its temporary name (the caller has made the directory)."""
        final = self.path_for(message_id)
        tmp = final.with_suffix(".tmp")
        try:
            handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(handle, message)
                if sync:
                    os.fsync(handle)
            finally:
                os.close(handle)
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


def _write_all(handle: int, data: bytes) -> None:
    """os.write until all of `data` is written (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _sync_staged(watch: int, paths: Sequence[Path]) -> None:
    """Make the staged files durable: one syncfs(2) of their file system where the C library
    has it (Linux), through `watch`, the directory opened before they were written; elsewhere
    an fsync of each (os.sync() may return before the data is on disk, and reports nothing)."""
    syncfs = _libc_syncfs()
    if syncfs is not None:
        if syncfs(watch) != 0:
            import ctypes

            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return
    for path in paths:
        handle = os.open(path, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


# A temporary file older than this was left by a run that died before settling it (its retry
# writes it again, under the same name); one whose follow-up was never retried would hold a
# contact's data for ever.
STALE_TEMPORARY = 24 * 3600.0


def _sweep_temporaries(directory: Path) -> None:
    cutoff = time.time() - STALE_TEMPORARY
    for path in directory.glob("*.tmp"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
            if path.stat().st_mtime < cutoff:
                path.unlink()


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    import ctypes  # here: only a dispatch that stages drafts needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return cast("Callable[[int], int]", libc.syncfs)
    except (OSError, AttributeError, TypeError):  # no C library to ask, or no syncfs in it
        return None


def open_channel(account: Account, mailbox: Mailbox) -> FileDrafts:
    return FileDrafts(account.drafts_dir)
