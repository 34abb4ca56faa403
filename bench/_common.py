"""What the benches share: the machine line, medians and percentiles, throw-away databases,
child processes timed with their own peak RSS, refmail run as a command, and a plain table.

Not a bench itself (nothing to run): `python3 -m bench.NAME` scripts import it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("REFMAIL_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REFMAIL = (sys.executable, "-m", "refmail")  # this checkout's refmail, whatever is installed


# --- the machine ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_line(when: str) -> str:
    """The load average now; says the machine is shared when the 1-minute load is above 1."""
    one, five, fifteen = os.getloadavg()
    shared = "  (load > 1: the machine is shared, figures are noisy)" if one > 1 else ""
    return f"load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f}{shared}"


def machine_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc {usable} ({os.cpu_count()} CPUs), {cpu_model()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


@contextlib.contextmanager
def machine_noted() -> Iterator[None]:
    """Print the machine and the load before the bench, and the load again after it."""
    print(machine_line())
    print(load_line("start"))
    try:
        yield
    finally:
        print(load_line("end"))


# --- figures -------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and a == a and b == b else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain left-aligned first column, right-aligned others."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
            )
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))


# --- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    """A fresh SQLite file in a temp directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="refmail-bench-db-") as tmp:
        yield f"sqlite:///{tmp}/refmail.db"


@contextlib.contextmanager
def postgres_url(url: str) -> Iterator[str]:
    """A throw-away schema in the PostgreSQL database at `url`, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        joiner = "&" if "?" in url else "?"
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
        admin.dispose()


@contextlib.contextmanager
def database(kind: str, pg_url: str = PG_URL) -> Iterator[str]:
    """A fresh database URL: kind "sqlite" or "postgres"."""
    with sqlite_url() if kind == "sqlite" else postgres_url(pg_url) as url:
        yield url


# --- child processes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """A finished child process: wall time, its own peak RSS, exit status and output, and its
    CPU time (user + system; steadier than wall time on a shared machine)."""

    seconds: float
    max_rss_mb: float
    returncode: int
    out: str
    err: str
    cpu: float = 0.0


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for children: this checkout first on the import path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def run_child(
    cmd: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None
) -> Child:
    """Run `cmd` to the end; its peak RSS comes from wait4 (this child alone, not the others)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        out.seek(0)
        err.seek(0)
        return Child(
            seconds,
            usage.ru_maxrss / 1024,  # KiB on Linux
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_utime + usage.ru_stime,
        )


def mbsync_binary() -> str | None:
    """mbsync (Debian package isync), or None: benches then skip its column and say so."""
    return shutil.which("mbsync")


def mbsync_config(directory: Path, host: str, port: int, user: str, password: str) -> Path:
    """An mbsync config pulling the server's INBOX into a Maildir under `directory`, plain
    IMAP on loopback (SSLType None) and LOGIN, as refmail's own config for the same server."""
    maildir = directory / "mail"
    maildir.mkdir(parents=True, exist_ok=True)
    config = directory / "mbsyncrc"
    config.write_text(
        f"IMAPAccount far\nHost {host}\nPort {port}\nUser {user}\nPass {password}\n"
        "SSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore far\nAccount far\n\n"
        f"MaildirStore near\nPath {maildir}/\nInbox {maildir}/INBOX\nSubFolders Verbatim\n\n"
        "Channel bench\nFar :far:\nNear :near:\nCreate Near\nSync Pull\nSyncState *\n"
    )
    config.chmod(0o600)
    return config


def maildir_count(path: Path) -> int:
    return sum(len(os.listdir(path / sub)) for sub in ("cur", "new") if (path / sub).is_dir())
