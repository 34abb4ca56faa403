"""Many mailboxes, several worker processes on one PostgreSQL, one of them killed midway.

    python3 -m bench.scale_out [--accounts 1000] [--messages 2] [--workers 4] [--postgres URL]

Builds N Maildir accounts (each with M introductions by the owner, so every account has mail
to record and follow-ups to deliver as .eml drafts), then times, polling the database every
second (`--poll`) up to `--timeout`:
- one `refmail run --worker` alone, until every introduction is recorded and every due
  follow-up delivered (a fresh schema);
- W workers together on a fresh schema, one of them SIGKILLed when half the introductions are
  recorded; the others take its accounts over when its leases run out.
Prints messages per second per phase (until the kill, after it, the whole run), how long the
takeover took, the ratio against W × the single worker, and checks that nothing was lost or
doubled: every Message-ID recorded exactly once, every delivered follow-up written as exactly
one .eml file (and no other), no follow-up left claimed; and the most connections the workers
held at once. On a 2-core machine W workers cannot be W times faster: the usable core count is
printed beside the ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

from sqlalchemy import func, select, text

from bench._common import PG_URL, child_env, machine_noted, postgres_url, table
from refmail import models as m
from refmail.db import SessionFactory, make_engine, migrate, session_factory
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
    # Polling as a deployment would (not every 2 s): the mail is all there at the start, so
    # what is timed is the work of reading it, not how often 1,000 idle folders can be polled;
    # a found introduction is dispatched right after its sync, and a taken account synced at once.
    config.write_text(
        f'database = "{db_url}&application_name={APP}"\n'
        "[followups]\nmax_age_days = 100000\ncheck_in_days = [0]\n"
        "[caps]\ndrafts_in_window = false\nweekends = true\ncooldown_days = 0\n"
        "min_gap_hours = 0\nwindows = [{ count = 1000, days = 1 }]\n"
        "[daemon]\nsync_seconds = 30\ndispatch_seconds = 30\nlease_seconds = 6\nidle = false\n"
        'web = false\nlog_format = "text"\n' + "".join(tables)
    )
    return config


APP = "refmail-scale-out"  # the workers' application_name: their connections are counted


@dataclass
class Progress:
    """One look at the database while the workers run."""

    seconds: float
    recorded: int  # introductions
    planned: int  # follow-ups
    delivered: int
    delivering: int  # claimed, not confirmed yet
    connections: int  # the workers' connections to PostgreSQL, all together


@dataclass
class Outcome:
    """A run's timeline: when it finished, and (with a kill) when and how far along it was."""

    total: int
    seconds: float = 0.0
    recorded_at: float = 0.0  # every introduction recorded
    killed_at: float | None = None
    recorded_at_kill: int = 0
    taken_over_at: float | None = None  # the killed worker's accounts all held by others
    slow_stops: int = 0  # workers that did not stop within a minute of SIGTERM
    peak_connections: int = 0  # the most connections the workers held at one look
    claims_at_kill: frozenset[int] = frozenset()  # follow-ups the killed worker had claimed
    claims_done_at: float | None = None  # …none of them claimed any more


def look(factory: SessionFactory, start: float) -> Progress:
    with factory() as s:
        intros = s.scalar(select(func.count()).select_from(m.Introduction)) or 0
        counted = s.execute(select(m.FollowUp.state, func.count()).group_by(m.FollowUp.state))
        states: dict[str, int] = {state: n for state, n in counted}
        connections = s.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"),
            {"app": APP},
        )
    return Progress(
        time.perf_counter() - start,
        intros,
        sum(states.values()),
        states.get("delivered", 0),
        states.get("delivering", 0),
        connections or 0,
    )


def claimed(factory: SessionFactory, worker_pid: int) -> frozenset[int]:
    """The follow-ups claimed now (`delivering`) in the accounts the worker with that pid
    holds (or held: its leases are not yet taken), by id."""
    with factory() as s:
        return frozenset(
            s.scalars(
                select(m.FollowUp.id)
                .join(m.Account, m.Account.id == m.FollowUp.account_id)
                .join(m.AccountLease, m.AccountLease.account == m.Account.name)
                .where(
                    m.FollowUp.state == "delivering",
                    m.AccountLease.worker.contains(f":{worker_pid}:"),
                )
            )
        )


