"""A reader whose worker process dies on a marked message, as one that crashes in C code or is
killed for its memory would: what refmail.readers must survive (tests/test_sync_pool.py)."""

from __future__ import annotations

import os

from refmail import readers
from refmail.detect import Identity
from refmail.parse import Heads

MARK = b"X-Test-Crash: the worker dies here\r\n"


def read_or_die(
    raw: bytes, heads: Heads | None, identity: Identity, threads: frozenset[str]
) -> readers.Read:
    if MARK in raw:
        os._exit(70)  # no exception, no clean-up: the process is simply gone
    return readers.read_message(raw, heads, identity, threads)
