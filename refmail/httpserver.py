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
import contextlib
import logging
import os
import resource
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from refmail.errors import ConfigError

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
        loop="auto",  # uvloop where installed (a dependency off Windows): a cheaper event loop
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


# --- several processes -----------------------------------------------------------------------

MAX_WORKERS = 32
WEB_CONNECTIONS = 20  # PostgreSQL connections the pages may hold, shared out between workers


def check_workers(workers: int, database_url: str) -> None:
    """Several workers only on PostgreSQL: SQLite has one writer, so more processes would only
    queue for its lock (and the in-process queueing that keeps its p99 low works in one)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be 1..{MAX_WORKERS}")
    if workers > 1 and not database_url.startswith("postgresql"):
        raise ConfigError(
            "--workers needs PostgreSQL: SQLite has one writer, so several processes only wait "
            "for each other; serve with one worker"
        )


def pool_options(workers: int) -> dict[str, object]:
    """The database pool of each of `workers` processes: together they hold no more connections
    than one process would (a busy worker queues for its pool instead of opening more, so a
    PostgreSQL shared with other clients does not run out of them); one process keeps
    make_engine's sizes. No pre-ping: it is a round trip per request, and the pages retry once
    on a connection found dead instead (db.reconnecting)."""
    if workers <= 1:
        return {"pool_pre_ping": False}
    sizes = {"pool_size": max(2, WEB_CONNECTIONS // workers), "max_overflow": 0}
    return {**sizes, "pool_pre_ping": False}


def serve(
    make_app: Callable[[], Any],
    host: str,
    port: int,
    *,
    workers: int = 1,
    proxy_headers: bool = False,
    limits: Limits | None = None,
    after_fork: Callable[[], None] = lambda: None,
) -> None:
    """Serve `make_app()` until SIGTERM/SIGINT: in this process, or in `workers` forked ones
    sharing one listening socket. A worker calls `after_fork` (e.g. drop the database pool it
    inherited), then `make_app`."""
    if workers <= 1:
        uvicorn.Server(
            server_config(make_app(), host, port, proxy_headers=proxy_headers, limits=limits)
        ).run()
        return
    settings = fit_to_descriptors(limits or Limits(), raise_fd_limit())
    listener = listening_socket(host, port, settings.backlog)

    def work() -> None:
        after_fork()
        config = server_config(make_app(), host, port, proxy_headers=proxy_headers, limits=limits)
        uvicorn.Server(config).run(sockets=[listener])

    try:
        Supervisor(work, workers).run()
    finally:
        listener.close()


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket listening on host:port, to be shared by the workers (inherited by fork)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it Nagle meets delayed ACKs (measured: a flat ~40 ms added to every response).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


@dataclass
class Supervisor:
    """Keeps `workers` forked processes running `work` (each exits when it returns); one that
    dies is replaced (after a pause that grows while workers keep dying at once after their
    start). SIGTERM or SIGINT: every worker gets SIGTERM, and SIGKILL after `grace` seconds."""

    work: Callable[[], None]
    workers: int
    grace: float = 10.0
    quick_death: float = 2.0  # a worker dead this soon after its start counts as a crash loop
    max_pause: float = 5.0
    pids: dict[int, float] = field(default_factory=dict)  # worker pid → when it started
    _stopping: bool = False

    def run(self) -> None:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        pause = 0.0
        try:
            for _ in range(self.workers):
                self._spawn()
            while not self._stopping:
                pid, status = _reap()
                if pid == 0:
                    time.sleep(0.1)
                    continue
                started = self.pids.pop(pid, None)
                if started is None or self._stopping:
                    continue
                lived = time.monotonic() - started
                pause = min(max(pause * 2, 0.1), self.max_pause) if lived < self.quick_death else 0
                log.warning(
                    "web worker %d ended (%s) after %.1f s: starting another%s",
                    pid,
                    _status(status),
                    lived,
                    f" in {pause:.1f} s" if pause else "",
                )
                time.sleep(pause)
                if not self._stopping:
                    self._spawn()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: uvicorn installs its own SIGTERM/SIGINT handling
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            code = 0
            try:
                self.work()
            except SystemExit as exc:  # uvicorn's way to give up (the port, the app)
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # whatever it was, this process ends here, and says why
                log.exception("web worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        self.pids[pid] = time.monotonic()

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def _stop_all(self) -> None:
        for pid in self.pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while self.pids and time.monotonic() < deadline:
            pid, _ = _reap()
            if pid:
                self.pids.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in self.pids:
            _signal(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()


def _reap() -> tuple[int, int]:
    """A child that ended (pid, status), or (0, 0) when none has (or none is left)."""
    try:
        return os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return 0, 0


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: waitpid collects it
        os.kill(pid, sig)


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
