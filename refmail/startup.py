"""The garbage collector during a command's start-up: off while imports make the objects that
live as long as the process, back on (with those frozen) once the command starts its work.

Start-up makes some hundred thousand long-lived objects (modules, SQLAlchemy's classes, the
mappers) and few cycles; the collector would walk them all again and again while they are made.
The machinery a command imports only when its work needs it (sync's detector, once a batch
brings mail) is start-up too: `loading` pauses the collector while it is first imported.
Nothing here imports anything heavy: `refmail --help` loads it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_QUIETED: list[bool] = []  # quiet() was called: this process's start-up is ours to manage


def quiet() -> None:
    """Turn the collector off for start-up (the `refmail` console script only)."""
    _QUIETED.append(True)
    gc.disable()


def started() -> None:
    """The end of start-up: turn the collector back on if `quiet` turned it off, with what exists
    now frozen, so the collections of the command's work, or of a daemon's days, never walk it.
    Other callers (tests, `refmail web`'s workers) never turned it off: nothing changes for
    them."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


@contextmanager
def loading(module: str) -> Iterator[None]:
    """Import `module` (and what it pulls in) in the block with the collector paused, then
    freeze what the import made, as `started` froze start-up's objects. Only the first time
    and only in a process `quiet` started: once `module` is loaded, when the collector is off
    anyway, or for other callers (tests, `refmail web`'s workers), nothing changes, so a
    daemon freezes nothing more on its later runs.

    The freeze takes every object alive then, not only the import's. Frozen objects are still
    freed by reference counting; only a cycle among them would outlive its use. Sync imports
    the detector as its first batch is sifted (`sync.identity_for`), before that batch opens a
    session or parses a message: what is alive then is the run's own parts and the fetched
    bytes, which live as long as the run or hold no cycles."""
    if not _QUIETED or module in sys.modules or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        started()
