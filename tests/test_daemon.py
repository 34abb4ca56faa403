"""`refmail run` as a real process against a private Dovecot: IDLE latency, reconnects, one failing
account beside a working one, SIGTERM mid-sync and resume, SIGHUP reload, /healthz and /metrics.

Every config here polls only every 300 s, so a draft that appears within seconds can only have
been woken by IDLE (or by the watcher's catch-up after a reconnect).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.daemon import (
    WRONG_ENV,
    AccountSpec,
    Database,
    DraftWatcher,
    ready,
    running,
    wait_for,
    write_config,
)
from tests.support.dovecot import Dovecot, free_port
from tests.support.mailbox import referral
from tests.support.mailgen import MailGenerator, load_dovecot

pytestmark = pytest.mark.integration

IDLE_BUDGET = 2.0  # seconds from APPEND to the draft in Drafts, the "done when"


# --- looking at the results --------------------------------------------------------------------


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


# --- (a) IDLE latency --------------------------------------------------------------------------


@pytest.mark.alone
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


@pytest.mark.alone
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


@pytest.mark.alone
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

        def counted() -> float | None:
            """The sync's count once it reaches the rest: it is added when the sync has closed
            its connection, a moment after its last commit (longer on a loaded machine)."""
            _, text = http_get(f"http://127.0.0.1:{port}/metrics")
            if 'refmail_messages_synced_total{account="main"}' not in text:
                return None
            count = metric(text, "refmail_messages_synced_total", 'account="main"')
            return count if count >= rest else None

        rest = total - stopped_at
        synced = wait_for(counted, 60, interval=0.1, what="the resumed sync's count")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    # The second run read only what the first had not committed.
    assert synced == rest
    recorded = db.introduction_ids()
    assert len(recorded) == len(set(recorded))
    assert sorted(recorded) == sorted(truth)


# --- (e) SIGHUP ------------------------------------------------------------------------------


@pytest.mark.alone
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
