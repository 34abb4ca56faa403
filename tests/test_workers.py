"""`refmail run --worker` on several processes sharing one PostgreSQL: the accounts are split
between the workers, and when one is killed (SIGKILL) the other takes its accounts over, syncs
them and delivers their follow-ups; nothing is recorded twice, nothing delivered twice, and a
delivery the dead worker had claimed is finished by the new holder. Real processes, real
Maildirs, real PostgreSQL."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from refmail import models as m
from refmail.db import SessionFactory, make_engine, migrate, session_factory
from refmail.dispatch import LEASE
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
require_authentication = false
[accounts.maildir]
path = "{tmp_path / name}"
"""
        for name in ACCOUNTS
    )
    path = tmp_path / "refmail.toml"
    path.write_text(  # follow-ups due at once (check-ins on day 0, no send window, no caps)
        f'database = "{db_url}"\n[daemon]\nsync_seconds = 1\ndispatch_seconds = 2\n'
        f"lease_seconds = 3\nidle = false\nweb = false\n"
        "[followups]\nmax_age_days = 100000\ncheck_in_days = [0]\n"
        "[caps]\ndrafts_in_window = false\nweekends = true\ncooldown_days = 0\n"
        f"min_gap_hours = 0\nwindows = [{{ count = 1000, days = 1 }}]\n{tables}"
    )
    return path


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "refmail", "--config", str(config), "-v", "run", "--worker"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


# A worker whose every .eml delivery takes a second after the file is written: killed at any
# moment, it holds claims, some written and not yet recorded, some not written at all.
# Dispatch stages a group of drafts and settles them (publishes them) before confirming: each
# step here takes a second, so a kill finds claims whose drafts are published and unconfirmed
# beside claims whose drafts are not written yet.
SLOW_WORKER = """
import sys, time
from refmail import filedrop
stage, settle = filedrop.FileDrafts.stage, filedrop.FileDrafts.settle
def slow_stage(self, message, message_id, recipients=()):
    stage(self, message, message_id, recipients)
    time.sleep(1.0)
def slow_settle(self):
    settle(self)
    time.sleep(1.0)
filedrop.FileDrafts.stage, filedrop.FileDrafts.settle = slow_stage, slow_settle
from refmail.cli import main
sys.argv = ["refmail", *sys.argv[1:]]
main()
"""


def start_slow_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER, "--config", str(config), "-v", "run", "--worker"],
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


def follow_up_states(factory: SessionFactory) -> dict[str, int]:
    with factory() as s:
        rows = s.execute(select(m.FollowUp.state, func.count()).group_by(m.FollowUp.state))
        return {state: n for state, n in rows}


def all_delivered(factory: SessionFactory) -> bool:
    states = follow_up_states(factory)
    return bool(states) and set(states) == {"delivered"}


