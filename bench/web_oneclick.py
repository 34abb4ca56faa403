"""How fast the one-click unsubscribe endpoint answers under concurrent load, on loopback.

    python3 -m bench.web_oneclick [--requests 5000] [--concurrency 16] [--db sqlite|postgres]

Seeds a fresh database (a temp SQLite file, or a throwaway schema on
postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the end) with one contact per first
POST, each with two planned check-ins, serves the real app (refmail.web.create_app) with uvicorn on
127.0.0.1 in a subprocess, and drives /u/<token> from a bounded pool of Python threads, each with
its own keep-alive http.client connection:
- first POSTs: `List-Unsubscribe=One-Click` to a distinct valid token (opt-out, change log, the
  follow-ups cancelled: the writes);
- repeat POSTs: the same token again after its first POST (idempotent, a no-op write);
- GETs: the confirmation page (a read only; scanners and people opening the link).
The mix is decided per contact (a GET before the POST, a repeat after it), so a repeat always
follows its first POST. Prints requests/second and p50/p90/p99 latency per kind, and errors;
then checks in the database that exactly the contacts POSTed are opted out, once each, with no
open follow-ups left. Bounded in count (--requests) and time (--time-limit).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from refmail import models as m
from refmail.db import make_engine, migrate
from refmail.tokens import Tokens

ROOT = Path(__file__).resolve().parents[1]

PG_URL = os.environ.get("REFMAIL_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY_ENV = "REFMAIL_BENCH_SIGNING_KEY"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BODY = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# --- the server (run as a subprocess of this script) ---------------------------------------


def serve(url: str, port: int) -> None:
    import uvicorn

    from refmail.db import session_factory
    from refmail.tokens import LinkBuilder
    from refmail.web import WebContext, create_app

    tokens = Tokens([os.environ[KEY_ENV]])
    engine = make_engine(url, pool_size=20, max_overflow=20)
    context = WebContext(
        session_factory(engine), tokens, LinkBuilder(f"http://127.0.0.1:{port}", tokens)
    )
    uvicorn.run(
        create_app(context),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        backlog=256,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, key: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, KEY_ENV: key, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--port", str(port)], env=env
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited before it started")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process, port
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the server did not start within 20 s")


# --- the database --------------------------------------------------------------------------


def seed(url: str, contacts: int) -> list[str]:
    """`contacts` contacts in pairs, one introduction per pair, two planned check-ins each;
    returns their public ids."""
    engine = make_engine(url)
    migrate(engine)
    public_ids = [secrets.token_urlsafe(16) for _ in range(contacts)]
    due = NOW + timedelta(days=7)
    with engine.begin() as conn:
        account_id = conn.execute(
            insert(m.Account)
            .values(name="bench", address="olivia+refmail@example.com", created_at=NOW)
            .returning(m.Account.id)
        ).scalar_one()
        conn.execute(
            insert(m.Contact),
            [
                {
                    "email": f"person{i}@example.org",
                    "public_id": pid,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i, pid in enumerate(public_ids)
            ],
        )
        ids = dict(conn.execute(select(m.Contact.public_id, m.Contact.id)).all())
        pairs = [public_ids[i : i + 2] for i in range(0, contacts, 2)]
        conn.execute(
            insert(m.MessageRecord),
            [
                {
                    "message_id": f"<intro-{n}@example.com>",
                    "account_id": account_id,
                    "folder": "INBOX",
                    "uid": n + 1,
                    "thread_root": f"<intro-{n}@example.com>",
                    "subject": f"Intro {n}",
                    "sent_at": NOW,
                    "kind": "introduction",
                    "ingested_at": NOW,
                }
                for n in range(len(pairs))
            ],
        )
        messages = dict(conn.execute(select(m.MessageRecord.message_id, m.MessageRecord.id)).all())
        introducer = ids[public_ids[0]]
        conn.execute(
            insert(m.Introduction),
            [
                {
                    "message_pk": messages[f"<intro-{n}@example.com>"],
                    "account_id": account_id,
                    "introducer_id": introducer,
                    "shape": "double",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(len(pairs))
            ],
        )
        intros = dict(conn.execute(select(m.Introduction.message_pk, m.Introduction.id)).all())
        rows = []
        for n, pair in enumerate(pairs):
            intro_id = intros[messages[f"<intro-{n}@example.com>"]]
            for pid in pair:
                for step, days in ((1, 0), (2, 23)):
                    rows.append(
                        {
                            "introduction_id": intro_id,
                            "account_id": account_id,
                            "kind": "check_in",
                            "step": step,
                            "contact_id": ids[pid],
                            "due_at": due + timedelta(days=days),
                            "first_due_at": due + timedelta(days=days),
                            "state": "planned",
                            "message_id": f"<refmail.{uuid.uuid4().hex}@example.com>",
                            "created_at": NOW,
                            "updated_at": NOW,
                        }
                    )
        conn.execute(insert(m.FollowUp), rows)
    engine.dispose()
    return public_ids


def verify(url: str, posted: set[str]) -> list[str]:
    """What the database says after the run; returns problems (empty when all is well)."""
    engine = make_engine(url)
    problems = []
    with engine.connect() as conn:
        opted = set(
            conn.scalars(select(m.Contact.public_id).where(m.Contact.opted_out_at.is_not(None)))
        )
        if opted != posted:
            problems.append(
                f"opted out: {len(opted)}, POSTed: {len(posted)} "
                f"(missing {len(posted - opted)}, unexpected {len(opted - posted)})"
            )
        logged = conn.execute(
            select(m.ContactChange.contact_id, func.count())
            .where(m.ContactChange.field == "opted_out_at", m.ContactChange.source == "recipient")
            .group_by(m.ContactChange.contact_id)
        ).all()
        if len(logged) != len(posted) or any(n != 1 for _, n in logged):
            twice = sum(1 for _, n in logged if n != 1)
            problems.append(f"change log: {len(logged)} contacts logged, {twice} more than once")
        still_open = conn.scalar(
            select(func.count())
            .select_from(m.FollowUp)
            .join(m.Contact, m.Contact.id == m.FollowUp.contact_id)
            .where(m.Contact.opted_out_at.is_not(None), m.FollowUp.state.in_(m.OPEN_STATES))
        )
        if still_open:
            problems.append(f"{still_open} open follow-ups left for opted-out contacts")
    engine.dispose()
    return problems


# --- the load ------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    posted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str = "") -> None:
        with self.lock:
            if error:
                self.errors[kind].append(error)
            else:
                self.latencies[kind].append(seconds)


def plan(public_ids: list[str], get_share: float, repeat_share: float, seed: int) -> list[list]:
    """Per contact, the requests in order: maybe a GET, the first POST, maybe a repeat."""
    rng = random.Random(seed)
    jobs = []
    for pid in public_ids:
        steps = [("get", pid)] if rng.random() < get_share else []
        steps.append(("first", pid))
        if rng.random() < repeat_share:
            steps.append(("repeat", pid))
        jobs.append(steps)
    return jobs


def worker(
    port: int,
    tokens: Tokens,
    jobs: list[list],
    next_job: list[int],
    job_lock: threading.Lock,
    stats: Stats,
    deadline: float,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        with job_lock:
            if next_job[0] >= len(jobs):
                break
            steps = jobs[next_job[0]]
            next_job[0] += 1
        for kind, pid in steps:
            path = f"/u/{tokens.make(pid, 'unsubscribe')}"
            started = time.perf_counter()
            try:
                if kind == "get":
                    conn.request("GET", path)
                else:
                    conn.request("POST", path, body=BODY, headers=FORM)
                response = conn.getresponse()
                page = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200 or b"nsubscribe" not in page:
                    stats.add(kind, elapsed, f"HTTP {response.status}")
                    continue
                if kind != "get" and b"You are unsubscribed" not in page:
                    stats.add(kind, elapsed, "no confirmation")
                    continue
                stats.add(kind, elapsed)
                if kind == "first":
                    with stats.lock:
                        stats.posted.add(pid)
            except (OSError, http.client.HTTPException) as exc:
                stats.add(kind, time.perf_counter() - started, type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(stats: Stats, wall: float) -> None:
    print(
        f"\n{'kind':<14}{'count':>7}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}"
    )
    everything: list[float] = []
    for kind, label in (("first", "first POST"), ("repeat", "repeat POST"), ("get", "GET")):
        values = stats.latencies.get(kind, [])
        everything += values
        errors = len(stats.errors.get(kind, []))
        print(
            f"{label:<14}{len(values):>7}{len(values) / wall:>9.0f}"
            f"{percentile(values, 0.5) * 1000:>9.1f}{percentile(values, 0.9) * 1000:>9.1f}"
            f"{percentile(values, 0.99) * 1000:>9.1f}{max(values, default=0) * 1000:>9.1f}"
            f"{errors:>8}"
        )
    total_errors = sum(len(v) for v in stats.errors.values())
    print(
        f"{'all':<14}{len(everything):>7}{len(everything) / wall:>9.0f}"
        f"{percentile(everything, 0.5) * 1000:>9.1f}{percentile(everything, 0.9) * 1000:>9.1f}"
        f"{percentile(everything, 0.99) * 1000:>9.1f}{max(everything, default=0) * 1000:>9.1f}"
        f"{total_errors:>8}"
    )
    for kind, errors in stats.errors.items():
        kinds = defaultdict(int)
        for e in errors:
            kinds[e] += 1
        print(f"  errors in {kind}: {dict(kinds)}")
    if everything:
        print(
            f"  (req/s: that kind's answers per second of the {wall:.1f} s run, the kinds "
            f"interleaved; mean latency {statistics.fmean(everything) * 1000:.1f} ms)"
        )


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="total requests (about)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--get-share", type=float, default=0.15, help="contacts GET first")
    parser.add_argument("--repeat-share", type=float, default=0.15, help="contacts POST twice")
    parser.add_argument("--time-limit", type=float, default=90.0, help="seconds of load, at most")
    parser.add_argument("--seed", type=int, default=8058)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    if not 1 <= args.concurrency <= 256 or not 1 <= args.requests <= 100_000:
        parser.error("--concurrency must be 1..256 and --requests 1..100000")

    contacts = max(2, round(args.requests / (1 + args.get_share + args.repeat_share)))
    key = secrets.token_urlsafe(32)
    tokens = Tokens([key])
    workdir = tempfile.TemporaryDirectory(prefix="refmail-bench-")
    admin = None
    schema = ""
    if args.db == "sqlite":
        url = f"sqlite:///{Path(workdir.name) / 'refmail.db'}"
    else:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        schema = f"bench_web_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f"create schema {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    server = None
    try:
        started = time.perf_counter()
        public_ids = seed(url, contacts)
        print(
            f"seeded {contacts} contacts ({args.db}) in {time.perf_counter() - started:.1f} s; "
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        server, port = start_server(url, key)
        jobs = plan(public_ids, args.get_share, args.repeat_share, args.seed)
        total = sum(len(j) for j in jobs)
        print(
            f"driving {total} requests ({contacts} first POSTs, "
            f"{sum(1 for j in jobs for k, _ in j if k == 'repeat')} repeats, "
            f"{sum(1 for j in jobs for k, _ in j if k == 'get')} GETs) "
            f"from {args.concurrency} keep-alive connections to 127.0.0.1:{port}"
        )
        stats, next_job, lock = Stats(), [0], threading.Lock()
        deadline = time.monotonic() + args.time_limit
        threads = [
            threading.Thread(
                target=worker, args=(port, tokens, jobs, next_job, lock, stats, deadline)
            )
            for _ in range(args.concurrency)
        ]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        if next_job[0] < len(jobs):
            print(f"time limit reached after {next_job[0]} of {len(jobs)} contacts")
        report(stats, wall)
        problems = verify(url, stats.posted)
        print(
            "database:",
            "; ".join(problems)
            if problems
            else "consistent (opted out once each, no open follow-ups left)",
        )
        return 1 if problems or any(stats.errors.values()) else 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"drop schema if exists {schema} cascade"))
            admin.dispose()
        workdir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
