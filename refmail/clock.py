"""The one place refmail asks what time it is.

Code takes a `Clock` argument instead of calling datetime.now(), so tests and `--now` can move time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime

from refmail.classes import dataclass

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that says what it is told; `advance` moves it. Tests and `--now` use it.

    >>> c = FixedClock(datetime(2026, 1, 1, tzinfo=UTC)); c().year
    2026
    """

    at: datetime = field(default_factory=system_clock)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at += timedelta(**delta)