def assert_delivered_once(factory: SessionFactory, root: Path) -> None:
    """Every delivered follow-up is exactly one .eml file, and there is no other."""
    with factory() as s:
        delivered = s.scalars(
            select(m.FollowUp.message_id).where(m.FollowUp.state == "delivered")
        ).all()
    written = [
        str(email.message_from_bytes(path.read_bytes())["Message-ID"]).strip()
        for path in root.glob("drafts-*/*.eml")
    ]
    assert len(written) == len(set(written))
    assert sorted(written) == sorted(delivered)


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


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
        wait_for("every follow-up delivered", lambda: all_delivered(factory))
        with factory() as s:  # nothing recorded twice
            ids = s.scalars(select(m.MessageRecord.message_id)).all()
        assert len(ids) == len(set(ids)) == 2 * len(ACCOUNTS)
        assert sum(follow_up_states(factory).values()) >= 2 * len(ACCOUNTS)
        assert_delivered_once(factory, tmp_path)
    finally:
        stop(first, second)
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_deliveries_a_killed_worker_had_claimed_are_finished_once_by_the_next_holder(
    tmp_path: Path, db_url: str
) -> None:
    """A worker SIGKILLed between claiming a follow-up and confirming it: whether its draft
    was written or not, the worker that takes the account over delivers it exactly once."""
    config = write_config(tmp_path, db_url)
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    for i, name in enumerate(ACCOUNTS):
        deliver(tmp_path / name, intro(i), f"{i}.test")
    first = start_worker(config, tmp_path / "w1.log")
    second = None
    try:
        wait_for("every follow-up delivered", lambda: all_delivered(factory))
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        # What the killed worker left, as a crash at two moments would: one draft written but
        # not confirmed, one claimed but never written. Both were claimed longer ago than the
        # dispatch lease: a live worker would have confirmed them by then.
        with factory() as s:
            written, lost = s.scalars(select(m.FollowUp).order_by(m.FollowUp.id).limit(2)).all()
            written_id, lost_id, lost_mid = written.id, lost.id, lost.message_id
            assert written.delivered_at is not None
            claimed_at = written.delivered_at - LEASE - timedelta(minutes=1)
        lost_files = [
            path
            for path in tmp_path.glob("drafts-*/*.eml")
            if str(email.message_from_bytes(path.read_bytes())["Message-ID"]).strip() == lost_mid
        ]
        assert len(lost_files) == 1
        lost_files[0].unlink()
        with factory() as s, s.begin():
            s.execute(
                update(m.FollowUp)
                .where(m.FollowUp.id.in_([written_id, lost_id]))
                .values(state="delivering", claimed_at=claimed_at, delivered_at=None)
            )
        second = start_worker(config, tmp_path / "w2.log")
        wait_for("both claims finished by the new worker", lambda: all_delivered(factory))
        with factory() as s:
            reasons = {
                e.follow_up_id: e.reason
                for e in s.scalars(
                    select(m.FollowUpEvent).where(m.FollowUpEvent.rule == "recovered")
                )
            }
        assert set(reasons) == {written_id, lost_id}
        assert_delivered_once(factory, tmp_path)
    finally:
        stop(first, *([second] if second else []))
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_claims_of_a_worker_killed_while_delivering_are_delivered_once_soon_after(
    tmp_path: Path, db_url: str
) -> None:
    """SIGKILL a worker in the middle of its deliveries (drafts written but not recorded,
    claims not yet written): the next worker delivers each follow-up exactly once, within
    seconds of the kill (a lease or two), not after dispatch's five-minute default lease."""
    config = write_config(tmp_path, db_url)
    engine = make_engine(db_url)
    migrate(engine)
    factory = session_factory(engine)
    for i in range(6 * len(ACCOUNTS)):
        deliver(tmp_path / ACCOUNTS[i % len(ACCOUNTS)], intro(i), f"{i}.test")

    def claimed() -> dict[str, bool]:
        """Each claimed follow-up's Message-ID, and whether its draft is written."""
        written = {
            str(email.message_from_bytes(path.read_bytes())["Message-ID"]).strip()
            for path in tmp_path.glob("drafts-*/*.eml")
        }
        with factory() as s:
            ids = s.scalars(
                select(m.FollowUp.message_id).where(m.FollowUp.state == "delivering")
            ).all()
        return {mid: mid in written for mid in ids}

    first = start_slow_worker(config, tmp_path / "w1.log")
    second = None
    try:
        wait_for(
            "claims both written and not",
            lambda: {True, False} <= set(claimed().values()),
            timeout=120,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        left = claimed()
        assert True in left.values() and False in left.values(), left
        second = start_worker(config, tmp_path / "w2.log")
        wait_for("every follow-up delivered", lambda: all_delivered(factory), timeout=120)
        took = time.monotonic() - killed_at
        with factory() as s:
            recovered = set(
                s.scalars(
                    select(m.FollowUp.message_id)
                    .join(m.FollowUpEvent, m.FollowUpEvent.follow_up_id == m.FollowUp.id)
                    .where(m.FollowUpEvent.rule == "recovered")
                )
            )
        assert set(left) <= recovered
        assert_delivered_once(factory, tmp_path)
        # lease_seconds = 3: the accounts and the claims are free 3 s after the last renewal;
        # the new worker starts (~1 s), takes them and dispatches. Generous for a loaded machine.
        assert took < 45, took
    finally:
        stop(first, *([second] if second else []))
        engine.dispose()
