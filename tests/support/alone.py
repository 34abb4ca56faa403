"""Tests marked `alone` run while no other test runs, also when pytest-xdist runs the suite on
several workers (the README's command runs two).

They hold a wall-clock budget (a draft within 2 s of its APPEND, a timeout that fires after 0.8
to 3 s, known and unknown addresses answered in the same time): a test on the other worker would
share the two cores and be part of what they time. Loaded as a plugin (`-p tests.support.alone`
in pyproject.toml's addopts) so that it covers every item, the doctests in refmail/ too.

The controller names a lock file; every worker holds it shared around each test it runs, and
exclusively around an `alone` test. A second lock, the turnstile, is taken briefly before either:
a waiting `alone` test holds it, so the other worker cannot keep the shared lock for ever by
starting test after test. Without xdist (one process) no lock is taken.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

MARK = "alone"
ENV = "REFMAIL_TEST_ALONE_LOCK"  # the controller's lock path, inherited by the workers


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # a worker: the controller has named the lock already
    fd, path = tempfile.mkstemp(prefix="refmail-pytest-alone-", suffix=".lock")
    os.close(fd)
    os.environ[ENV] = path  # set before the controller spawns the workers, which inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    path = os.environ.pop(ENV, "")
    for name in (path, path + ".turnstile"):
        if name:
            with suppress(FileNotFoundError):
                os.unlink(name)


@contextmanager
def turn(path: str, alone: bool) -> Iterator[None]:
    """Hold the lock at `path` shared, or exclusively if `alone`, for the duration."""
    with open(path + ".turnstile", "a") as turnstile, open(path, "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # Setup and teardown are inside: a fixture's teardown (a server stopping) is load too.
    path = os.environ.get(ENV, "")
    if not hasattr(item.config, "workerinput") or not Path(path).exists():
        yield
        return
    with turn(path, item.get_closest_marker(MARK) is not None):
        yield
