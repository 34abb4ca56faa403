"""The web bench's wrk client (bench/_wrk.py): every path POSTed at most once, split between
wrk's threads; what it reports sent covers what the server saw; running out of paths shows.
wrk (Debian package `wrk`) is installed by .ci/setup; without it these tests fail, not skip."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench._wrk import parse, run_wrk, wrk_path

BODY = b"List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _wrk_installed() -> None:
    if wrk_path() is None:
        pytest.fail("wrk is not installed (bash .ci/setup installs it)", pytrace=False)


@contextmanager
def recorder() -> Iterator[tuple[int, Counter[str], list[bytes]]]:
    """A keep-alive HTTP server on loopback counting the paths POSTed to it (and their bodies);
    /u/<anything but spent> answers 200, the rest 404."""
    seen: Counter[str] = Counter()
    bodies: list[bytes] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                seen[self.path] += 1
                bodies.append(body)
            ok = self.path.startswith("/u/") and self.path != "/u/spent"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen, bodies
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_posts_each_path_once_and_says_which() -> None:
    paths = [f"/u/contact-{n}" for n in range(50_000)]
    with recorder() as (port, seen, bodies):
        run = run_wrk(
            port, paths, body=BODY, content_type=FORM, connections=4, seconds=1, threads=2
        )
    assert run.requests > 0 and run.rate > 0 and not run.errors and run.spent == 0
    assert max(seen.values()) == 1  # no contact twice
    assert set(seen) <= set(run.sent)  # whatever the server saw, wrk says it sent
    assert run.requests <= len(seen) <= len(run.sent)
    assert set(bodies) == {BODY}
    assert 0 < run.latency_ms["p50"] <= run.latency_ms["p99"] <= run.latency_ms["max"]
    assert run.cpu_seconds > 0


def test_running_out_of_paths_is_counted_not_hidden() -> None:
    paths = [f"/u/contact-{n}" for n in range(5)]
    with recorder() as (port, seen, _):
        run = run_wrk(port, paths, body=BODY, content_type=FORM, connections=2, seconds=1)
    assert {p: seen[p] for p in paths} == dict.fromkeys(paths, 1)
    assert run.spent > 0 and seen["/u/spent"] > 0
    assert run.errors["status"] == run.requests - 5


def test_parse_reads_which_paths_each_thread_sent() -> None:
    line = (
        'REFMAIL_WRK {"requests": 3, "micros": 2000000, "connect": 0, "read": 0, "write": 0, '
        '"status": 1, "timeout": 0, "p50": 1500, "p90": 2000, "p99": 3000, "max": 4000, '
        '"sent": "0:2,1:3"}'
    )
    run = parse(f"Running 2s test\n{line}\n", ["a", "b", "c", "d"], threads=2)
    assert run.sent == ["a", "c", "b", "d"] and run.spent == 1  # thread 1 had b, d only
    assert run.rate == 1.5 and run.errors == {"status": 1} and run.latency_ms["p99"] == 3.0
