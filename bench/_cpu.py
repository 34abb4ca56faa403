"""Where the CPU went during a bench run, read from /proc (Linux): a process and its
descendants, the PostgreSQL backends serving it, and the whole machine. Snapshots are taken
before and after the load; the differences say whether the client, the server or the database
was short of a core.

Not a bench itself: bench/web_oneclick.py uses it. Elsewhere than Linux every figure is 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, user + system seconds) of a live process, or None."""
    try:
        raw = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _processes() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in PROC.glob("[0-9]*") if PROC.is_dir() else ():
        stat = _stat(entry.name)
        if stat is not None:
            found[int(entry.name)] = stat
    return found


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds used so far by each process of the tree at `root` and by each of the given
    PostgreSQL backends, and by the machine (busy and total, over all cores)."""

    tree: dict[int, float]
    postgres: dict[int, float]
    busy: float
    total: float


def snapshot(root: int, backends: Iterable[int] = ()) -> Snapshot:
    """Per process, so that one ending or starting between two snapshots (another program's
    database connection) counts only for the time it ran."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            tree[pid] = procs[pid][2]
        todo.extend(children.get(pid, ()))
    postgres = {pid: procs[pid][2] for pid in backends if pid in procs}
    busy, total = _machine()
    return Snapshot(tree, postgres, busy, total)


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _machine() -> tuple[float, float]:
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0, 0.0
    ticks = [int(x) for x in first[1:8]]  # user nice system idle iowait irq softirq
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / TICK, sum(ticks) / TICK


@dataclass(frozen=True)
class Usage:
    """CPU seconds between two snapshots: the server's tree, PostgreSQL, the client, and the
    machine's busy and total core-seconds (so, e.g., `busy / total` is how loaded it was).
    PostgreSQL is the contestant's own backends: its background writers and everybody else's
    connections are in the rest."""

    server: float
    postgres: float
    client: float
    busy: float
    total: float

    def cores(self, seconds: float) -> str:
        """Each part as cores used on average over `seconds` of load."""
        if seconds <= 0:
            return "-"
        other = max(0.0, self.busy - self.server - self.postgres - self.client)
        parts = (self.server, self.postgres, self.client, other)
        return " ".join(f"{x / seconds:.2f}" for x in parts) + f" of {self.total / seconds:.1f}"

    def per_request(self, requests: int) -> str:
        """CPU milliseconds per request of the server and of PostgreSQL: steadier than req/s
        on a shared machine."""
        if requests <= 0:
            return "-"
        return f"{self.server * 1000 / requests:.2f} {self.postgres * 1000 / requests:.2f}"


def usage(before: Snapshot, after: Snapshot, client: float) -> Usage:
    return Usage(
        server=_grown(before.tree, after.tree),
        postgres=_grown(before.postgres, after.postgres),
        client=client,
        busy=after.busy - before.busy,
        total=after.total - before.total,
    )
