"""`refmail run --worker` on several processes sharing one PostgreSQL: the accounts are split
between the workers, and when one is killed (SIGKILL) the other takes its accounts over and
syncs them; nothing is recorded twice. Real processes, real Maildirs, real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from refmail import models as m
from refmail.db import make_engine, migrate, session_factory
from refmail.maildir import deliver
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import intro

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = ("a0", "a1", "a2", "a3")


def write_config(tmp_path: Path, db_url: str) -> Path:
    tables = "".join(
        f"""
[[accounts]]
name = "{name}"
address = "{REFMAIL}"
owners = ["{OWNER}"]
delivery = "file"
drafts_dir = "drafts-{name}"
[accounts.maildir]
path = "{tmp_path / name}"
"""
        for name in ACCOUNTS
    )
    path = tmp_path / "refmail.toml"
    path.write_text(
        f'database = "{db_url}"\n[daemon]\nsync_seconds = 1\ndispatch_seconds = 2\n'
        f"lease_seconds = 3\nidle = false\nweb = false\n{tables}"
    )
    return path


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "refmail", "--config", str(config), "-v", "run", "--worker"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


# Workers share one PostgreSQL (their deployment); the leases on SQLite are tested in test_leases.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_workers_split_the_accounts_and_take_over_a_killed_ones(
    tmp_path: Path, db_url: str
) -> None:
    config = write_config(tmp_path, db_url)
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)

    def holders() -> dict[str, str]:
        with factory() as s:
            return {
                lease.account: lease.worker
                for lease in s.scalars(select(m.AccountLease))
                if lease.expires_at.timestamp() > time.time()
            }

    def introductions() -> int:
        with factory() as s:
            return s.scalar(select(func.count()).select_from(m.Introduction)) or 0

    first = start_worker(config, tmp_path / "w1.log")
    wait_for("the first worker to hold every account", lambda: len(holders()) == len(ACCOUNTS))
    second = start_worker(config, tmp_path / "w2.log")
    try:
        wait_for(
            "the accounts to be split between the two workers",
            lambda: sorted(Counter(holders().values()).values()) == [2, 2],
        )
        for i, name in enumerate(ACCOUNTS):  # one introduction in every account
            deliver(tmp_path / name, intro(i), f"{i}.before.test")
        wait_for("every account synced", lambda: introductions() == len(ACCOUNTS))

        victim = holders()["a0"]
        dead = first if f":{first.pid}:" in victim else second
        alive = second if dead is first else first
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=10)
        for i, name in enumerate(ACCOUNTS):  # more mail everywhere, the dead worker's too
            deliver(tmp_path / name, intro(10 + i), f"{i}.after.test")
        wait_for(
            "the survivor to take every account over",
            lambda: (
                len(holders()) == len(ACCOUNTS)
                and all(f":{alive.pid}:" in w for w in holders().values())
            ),
        )
        wait_for("the new mail synced", lambda: introductions() == 2 * len(ACCOUNTS))
        with factory() as s:  # nothing recorded twice
            ids = s.scalars(select(m.MessageRecord.message_id)).all()
        assert len(ids) == len(set(ids)) == 2 * len(ACCOUNTS)
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        engine.dispose()