def still_claimed(factory: SessionFactory, ids: frozenset[int]) -> bool:
    with factory() as s:
        return bool(
            s.scalar(
                select(func.count()).where(m.FollowUp.id.in_(ids), m.FollowUp.state == "delivering")
            )
        )


def busiest(
    factory: SessionFactory, procs: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """The worker holding the most accounts (a worker id names its pid): killing it tests a
    takeover, not the death of a worker that held nothing."""
    now = datetime.now(UTC)
    with factory() as s:
        holders = [
            lease.worker for lease in s.scalars(select(m.AccountLease)) if lease.expires_at > now
        ]
    return max(procs, key=lambda p: sum(f":{p.pid}:" in w for w in holders))


def taken_over(factory: SessionFactory, dead: subprocess.Popen[bytes]) -> bool:
    """Every account held, by a live worker: none by the process `dead` (the worker id names
    its pid), none free."""
    now = datetime.now(UTC)
    with factory() as s:
        leases = s.scalars(select(m.AccountLease)).all()
    return all(lease.expires_at > now and f":{dead.pid}:" not in lease.worker for lease in leases)


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


def run(root: Path, args: argparse.Namespace, count: int, kill_one: bool) -> Outcome:
    """Start `count` workers on a fresh schema; poll until everything is recorded and delivered
    (SIGKILLing one worker when half the introductions are recorded); check; the timeline."""
    out = Outcome(args.accounts * args.messages)
    with postgres_url(args.postgres) as db_url:
        engine = make_engine(db_url)
        migrate(engine)
        factory = session_factory(engine)
        config = build(root, args.accounts, args.messages, db_url)
        start = time.perf_counter()
        procs = workers(config, count)
        try:
            watch(factory, procs, start, out, args, kill_one)
        finally:
            out.slow_stops = stop(procs)
        check(factory, root, out.total)
        engine.dispose()
    return out


def stop(procs: list[subprocess.Popen[bytes]]) -> int:
    """SIGTERM every worker; one still running a minute later is killed and counted."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    slow = 0
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            slow += 1
            proc.kill()
            proc.wait()
    return slow


def watch(
    factory: SessionFactory,
    procs: list[subprocess.Popen[bytes]],
    start: float,
    out: Outcome,
    args: argparse.Namespace,
    kill_one: bool,
) -> None:
    """Poll every `args.poll` seconds until done, or fail after `args.timeout`."""
    victim = procs[0]
    while True:
        now = look(factory, start)
        out.peak_connections = max(out.peak_connections, now.connections)
        if now.recorded >= out.total and not out.recorded_at:
            out.recorded_at = now.seconds
        if kill_one and out.killed_at is None and now.recorded >= out.total // 2:
            victim = busiest(factory, procs)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            out.killed_at, out.recorded_at_kill = now.seconds, now.recorded
            out.claims_at_kill = claimed(factory, victim.pid)
        if (
            out.claims_at_kill
            and out.claims_done_at is None
            and not still_claimed(factory, out.claims_at_kill)
        ):
            out.claims_done_at = now.seconds
        if out.killed_at is not None and out.taken_over_at is None and taken_over(factory, victim):
            out.taken_over_at = now.seconds
        done = now.recorded >= out.total and now.delivered >= now.planned > 0
        if done and now.delivering == 0 and (not kill_one or out.taken_over_at is not None):
            if out.claims_at_kill and out.claims_done_at is None:
                out.claims_done_at = now.seconds
            out.seconds = now.seconds
            return
        if now.seconds > args.timeout:
            raise SystemExit(
                f"timed out after {now.seconds:.0f} s: {now.recorded}/{out.total} recorded, "
                f"{now.delivered}/{now.planned} delivered, {now.delivering} claimed"
            )
        time.sleep(args.poll)


def check(factory: SessionFactory, root: Path, total: int) -> None:
    """Nothing lost, nothing doubled: every Message-ID recorded once; every delivered
    follow-up written as exactly one .eml file, and no .eml for anything else."""
    with factory() as s:
        ids = s.scalars(select(m.MessageRecord.message_id)).all()
        delivered = s.scalars(
            select(m.FollowUp.message_id).where(m.FollowUp.state == "delivered")
        ).all()
        stuck = s.scalar(select(func.count()).where(m.FollowUp.state == "delivering")) or 0
    expected = {f"<intro-{n}@example.com>" for n in range(total)}
    assert len(ids) == len(set(ids)) == total and set(ids) == expected, (len(ids), total)
    written = [eml_message_id(path) for path in (root / "drafts").rglob("*.eml")]
    assert len(written) == len(set(written)), "a follow-up written twice"
    assert set(written) == set(delivered), (len(written), len(delivered))
    assert stuck == 0, f"{stuck} follow-ups still claimed"


def eml_message_id(path: Path) -> str:
    with path.open("rb") as f:
        return str(BytesParser(policy=default).parse(f, headersonly=True)["Message-ID"]).strip()


def max_connections(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW max_connections")).scalar())
    finally:
        engine.dispose()


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:.1f}" if seconds > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2, help="introductions per account")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", default=PG_URL)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks")
    args = parser.parse_args()
    total = args.accounts * args.messages
    with machine_noted():
        with tempfile.TemporaryDirectory(prefix="refmail-scale-") as tmp:
            one = run(Path(tmp) / "one", args, 1, kill_one=False)
        with tempfile.TemporaryDirectory(prefix="refmail-scale-") as tmp:
            many = run(Path(tmp) / "many", args, args.workers, kill_one=True)
        table(["run", "phase", "msg/s", "seconds", "note"], phases(one, many, args.workers))
        assert many.killed_at is not None
        cores = len(os.sched_getaffinity(0))
        one_rate = total / one.recorded_at
        before_kill = (many.recorded_at_kill / many.killed_at) / one_rate
        whole = (total / many.recorded_at) / one_rate
        print(
            f"recording: {args.workers} workers ÷ one worker = {before_kill:.2f} until the kill, "
            f"{whole:.2f} over the whole run with the kill; ÷ ({args.workers} × one worker) = "
            f"{before_kill / args.workers:.2f} (goal ≥ 0.8) on {cores} usable cores — "
            f"{args.workers} workers cannot be {args.workers}× faster on fewer cores"
        )
        print(
            f"{args.accounts} accounts, {total} introductions: every Message-ID recorded once, "
            "every delivered follow-up exactly one .eml, none left claimed"
        )
        print(
            f"connections to PostgreSQL at most: {one.peak_connections} for one worker, "
            f"{many.peak_connections} for {args.workers} workers (max_connections "
            f"{max_connections(args.postgres)})"
        )
        if one.slow_stops or many.slow_stops:
            print(f"{one.slow_stops + many.slow_stops} worker(s) ignored SIGTERM for a minute")


def phases(one: Outcome, many: Outcome, workers: int) -> list[list[str]]:
    """The table: messages recorded per second in each phase, and the delivery tail (a claim
    the killed worker left is recovered once it has gone a claim lease unrenewed: with these
    settings the account lease, 6 s)."""
    assert many.killed_at is not None and many.taken_over_at is not None
    total = one.total
    after = many.recorded_at - many.killed_at
    claims_after = None if many.claims_done_at is None else many.claims_done_at - many.killed_at
    return [
        ["1 worker", "all recorded", rate(total, one.recorded_at), f"{one.recorded_at:.1f}", ""],
        [
            "1 worker",
            "all delivered",
            "",
            f"{one.seconds:.1f}",
            f"{one.seconds - one.recorded_at:.1f} s after the last record",
        ],
        [
            f"{workers} workers",
            "until the kill",
            rate(many.recorded_at_kill, many.killed_at),
            f"{many.killed_at:.1f}",
            f"SIGKILL at {many.recorded_at_kill}/{total} recorded",
        ],
        [
            f"{workers - 1} left",
            "kill → all recorded",
            rate(total - many.recorded_at_kill, after),
            f"{after:.1f}",
            f"its accounts all held by others {many.taken_over_at - many.killed_at:.1f} s "
            "after the kill",
        ],
        [
            f"{workers - 1} left",
            "claims at the kill",
            "",
            f"{claims_after:.1f}" if claims_after is not None else "",
            f"{len(many.claims_at_kill)} follow-ups the killed worker had claimed: all "
            "recovered this long after the kill",
        ],
        [
            f"{workers} workers",
            "all delivered",
            "",
            f"{many.seconds:.1f}",
            f"{many.seconds - many.recorded_at:.1f} s after the last record",
        ],
    ]


if __name__ == "__main__":
    main()
