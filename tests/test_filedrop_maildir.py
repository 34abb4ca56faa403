"""FileDrafts (drafts as .eml files) and MaildirSource (a local Maildir read in batches)."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from refmail import filedrop, maildir
from refmail.errors import DeliveryError, SourceError
from refmail.filedrop import FileDrafts
from refmail.maildir import MaildirSource, deliver
from refmail.source import Batch, Cursor

START = Cursor(0, "")

# --- FileDrafts ------------------------------------------------------------------------------


def test_put_then_contains(tmp_path: Path) -> None:
    drafts = FileDrafts(tmp_path / "drafts")  # created on first put
    assert not drafts.contains("<a@example.com>")
    drafts.put(b"Subject: hi\r\n\r\nbody\r\n", "<a@example.com>")
    assert drafts.contains("<a@example.com>")
    assert not drafts.contains("<b@example.com>")
    assert drafts.path_for("<a@example.com>").read_bytes() == b"Subject: hi\r\n\r\nbody\r\n"


def test_put_is_idempotent_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    drafts = FileDrafts(tmp_path)
    drafts.put(b"one", "<a@example.com>")
    drafts.put(b"two", "<a@example.com>")
    assert [p.name for p in tmp_path.iterdir()] == [drafts.path_for("<a@example.com>").name]
    assert drafts.path_for("<a@example.com>").read_bytes() == b"two"


def test_staged_drafts_are_invisible_until_settled(tmp_path: Path) -> None:
    drafts = FileDrafts(tmp_path / "drafts")
    drafts.settle()  # nothing staged: nothing to do, and no directory made for it
    ids = [f"<{n}@example.com>" for n in range(3)]
    for n, message_id in enumerate(ids):
        drafts.stage(f"draft {n}".encode(), message_id)
    # Written under temporary names only: a crash now leaves nothing a retry would take for
    # a delivered draft.
    assert not any(drafts.contains(i) for i in ids)
    assert not list((tmp_path / "drafts").glob("*.eml"))
    drafts.settle()
    assert all(drafts.contains(i) for i in ids)
    assert [drafts.path_for(i).read_bytes() for i in ids] == [b"draft 0", b"draft 1", b"draft 2"]
    assert {p.suffix for p in (tmp_path / "drafts").iterdir()} == {".eml"}
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "drafts").iterdir()} == {0o600}
    drafts.settle()  # settled already: nothing left staged


def test_a_failed_settle_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drafts = FileDrafts(tmp_path)
    drafts.stage(b"one", "<a@example.com>")
    drafts.stage(b"two", "<b@example.com>")

    def broken_sync(watch: int, paths: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(filedrop, "_sync_staged", broken_sync)
    with pytest.raises(DeliveryError, match="Input/output error") as failure:
        drafts.settle()
    assert not failure.value.permanent
    assert list(tmp_path.iterdir()) == []  # neither the drafts nor their temporary files


@pytest.mark.parametrize("failing", ["second rename", "directory sync"])
def test_a_settle_that_fails_half_way_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    # Dispatch fails the whole group when settle raises: a draft left visible under its name
    # would be one the outbox does not count as delivered (failed for good on a last attempt).
    drafts = FileDrafts(tmp_path)
    for n in range(3):
        drafts.stage(f"draft {n}".encode(), f"<{n}@example.com>")
    replace, renames = os.replace, []

    def second_rename_fails(src: Path, dst: Path) -> None:
        renames.append(src)
        if len(renames) == 2:
            raise OSError(28, "No space left on device")
        replace(src, dst)

    def sync_fails(directory: Path) -> None:
        raise OSError(5, "Input/output error")

    if failing == "second rename":
        monkeypatch.setattr(filedrop.os, "replace", second_rename_fails)
    else:
        monkeypatch.setattr(filedrop, "_fsync_directory", sync_fails)
    with pytest.raises(DeliveryError):
        drafts.settle()
    monkeypatch.undo()
    assert not any(drafts.contains(f"<{n}@example.com>") for n in range(3))
    assert list(tmp_path.iterdir()) == []  # neither drafts nor temporary files


@pytest.mark.skipif(filedrop._libc_syncfs() is None, reason="syncfs(2) is Linux's")
def test_syncfs_reports_its_error() -> None:
    # The real syncfs(2): an error is raised with its errno, not taken for success.
    handle = os.open(".", os.O_RDONLY)
    os.close(handle)  # a handle that is no longer open
    with pytest.raises(OSError) as failure:
        filedrop._sync_staged(handle, [])
    assert failure.value.errno == errno.EBADF


def test_without_syncfs_each_staged_file_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drafts = FileDrafts(tmp_path)
    for n in range(3):
        drafts.stage(b"x", f"<{n}@example.com>")
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(handle: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{handle}"))
        fsync(handle)

    monkeypatch.setattr(filedrop, "_libc_syncfs", lambda: None)
    monkeypatch.setattr(filedrop.os, "fsync", recording_fsync)
    drafts.settle()
    assert sorted(Path(p).suffix for p in synced) == ["", ".tmp", ".tmp", ".tmp"]  # + the dir
    assert all(drafts.contains(f"<{n}@example.com>") for n in range(3))


def test_settling_sweeps_temporary_files_a_dead_run_left_long_ago(tmp_path: Path) -> None:
    old, recent = tmp_path / "old.tmp", tmp_path / "recent.tmp"
    for path in (old, recent):
        path.write_bytes(b"a contact's data")
    day_and_a_half_ago = time.time() - 1.5 * filedrop.STALE_TEMPORARY
    os.utime(old, (day_and_a_half_ago, day_and_a_half_ago))
    drafts = FileDrafts(tmp_path)
    drafts.stage(b"one", "<a@example.com>")
    drafts.settle()
    assert not old.exists()
    assert recent.exists()  # maybe a live run's, staged and not yet settled
    assert drafts.contains("<a@example.com>")


def test_same_message_id_same_name(tmp_path: Path) -> None:
    assert FileDrafts(tmp_path).path_for("<x@y>") == FileDrafts(tmp_path).path_for("<x@y>")


def test_failed_write_leaves_no_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drafts = FileDrafts(tmp_path)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(DeliveryError, match="No space left") as failure:
        drafts.put(b"partial", "<a@example.com>")
    assert not failure.value.permanent  # a full disk may clear: dispatch retries later
    assert not drafts.contains("<a@example.com>")
    assert list(tmp_path.iterdir()) == []  # no half-written .tmp left behind


@pytest.mark.parametrize("write", ["put", "stage"])
def test_a_drafts_directory_that_cannot_be_made_fails_the_channel_not_the_draft(
    tmp_path: Path, write: str
) -> None:
    blocker = tmp_path / "drafts"
    blocker.write_bytes(b"a file where the directory should be")
    drafts = FileDrafts(blocker)
    with pytest.raises(DeliveryError, match="cannot create") as failure:
        getattr(drafts, write)(b"draft", "<a@example.com>")
    assert not failure.value.permanent  # the owner can mend the path: dispatch retries later


@pytest.mark.parametrize(
    "message_id",
    [
        "<../../etc/passwd@example.com>",
        '<"quoted id"@example.com>',
        "<a/b\\c@example.com>",
        "<..>",
        "<" + "x" * 500 + "@example.com>",
        "<ünïcode@example.com>",
        "<a\x00b@example.com>",
    ],
)
def test_weird_message_ids_stay_inside_the_directory(tmp_path: Path, message_id: str) -> None:
    drafts = FileDrafts(tmp_path / "drafts")
    path = drafts.path_for(message_id)
    assert path.parent == tmp_path / "drafts"
    assert path.suffix == ".eml"
    assert len(path.name) <= 255
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in path.name)
    drafts.put(b"x", message_id)
    assert drafts.contains(message_id)
    assert [p.parent for p in (tmp_path / "drafts").iterdir()] == [tmp_path / "drafts"]


def test_ids_that_sanitise_alike_get_different_files(tmp_path: Path) -> None:
    drafts = FileDrafts(tmp_path)
    assert drafts.path_for("<a/b@x>") != drafts.path_for("<a_b@x>")
    drafts.put(b"slash", "<a/b@x>")
    assert not drafts.contains("<a_b@x>")


# --- MaildirSource ---------------------------------------------------------------------------


def message(n: int) -> bytes:
    return f"Message-ID: <m{n}@example.com>\nSubject: number {n}\n\nbody {n}\n".encode()


def name(n: int) -> str:
    return f"{1_700_000_000 + n}.M1P1.host"  # same width: name order is delivery order


@pytest.fixture
def box(tmp_path: Path) -> Path:
    root = tmp_path / "Maildir"
    for n in range(7):
        deliver(root, message(n), name(n))
    return root


def seen_after(cursor: Cursor, *batches: Batch) -> Cursor:
    """The cursor sync would load after recording these batches."""
    keys = {k for b in batches for k in b.seen}
    return Cursor(0, 0, frozenset(cursor.seen | keys))


def test_scan_yields_batches_in_name_order(box: Path) -> None:
    batches = list(MaildirSource(box, batch_size=3).scan("INBOX", START))
    assert [list(b.headers) for b in batches] == [
        [name(0), name(1), name(2)],
        [name(3), name(4), name(5)],
        [name(6)],
    ]
    assert [list(b.seen) for b in batches] == [list(b.headers) for b in batches]
    assert {b.cursor for b in batches} == {Cursor(0, "")}  # no name cursor: the seen set


def test_scan_after_a_cursor_yields_only_unseen_files(box: Path) -> None:
    source = MaildirSource(box, batch_size=100)
    cursor = seen_after(START, *source.scan("INBOX", START))
    assert list(source.scan("INBOX", cursor)) == []
    deliver(box, message(7), name(7))
    (batch,) = source.scan("INBOX", cursor)
    assert list(batch.headers) == [name(7)]


def test_an_old_message_moved_in_after_the_cursor_is_read(box: Path) -> None:
    source = MaildirSource(box, batch_size=100)
    cursor = seen_after(START, *source.scan("INBOX", START))
    (box / "cur" / "1500000000.M1P9.archive:2,S").write_bytes(message(99))  # years older
    deliver(box, message(98), "1600000000.M1P9.stepped-back-clock")
    (batch,) = source.scan("INBOX", cursor)
    assert list(batch.headers) == ["1500000000.M1P9.archive", "1600000000.M1P9.stepped-back-clock"]
    assert list(source.scan("INBOX", seen_after(cursor, batch))) == []


def test_a_name_cursor_of_an_older_version_marks_what_it_covers_seen(box: Path) -> None:
    legacy = Cursor(0, name(4))
    (batch,) = MaildirSource(box).scan("INBOX", legacy)
    assert list(batch.headers) == [name(5), name(6)]  # the files up to it were read back then
    assert sorted(batch.seen) == sorted(name(n) for n in range(7))
    assert batch.cursor == Cursor(0, "")  # the name cursor goes in the same transaction


def test_a_name_cursor_with_nothing_new_still_hands_over_its_seen_keys(box: Path) -> None:
    (batch,) = MaildirSource(box).scan("INBOX", Cursor(0, name(6)))
    assert batch.headers == {} and len(batch.seen) == 7 and batch.cursor == Cursor(0, "")


def test_a_later_delivery_in_the_same_second_is_not_lost(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    deliver(root, message(1), "1700000000.M5P100.host")
    source = MaildirSource(root)
    cursor = seen_after(START, *source.scan("INBOX", START))
    deliver(root, message(2), "1700000000.M40P100.host")  # 35 µs later
    later = [key for batch in source.scan("INBOX", cursor) for key in batch.headers]
    assert later == ["1700000000.M40P100.host"]


def test_files_in_new_and_cur_are_found(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    deliver(root, message(1), name(1))
    (root / "cur" / f"{name(0)}:2,S").write_bytes(message(0))
    (root / "cur" / f"{name(2)}:2,").write_bytes(message(2))
    source = MaildirSource(root)
    (batch,) = source.scan("INBOX", START)
    assert list(batch.headers) == [name(0), name(1), name(2)]
    assert source.fetch("INBOX", [name(0), name(1)]) == {name(0): message(0), name(1): message(1)}


def test_dot_files_and_tmp_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    deliver(root, message(1), name(1))
    (root / "new" / ".hidden").write_bytes(message(0))
    (root / "tmp" / name(2)).write_bytes(message(2))  # still being delivered
    (batch,) = MaildirSource(root).scan("INBOX", START)
    assert list(batch.headers) == [name(1)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_scan_reads_only_the_header_block(tmp_path: Path, newline: bytes) -> None:
    head = newline.join([b"Message-ID: <h@example.com>", b"Subject: headers", b"", b""])
    body = newline.join([b"Body: not a header", b"more body"]) + newline
    root = tmp_path / "Maildir"
    deliver(root, head + body, name(0))
    (batch,) = MaildirSource(root).scan("INBOX", START)
    assert batch.headers[name(0)] == head
    assert MaildirSource(root).fetch("INBOX", [name(0)]) == {name(0): head + body}


def test_fetch_skips_unknown_keys(box: Path) -> None:
    assert MaildirSource(box).fetch("INBOX", ["no-such-key", name(3)]) == {name(3): message(3)}


def test_fetching_in_chunks_lists_the_folder_once(
    box: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sync fetches a scanned folder chunk by chunk: the scan's listing serves every
    chunk (listing the folder per chunk made a big first sync quadratic)."""
    listings = []
    real = os.scandir

    def counting(path: str | os.PathLike[str]) -> object:
        listings.append(str(path))
        return real(path)

    source = MaildirSource(box, batch_size=100)
    (batch,) = source.scan("INBOX", START)
    monkeypatch.setattr(maildir.os, "scandir", counting)
    keys = list(batch.headers)
    fetched = {}
    for start in range(0, len(keys), 2):
        fetched.update(source.fetch("INBOX", keys[start : start + 2]))
    assert fetched == {name(n): message(n) for n in range(7)}
    assert listings == []


