"""A local Maildir as a mail source (the embedded demo, and mail delivered by an MDA).

Keys are Maildir file names (without the ":2,flags" a reader adds). Every file whose key is not
in the cursor's seen set is read, whatever its name: names do not arrive in order (an old
message moved in keeps its old name, a clock steps back), so a name cursor would skip mail.
New files are read in delivery order all the same: names start with the delivery second and go
on with counters that are not zero-padded (Dovecot's ".M<usec>P<pid>", mbsync's "_<seq>"), so
they are compared with numbers as numbers. Folders other than INBOX are Maildir++ subfolders
(".Name").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from refmail.errors import SourceError
from refmail.source import BODY_LIMIT, HEADER_LIMIT, Batch, Cursor, Key


class MaildirSource:
    """Reads new messages of a Maildir (and its Maildir++ folders) in name order."""

    def __init__(self, root: str | os.PathLike[str], batch_size: int = 500) -> None:
        self.root = Path(root)
        self.batch_size = batch_size
        # Each folder's files as its last scan listed them: fetch looks keys up here instead of
        # listing the folder again for every chunk (a first sync of N messages would list it
        # N / chunk times: quadratic). Replaced by the next scan of the folder.
        self._listed: dict[str, dict[str, str]] = {}

    def folder_path(self, folder: str) -> Path:
        path = self.root if folder.upper() == "INBOX" else self.root / ("." + folder)
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise SourceError(f"{path} is not a Maildir (no cur/ or new/)")
        return path

    def _files(self, folder: str) -> dict[str, str]:
        """Key → path of every message file in the folder (new/ and cur/), listed now."""
        path = self.folder_path(folder)
        found: dict[str, str] = {}
        for sub in ("new", "cur"):
            directory = path / sub
            if directory.is_dir():
                for entry in os.scandir(directory):
                    if entry.is_file() and not entry.name.startswith("."):
                        found[entry.name.split(":2,")[0]] = entry.path
        self._listed[folder] = found
        return found

    def scan(self, folder: str, cursor: Cursor) -> Iterator[Batch]:
        files = self._files(folder)
        unseen = [k for k in files if k not in cursor.seen]
        # A name cursor stored before the seen set (position, not yet replaced by ""): the files
        # up to it were read then; they are recorded as seen with the first batch, not re-read
        # (re-reading a bounce would count it twice).
        legacy = str(cursor.position or "")
        read_before = [k for k in unseen if legacy and _not_after(k, legacy)]
        keys = sorted(set(unseen) - set(read_before), key=delivery_order)
        if read_before and not keys:
            yield Batch({}, Cursor(0, ""), seen=tuple(read_before))
        for i in range(0, len(keys), self.batch_size):
            chunk = keys[i : i + self.batch_size]
            headers: dict[Key, bytes] = {k: _read_headers(files[k]) for k in chunk}
            seen = (*chunk, *(read_before if i == 0 else ()))
            yield Batch(headers, Cursor(0, ""), total=len(keys), seen=seen)

    def fetch(self, folder: str, keys: Sequence[Key]) -> dict[Key, bytes]:
        listed = self._listed.get(folder)
        out = _read_bodies(listed if listed is not None else self._files(folder), keys)
        missing = [key for key in keys if key not in out]
        if missing and listed is not None:  # moved (new/ → cur/) or renamed since the listing
            out.update(_read_bodies(self._files(folder), missing))
        return out


def _read_bodies(files: dict[str, str], keys: Sequence[Key]) -> dict[Key, bytes]:
    """The first BODY_LIMIT bytes of each key's file (never a whole 50 MB file); a key whose
    file is not there (deleted since the listing) is left out: nothing to record."""
    out: dict[Key, bytes] = {}
    for key in keys:
        path = files.get(str(key))
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    out[key] = handle.read(BODY_LIMIT)
            except OSError:
                continue
    return out


def _not_after(name: str, cursor: str) -> bool:
    return delivery_order(name) <= delivery_order(cursor)


def delivery_order(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that reads digit runs as numbers: "17.M5P1" comes before "17.M40P1".

    >>> sorted(["1700000000.M40P9.h", "1700000000.M5P9.h"], key=delivery_order)[0]
    '1700000000.M5P9.h'
    """
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part
    )


def _read_headers(path: str) -> bytes:
    """The header block only (up to the first blank line), without reading the whole file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_LIMIT)
    except OSError:
        return b""
    for sep in (b"\r\n\r\n", b"\n\n", b"\r\r"):
        end = head.find(sep)
        if end != -1:
            return head[: end + len(sep)]
    return head


def deliver(root: str | os.PathLike[str], message: bytes, name: str) -> Path:
    """Put one message into a Maildir's new/ the way an MDA does (tmp/ then rename)."""
    base = Path(root)
    for sub in ("tmp", "new", "cur"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    tmp = base / "tmp" / name
    tmp.write_bytes(message)
    final = base / "new" / name
    os.replace(tmp, final)
    return final
