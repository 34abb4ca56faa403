"""Checks that the private Dovecot test server (tests/dovecot.py) behaves as tests expect.

Covers login, APPEND/FETCH without \\Seen, SPECIAL-USE on/off, user isolation and restart.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import imapclient
import pytest
from imapclient.imapclient import DRAFTS, SENT

from tests.support.dovecot import Dovecot

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nbody line\r\n"


@pytest.fixture
def restartable() -> Iterator[Dovecot]:
    """A server of its own, so restarting it does not disturb the session server."""
    with Dovecot(imaps=False) as server:
        yield server


def _uidvalidity(server: Dovecot, user: str) -> int:
    client = server.client(user)
    try:
        return int(client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
    finally:
        client.logout()


def test_login_works(dovecot: Dovecot, imap_user: str) -> None:
    client = dovecot.client(imap_user)
    try:
        assert client.noop() is not None
        assert b"IDLE" in client.capabilities()
    finally:
        client.logout()


def test_append_then_peek_fetch_keeps_unseen(dovecot: Dovecot, imap_user: str) -> None:
    uid = dovecot.append(imap_user, "INBOX", MESSAGE)
    assert uid is not None
    client = dovecot.client(imap_user)
    try:
        client.select_folder("INBOX")
        data = client.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
        assert data[uid][b"BODY[]"] == MESSAGE
        assert b"\\Seen" not in client.get_flags([uid])[uid]
    finally:
        client.logout()


def test_append_with_flags(dovecot: Dovecot, imap_user: str) -> None:
    uid = dovecot.append(imap_user, "Drafts", MESSAGE, flags=[imapclient.DRAFT])
    assert uid is not None
    client = dovecot.client(imap_user)
    try:
        client.select_folder("Drafts", readonly=True)
        assert imapclient.DRAFT in client.get_flags([uid])[uid]
    finally:
        client.logout()


def test_drafts_special_use_found(dovecot: Dovecot, imap_user: str) -> None:
    client = dovecot.client(imap_user)
    try:
        assert client.find_special_folder(DRAFTS) == "Drafts"
        assert client.find_special_folder(SENT) == "Sent"
    finally:
        client.logout()


def test_without_special_use_no_drafts_until_created(imap_user: str) -> None:
    with Dovecot(special_use=False, imaps=False) as server:
        client = server.client(imap_user)
        try:
            assert client.find_special_folder(DRAFTS) is None
            client.create_folder("Drafts")
            assert client.find_special_folder(DRAFTS) == "Drafts"  # by name
            flags = {name: f for f, _, name in client.list_folders()}["Drafts"]
            assert DRAFTS not in flags
        finally:
            client.logout()


def test_users_are_isolated(dovecot: Dovecot, imap_user: str) -> None:
    other = imap_user + "x"
    dovecot.append(imap_user, "INBOX", MESSAGE)
    client = dovecot.client(other)
    try:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
    finally:
        client.logout()


def test_restart_keeps_mail_and_uidvalidity(restartable: Dovecot, imap_user: str) -> None:
    port = restartable.port
    uid = restartable.append(imap_user, "INBOX", MESSAGE)
    before = _uidvalidity(restartable, imap_user)
    old_pid = restartable.proc.pid if restartable.proc else None
    restartable.restart()
    assert restartable.port == port
    assert restartable.proc is not None and restartable.proc.pid != old_pid
    assert _uidvalidity(restartable, imap_user) == before
    client = restartable.client(imap_user)
    try:
        client.select_folder("INBOX", readonly=True)
        assert client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == MESSAGE
    finally:
        client.logout()


def test_a_killed_starter_leaves_no_dovecot_behind(tmp_path: Path) -> None:
    # A test worker killed before its fixtures' teardown must not leave its server running.
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "pid")],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        master = int((tmp_path / "pid").read_text())
    finally:
        starter.kill()
        starter.wait()
    deadline = time.monotonic() + 10
    while _alive(master) and time.monotonic() < deadline:
        time.sleep(0.1)
    outlived = _alive(master)
    if outlived:
        os.kill(master, signal.SIGTERM)  # ours: not left behind by this test either
    assert not outlived, "the Dovecot master outlived the process that started it"


STARTER = """
import sys, time
from pathlib import Path
from tests.support.dovecot import Dovecot
server = Dovecot(imaps=False).start()
Path(sys.argv[1]).write_text(str(server.proc.pid))
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (its new parent reaps it)


def test_stop_removes_tmpdir_and_process() -> None:
    server = Dovecot(imaps=False).start()
    tmpdir, proc = server.tmpdir, server.proc
    server.stop()
    assert tmpdir is not None and not tmpdir.exists()
    assert proc is not None and proc.poll() is not None


def test_imaps_with_self_signed_cert(dovecot: Dovecot, imap_user: str) -> None:
    assert dovecot.imaps_port is not None and dovecot.cert_path is not None
    context = ssl.create_default_context(cafile=str(dovecot.cert_path))
    context.check_hostname = False  # cert is for CN=localhost, we dial 127.0.0.1
    client = imapclient.IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=context)
    try:
        client.login(imap_user, dovecot.password)
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
    finally:
        client.logout()
