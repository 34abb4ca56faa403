"""How fast refmail's sync reads a big mailbox, next to bare imapclient on the same mailbox.

    python3 -m bench.sync_throughput [--messages 10000] [--batch 500] [--postgres URL] [--profile]

Starts a private Dovecot (tests/support/dovecot.py), loads N generated messages
(tests/support/mailgen.py, ~17 KB on average, one introduction in 50) straight into its
Maildir, then measures on that mailbox:
- imapclient alone: SELECT, UID SEARCH, BODY.PEEK[HEADER] in batches; then BODY.PEEK[] in batches;
- refmail's real sync (`sync_account` over an `ImapSource`) into a fresh SQLite database (and
  PostgreSQL with --postgres), with its peak RSS and, in a second run, its tracemalloc peak;
- with --profile, a cProfile of one more refmail run, its time split by where it was spent.
Checks that the introductions recorded are exactly the ones generated.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from refmail import models as m
from refmail.clock import FixedClock
from refmail.config import Account, FollowUps, ImapSettings
from refmail.db import make_engine, migrate, session_factory
from refmail.imap import ImapSource, connect
from refmail.source import Batch, Cursor, Key, Source
from refmail.sync import SyncReport, sync_account
from tests.support.dovecot import Dovecot, find_dovecot_binary
from tests.support.mailgen import MailGenerator, load_dovecot

ROOT = Path(__file__).resolve().parents[1]

OWNER = "olivia@example.com"
REFMAIL = "olivia+refmail@example.com"
USER = "bench"
PASSWORD_ENV = "REFMAIL_BENCH_IMAP_PASSWORD"


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


# ---- baselines -----------------------------------------------------------------------------


def bare_fetch(server: Dovecot, item: str, batch: int) -> tuple[int, int, float]:
    """(messages, bytes, seconds): select, UID SEARCH, FETCH `item` in batches, nothing else."""
    client = server.client(USER)
    key = item.replace(".PEEK", "").encode()
    try:
        start = time.perf_counter()
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        count = size = 0
        for i in range(0, len(uids), batch):
            response = client.fetch(uids[i : i + batch], [item])
            count += len(response)
            size += sum(len(data.get(key, b"")) for data in response.values())
        return count, size, time.perf_counter() - start
    finally:
        client.logout()


# ---- refmail -------------------------------------------------------------------------------


@dataclass
class RefmailRun:
    report: SyncReport
    seconds: float
    introductions: set[str]
    peak_rss_mb: float = 0.0
    tracemalloc_peak_mb: float = 0.0


def refmail_sync(
    server: Dovecot,
    url: str,
    batch: int,
    clock: FixedClock,
    wrap: Callable[[Callable[[], SyncReport]], SyncReport] | None = None,
    stages: StageTimer | None = None,
) -> RefmailRun:
    """One full sync of the mailbox into a fresh database at `url` (already empty)."""
    engine = make_engine(url)
    try:
        migrate(engine)
        factory = session_factory(engine)
        settings = ImapSettings(
            host=server.host,
            port=server.port,
            tls="none",
            user=USER,
            password_env=PASSWORD_ENV,
            batch_size=batch,
        )
        account = Account(name="bench", address=REFMAIL, owners=(OWNER,), imap=settings)
        with connect(settings) as client:
            source: Source = ImapSource(client, batch_size=batch)
            if stages is not None:
                source = stages.source(source)  # type: ignore[arg-type]

            def run() -> SyncReport:
                return sync_account(factory, account, source, ("INBOX",), FollowUps(), clock)

            start = time.perf_counter()
            with stages.patched() if stages else contextlib.nullcontext():
                report = wrap(run) if wrap else run()
            seconds = time.perf_counter() - start
        with factory() as session:
            found = set(
                session.scalars(
                    select(m.MessageRecord.message_id).join(
                        m.Introduction, m.Introduction.message_pk == m.MessageRecord.id
                    )
                )
            )
            rows = session.scalar(select(func.count()).select_from(m.Introduction)) or 0
        assert rows == len(found), f"{rows} introduction rows for {len(found)} messages"
        return RefmailRun(report, seconds, found)
    finally:
        engine.dispose()


class StageTimer:
    """Wall time per sync step, from light wrappers around refmail.sync's own functions.

    Cheaper and truer than cProfile (microseconds per message): triage is `_is_candidate`;
    parse and classify are `parse_message` and `classify`; record is the rest of `_ingest_batch`
    (database reads and writes, savepoints); IMAP is the time spent inside the source.
    """

    PATCHED = ("_is_candidate", "_ingest_batch", "parse_message", "classify")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(
            ("imap headers", "imap bodies", *self.PATCHED), 0.0
        )

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        import refmail.sync as sync_module

        saved = {name: getattr(sync_module, name) for name in self.PATCHED}
        for name, fn in saved.items():
            setattr(sync_module, name, self._timed(name, fn))
        try:
            yield
        finally:
            for name, fn in saved.items():
                setattr(sync_module, name, fn)

    def _timed(self, name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return wrapper

    def source(self, inner: ImapSource) -> TimedSource:
        return TimedSource(inner, self.seconds)

    def rows(self, total: float) -> list[tuple[str, float]]:
        s = self.seconds
        ingest_rest = s["_ingest_batch"] - s["classify"]
        rows = [
            ("IMAP: header batches (scan)", s["imap headers"]),
            ("IMAP: whole candidates (fetch)", s["imap bodies"]),
            ("triage: envelope parse + rules", s["_is_candidate"]),
            ("parse_message (whole message)", s["parse_message"]),
            ("classify (detect)", s["classify"]),
            ("record: DB reads/writes, savepoints", ingest_rest),
        ]
        rows.append(("commit, cursor, the rest", total - sum(t for _, t in rows)))
        return rows


class TimedSource:
    """An ImapSource that adds the time spent in it to a StageTimer's counters."""

    def __init__(self, inner: ImapSource, seconds: dict[str, float]) -> None:
        self.inner = inner
        self.seconds = seconds

    def scan(self, folder: str, cursor: Cursor) -> Iterator[Batch]:
        batches = iter(self.inner.scan(folder, cursor))
        while True:
            start = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            finally:
                self.seconds["imap headers"] += time.perf_counter() - start
            yield batch

    def fetch(self, folder: str, keys: Sequence[Key]) -> dict[Key, bytes]:
        start = time.perf_counter()
        try:
            return self.inner.fetch(folder, [int(k) for k in keys])  # type: ignore[return-value]
        finally:
            self.seconds["imap bodies"] += time.perf_counter() - start


