"""Poison messages through a real Dovecot (issue 12's "done when"): the crafted corpus syncs in
seconds with the introduction after it recorded; SIGTERM stops `refmail run` within 5 s while
poison is being read; five 50 MB messages sync with a peak RSS under 150 MB.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail.clock import system_clock
from refmail.config import Account, FollowUps, ImapSettings
from refmail.db import SessionFactory
from refmail.imap import ImapSource, connect
from refmail.source import BODY_LIMIT, Cursor
from refmail.sync import sync_account
from tests.support import poison
from tests.support.daemon import AccountSpec, Database, running, wait_for, write_config
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox import OWNER, PASSWORD_ENV, REFMAIL, account_toml, referral
from tests.support.mailgen import load_dovecot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
RSS_LIMIT_MB = 150
# `refmail` that prints its peak RSS as it exits. Read from /proc/self/status (VmHWM): the
# ru_maxrss that wait4 reports counts the forking parent's pages too (Linux carries the high-water
# mark across exec), and the parent here has just generated 250 MB of mail.
PEAK_REPORTING_CLI = """
import atexit, sys
def report():
    with open("/proc/self/status") as status:
        sys.stderr.write("".join(line for line in status if line.startswith("VmHWM")))
atexit.register(report)
from refmail.cli import cli
cli(sys.argv[1:], prog_name="refmail")
"""


def imap_account(server: Dovecot, user: str, batch_size: int) -> Account:
    return Account(
        name="main",
        address=REFMAIL,
        owners=(OWNER,),
        imap=ImapSettings(
            host=server.host,
            port=server.port,
            tls="none",
            user=user,
            password_env=PASSWORD_ENV,
            batch_size=batch_size,
        ),
    )


def test_the_crafted_corpus_syncs_through_dovecot_in_seconds(
    dovecot: Dovecot,
    imap_user: str,
    factory: SessionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crafted = poison.corpus()
    for raw in crafted.values():
        dovecot.append(imap_user, "INBOX", raw)
    intro_id, intro = referral("after-poison")
    last_uid = dovecot.append(imap_user, "INBOX", intro)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    account = imap_account(dovecot, imap_user, batch_size=3)
    started = time.monotonic()
    with connect(account.imap) as client:  # type: ignore[arg-type]
        report = sync_account(
            factory, account, ImapSource(client, 3), ("INBOX",), FollowUps(), system_clock
        )
    elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed
    assert report.scanned == report.candidates == len(crafted) + 1
    assert report.introductions == 1
    with factory() as session:
        rows = session.execute(select(m.MessageRecord.message_id, m.MessageRecord.kind))
        kinds = {message_id: kind for message_id, kind in rows}
        cursor = session.scalar(select(m.FolderState.last_uid))
    assert kinds[intro_id] == "introduction"
    poison_ids = {f"<poison-0-{name}@poison.example>" for name in crafted}
    assert {i for i, kind in kinds.items() if kind == "malformed"} <= poison_ids
    assert report.malformed == len(report.errors)
    assert cursor == last_uid


def test_a_big_message_is_fetched_only_up_to_the_limit(
    dovecot: Dovecot, imap_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = dovecot.append(imap_user, "INBOX", poison.big_with_attachment("big", 3))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    account = imap_account(dovecot, imap_user, batch_size=10)
    with connect(account.imap) as client:  # type: ignore[arg-type]
        source = ImapSource(client)
        (batch,) = source.scan("INBOX", Cursor(0, 0))
        body = source.fetch("INBOX", [uid])[uid]  # type: ignore[list-item]
    assert b"Message-ID: <poison-big@poison.example>" in batch.headers[uid]  # type: ignore[index]
    assert len(body) == BODY_LIMIT


def test_sigterm_stops_refmail_run_within_five_seconds_while_poison_is_read(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    messages = [raw for copy in range(8) for raw in poison.corpus(copy).values()]
    assert load_dovecot(dovecot, imap_user, messages) == len(messages)
    sqlite_url = f"sqlite:///{tmp_path / 'refmail.db'}"
    db = Database(sqlite_url)
    config = write_config(
        tmp_path / "refmail.toml",
        sqlite_url,
        [AccountSpec("main", imap_user, dovecot, batch_size=2)],
    )
    try:
        with running(config, tmp_path / "daemon.log") as daemon:
            daemon.wait_log(r"refmail running", 20)
            wait_for(lambda: db.last_uid() > 0, 60, interval=0.01, what="the first batch")
            daemon.signal(signal.SIGTERM)
            started = time.monotonic()
            code = daemon.wait(15)
            stopped_in = time.monotonic() - started
            log = daemon.log()
        assert code == 0, log[-3000:]
        assert stopped_in < 5, stopped_in
        assert "refmail stopped" in log
        stopped_at = db.last_uid()
        assert 0 < stopped_at < len(messages), "the sync finished before SIGTERM arrived"
    finally:
        db.close()


def test_five_50mb_messages_sync_with_a_peak_rss_under_150mb(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    load_dovecot(dovecot, imap_user, (poison.big_with_attachment(f"huge{i}", 50) for i in range(5)))
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "refmail.db"}"\n'
        + account_toml(dovecot.host, dovecot.port, imap_user)
    )
    env = {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PEAK_REPORTING_CLI, "--config", str(config), "sync", "--once"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scanned 5, 5 for refmail" in result.stdout, result.stdout
    peak = re.search(r"^VmHWM:\s+(\d+) kB", result.stderr, re.MULTILINE)
    assert peak, result.stderr
    peak_mb = int(peak.group(1)) / 1024
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
