"""Many mailboxes, several worker processes on one PostgreSQL, one of them killed midway.

    python3 -m bench.scale_out [--accounts 1000] [--messages 2] [--workers 4] [--postgres URL]

Builds N Maildir accounts (each with M introductions by the owner, so every account has mail
to record and follow-ups to deliver as .eml drafts), then times:
- one `refmail run --worker` alone, until every introduction is recorded and every due
  follow-up delivered (a fresh schema);
- W workers together on a fresh schema, one of them SIGKILLed when half the introductions are
  recorded; the others take its accounts over when its leases run out.
Prints messages per second for each, the ratio against W × the single worker, and checks that
nothing was lost or doubled: every Message-ID recorded once, every delivered follow-up written
as exactly one .eml file. On a 2-core machine W workers cannot be W times faster; the core
count is printed beside the ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bench._common import PG_URL, child_env, machine_noted, postgres_url, table
from refmail import models as m
from refmail.db import make_engine, migrate, session_factory
from refmail.maildir import deliver
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import intro


def build(root: Path, accounts: int, messages: int, db_url: str) -> Path:
    """N Maildirs of M introductions each, and the config naming them all."""
    tables = []
    for a in range(accounts):
        for j in range(messages):
            n = a * messages + j
            deliver(root / f"m{a}", intro(n), f"{1700000000 + n}.M{n}.bench")
        tables.append(
            f'\n[[accounts]]\nname = "a{a}"\naddress = "{REFMAIL}"\nowners = ["{OWNER}"]\n'
            f'delivery = "file"\ndrafts_dir = "drafts/a{a}"\nrequire_authentication = false\n'
            f'[accounts.maildir]\npath = "{root / f"m{a}"}"\n'
        )
    config = root / "refmail.toml"
    config.write_text(
        f'database = "{db_url}"\n[followups]\nmax_age_days = 100000\ncheck_in_days = [0]\n'
        "[caps]\ndrafts_in_window = false\nweekends = true\ncooldown_days = 0\n"
        "min_gap_hours = 0\nwindows = [{ count = 1000, days = 1 }]\n"
        "[daemon]\nsync_seconds = 2\ndispatch_seconds = 2\nlease_seconds = 6\nidle = false\n"
        'web = false\nlog_format = "text"\n' + "".join(tables)
    )
    return config


def progress(db_url: str) -> Callable[[], tuple[int, int, int]]:
    """(introductions, follow-ups due or delivered, delivered) in the database."""
    factory = session_factory(make_engine(db_url))

    def read() -> tuple[int, int, int]:
        with factory() as s:
            intros = s.scalar(select(func.count()).select_from(m.Introduction)) or 0
            planned = s.scalar(select(func.count()).select_from(m.FollowUp)) or 0
            done = s.scalar(select(func.count()).where(m.FollowUp.state == "delivered")) or 0
        return intros, planned, done

    return read


def workers(config: Path, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "refmail", "--config", str(config), "run", "--worker"],
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def run(root: Path, args: argparse.Namespace, count: int, kill_one: bool) -> tuple[float, str]:
    total = args.accounts * args.messages
    with postgres_url(args.postgres) as db_url:
        migrate(make_engine(db_url))
        config = build(root, args.accounts, args.messages, db_url)
        read = progress(db_url)
        start = time.perf_counter()
        procs = workers(config, count)
        killed = ""
        try:
            while True:
                intros, planned, done = read()
                if kill_one and not killed and intros >= total // 2:
                    procs[0].send_signal(signal.SIGKILL)
                    killed = f"killed one at {intros}/{total} introductions"
                if intros >= total and done >= planned:
                    break
                if time.perf_counter() - start > args.timeout:
                    raise SystemExit(f"timed out: {intros}/{total} recorded, {done}/{planned}")
                time.sleep(0.5)
            seconds = time.perf_counter() - start
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
        check(db_url, root, total)
    return seconds, killed


def check(db_url: str, root: Path, total: int) -> None:
    """Nothing lost, nothing doubled."""
    with session_factory(make_engine(db_url))() as s:
        ids = s.scalars(select(m.MessageRecord.message_id)).all()
        delivered = s.scalar(select(func.count()).where(m.FollowUp.state == "delivered")) or 0
    files = len(list((root / "drafts").rglob("*.eml")))
    assert len(ids) == len(set(ids)) == total, (len(ids), len(set(ids)), total)
    assert files == delivered, (files, delivered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2, help="introductions per account")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", default=PG_URL)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    total = args.accounts * args.messages
    with machine_noted():
        rows = []
        with tempfile.TemporaryDirectory(prefix="refmail-scale-") as tmp:
            one, _ = run(Path(tmp) / "one", args, 1, kill_one=False)
        rows.append(["1 worker", f"{total / one:.0f}", f"{one:.1f}", ""])
        with tempfile.TemporaryDirectory(prefix="refmail-scale-") as tmp:
            many, killed = run(Path(tmp) / "many", args, args.workers, kill_one=True)
        rows.append([f"{args.workers} workers", f"{total / many:.0f}", f"{many:.1f}", killed])
        table(["run", "msg/s", "seconds", "note"], rows)
        ideal = args.workers * total / one
        print(
            f"{args.workers} workers ÷ ({args.workers} × one worker): "
            f"{(total / many) / ideal:.2f} on {os.cpu_count()} cores; "
            f"{args.accounts} accounts, {total} introductions, nothing lost or doubled"
        )


if __name__ == "__main__":
    main()
