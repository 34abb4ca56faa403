"""How the recipient pages are served: the uvicorn settings that hold under load.

One `server_config` for `refmail web` and for the daemon. Idle connections hold a file
descriptor each, and a process under systemd has 1,024: without limits a few hundred idle
sockets starve sync (no descriptor left for IMAP or the database) and every failed accept()
writes a log line. So a connection must send its request headers within `header_timeout`
(uvicorn itself times out only between requests) and be done within `request_timeout`; at
most `max_connections` are open at once (more are closed on arrival); the open-files limit is
raised as far as allowed and accept() bursts fitted to it; and repeated warnings from the
server are logged once per `log_every` seconds with a count of what was left out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)
MAX_KINDS = 1000  # distinct warnings a RepeatFilter remembers
RESERVED_FDS = 100  # for sync (IMAP, SMTP), the database, logs, the daemon itself
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", __name__)


@dataclass(frozen=True)
class Limits:
    """What one client may hold; far below the 1,024 descriptors a service gets by default."""

    max_connections: int = 200  # open at once; more are closed on arrival
    header_timeout: float = 10.0  # from connect (or the last response) to a request's headers
    request_timeout: float = 30.0  # from a request's headers to the end of its response
    keep_alive: float = 5.0  # idle time between requests on one connection
    max_header_bytes: int = 16 * 1024  # h11's cap on a request's head
    # Connections the kernel queues (no descriptor of ours until accepted). asyncio accepts up
    # to this many in one go, before the cap can close any: fitted to the descriptors we have.
    backlog: int = 2048
    log_every: float = 60.0  # one line per this many seconds for a repeated warning


def server_config(
    app: Any, host: str, port: int, *, proxy_headers: bool = False, limits: Limits | None = None
) -> uvicorn.Config:
    """The uvicorn Config both `refmail web` and `refmail run` serve the pages with.

    Also, once per process: raises the open-files limit (`raise_fd_limit`) and rate-limits the
    server's repeated warnings (`quiet_repeats`)."""
    limits = fit_to_descriptors(limits or Limits(), raise_fd_limit())
    quiet_repeats(limits.log_every)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        ws="none",
        lifespan="off",
        loop="asyncio",
        log_config=None,  # the process's own logging (text or JSON) carries uvicorn's lines
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=proxy_headers,
        limit_concurrency=limits.max_connections,  # a request while the cap is full: 503
        backlog=limits.backlog,
        timeout_keep_alive=max(1, round(limits.keep_alive)),
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )


def raise_fd_limit(ceiling: int = 65536) -> int:
    """Raise this process's soft limit on open files towards its hard limit; returns the soft
    limit now in force. systemd gives services 1,024 soft (for select()-era programs) and a far
    higher hard limit; nothing in refmail uses select()."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(ceiling, hard) if hard != resource.RLIM_INFINITY else ceiling
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit to %d: %s", target, exc)
    return soft


def fit_to_descriptors(limits: Limits, open_files: int) -> Limits:
    """Limits whose worst case fits in `open_files` descriptors: the capped connections, what
    sync and the database need, and up to three accept() bursts in flight before the cap closes
    them (asyncio accepts a backlog's worth per loop turn, and closes one two turns later)."""
    spare = open_files - limits.max_connections - RESERVED_FDS
    return replace(limits, backlog=max(16, min(limits.backlog, spare // 3)))


def guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a connection cap and two deadlines: for a request's headers
    (from connect, or from the last response) and for the whole request (body and response)."""

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                log.warning(
                    "more than %d open connections: closing new ones", limits.max_connections
                )
                transport.abort()  # nothing was read: no response owed
                return
            self._arm(limits.header_timeout)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a request's headers arrived: now the whole request
                self._arm(limits.request_timeout)

        def on_response_complete(self) -> None:
            self._arm(limits.header_timeout)  # the next request's headers (keep-alive)
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.abort()

    return Guarded


@dataclass
class RepeatFilter(logging.Filter):
    """Lets a warning (or worse) through once per `seconds` for each logger and message
    template (its first line); the next one that passes says how many were left out. Lower
    levels pass."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    _last: dict[tuple[str, str], float] = field(default_factory=dict)
    _dropped: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        # asyncio writes details (a socket, a handle) after the first line: key on that line.
        key = (record.name, str(record.msg).split("\n", 1)[0])
        now = self.clock()
        if len(self._last) > MAX_KINDS:  # a flood of distinct messages: start counting afresh
            self._last.clear()
            self._dropped.clear()
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {self.seconds:g} s)"
        return True


def quiet_repeats(seconds: float, names: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Put a RepeatFilter on the server's loggers (once: calling again changes nothing)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter(seconds))