def test_a_message_moved_to_cur_after_the_scan_is_still_fetched(box: Path) -> None:
    """Another reader may move a file from new/ to cur/ (adding ":2,S") between the scan and
    the fetch: the folder is listed again for what is no longer where it was."""
    source = MaildirSource(box, batch_size=100)
    list(source.scan("INBOX", START))
    (box / "new" / name(3)).rename(box / "cur" / f"{name(3)}:2,S")
    assert source.fetch("INBOX", [name(2), name(3)]) == {name(2): message(2), name(3): message(3)}


def test_maildir_plus_plus_subfolder(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    deliver(root, message(0), name(0))
    deliver(root / ".Intros", message(1), name(1))
    (batch,) = MaildirSource(root).scan("Intros", START)
    assert list(batch.headers) == [name(1)]


def test_a_directory_that_is_not_a_maildir_raises(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    source = MaildirSource(tmp_path / "plain")
    with pytest.raises(SourceError, match="not a Maildir"):
        list(source.scan("INBOX", START))
    with pytest.raises(SourceError):
        source.fetch("INBOX", ["x"])
    with pytest.raises(SourceError):
        list(MaildirSource(tmp_path / "missing").scan("INBOX", START))


def test_deliver_writes_through_tmp_into_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: Path, dst: Path) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(maildir.os, "replace", spy)
    root = tmp_path / "Maildir"
    path = deliver(root, message(0), name(0))
    assert path == root / "new" / name(0)
    assert path.read_bytes() == message(0)
    assert moves == [(root / "tmp" / name(0), root / "new" / name(0))]
    assert list((root / "tmp").iterdir()) == []
    assert (root / "cur").is_dir()
