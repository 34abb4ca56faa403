"""The garbage collector during a command's start-up: off while imports make the objects that
live as long as the process, back on (with those frozen) once the command starts its work.

Start-up makes some hundred thousand long-lived objects (modules, SQLAlchemy's classes, the
mappers) and few cycles; the collector would walk them all again and again while they are made.
Nothing here imports anything heavy: `refmail --help` loads it.
"""

from __future__ import annotations

import gc


def quiet() -> None:
    """Turn the collector off for start-up (the `refmail` console script only)."""
    gc.disable()


def started() -> None:
    """The end of start-up: turn the collector back on if `quiet` turned it off, with what exists
    now frozen, so the collections of the command's work, or of a daemon's days, never walk it.
    Other callers (tests, `refmail web`'s workers) never turned it off: nothing changes for
    them."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