def _vm_hwm_kb() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+)", status)
    return int(match.group(1)) if match else None


def _reset_hwm() -> bool:
    """Reset the peak-RSS mark (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="refmail-bench-db-") as tmp:
        yield f"sqlite:///{tmp}/refmail.db"


@contextlib.contextmanager
def postgres_url(url: str) -> Iterator[str]:
    """A throw-away schema in the PostgreSQL database at `url`, dropped afterwards."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        joiner = "&" if "?" in url else "?"
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


# ---- profile -------------------------------------------------------------------------------

STAGES = (  # (label, file, function): cumulative time of one pipeline step
    ("IMAP headers (ImapSource.scan)", "refmail/imap.py", "scan"),
    ("IMAP bodies (ImapSource.fetch)", "refmail/imap.py", "fetch"),
    ("triage (_is_candidate)", "refmail/sync.py", "_is_candidate"),
    ("full parse (parse_message)", "refmail/parse.py", "parse_message"),
    ("classify (detect)", "refmail/detect.py", "classify"),
    ("record (_ingest_batch, less classify)", "refmail/sync.py", "_ingest_batch"),
    ("commits (Session.commit)", "sqlalchemy/orm/session.py", "commit"),
)
PACKAGES = (  # (label, markers in "file:function" of where own time is spent)
    ("imapclient response parsing", ("imapclient/response_",)),
    ("imaplib + socket reads", ("imaplib.py", "socket.py", "ssl.py", "recv_into", "readline")),
    ("imapclient other", ("imapclient/",)),
    ("DB driver (sqlite3/psycopg)", ("sqlite3", "psycopg", "do_execute", "do_commit")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("alembic", ("alembic/",)),
    ("refmail.detect (incl. its regexes)", ("refmail/detect",)),  # detect.py and detect_*.py
    ("refmail.parse (incl. its regexes)", ("refmail/parse.py",)),
    ("email package (stdlib)", ("/email/",)),
    ("email-validator", ("email_validator",)),
    ("refmail sync/record/plan", ("refmail/",)),
)


def _where(key: tuple[str, int, str], callers: dict) -> str:  # type: ignore[type-arg]
    """Where own time counts: a C function (regex, recv, execute) counts for its main caller."""
    filename, _line, name = key
    if filename != "~" or not callers:
        return f"{filename}:{name}"
    caller = max(callers.items(), key=lambda item: item[1][2])[0]
    return f"{caller[0]}:{caller[2]}|{name}"


def profile_breakdown(
    profile: cProfile.Profile,
) -> tuple[list[tuple[str, float]], list[tuple[str, float]], float]:
    """(pipeline stages by cumulative time, packages by own time, total seconds)."""
    raw = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    cumulative = {(f, n): 0.0 for _, f, n in STAGES}
    packages: dict[str, float] = {}
    total = 0.0
    for key, (_cc, _nc, tottime, cumtime, callers) in raw.items():
        total += tottime
        for _label, file, name in STAGES:
            if key[0].endswith(file) and key[2] == name:
                cumulative[(file, name)] += cumtime
        where = _where(key, callers)
        label = next((lb for lb, marks in PACKAGES if any(k in where for k in marks)), "other")
        packages[label] = packages.get(label, 0.0) + tottime
    stages = [(label, cumulative[(file, name)]) for label, file, name in STAGES]
    classify_time = cumulative[("refmail/detect.py", "classify")]
    stages = [
        (label, t - classify_time if label.startswith("record") else t) for label, t in stages
    ]
    return stages, sorted(packages.items(), key=lambda item: -item[1]), total


def print_top(profile: cProfile.Profile, limit: int = 25) -> None:
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(limit)


# ---- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--intro-every", type=int, default=50)
    parser.add_argument("--size-scale", type=float, default=1.0, help="shrink/grow all messages")
    parser.add_argument("--load", choices=("maildir", "multiappend", "append"), default="maildir")
    parser.add_argument("--postgres", metavar="URL", help="also sync into PostgreSQL at URL")
    parser.add_argument("--profile", action="store_true", help="cProfile one more refmail run")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    if find_dovecot_binary() is None:
        print("dovecot not installed: run .ci/setup-dovecot.sh", file=sys.stderr)
        return 2
    os.environ.setdefault(PASSWORD_ENV, "secret")

    gen = MailGenerator(args.messages, args.seed, OWNER, REFMAIL, args.intro_every, args.size_scale)
    results: list[Result] = []
    with Dovecot() as server:
        os.environ[PASSWORD_ENV] = server.password
        sizes: list[int] = []

        def messages() -> Iterator[bytes]:
            for raw in gen.messages():
                sizes.append(len(raw))
                yield raw

        start = time.perf_counter()
        loaded = load_dovecot(server, USER, messages(), method=args.load)
        load_seconds = time.perf_counter() - start
        truth = {intro.message_id for intro in gen.introductions}
        clock = FixedClock(gen.at + timedelta(hours=1))  # just after the newest mail
        mean_kb = sum(sizes) / len(sizes) / 1024 if sizes else 0.0
        print(
            f"loaded {loaded} messages ({sum(sizes) / 1e6:.0f} MB, mean {mean_kb:.1f} KB, "
            f"{len(truth)} introductions) by {args.load} in {load_seconds:.1f} s "
            f"({loaded / load_seconds:,.0f}/s)"
        )
        # Warm Dovecot's index and the page cache once, so no run pays for the first read alone.
        bare_fetch(server, "BODY.PEEK[HEADER]", args.batch)

        n, size, secs = bare_fetch(server, "BODY.PEEK[HEADER]", args.batch)
        headers = Result("imapclient BODY.PEEK[HEADER]", n, secs, f"{size / n:.0f} B/msg")
        n, size, secs = bare_fetch(server, "BODY.PEEK[]", args.batch)
        whole = Result("imapclient BODY.PEEK[]", n, secs, f"{size / n / 1024:.1f} KB/msg")
        results += [headers, whole]

        runs: dict[str, RefmailRun] = {}
        stages = StageTimer()
        with sqlite_url() as url:
            hwm_ok = _reset_hwm()
            before = _vm_hwm_kb() or 0
            run = refmail_sync(server, url, args.batch, clock, stages=stages)
            after = _vm_hwm_kb()
            run.peak_rss_mb = (after or 0) / 1024 if hwm_ok and after else 0.0
            runs["sqlite"] = run
            rss_note = (
                f"peak RSS {run.peak_rss_mb:.0f} MB (reset before: {before / 1024:.0f} MB)"
                if hwm_ok
                else "peak RSS (whole process) "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
            )
            results.append(
                Result("refmail sync_account, SQLite", run.report.scanned, run.seconds, rss_note)
            )
        if args.postgres:
            with postgres_url(args.postgres) as url:
                run = refmail_sync(server, url, args.batch, clock)
                runs["postgres"] = run
                results.append(
                    Result("refmail sync_account, PostgreSQL", run.report.scanned, run.seconds)
                )
        if not args.no_tracemalloc:
            with sqlite_url() as url:

                def traced(fn: Callable[[], SyncReport]) -> SyncReport:
                    tracemalloc.start()
                    try:
                        return fn()
                    finally:
                        runs["sqlite"].tracemalloc_peak_mb = (
                            tracemalloc.get_traced_memory()[1] / 2**20
                        )
                        tracemalloc.stop()

                run = refmail_sync(server, url, args.batch, clock, traced)
                results.append(
                    Result(
                        "refmail, SQLite, under tracemalloc",
                        run.report.scanned,
                        run.seconds,
                        f"tracemalloc peak {runs['sqlite'].tracemalloc_peak_mb:.1f} MB",
                    )
                )
        profile = None
        if args.profile:
            with sqlite_url() as url:
                profile = cProfile.Profile()

                def profiled(fn: Callable[[], SyncReport]) -> SyncReport:
                    assert profile is not None
                    return profile.runcall(fn)

                run = refmail_sync(server, url, args.batch, clock, profiled)
                results.append(
                    Result("refmail, SQLite, under cProfile", run.report.scanned, run.seconds)
                )

    print_table(args, results, headers, whole, runs, truth)
    print("\nwhere the SQLite run's time went (wall time per step, no profiler):")
    for label, seconds in stages.rows(runs["sqlite"].seconds):
        share = seconds / runs["sqlite"].seconds
        print(f"  {label:<38} {seconds:>7.2f} s  {share:>5.0%}")
    if profile is not None:
        print_profile(profile)
    ok = all(r.introductions == truth for r in runs.values())
    return 0 if ok else 1


def print_table(
    args: argparse.Namespace,
    results: list[Result],
    headers: Result,
    whole: Result,
    runs: dict[str, RefmailRun],
    truth: set[str],
) -> None:
    cores = os.cpu_count()
    print()
    print(
        f"machine: {cores} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {_dovecot_version()}; "
        f"{args.messages} messages, batches of {args.batch}"
    )
    print(f"{'step':<38} {'messages':>8} {'seconds':>8} {'msg/s':>9}  note")
    for r in results:
        print(f"{r.name:<38} {r.messages:>8} {r.seconds:>8.2f} {r.rate:>9,.0f}  {r.note}")
    print()
    for name, run in runs.items():
        rate = run.report.scanned / run.seconds if run.seconds else 0.0
        rep = run.report
        share = rep.candidates / max(rep.scanned, 1)
        print(
            f"refmail ({name}): {rate:,.0f} msg/s = {rate / headers.rate:.2f} x the header "
            f"baseline, {rate / whole.rate:.2f} x the whole-message baseline; scanned "
            f"{rep.scanned}, candidates {rep.candidates} ({share:.0%}), recorded {rep.recorded}, "
            f"follow-ups {rep.follow_ups}, malformed {rep.malformed}"
        )
        verdict = "OK" if run.introductions == truth else "MISMATCH"
        print(
            f"  introductions: found {len(run.introductions)} (report {rep.introductions}) "
            f"vs generated {len(truth)}: {verdict}"
            + (
                f" (missed {len(truth - run.introductions)}, extra "
                f"{len(run.introductions - truth)})"
                if verdict != "OK"
                else ""
            )
        )
    sqlite = runs.get("sqlite")
    if sqlite is not None:
        print(
            f"  memory (SQLite run): peak RSS {sqlite.peak_rss_mb:.0f} MB, "
            f"tracemalloc peak {sqlite.tracemalloc_peak_mb:.1f} MB"
        )


def print_profile(profile: cProfile.Profile) -> None:
    stages, packages, total = profile_breakdown(profile)
    print(f"\nwhere refmail's sync spends its time (cProfile, {total:.1f} s in all):")
    print("  by pipeline step (cumulative):")
    for label, seconds in stages:
        print(f"    {label:<36} {seconds:>7.2f} s  {seconds / total:>5.0%}")
    print("  by package (own time; C calls such as regex or recv count for their caller):")
    for label, seconds in packages:
        print(f"    {label:<36} {seconds:>7.2f} s  {seconds / total:>5.0%}")
    print()
    print_top(profile, 20)


def _dovecot_version() -> str:
    binary = find_dovecot_binary()
    if binary is None:
        return "no dovecot"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return "Dovecot " + (out.stdout.split() or ["?"])[0]


if __name__ == "__main__":
    sys.exit(main())
