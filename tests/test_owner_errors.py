"""Database and server failures as the owner meets them: one line on stderr, a non-zero exit,
and nothing half-written (run the command again once the cause is fixed and it just works)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import running, wait_for
from tests.support.dovecot import Dovecot, free_port
from tests.support.mailbox import PASSWORD_ENV, account_toml


def refmail(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refmail", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "REFMAIL_CONFIG": "", **(env or {})},
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("refmail: error: ")
    return lines[0]


BAD_DATABASES = {
    "missing directory": ("sqlite:////nonexistent-refmail/dir/r.db", "does not exist"),
    "bad url": ("not a url at all", "not a database URL"),
    "unknown kind": ("nosuchdb://host/x", "nosuchdb"),
    "postgresql down": (f"postgresql+psycopg://me:pw-secret@127.0.0.1:{free_port()}/x", "refused"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATABASES))
def test_init_with_a_bad_database_writes_nothing(tmp_path: Path, case: str) -> None:
    url, words = BAD_DATABASES[case]
    for args in (("init", "--database", url), ("init", *IMAP_ARGS, "--database", url)):
        line = one_error_line(refmail(tmp_path, *args))
        assert words in line
        assert "pw-secret" not in line  # the password never shows
        assert list(tmp_path.iterdir()) == []  # no config, no demo folder, no database file
    # Fixed, the same command works at once (no "refmail.toml exists").
    assert refmail(tmp_path, "init").returncode == 0
    assert (tmp_path / "refmail.toml").exists()


IMAP_ARGS = (
    "--imap",
    "imap://me@127.0.0.1:1/INBOX?tls=none",
    "--address",
    "me+refmail@example.com",
    "--owner",
    "me@example.com",
)


@pytest.mark.parametrize(
    "command", [("sync",), ("dispatch",), ("outbox", "list"), ("run",), ("doctor",)]
)
def test_commands_on_an_unreachable_database_say_so_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    assert refmail(tmp_path, "init").returncode == 0
    config = tmp_path / "refmail.toml"
    down = f"postgresql+psycopg://me:pw-secret@127.0.0.1:{free_port()}/x"
    text = config.read_text()
    config.write_text(text.replace(text.splitlines()[2], f'database = "{down}"'))
    done = refmail(tmp_path, *command)
    if command == ("doctor",):  # doctor reports it among its verdicts, one line, and exits 1
        assert done.returncode == 1 and "pw-secret" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return
    line = one_error_line(done)
    assert "127.0.0.1" in line and "pw-secret" not in line


def test_wrong_imap_password_is_one_line_per_account(tmp_path: Path, dovecot: Dovecot) -> None:
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "r.db"}"\n'
        + account_toml(dovecot.host, dovecot.port, "ua", name="first")
        + account_toml(dovecot.host, dovecot.port, "ub", name="second")
    )
    env = {PASSWORD_ENV: "wrong"}
    done = refmail(tmp_path, "--config", str(config), "sync", env=env)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("first: error: IMAP login failed")
    assert lines[1].startswith("second: error: IMAP login failed")
    assert "wrong" not in done.stderr
    done = refmail(tmp_path, "--config", str(config), "dispatch", env=env)  # Drafts: same login
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stderr.splitlines()] == ["first", "second"]


NAMES = ("first", "second")


def test_daemon_reports_a_wrong_password_once_per_attempt_with_the_backoff(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    """`refmail run`: the sync job, the dispatch job and the IDLE watcher all meet the same
    refused login; the owner reads one error stream per account, each line with its backoff."""
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "r.db"}"\n'
        "[daemon]\nreconnect_max_seconds = 2\n"
        + account_toml(dovecot.host, dovecot.port, "ua", name="first")
        + account_toml(dovecot.host, dovecot.port, "ub", name="second")
    )
    env = {PASSWORD_ENV: "wrong", "REFMAIL_CONFIG": ""}
    with running(config, tmp_path / "daemon.log", **env) as daemon:

        def failed_thrice() -> bool:
            """Each account's sync refused three times: two backoffs, what a fixed 6 s gave on
            an idle machine. The IDLE watchers start with the first sync and retry on the same
            clock, so they have met the refusal by then; waiting on this and not on a fixed time
            keeps a loaded machine's slow start from ending the test before the first attempt."""
            daemon.assert_alive()
            log = daemon.log()
            return all(log.count(f"account {name}: sync failed") >= 3 for name in NAMES)

        wait_for(failed_thrice, 120, what="three refused syncs per account")
        daemon.signal(signal.SIGTERM)
        daemon.wait(30)
    err = daemon.log()
    errors = [line for line in err.splitlines() if " ERROR " in line or " WARNING " in line]
    assert errors, err
    for name in NAMES:
        mine = [line for line in errors if f"account {name}" in line]
        assert mine, err
        assert all("sync failed (IMAP login failed" in line for line in mine), err
        assert all("next try in" in line for line in mine), err
    assert "Traceback" not in err
    assert "IDLE" not in "\n".join(errors) and "dispatch failed" not in err
