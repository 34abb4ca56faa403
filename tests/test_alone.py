"""tests/support/alone.py: ordinary tests share the lock; an `alone` test waits until the other
worker has left its test, nothing starts beside it, and a stream of ordinary tests cannot keep a
waiting `alone` test out (the turnstile)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from tests.support.alone import turn


def _hold(path: str, alone: bool, entered: Event, release: Event) -> None:
    with turn(path, alone):
        entered.set()
        release.wait(10)


@contextmanager
def other_worker(path: str, alone: bool) -> Iterator[Event]:
    """A process (as a second xdist worker is) inside a test until the event yielded is set."""
    ctx = multiprocessing.get_context("fork")
    entered, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(path, alone, entered, release))
    proc.start()
    try:
        assert entered.wait(10)
        yield release
    finally:
        release.set()
        proc.join(10)


class Entering:
    """A test of this process entering from a thread; `leave` lets it finish."""

    def __init__(self, path: str, alone: bool) -> None:
        self.inside, self.leave = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(path, alone), daemon=True)
        self.thread.start()

    def _run(self, path: str, alone: bool) -> None:
        with turn(path, alone):
            self.inside.set()
            self.leave.wait(10)

    def done(self) -> None:
        self.leave.set()
        self.thread.join(10)


def test_ordinary_tests_run_side_by_side(tmp_path: Path) -> None:
    path = str(tmp_path / "alone.lock")
    with other_worker(path, alone=False):
        entering = Entering(path, alone=False)
        assert entering.inside.wait(5)
        entering.done()


@pytest.mark.parametrize(
    ("running_alone", "entering_alone"),
    [(False, True), (True, False)],
    ids=["an alone test waits for the other worker's test", "nothing starts beside an alone test"],
)
def test_an_alone_test_never_runs_beside_another(
    tmp_path: Path, running_alone: bool, entering_alone: bool
) -> None:
    path = str(tmp_path / "alone.lock")
    with other_worker(path, alone=running_alone) as release:
        entering = Entering(path, alone=entering_alone)
        assert not entering.inside.wait(0.5)
        release.set()
        assert entering.inside.wait(5)
        entering.done()


def test_a_waiting_alone_test_goes_before_later_ordinary_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "alone.lock")
    with other_worker(path, alone=False) as release:
        waiting = Entering(path, alone=True)
        assert not waiting.inside.wait(0.3)
        # Without the turnstile this one would share the lock with the other worker at once.
        later = Entering(path, alone=False)
        assert not later.inside.wait(0.5)
        release.set()
        assert waiting.inside.wait(5)
        assert not later.inside.is_set()  # still waiting while the alone test runs
        waiting.done()
        assert later.inside.wait(5)
        later.done()
