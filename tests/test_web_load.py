"""The web server under load: idle connections are closed in time, a connection cap keeps
descriptors for sync, repeated warnings are logged once; in process and under `refmail run`."""

from __future__ import annotations

import errno
import logging
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from refmail.httpserver import Limits, RepeatFilter, server_config
from tests.support.dovecot import PASSWORD, Dovecot, free_port
from tests.support.mailbox import PASSWORD_ENV, account_toml, referral

ROOT = Path(__file__).resolve().parents[1]
IDLE_CONNECTIONS = 1100
SERVICE_FDS = 1024  # systemd's default soft limit on open files


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read()


def wait_healthy(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no /healthz on port {port} within {timeout} s")
        time.sleep(0.1)


def open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` TCP connections that connect and then say nothing (non-blocking connects)."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        assert code in (0, errno.EINPROGRESS), os.strerror(code)
        sockets.append(sock)
    return sockets


def wait_closed_by_server(
    sockets: list[socket.socket], timeout: float, start: float | None = None
) -> float:
    """Seconds from `start` (default: now) until the server has closed every one (EOF or
    reset), failing after `timeout`."""
    start = time.monotonic() if start is None else start
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        open_ = len(sockets)
        while open_:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                pytest.fail(
                    f"{open_} of {len(sockets)} idle connections still open after {timeout} s"
                )
            for key, _ in selector.select(min(left, 1.0)):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    data = ready.recv(1024)
                except BlockingIOError:
                    continue
                except (ConnectionResetError, ConnectionRefusedError):
                    data = b""
                assert data == b"", data  # no request was sent: nothing is owed
                selector.unregister(ready)
                open_ -= 1
    return time.monotonic() - start


@contextmanager
def nofile_at_least(count: int) -> Iterator[None]:
    """This test process may hold `count` descriptors (the clients), put back afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.fail(f"the hard limit on open files ({hard}) is below the {count} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, count), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --- in process: the guards themselves ---------------------------------------------------------


@contextmanager
def serving(limits: Limits) -> Iterator[int]:
    async def hello(request: Request) -> PlainTextResponse:
        await request.body()
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"]), Route("/healthz", hello)])
    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, limits=limits))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_healthy(port, 10)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.alone
def test_a_connection_that_sends_no_request_is_closed_after_the_header_timeout() -> None:
    with serving(Limits(header_timeout=1.0, keep_alive=1.0)) as port:
        sockets = open_idle(port, 5)
        took = wait_closed_by_server(sockets, timeout=5)
        assert 0.8 <= took <= 3
        with closing(socket.create_connection(("127.0.0.1", port))) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            slow.settimeout(5)
            started = time.monotonic()
            assert slow.recv(1024) == b""
            assert time.monotonic() - started < 3
        assert http_get(f"http://127.0.0.1:{port}/")[1] == b"hello"  # a real request still works


@pytest.mark.alone
def test_a_request_whose_body_never_ends_is_closed_after_the_request_timeout() -> None:
    with serving(Limits(request_timeout=1.0)) as port:
        with closing(socket.create_connection(("127.0.0.1", port))) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            slow.settimeout(5)
            started = time.monotonic()
            assert slow.recv(1024) == b""
            assert 0.8 <= time.monotonic() - started < 3
        body = urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"x" * 100), timeout=5
        ).read()
        assert body == b"hello"  # a request that arrives whole is answered


@pytest.mark.alone
def test_keep_alive_connections_are_closed_once_idle() -> None:
    limits = Limits(keep_alive=1.0, header_timeout=30)
    with serving(limits) as port, closing(socket.create_connection(("127.0.0.1", port))) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        client.settimeout(5)
        reply = b""
        while not reply.endswith(b"hello"):
            reply += client.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed after keep_alive, not the header timeout
        assert time.monotonic() - started < 3


@pytest.mark.alone
def test_connections_over_the_cap_are_closed_at_once_and_the_rest_still_served() -> None:
    with serving(Limits(max_connections=10, header_timeout=30)) as port:
        held = open_idle(port, 10)
        time.sleep(0.5)  # accepted: the cap is reached
        extra = open_idle(port, 20)
        assert wait_closed_by_server(extra, timeout=5) < 3  # not the 30 s header timeout
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert http_get(f"http://127.0.0.1:{port}/")[1] == b"hello"


def test_a_repeated_warning_is_logged_once_per_period_with_a_count() -> None:
    now = [0.0]
    repeat = RepeatFilter(60, clock=lambda: now[0])

    def record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", level, __file__, 1, msg, (), None)

    assert repeat.filter(record("Invalid HTTP request received."))
    assert not any(repeat.filter(record("Invalid HTTP request received.")) for _ in range(500))
    assert repeat.filter(record("another warning"))  # counted per message
    assert repeat.filter(record("Invalid HTTP request received.", logging.INFO))  # info passes
    assert repeat.filter(record("socket.accept() out of system resource\nsocket: fd=11"))
    assert not repeat.filter(record("socket.accept() out of system resource\nsocket: fd=12"))
    now[0] = 61
    later = record("Invalid HTTP request received.")
    assert repeat.filter(later)
    assert "500 more like it" in later.getMessage()


# --- `refmail run` with 1,100 idle connections ------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("hard_limit", ["inherited", SERVICE_FDS])
def test_idle_connections_neither_stop_sync_nor_flood_the_log(
    dovecot: Dovecot, imap_user: str, tmp_path: Path, hard_limit: str | int
) -> None:
    """As systemd starts a service (1,024 soft, a high hard limit), and with 1,024 hard too."""
    port = free_port()
    config = tmp_path / "refmail.toml"
    config.write_text(
        f'database = "sqlite:///{tmp_path / "refmail.db"}"\nlog_level = "INFO"\n\n'
        "[daemon]\nsync_seconds = 300  # only IDLE can wake sync within the test\n\n"
        "[caps]\ndrafts_in_window = false\n\n"
        f'[web]\nbase_url = "http://127.0.0.1:{port}"\nlisten = "127.0.0.1:{port}"\n'
        + account_toml(dovecot.host, dovecot.port, imap_user)
    )
    log_path = tmp_path / "stderr.log"
    env = {
        **os.environ,
        PASSWORD_ENV: PASSWORD,
        "REFMAIL_SIGNING_KEY": "web-load-test-signing-key-0123456789",
        "PYTHONPATH": str(ROOT),
    }

    def service_limits() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(
            resource.RLIMIT_NOFILE,
            (SERVICE_FDS, SERVICE_FDS if hard_limit == SERVICE_FDS else hard),
        )

    with nofile_at_least(IDLE_CONNECTIONS + 256), open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "refmail", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd=tmp_path,
            preexec_fn=service_limits,
        )
        try:
            wait_healthy(port, 60)
            time.sleep(1)  # the first sync and IDLE are under way
            opened = time.monotonic()
            sockets = open_idle(port, IDLE_CONNECTIONS)
            message_id, raw = referral()
            dovecot.append(imap_user, "INBOX", raw)
            assert wait_for_draft(dovecot, imap_user, message_id, proc, timeout=30)
            # The server holds none of them once the header timeout has passed ...
            held = wait_descriptors_below(proc.pid, 100, opened + Limits().header_timeout + 20)
            # ... and every one it accepted, it closed. (With 1,024 hard, the kernel's accept
            # queue is small: it drops some handshakes the clients believe complete; those
            # were never the server's, so the clients cannot see them closed.)
            if hard_limit != SERVICE_FDS:
                wait_closed_by_server(sockets, Limits().header_timeout + 30, opened)
            for sock in sockets:
                sock.close()
            # Late handshakes still queued in the kernel may briefly fill the cap: the pages
            # are served again within seconds of the flood ending.
            wait_healthy(port, 15)
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    text = log_path.read_text(errors="replace")
    assert log_path.stat().st_size < 20_000, text[-3000:]
    assert text.count("open connections: closing new ones") == 1, text[-3000:]
    assert "Too many open files" not in text and "Traceback" not in text, text[-3000:]
    assert held < 100


def wait_descriptors_below(pid: int, count: int, deadline: float) -> int:
    """The process's open descriptors once they are fewer than `count`, failing at `deadline`."""
    while True:
        held = len(os.listdir(f"/proc/{pid}/fd"))
        if held < count:
            return held
        if time.monotonic() > deadline:
            pytest.fail(f"refmail run still holds {held} descriptors")
        time.sleep(0.5)


def wait_for_draft(
    server: Dovecot, user: str, message_id: str, proc: subprocess.Popen[bytes], timeout: float
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "refmail run exited"
        client = server.client(user)
        try:
            folders = {name for _, _, name in client.list_folders()}
            if "Drafts" in folders:
                client.select_folder("Drafts", readonly=True)
                if client.search(["HEADER", "In-Reply-To", message_id]):
                    return True
        finally:
            client.logout()
        time.sleep(0.5)
    return False
