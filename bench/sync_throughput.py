"""refmail's first sync of a big mailbox beside mbsync and a bare imapclient fetch of the same one.

    python3 -m bench.sync_throughput [--messages 10000 50000] [--rounds 3] [--batch 500]
        [--postgres URL | --no-postgres] [--mbsync-fsync both|yes|no] [--seed 1] [--profile]
        [--before DIR]

For each size, a private Dovecot (tests/support/dovecot.py) is loaded with generated mail
(tests/support/mailgen.py in its "real INBOX" mode: ~17 KB messages with quoted history,
signatures and HTML parts, the owner named on ~80% of them, 2% introductions of three shapes).
Then, over several rounds, each round in a rotated order, every contestant reads the whole INBOX:
- imapclient, headers: SELECT, UID SEARCH, BODY.PEEK[HEADER] in batches of --batch;
- imapclient, whole messages: the same with BODY.PEEK[];
- mbsync (Debian package isync) pulling the INBOX into a fresh local Maildir, when installed,
  with its default FSync yes (a flush per message: slow on a busy disk) and with FSync no;
- refmail: `python -m refmail --config C sync --once` as a child process on a fresh SQLite
  database, and on a throw-away PostgreSQL schema (--postgres, default the local test database);
  the whole process counts (start-up and migrations too), and its own peak RSS (wait4); and,
  sampled from /proc, the peak RSS and CPU time of its whole process tree (its reader pool's
  processes are not its children by the end, so wait4 misses them).
With --before DIR (another checkout, e.g. `git worktree add /tmp/old <commit>`), that version's
refmail runs in the same rounds, on its own fresh databases, as "before: refmail …".
Prints per size the median msg/s of each contestant, refmail ÷ mbsync and refmail ÷ bare
imapclient, refmail's peak RSS; then the scaling line (cost per message at each size). Sanity
checks only: every contestant read every message, refmail found the generated introductions.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import (
    PG_URL,
    REFMAIL,
    child_env,
    database,
    machine_noted,
    maildir_count,
    mbsync_binary,
    mbsync_config,
    median,
    ratio,
    run_child,
    table,
)
from tests.support.dovecot import Dovecot, find_dovecot_binary
from tests.support.mailbox import OWNER, PASSWORD_ENV, account_toml
from tests.support.mailbox import REFMAIL as REFMAIL_ADDRESS
from tests.support.mailgen import SHAPES, MailGenerator, load_dovecot

USER = "bench"


@dataclass
class Run:
    """One contestant's read of the whole mailbox."""

    messages: int
    seconds: float
    rss_mb: float = 0.0
    problem: str = ""
    tree_rss_mb: float = 0.0  # the process and its descendants at once (refmail's pool)
    tree_cpu: float = 0.0  # their CPU seconds, all together


@dataclass
class Tally:
    """Every run of one contestant at one size."""

    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return median([r.messages / r.seconds for r in self.runs if r.seconds])

    @property
    def seconds(self) -> float:
        return median([r.seconds for r in self.runs])

    @property
    def rss(self) -> float:
        return max((r.rss_mb for r in self.runs), default=0.0)

    @property
    def tree_rss(self) -> float:
        return max((r.tree_rss_mb for r in self.runs), default=0.0)

    @property
    def tree_cpu(self) -> float:
        return median([r.tree_cpu for r in self.runs])

    @property
    def problems(self) -> list[str]:
        return [r.problem for r in self.runs if r.problem]


# --- the contestants -----------------------------------------------------------------------


def bare_fetch(server: Dovecot, item: str, batch: int) -> Run:
    """SELECT, UID SEARCH, FETCH `item` in batches: nothing else."""
    client = server.client(USER)
    try:
        start = time.perf_counter()
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        count = 0
        for i in range(0, len(uids), batch):
            count += len(client.fetch(uids[i : i + batch], [item]))
        return Run(count, time.perf_counter() - start)
    finally:
        client.logout()


def mbsync(server: Dovecot, fsync: bool) -> Run:
    """mbsync pulls the INBOX into a fresh Maildir on disk; its time and peak RSS."""
    binary = mbsync_binary()
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="refmail-bench-mbsync-") as tmp:
        config = mbsync_config(Path(tmp), server.host, server.port, USER, server.password)
        config.write_text(f"FSync {'yes' if fsync else 'no'}\n" + config.read_text())
        child = run_child([binary, "-c", str(config), "-q", "bench"])
        count = maildir_count(Path(tmp) / "mail" / "INBOX")
    problem = f"mbsync exit {child.returncode}: {child.err.strip()[-300:]}"
    return Run(count, child.seconds, child.max_rss_mb, problem if child.returncode else "")


