"""What one refmail command costs as a whole process: start-up, imports, the work, exit.

    python3 -m bench.startup [--runs 10] [--importtime] [--before DIR]

Median wall time over --runs of each, run as child processes (alternated, one of each per
round), with each child's own peak RSS:
- `python -c pass` (the interpreter alone, the floor);
- `python -m refmail --help`;
- `python -m refmail sync --once` on an empty Maildir account (SQLite, migrated beforehand);
- `python -m refmail dispatch` on that account, with nothing due (the other cron command);
- one new message over IMAP (a private Dovecot; each round APPENDs one referral to the owner,
  then every contestant picks it up): `refmail sync --once`, and mbsync pulling it into a local
  Maildir (Debian package isync; its column is skipped, and said so, when it is not installed).
With --before DIR (another checkout, e.g. `git worktree add /tmp/refmail-main main`), the same
refmail commands of that checkout run in the same rounds, on databases of their own, and each
row says before and after. With --importtime, what each refmail command imports: the import
time in all, by package (python -X importtime), and which heavy libraries it loads.
Sanity checks only: every run exits 0, and the IMAP contestants each got the one new message.

The children use a bytecode cache of their own (PYTHONPYCACHEPREFIX in the bench's temporary
directory, filled by the untimed warm-up runs), as an installed refmail has its .pyc files: with
PYTHONDONTWRITEBYTECODE set, as on CI machines, every run would compile refmail's sources
again (≈ 50 ms a process) and time that. Each row gives CPU time (user + system) beside wall
time: on a shared machine wall time is mostly waiting for a core.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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


HEAVY = ("alembic", "jinja2", "starlette", "uvicorn", "apscheduler", "imapclient", "sqlalchemy")


def importtime(name: str, cmd: list[str], env: dict[str, str], cwd: str) -> None:
    """What one refmail command imports (python -X importtime): the time in all, the heavy
    libraries among it, and the 8 packages whose modules' own time is largest."""
    child = run_child([sys.executable, "-X", "importtime", *cmd[1:]], env, cwd=cwd)
    totals: dict[str, int] = {}
    for line in child.err.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    heavy = ", ".join(h for h in HEAVY if h in totals) or "none"
    print(f"\n{name}: imports {sum(totals.values()) / 1000:.0f} ms in all; heavy: {heavy}")
    rows = sorted(totals.items(), key=lambda item: -item[1])[:8]
    table(["package", "own ms"], [[package, f"{us / 1000:.0f}"] for package, us in rows])


@dataclass(frozen=True)
class Checkout:
    """A refmail to time: its label, the environment that puts it first, its two configs."""

    label: str
    env: dict[str, str]
    local: Path
    remote: Path


def checkouts(directory: Path, server: Dovecot, before: str | None) -> list[Checkout]:
    """This checkout (and the --before one), each with its own Maildir and IMAP databases."""
    env = child_env({PASSWORD_ENV: server.password, "PYTHONPYCACHEPREFIX": str(directory / "pyc")})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's docstring
    found = [Checkout("", env, maildir_config(directory), imap_config(directory, server))]
    if before:
        other = directory / "before"
        other.mkdir()
        before_env = {**env, "PYTHONPATH": str(Path(before).resolve())}
        found.append(
            Checkout("before: ", before_env, maildir_config(other), imap_config(other, server))
        )
    return found


