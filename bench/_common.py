"""What the benches share: the machine line, medians and percentiles, throw-away databases,
child processes timed with their own peak RSS (and, when asked, their whole process tree's: a
sync's reader pool runs in processes of its own), refmail run as a command, and a plain table.

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
import threading
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
    # With tree=True (see Tree): the most RSS the child and its descendants held at once, as
    # sampled, and the CPU time of them all.
    tree_rss_mb: float = 0.0
    tree_cpu: float = 0.0


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for children: this checkout first on the import path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def run_child(
    cmd: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    *,
    tree: bool = False,
) -> Child:
    """Run `cmd` to the end; its peak RSS comes from wait4 (this child alone, not the others).
    With `tree`, its process tree is sampled too (`Tree`): the pool a sync starts is counted."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        sampler = Tree(proc.pid) if tree else None
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        descendants_cpu, tree_rss = sampler.stop() if sampler else (0.0, 0.0)
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
            tree_rss,
            usage.ru_utime + usage.ru_stime + descendants_cpu if sampler else 0.0,
        )


class Tree:
    """Samples a process's descendants every `every` seconds from /proc, until stopped: the
    most RSS the process and they held at once, and the descendants' CPU time. A pool's
    workers outlive the process that waited for them (forkserver's are reparented when it
    exits), so wait4 never counts them; their CPU is the last sample of each, short by at most
    one interval of its work."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.cpu: dict[int, float] = {}  # descendant pid → its last CPU seconds seen
        self.peak_rss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[float, float]:
        """(the descendants' CPU seconds, the peak RSS in MB of the whole tree)."""
        self._stop.set()
        self._thread.join()
        return sum(self.cpu.values()), self.peak_rss_mb

    def _run(self) -> None:
        tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
        known: set[int] = set()
        while not self._stop.wait(self.every):
            stats = _proc_stats()
            known |= _descendants(self.pid, stats, known)
            rss = 0
            for pid in known | {self.pid}:
                if pid in stats:
                    _, cpu_ticks, pages = stats[pid]
                    rss += pages * page
                    if pid != self.pid:
                        self.cpu[pid] = cpu_ticks / tick
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)


def _proc_stats() -> dict[int, tuple[int, int, int]]:
    """pid → (parent pid, user + system CPU ticks, resident pages) of every process now."""
    found: dict[int, tuple[int, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # after the command's ")": state, ppid (4th field of stat), …, utime stime (14, 15), …,
        # rss (24)
        found[int(entry.name)] = (
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
            int(fields[21]),
        )
    return found


def _descendants(root: int, stats: dict[int, tuple[int, int, int]], known: set[int]) -> set[int]:
    """The processes whose parent chain reaches `root` or a process already known to descend
    from it (a pool worker whose forkserver has exited still counts)."""
    roots = known | {root}
    found: set[int] = set()
    for pid in stats:
        seen: set[int] = set()
        parent = pid
        while parent in stats and parent not in roots and parent not in seen and parent > 1:
            seen.add(parent)
            parent = stats[parent][0]
        if parent in roots and pid not in roots:
            found.add(pid)
    return found


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
