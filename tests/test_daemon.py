"""`refmail run` as a real process against a private Dovecot: IDLE latency, reconnects, one failing
account beside a working one, SIGTERM mid-sync and resume, SIGHUP reload, /healthz and /metrics.

Every config here polls only every 300 s, so a draft that appears within seconds can only have
been woken by IDLE (or by the watcher's catch-up after a reconnect).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
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
from tests.support.dovecot import PASSWORD, Dovecot, free_port
from tests.support.mailbox import OWNER, PASSWORD_ENV, account_toml, referral
from tests.support.mailgen import MailGenerator, load_dovecot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
WRONG_ENV = "REFMAIL_TEST_WRONG_PASSWORD"
SIGNING_KEY = "daemon-test-signing-key-0123456789"
IDLE_BUDGET = 2.0  # seconds from APPEND to the draft in Drafts, the "done when"


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
    daemon = DaemonProcess(config, log_path, env=env)
    try:
        yield daemon.start()
    finally:
        daemon.kill()


# --- looking at the results --------------------------------------------------------------------


class Database:
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
    return f"sqlite:///{tmp_path / 'refmail.db'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.close()


def drafts_replying_to(server: Dovecot, user: str) -> list[str]:
    """The In-Reply-To of every message in the user's Drafts, in UID order."""
    client = server.client(user)
    try:
        client.select_folder("Drafts", readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (IN-REPLY-TO)]"]) if uids else {}
        found = []
        for _uid, item in sorted(data.items()):
            raw = next(v for k, v in item.items() if k.startswith(b"BODY"))
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            found.append(" ".join((msg["In-Reply-To"] or "").split()))
        return found
    finally:
        client.logout()


