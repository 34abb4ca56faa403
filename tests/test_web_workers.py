"""`refmail web --workers N`: several server processes on one PostgreSQL, as a user starts them.

The real command in a subprocess: two workers under one supervisor; a one-click POST works
through them; a connection is served by one worker, and after that worker is killed (SIGKILL)
the next is served by another, a new worker takes the dead one's place, and SIGTERM stops them
all. Which process serves a connection is read from /proc (the owner of the server's end of
the TCP connection). On SQLite the option is refused, and says why. The owner page's CSRF key,
made once before the fork, lets a form from one worker post to another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from refmail import models as m
from refmail.config import Settings
from refmail.db import SessionFactory, make_engine
from refmail.owner_web import hash_password, mount
from refmail.tokens import LinkBuilder, Tokens
from refmail.web import WebContext, create_app
from tests.support.cli import invoke
from tests.support.dovecot import free_port
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import account
from tests.support.web import KEYS, ONE_CLICK

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
FORM = "application/x-www-form-urlencoded"


def write_config(tmp_path: Path, db_url: str, port: int) -> Path:
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n[web]\nbase_url = "http://127.0.0.1:{port}"\n\n'
        f'[[accounts]]\nname = "t"\naddress = "{REFMAIL}"\nowners = ["{OWNER}"]\n'
        f'delivery = "file"\n[accounts.maildir]\npath = "{tmp_path / "md"}"\n'
    )
    return path


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def server_of(conn: http.client.HTTPConnection, port: int, pids: set[int]) -> int:
    """The process holding the server's end of this client connection."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(fields[9])
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def request(
    port: int, method: str = "GET", path: str = "/healthz", body: bytes = b""
) -> tuple[http.client.HTTPConnection, int, bytes]:
    """One request on a new keep-alive connection, left open for `server_of`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    return conn, response.status, response.read()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_serve_and_a_killed_one_is_replaced(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    config = write_config(tmp_path, db_url, port)
    log = tmp_path / "web.log"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "refmail",
            "--config",
            str(config),
            "web",
            "--workers",
            "2",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT), "REFMAIL_SIGNING_KEY": KEYS[0]},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_for("two workers", lambda: len(children(supervisor.pid)) == 2)
        first = children(supervisor.pid)

        def answers() -> bool:
            try:
                conn, status, _ = request(port)
            except OSError:
                return False
            conn.close()
            return status == 200

        wait_for("the pages", answers)
        # A one-click POST through the workers opts the contact out (the schema is migrated).
        engine = make_engine(db_url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    m.Contact.__table__.insert().values(
                        email="dan@example.org",
                        public_id="dan-public-id",
                        created_at=datetime.now(UTC),
                        updated_at=datetime.now(UTC),
                    )
                )
            unsubscribe = f"/u/{Tokens(KEYS).make('dan-public-id', 'unsubscribe')}"
            conn, status, page = request(port, "POST", unsubscribe, ONE_CLICK)
            assert status == 200 and b"You are unsubscribed" in page
            with engine.connect() as connection:
                opted = connection.scalar(
                    select(m.Contact.opted_out_at).where(m.Contact.public_id == "dan-public-id")
                )
            assert opted is not None
        finally:
            engine.dispose()
        served_by = server_of(conn, port, first)
        conn.close()
        os.kill(served_by, signal.SIGKILL)
        wait_for(
            "a replacement",
            lambda: (
                len(children(supervisor.pid)) == 2 and served_by not in children(supervisor.pid)
            ),
        )
        now = children(supervisor.pid)
        assert len(now - first) == 1  # one new worker; the other kept running
        conn, status, _ = request(port)
        assert status == 200
        other = server_of(conn, port, now)
        conn.close()
        assert other != served_by  # two processes served requests
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=20) == 0
        for pid in now:
            assert not Path(f"/proc/{pid}").exists() or _zombie_or_gone(pid)
        assert "starting another" in log.read_text()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def _zombie_or_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_workers_are_refused_on_sqlite(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, free_port())
    status, output = invoke(
        "--config", str(config), "web", "--workers", "2", env={"REFMAIL_SIGNING_KEY": KEYS[0]}
    )
    assert status == 1
    assert "--workers needs PostgreSQL" in output


def test_workers_given_one_csrf_key_accept_each_others_owner_forms(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`refmail web --workers` mounts the owner's page in each worker with the key made before
    the fork: a form served by one worker posts to another (a key of its own refuses it)."""
    monkeypatch.setenv("REFMAIL_OWNER_PASSWORD_HASH", hash_password("an owner password"))
    settings = Settings(accounts=(account(tmp_path),))
    tokens = Tokens(KEYS)
    key = b"k" * 32
    form_token = hmac.new(key, b"owner-confirm", hashlib.sha256).hexdigest()
    auth = "Basic " + base64.b64encode(b"owner:an owner password").decode()

    def confirm(csrf_key: bytes) -> int:
        pages = create_app(WebContext(factory, tokens, LinkBuilder("http://x", tokens)))
        mount(pages, settings, factory, csrf_key)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(pages, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for("the server", lambda: server.started)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request(
                "POST",
                "/owner/confirm/999",
                body=f"csrf={form_token}",
                headers={"Authorization": auth, "Content-Type": FORM},
            )
            status = conn.getresponse().status
            conn.close()
            return status
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    assert confirm(key) == 404  # the form was accepted: there is no suggestion #999
    assert confirm(b"") == 403  # a worker with a key of its own: "stale or forged form"