def refmail_sync(server: Dovecot, url: str, batch: int, truth: set[str], checkout: str = "") -> Run:
    """`refmail sync --once` as a whole process on the fresh database at `url` (the refmail of
    `checkout` when given: another version timed in the same rounds)."""
    with tempfile.TemporaryDirectory(prefix="refmail-bench-conf-") as tmp:
        config = Path(tmp) / "refmail.toml"
        config.write_text(
            f'database = "{url}"\n'
            + account_toml(
                server.host, server.port, USER, name="bench", imap_extra=f"batch_size = {batch}\n"
            )
        )
        env = child_env({PASSWORD_ENV: server.password})
        if checkout:
            env["PYTHONPATH"] = str(Path(checkout).resolve())
        child = run_child(
            [*REFMAIL, "--config", str(config), "sync", "--once"], env, cwd=tmp, tree=True
        )
    scanned = re.search(r"scanned (\d+)", child.out)
    problem = ""
    if child.returncode or scanned is None:
        problem = f"refmail exit {child.returncode}: {(child.err or child.out).strip()[-300:]}"
    else:
        problem = _introductions_problem(url, truth)
    count = int(scanned.group(1)) if scanned else 0
    return Run(count, child.seconds, child.max_rss_mb, problem, child.tree_rss_mb, child.tree_cpu)


def _introductions_problem(url: str, truth: set[str]) -> str:
    """What differs between the introductions refmail recorded and the generated ones."""
    from sqlalchemy import select

    from refmail import models as m
    from refmail.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = set(
                conn.scalars(
                    select(m.MessageRecord.message_id).join(
                        m.Introduction, m.Introduction.message_pk == m.MessageRecord.id
                    )
                )
            )
    finally:
        engine.dispose()
    if found == truth:
        return ""
    return f"introductions: missed {len(truth - found)}, extra {len(found - truth)}"


# --- one size ------------------------------------------------------------------------------


def contestants(
    server: Dovecot, args: argparse.Namespace, truth: set[str]
) -> list[tuple[str, Callable[[], Run]]]:
    found: list[tuple[str, Callable[[], Run]]] = [
        ("imapclient headers", lambda: bare_fetch(server, "BODY.PEEK[HEADER]", args.batch)),
        ("imapclient whole", lambda: bare_fetch(server, "BODY.PEEK[]", args.batch)),
    ]
    if mbsync_binary() is not None:
        for fsync in {"yes": (True,), "no": (False,), "both": (True, False)}[args.mbsync_fsync]:
            name = f"mbsync (FSync {'yes' if fsync else 'no'})"
            found.append((name, lambda fsync=fsync: mbsync(server, fsync)))  # type: ignore[misc]
    for kind in ("sqlite", *(() if args.no_postgres else ("postgres",))):

        def run(kind: str = kind) -> Run:
            with database(kind, args.postgres) as url:
                return refmail_sync(server, url, args.batch, truth)

        found.append((f"refmail {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}", run))
        if args.before:

            def before(kind: str = kind) -> Run:
                with database(kind, args.postgres) as url:
                    return refmail_sync(server, url, args.batch, truth, args.before)

            found.append(
                (f"before: refmail {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}", before)
            )
    return found


