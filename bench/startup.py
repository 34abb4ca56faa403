"""What one refmail command costs as a whole process: start-up, imports, the work, exit.

    python3 -m bench.startup [--runs 10] [--importtime]

Median wall time over --runs of each, run as child processes (alternated, one of each per
round), with each child's own peak RSS:
- `python -c pass` (the interpreter alone, the floor);
- `python -m refmail --help`;
- `python -m refmail sync --once` on an empty Maildir account (SQLite, migrated beforehand);
- one new message over IMAP (a private Dovecot; each round APPENDs one referral to the owner,
  then both contestants pick it up): `refmail sync --once`, and mbsync pulling it into a local
  Maildir (Debian package isync; its column is skipped, and said so, when it is not installed).
With --importtime, the modules `refmail --help` spends most import time in (python -X importtime).
Sanity checks only: every run exits 0, and the IMAP contestants each got the one new message.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench._common import (
    REFMAIL,
    Child,
    child_env,
    machine_noted,
    maildir_count,
    mbsync_binary,
    mbsync_config,
    median,
    ratio,
    run_child,
    table,
)
from tests.support.dovecot import Dovecot
from tests.support.mailbox import OWNER, PASSWORD_ENV, account_toml
from tests.support.mailbox import REFMAIL as REFMAIL_ADDRESS
from tests.support.messages import numbered_referral

USER = "startup"


def maildir_config(directory: Path) -> Path:
    """A refmail config reading an empty local Maildir into a SQLite file."""
    maildir = directory / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    config = directory / "maildir.toml"
    config.write_text(
        f'database = "sqlite:///{directory}/maildir.db"\n\n[[accounts]]\nname = "local"\n'
        f'address = "{REFMAIL_ADDRESS}"\nowners = ["{OWNER}"]\ndelivery = "file"\n'
        f'drafts_dir = "{directory}/drafts"\n[accounts.maildir]\npath = "{maildir}"\n'
    )
    return config


def imap_config(directory: Path, server: Dovecot) -> Path:
    config = directory / "imap.toml"
    config.write_text(
        f'database = "sqlite:///{directory}/imap.db"\n'
        + account_toml(server.host, server.port, USER, name="imap")
    )
    return config


def importtime(env: dict[str, str]) -> None:
    """Where `refmail --help` spends its import time: each package's modules' own time summed
    (python -X importtime), the 12 largest."""
    child = run_child([sys.executable, "-X", "importtime", "-m", "refmail", "--help"], env)
    totals: dict[str, int] = {}
    for line in child.err.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    print(f"\n`refmail --help` imports: {sum(totals.values()) / 1000:.0f} ms in all, by package")
    rows = sorted(totals.items(), key=lambda item: -item[1])[:12]
    table(["package", "own ms"], [[name, f"{us / 1000:.0f}"] for name, us in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, list[Child]] = {}
    problems: list[str] = []
    mbsync = mbsync_binary()
    with (
        machine_noted(),
        tempfile.TemporaryDirectory(prefix="refmail-bench-startup-") as tmp,
        Dovecot() as server,
    ):
        directory = Path(tmp)
        env = child_env({PASSWORD_ENV: server.password})
        local = maildir_config(directory)
        remote = imap_config(directory, server)
        sync = ("sync", "--once")
        for config in (local, remote):  # migrations and the first (empty) sync are not timed
            warm = run_child([*REFMAIL, "--config", str(config), *sync], env, cwd=tmp)
            if warm.returncode:
                raise SystemExit(f"refmail sync failed: {warm.err.strip()[-500:]}")
        mbsync_conf = mbsync_config(
            directory / "mbsync", server.host, server.port, USER, server.password
        )
        if mbsync:
            run_child([mbsync, "-c", str(mbsync_conf), "-q", "bench"])
        inbox = directory / "mbsync" / "mail" / "INBOX"
        steps: list[tuple[str, Callable[[], Child]]] = [
            ("python -c pass", lambda: run_child([sys.executable, "-c", "pass"], env)),
            ("refmail --help", lambda: run_child([*REFMAIL, "--help"], env)),
            (
                "refmail sync, empty Maildir",
                lambda: run_child([*REFMAIL, "--config", str(local), *sync], env, cwd=tmp),
            ),
            (
                "refmail sync, 1 new (IMAP)",
                lambda: run_child([*REFMAIL, "--config", str(remote), *sync], env, cwd=tmp),
            ),
        ]
        if mbsync:
            steps.append(
                (
                    "mbsync, 1 new",
                    lambda: run_child([mbsync, "-c", str(mbsync_conf), "-q", "bench"]),
                )
            )
        for r in range(args.runs):
            server.append(USER, "INBOX", numbered_referral(r, datetime.now(UTC)))
            for name, fn in steps[r % len(steps) :] + steps[: r % len(steps)]:
                child = fn()
                results.setdefault(name, []).append(child)
                if child.returncode:
                    problems.append(f"{name}: exit {child.returncode} {child.err.strip()[-200:]}")
                if name.startswith("refmail sync, 1 new") and "scanned 1," not in child.out:
                    problems.append(f"{name}: {child.out.strip()[-200:]}")
        if mbsync and maildir_count(inbox) != args.runs:
            problems.append(f"mbsync pulled {maildir_count(inbox)} of {args.runs} messages")
        rows = []
        for name, children in results.items():
            times = [c.seconds * 1000 for c in children]
            rss = max(c.max_rss_mb for c in children)
            rows.append(
                [
                    name,
                    f"{median(times):.0f}",
                    f"{min(times):.0f}",
                    f"{max(times):.0f}",
                    f"{rss:.0f}",
                ]
            )
        print(f"\nwhole processes, {args.runs} runs each:")
        table(["command", "median ms", "min ms", "max ms", "peak RSS MB"], rows)
        if not mbsync:
            print("mbsync not installed (apt-get install isync): no mbsync row")

        def ms(name: str) -> float:
            return median([c.seconds for c in results.get(name, [])])

        print(
            f"refmail --help ÷ python -c pass: {ratio(ms('refmail --help'), ms('python -c pass'))}"
        )
        if mbsync:
            print(
                "refmail sync ÷ mbsync, one new message: "
                f"{ratio(ms('refmail sync, 1 new (IMAP)'), ms('mbsync, 1 new'))}"
            )
        for problem in problems:
            print("PROBLEM:", problem)
        if args.importtime:
            importtime(env)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