def refmail_steps(checkout: Checkout, tmp: str) -> list[tuple[str, Callable[[], Child]]]:
    sync = ("sync", "--once")
    label, env = checkout.label, checkout.env
    return [
        (f"{label}refmail --help", lambda: run_child([*REFMAIL, "--help"], env, cwd=tmp)),
        (
            f"{label}refmail sync, empty Maildir",
            lambda: run_child([*REFMAIL, "--config", str(checkout.local), *sync], env, cwd=tmp),
        ),
        (
            f"{label}refmail dispatch, nothing due",
            lambda: run_child(
                [*REFMAIL, "--config", str(checkout.local), "dispatch"], env, cwd=tmp
            ),
        ),
        (
            f"{label}refmail sync, 1 new (IMAP)",
            lambda: run_child([*REFMAIL, "--config", str(checkout.remote), *sync], env, cwd=tmp),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--before", metavar="DIR", help="another checkout to time beside this")
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
        contestants = checkouts(directory, server, args.before)
        for checkout in contestants:  # migrations and the first (empty) sync are not timed
            for config in (checkout.local, checkout.remote):
                warm = run_child(
                    [*REFMAIL, "--config", str(config), "sync", "--once"], checkout.env, cwd=tmp
                )
                if warm.returncode:
                    raise SystemExit(f"refmail sync failed: {warm.err.strip()[-500:]}")
        mbsync_conf = mbsync_config(
            directory / "mbsync", server.host, server.port, USER, server.password
        )
        if mbsync:
            run_child([mbsync, "-c", str(mbsync_conf), "-q", "bench"])
        inbox = directory / "mbsync" / "mail" / "INBOX"
        env = contestants[0].env
        steps: list[tuple[str, Callable[[], Child]]] = [
            ("python -c pass", lambda: run_child([sys.executable, "-c", "pass"], env)),
        ]
        for checkout in contestants:
            steps += refmail_steps(checkout, tmp)
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
                if name.endswith("refmail sync, 1 new (IMAP)") and "scanned 1," not in child.out:
                    problems.append(f"{name}: {child.out.strip()[-200:]}")
        if mbsync and maildir_count(inbox) != args.runs:
            problems.append(f"mbsync pulled {maildir_count(inbox)} of {args.runs} messages")
        rows = []
        for name, children in results.items():
            times = [c.seconds * 1000 for c in children]
            cpu = [c.cpu * 1000 for c in children]
            rss = max(c.max_rss_mb for c in children)
            rows.append(
                [
                    name,
                    f"{median(times):.0f}",
                    f"{min(times):.0f}",
                    f"{max(times):.0f}",
                    f"{median(cpu):.0f}",
                    f"{min(cpu):.0f}",
                    f"{rss:.0f}",
                ]
            )
        print(f"\nwhole processes, {args.runs} runs each (wall, and CPU = user + system):")
        headers = ["command", "median ms", "min ms", "max ms", "CPU median", "CPU min"]
        table([*headers, "peak RSS MB"], rows)
        if not mbsync:
            print("mbsync not installed (apt-get install isync): no mbsync row")

        def ms(name: str) -> float:
            return median([c.seconds for c in results.get(name, [])])

        for label in [c.label for c in contestants]:
            help_ratio = ratio(ms(f"{label}refmail --help"), ms("python -c pass"))
            print(f"{label}refmail --help ÷ python -c pass: {help_ratio}")
            if mbsync:
                print(
                    f"{label}refmail sync ÷ mbsync, one new message: "
                    f"{ratio(ms(f'{label}refmail sync, 1 new (IMAP)'), ms('mbsync, 1 new'))}"
                )
        if args.before:
            for step in (
                "refmail --help",
                "refmail sync, empty Maildir",
                "refmail dispatch, nothing due",
                "refmail sync, 1 new (IMAP)",
            ):
                print(f"{step}: after ÷ before {ratio(ms(step), ms(f'before: {step}'))}")
        for problem in problems:
            print("PROBLEM:", problem)
        if args.importtime:
            for checkout in contestants:
                for name, cmd in (
                    ("refmail --help", [*REFMAIL, "--help"]),
                    ("refmail sync, Maildir", [*REFMAIL, "--config", str(checkout.local), "sync"]),
                    (
                        "refmail dispatch, nothing due",
                        [*REFMAIL, "--config", str(checkout.local), "dispatch"],
                    ),
                    ("refmail sync, IMAP", [*REFMAIL, "--config", str(checkout.remote), "sync"]),
                ):
                    importtime(f"{checkout.label}{name}", cmd, checkout.env, tmp)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