def one_size(n: int, args: argparse.Namespace) -> dict[str, Tally]:
    gen = MailGenerator(n, args.seed, owner_share=0.8, signatures=True, shapes=SHAPES)
    with Dovecot() as server:
        sizes: list[int] = []

        def messages() -> Iterator[bytes]:
            for raw in gen.messages():
                sizes.append(len(raw))
                yield raw

        start = time.perf_counter()
        loaded = load_dovecot(server, USER, messages())
        truth = {intro.message_id for intro in gen.introductions}
        print(
            f"\n{n} messages: loaded {loaded} ({sum(sizes) / 1e6:.0f} MB, mean "
            f"{sum(sizes) / max(len(sizes), 1) / 1024:.1f} KB, {len(truth)} introductions) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        bare_fetch(server, "BODY.PEEK[]", args.batch)  # Dovecot's index and the page cache, once
        runs = contestants(server, args, truth)
        tallies = {name: Tally(name) for name, _ in runs}
        for r in range(args.rounds):
            order = runs[r % len(runs) :] + runs[: r % len(runs)]
            for name, fn in order:
                result = fn()
                tallies[name].runs.append(result)
                if result.messages != loaded and not result.problem:
                    result.problem = f"read {result.messages} of {loaded}"
                print(
                    f"  round {r + 1}: {name:<22} {result.seconds:7.2f} s "
                    f"{result.messages / result.seconds if result.seconds else 0:>8,.0f} msg/s"
                    + (f"  peak RSS {result.rss_mb:.0f} MB" if result.rss_mb else "")
                    + (
                        f" (all processes {result.tree_rss_mb:.0f} MB, CPU {result.tree_cpu:.1f} s)"
                        if result.tree_rss_mb
                        else ""
                    )
                    + (f"  PROBLEM: {result.problem}" if result.problem else ""),
                    flush=True,
                )
        if args.profile:
            profile(server, args)
    report(n, tallies)
    return tallies


def report(n: int, tallies: dict[str, Tally]) -> None:
    print(f"\n{n} messages, medians of {len(next(iter(tallies.values())).runs)} rounds:")
    headers = tallies["imapclient headers"].rate
    whole = tallies["imapclient whole"].rate
    mbsyncs = [t for name, t in tallies.items() if name.startswith("mbsync")]
    rows = []
    for t in tallies.values():
        rows.append(
            [
                t.name,
                f"{t.seconds:.2f}",
                f"{t.rate:,.0f}",
                f"{t.rss:.0f}" if t.rss else "-",
                f"{t.tree_rss:.0f}" if t.tree_rss else "-",
                f"{t.tree_cpu:.1f}" if t.tree_rss else "-",
                "; ".join(sorted(set(t.problems))) or "ok",
            ]
        )
    table(
        [
            "contestant",
            "seconds",
            "msg/s",
            "peak RSS MB",
            "all processes MB",
            "CPU s, all processes",
            "checks",
        ],
        rows,
    )
    if not mbsyncs:
        print("mbsync not installed (apt-get install isync): no mbsync column")
    for t in tallies.values():
        if not t.name.startswith("refmail"):
            continue
        versus = [f"÷ {m.name} {ratio(t.rate, m.rate)}" for m in mbsyncs]
        versus += [f"÷ imapclient headers {ratio(t.rate, headers)}"]
        versus += [f"÷ imapclient whole {ratio(t.rate, whole)}"]
        print(f"{t.name}: " + ", ".join(versus))


def profile(server: Dovecot, args: argparse.Namespace) -> None:
    """One more refmail run (SQLite) under cProfile; its 25 most expensive functions."""
    with database("sqlite") as url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "refmail.toml"
        config.write_text(
            f'database = "{url}"\n' + account_toml(server.host, server.port, USER, name="bench")
        )
        env = child_env({PASSWORD_ENV: server.password})
        cmd = [sys.executable, "-m", "cProfile", "-s", "tottime", "-m", "refmail"]
        child = run_child([*cmd, "--config", str(config), "sync", "--once"], env, cwd=tmp)
    lines = child.out.splitlines()
    start = next((k for k, line in enumerate(lines) if "function calls" in line), 0)
    print("\nrefmail sync under cProfile (SQLite), by own time:")
    print("\n".join(lines[start : start + 32]))


def scaling(sizes: list[int], results: dict[int, dict[str, Tally]]) -> None:
    """Cost per message (µs) of each contestant at each size, and the largest ÷ smallest."""
    if len(sizes) < 2:
        return
    print("\nscaling: cost per message (µs), medians")
    names = list(results[sizes[0]])
    rows = []
    for name in names:
        costs = [1e6 / results[n][name].rate if results[n][name].rate else 0.0 for n in sizes]
        growth = ratio(costs[-1], costs[0])
        rows.append([name, *(f"{c:,.0f}" for c in costs), growth])
    table(["contestant", *(f"{n:,}" for n in sizes), f"{sizes[-1]:,} ÷ {sizes[0]:,}"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", metavar="URL", default=PG_URL)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--mbsync-fsync",
        choices=("yes", "no", "both"),
        default="both",
        help="mbsync's FSync: its default yes (a flush per message), no, or both as two columns",
    )
    parser.add_argument(
        "--before", metavar="DIR", help="another checkout's refmail, timed in the same rounds"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one more refmail run")
    args = parser.parse_args(argv)
    if find_dovecot_binary() is None:
        print("dovecot not installed: run .ci/setup-dovecot.sh", file=sys.stderr)
        return 2
    print(f"owner {OWNER}, refmail {REFMAIL_ADDRESS}, batches of {args.batch}")
    results: dict[int, dict[str, Tally]] = {}
    with machine_noted():
        for n in args.messages:
            results[n] = one_size(n, args)
        scaling(args.messages, results)
    problems = [p for tallies in results.values() for t in tallies.values() for p in t.problems]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