def wait_for(
    probe: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
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


# --- (a) IDLE latency --------------------------------------------------------------------------


def test_append_becomes_a_draft_within_two_seconds(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "refmail.toml", sqlite_url, [AccountSpec("main", imap_user, dovecot)]
    )
    with running(config, tmp_path / "daemon.log") as daemon:
        ready(daemon, dovecot, imap_user, db, "main")
        watcher = DraftWatcher(dovecot, imap_user)
        try:
            latencies = []
            for _ in range(3):
                message_id, raw = referral()
                started = time.monotonic()
                dovecot.append(imap_user, "INBOX", raw)
                latencies.append(watcher.seconds_until_reply(message_id, started, 10))
        finally:
            watcher.close()
        assert max(latencies) < IDLE_BUDGET, (latencies, daemon.tail())
        daemon.assert_alive()
    assert len(drafts_replying_to(dovecot, imap_user)) == 3


# --- (b) Dovecot goes away and comes back -------------------------------------------------------


def test_dovecot_restart_mid_run_reconnects_and_loses_nothing(
    imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    server = Dovecot().start()  # our own: stopping it must not disturb the other tests
    try:
        config = write_config(
            tmp_path / "refmail.toml", sqlite_url, [AccountSpec("main", imap_user, server)]
        )
        with running(config, tmp_path / "daemon.log") as daemon:
            ready(daemon, server, imap_user, db, "main")
            first_id, first = referral("before")
            server.append(imap_user, "INBOX", first)
            wait_for(lambda: first_id in drafts_replying_to(server, imap_user), 5, what="draft A")

            mark = len(daemon.log())
            # Stop the server process but keep its mail and ports (restart() without the gap).
            server._terminate()
            # Dovecot's master is gone at once; the imap process in IDLE says BYE ~10 s later.
            daemon.wait_log(r"IDLE connection lost", 20, after=mark)
            time.sleep(1.5)
            server.start()
            daemon.wait_log(r"folder INBOX: reconnected", 10, after=mark)

            second_id, second = referral("after")
            started = time.monotonic()
            server.append(imap_user, "INBOX", second)
            wait_for(lambda: second_id in drafts_replying_to(server, imap_user), 10, what="draft B")
            elapsed = time.monotonic() - started
            assert elapsed < IDLE_BUDGET + 1, elapsed
            daemon.assert_alive()

            # A message delivered while refmail was disconnected is caught up too: stop again,
            # deliver straight into the Maildir (as an MDA would), start, and it is drafted.
            mark = len(daemon.log())
            server._terminate()
            daemon.wait_log(r"IDLE connection lost", 20, after=mark)
            third_id, third = referral("during")
            load_dovecot(server, imap_user, [third])
            time.sleep(1.0)
            server.start()
            wait_for(lambda: third_id in drafts_replying_to(server, imap_user), 15, what="draft C")
            daemon.assert_alive()
        found = drafts_replying_to(server, imap_user)
        assert sorted(found) == sorted([first_id, second_id, third_id]), found
    finally:
        server.stop()


# --- (c) one bad account beside a good one -----------------------------------------------------


def test_a_failing_account_does_not_delay_a_working_one(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    # The failing account lives on a server of its own, as two providers would: Dovecot delays
    # every login from an IP after failed ones (anvil's auth penalty, up to 15 s), so a wrong
    # password on the same server and IP would slow the good account's logins, refmail or not.
    other = Dovecot(imaps=False).start()
    try:
        config = write_config(
            tmp_path / "refmail.toml",
            sqlite_url,
            [
                AccountSpec("bad", imap_user, other, password_env=WRONG_ENV),
                AccountSpec("good", imap_user, dovecot),
            ],
        )
        with running(config, tmp_path / "daemon.log") as daemon:
            ready(daemon, dovecot, imap_user, db, "good")
            first = daemon.wait_log(
                r"account bad: sync failed \(IMAP login failed.*next try in", 10
            )
            watcher = DraftWatcher(dovecot, imap_user)
            try:
                latencies = []
                for _ in range(3):
                    message_id, raw = referral()
                    started = time.monotonic()
                    dovecot.append(imap_user, "INBOX", raw)
                    latencies.append(watcher.seconds_until_reply(message_id, started, 10))
                    time.sleep(0.5)
            finally:
                watcher.close()
            assert max(latencies) < IDLE_BUDGET, (latencies, daemon.tail())
            # The bad account retries on its own backoff; the server's growing login delay (see
            # above) makes its retries slow, which must not matter to "good". One error stream:
            # its sync job says it, not its IDLE watcher or its dispatch job as well.
            daemon.wait_log(r"account bad: sync failed.*next try in", 15, after=first.end())
            log = daemon.log()
            assert "account bad folder INBOX: IDLE connection lost" not in log
            assert "account bad: dispatch failed" not in log
            assert "not-the-password" not in log
            assert "account good: sync failed" not in log
            daemon.assert_alive()
    finally:
        other.stop()


# --- (d) SIGTERM in the middle of a large sync, and the resume ---------------------------------


def metric(text: str, name: str, labels: str) -> float:
    found = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} (\S+)$", text, re.M)
    assert found, f"no {name}{{{labels}}} in:\n{text}"
    return float(found.group(1))


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_sigterm_during_a_large_sync_stops_cleanly_and_resumes(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    total, batch = 4000, 50
    generator = MailGenerator(total, seed=7, intro_every=40, size_scale=0.15)
    assert load_dovecot(dovecot, imap_user, generator.messages()) == total
    truth = [intro.message_id for intro in generator.introductions]
    account = AccountSpec("main", imap_user, dovecot, batch_size=batch)
    config = write_config(tmp_path / "refmail.toml", sqlite_url, [account])

    with running(config, tmp_path / "daemon-1.log") as daemon:
        daemon.wait_log(r"refmail running", 20)
        wait_for(lambda: db.last_uid() > 0, 30, interval=0.005, what="the first batch")
        daemon.signal(signal.SIGTERM)
        started = time.monotonic()
        code = daemon.wait(10)
        stopped_in = time.monotonic() - started
        log = daemon.log()
    assert code == 0, log[-3000:]
    assert stopped_in < 5, stopped_in
    assert "refmail stopped" in log
    assert "Traceback" not in log, log[-3000:]
    stopped_at = db.last_uid()
    assert 0 < stopped_at < total, (stopped_at, "the sync finished before SIGTERM arrived")
    assert stopped_at % batch == 0, stopped_at  # the cursor is at a committed batch boundary
    assert f"stopping after a committed batch (at {stopped_at})" in log
    halfway = db.introduction_ids()
    assert halfway == [i for i in truth if i in set(halfway)]  # a prefix of the truth, no gaps
    assert len(halfway) == len(set(halfway))

    port = free_port()
    write_config(tmp_path / "refmail.toml", sqlite_url, [account], web_port=port)
    with running(config, tmp_path / "daemon-2.log") as daemon:
        daemon.wait_log(r"refmail running", 20)
        wait_for(lambda: db.last_uid() == total, 60, what="the resumed sync to finish")
        time.sleep(0.5)  # the watcher's catch-up sync (nothing new) may still be counting
        _, text = http_get(f"http://127.0.0.1:{port}/metrics")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    # The second run read only what the first had not committed.
    assert metric(text, "refmail_messages_synced_total", 'account="main"') == total - stopped_at
    recorded = db.introduction_ids()
    assert len(recorded) == len(set(recorded))
    assert sorted(recorded) == sorted(truth)


# --- (e) SIGHUP ------------------------------------------------------------------------------


def test_sighup_reloads_and_a_broken_config_keeps_the_old_one(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "refmail.toml"
    first = AccountSpec("main", imap_user, dovecot)
    second = AccountSpec("second", imap_user + "two", dovecot)
    config = write_config(path, sqlite_url, [first])
    with running(config, tmp_path / "daemon.log") as daemon:
        ready(daemon, dovecot, imap_user, db, "main")

        # A new account and a new polling period: both take effect without a restart.
        mark = len(daemon.log())
        write_config(path, sqlite_url, [first, second], sync_seconds=120)
        daemon.signal(signal.SIGHUP)
        daemon.wait_log(r"reloading the config", 10, after=mark)
        ready(daemon, dovecot, second.user, db, "second")
        message_id, raw = referral()
        started = time.monotonic()
        dovecot.append(second.user, "INBOX", raw)
        watcher = DraftWatcher(dovecot, second.user)
        try:
            assert watcher.seconds_until_reply(message_id, started, 10) < IDLE_BUDGET
        finally:
            watcher.close()

        # A broken file: logged, and the running config goes on working.
        mark = len(daemon.log())
        path.write_text("this is [not toml\n")
        daemon.signal(signal.SIGHUP)
        daemon.wait_log(
            r"config reload failed, keeping the running config: .*not valid TOML", 10, after=mark
        )
        daemon.assert_alive()
        message_id, raw = referral()
        started = time.monotonic()
        dovecot.append(imap_user, "INBOX", raw)
        watcher = DraftWatcher(dovecot, imap_user)
        try:
            assert watcher.seconds_until_reply(message_id, started, 10) < IDLE_BUDGET
        finally:
            watcher.close()
        daemon.assert_alive()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0


# --- (f) /healthz and /metrics -----------------------------------------------------------------


def test_healthz_and_metrics_are_served(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "refmail.toml",
        sqlite_url,
        [AccountSpec("main", imap_user, dovecot)],
        web_port=port,
    )
    with running(config, tmp_path / "daemon.log") as daemon:
        ready(daemon, dovecot, imap_user, db, "main")
        message_id, raw = referral()
        dovecot.append(imap_user, "INBOX", raw)
        wait_for(lambda: message_id in drafts_replying_to(dovecot, imap_user), 10, what="the draft")
        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert (status, body) == (200, "ok\n")

        def scraped() -> str | None:
            _, text = http_get(f"http://127.0.0.1:{port}/metrics")
            return text if 'refmail_follow_ups{state="delivered"} 1\n' in text else None

        text = wait_for(scraped, 5, what="delivered to show in /metrics")
    assert metric(text, "refmail_messages_synced_total", 'account="main"') >= 2
    assert metric(text, "refmail_introductions_total", 'account="main"') == 1
    assert metric(text, "refmail_follow_ups_delivered_total", 'account="main"') == 1
    assert 'refmail_errors_total{account="main"}' not in text  # no failure was ever counted
    assert "# TYPE refmail_follow_ups gauge" in text
