"""`refmail run` as a real process for the daemon tests: its config (accounts on private Dovecots,
polling only every 300 s, so only IDLE wakes it quickly), the process with its log, the database
it writes read back, waiting for what it does, and the `sqlite_url` and `db` fixtures (imported
by tests/conftest.py)."""

from __future__ import annotations

import email.utils
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from refmail import models as m
from refmail.db import make_engine, session_factory
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox import OWNER, PASSWORD_ENV, account_toml

ROOT = Path(__file__).resolve().parents[2]
WRONG_ENV = "REFMAIL_TEST_WRONG_PASSWORD"
SIGNING_KEY = "daemon-test-signing-key-0123456789"


# --- mail --------------------------------------------------------------------------------------


def plain_mail(tag: str) -> bytes:
    """Ordinary mail to the owner: synced (the cursor moves) but not an introduction."""
    return f"""\
From: Sam Sender <sam@sender.example>
To: Olivia Owner <{OWNER}>
Subject: lunch on Thursday? ({tag})
Date: {email.utils.format_datetime(datetime.now(UTC))}
Message-ID: <plain-{tag}@sender.example>
Content-Type: text/plain; charset=utf-8

Are you free for lunch on Thursday?
""".replace("\n", "\r\n").encode()


# --- config ------------------------------------------------------------------------------------


@dataclass
class AccountSpec:
    """One IMAP account of the daemon's config, on `server`."""

    name: str
    user: str
    server: Dovecot
    password_env: str = PASSWORD_ENV
    batch_size: int = 500

    def toml(self) -> str:
        return account_toml(
            self.server.host,
            self.server.port,
            self.user,
            name=self.name,
            password_env=self.password_env,
            imap_extra=f"batch_size = {self.batch_size}\ntimeout = 10\n",
        )


def write_config(
    path: Path,
    db_url: str,
    accounts: list[AccountSpec],
    *,
    sync_seconds: float = 300,
    reconnect_max_seconds: float = 2,
    web_port: int | None = None,
    idle: bool = True,
) -> Path:
    """Write the daemon's config to `path`: `accounts` on `db_url`, drafts at any hour, and a
    [web] table on `web_port` if given."""
    web = (
        f'[web]\nbase_url = "http://127.0.0.1:{web_port}"\nlisten = "127.0.0.1:{web_port}"\n'
        if web_port
        else ""
    )
    path.write_text(
        f"""
database = "{db_url}"
log_level = "INFO"

[daemon]
sync_seconds = {sync_seconds}
dispatch_seconds = 60
reconnect_max_seconds = {reconnect_max_seconds}
idle = {"true" if idle else "false"}

[caps]
drafts_in_window = false  # drafts at once, whatever the hour the suite runs

{web}"""
        + "".join(a.toml() for a in accounts)
    )
    return path


# --- the daemon process ------------------------------------------------------------------------


@dataclass
class DaemonProcess:
    """`refmail run` in a subprocess; its stderr (the log) goes to a file we read."""

    config: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> DaemonProcess:
        env = {
            **os.environ,
            PASSWORD_ENV: PASSWORD,
            WRONG_ENV: "not-the-password",
            "REFMAIL_SIGNING_KEY": SIGNING_KEY,
            "PYTHONPATH": str(ROOT),
            **self.env,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "refmail", "--config", str(self.config), "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.config.parent,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first match of `pattern` in the log after character `after`, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log()[after:])
            if found:
                return found
            self.assert_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} in the log within {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def assert_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"refmail run exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """Whatever happened: this PID (the one we started) does not outlive the test."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def running(config: Path, log_path: Path, **env: str) -> Iterator[DaemonProcess]:
    """`refmail run` on `config` with `env` added, killed on leaving whatever happened."""
    daemon = DaemonProcess(config, log_path, env=env)
    try:
        yield daemon.start()
    finally:
        daemon.kill()


# --- looking at the results --------------------------------------------------------------------


class Database:
    """The daemon's database, read from the test process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.factory = session_factory(self.engine)

    def scalar(self, statement: Any) -> Any:
        with self.factory() as session:
            return session.scalar(statement)

    def last_uid(self, folder: str = "INBOX", account: str | None = None) -> int:
        query = select(func.max(m.FolderState.last_uid)).where(m.FolderState.folder == folder)
        if account is not None:
            query = query.join(m.Account, m.Account.id == m.FolderState.account_id).where(
                m.Account.name == account
            )
        return int(self.scalar(query) or 0)

    def introduction_ids(self) -> list[str]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(m.MessageRecord.message_id)
                    .join(m.Introduction, m.Introduction.message_pk == m.MessageRecord.id)
                    .order_by(m.MessageRecord.uid)
                )
            )

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite database in tmp_path (the daemon creates it)."""
    return f"sqlite:///{tmp_path / 'refmail.db'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    """The database at `sqlite_url`, to read what the daemon wrote."""
    database = Database(sqlite_url)
    yield database
    database.close()


def wait_for(
    probe: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """The first true value `probe` returns, asked every `interval` s; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or probe}")
        time.sleep(interval)


class DraftWatcher:
    """Polls a user's Drafts over one connection (50 ms apart) for a reply to a Message-ID."""

    def __init__(self, server: Dovecot, user: str) -> None:
        self.client = server.client(user)
        self.client.select_folder("Drafts", readonly=True)

    def has_reply_to(self, message_id: str) -> bool:
        self.client.noop()  # lets the server tell us about new messages
        return bool(self.client.search(["HEADER", "In-Reply-To", message_id]))

    def seconds_until_reply(self, message_id: str, started: float, timeout: float) -> float:
        deadline = started + timeout
        while not self.has_reply_to(message_id):
            if time.monotonic() > deadline:
                return float("inf")
            time.sleep(0.05)
        return time.monotonic() - started

    def close(self) -> None:
        with suppress(Exception):
            self.client.logout()


def ready(daemon: DaemonProcess, server: Dovecot, user: str, db: Database, account: str) -> None:
    """Wait until the daemon has synced once and its IDLE watcher is listening: a plain message
    APPENDed after the first sync is synced only when something woke the account."""
    daemon.wait_log(r"refmail running", 20)
    wait_for(lambda: db.scalar(select(func.count(m.FolderState.id))), 20, what="the first sync")
    uid = server.append(user, "INBOX", plain_mail(uuid.uuid4().hex[:8]))
    assert uid is not None
    wait_for(lambda: db.last_uid(account=account) >= uid, 20, what="the sentinel to be synced")
    time.sleep(0.3)  # the watcher goes back into IDLE after waking the sync
