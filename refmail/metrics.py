"""Counters the daemon keeps, rendered in the Prometheus text format for /metrics.

One `Metrics` object is made by the daemon and handed to whatever counts; follow-ups by state
are read from the database when scraped, so they are true across restarts and workers.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from refmail import models as m
from refmail.db import SessionFactory

HELP = {
    "refmail_messages_synced_total": ("counter", "Messages scanned by sync."),
    "refmail_introductions_total": ("counter", "Introductions recorded."),
    "refmail_follow_ups_delivered_total": ("counter", "Follow-ups delivered by this process."),
    "refmail_errors_total": ("counter", "Failed sync or dispatch runs."),
    "refmail_last_sync_timestamp_seconds": ("gauge", "When an account last synced successfully."),
    "refmail_follow_ups": ("gauge", "Follow-ups in the outbox, by state."),
}


class Metrics:
    """Thread-safe counters and gauges keyed by name and account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], float] = defaultdict(float)

    def add(self, name: str, account: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[(name, account)] += amount

    def set(self, name: str, account: str, value: float) -> None:
        with self._lock:
            self._values[(name, account)] = value

    def synced(self, account: str, scanned: int, introductions: int, at: datetime) -> None:
        self.add("refmail_messages_synced_total", account, scanned)
        self.add("refmail_introductions_total", account, introductions)
        self.set("refmail_last_sync_timestamp_seconds", account, at.timestamp())

    def render(self, factory: SessionFactory | None = None) -> str:
        """The Prometheus text exposition of everything, plus the outbox read now."""
        with self._lock:
            values = dict(self._values)
        lines: list[str] = []
        for name, (kind, words) in HELP.items():
            lines += [f"# HELP {name} {words}", f"# TYPE {name} {kind}"]
            if name == "refmail_follow_ups":
                lines += _outbox_lines(factory)
                continue
            for (metric, account), value in sorted(values.items()):
                if metric == name:
                    lines.append(f'{name}{{account="{_escape(account)}"}} {value:g}')
        return "\n".join(lines) + "\n"


def _outbox_lines(factory: SessionFactory | None) -> list[str]:
    if factory is None:
        return []
    with factory() as session:
        counts = dict(
            session.execute(select(m.FollowUp.state, func.count()).group_by(m.FollowUp.state)).all()
        )
    return [f'refmail_follow_ups{{state="{state}"}} {counts.get(state, 0)}' for state in m.STATES]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
