"""refmail's one-click unsubscribe beside a minimal Starlette app doing the same UPDATE.

    python3 -m bench.web_oneclick [--client wrk python] [--requests 20000] [--concurrency 16]
        [--rounds 3] [--db sqlite postgres] [--postgres URL] [--duration 10] [--time-limit 60]

Each contestant gets a fresh database (a temp SQLite file, or a throw-away schema in the local
PostgreSQL `test` database) seeded with one contact per request, each with two planned check-ins,
and is served by uvicorn on 127.0.0.1, one worker, with the settings `refmail web` uses
(log level warning, proxy headers, no Server header, no access log, uvloop when installed, h11):
- refmail: the real command, `python -m refmail --config C web --listen 127.0.0.1:PORT`;
- minimal: a Starlette app with one route that reads the same signed token (refmail.tokens),
  parses the same form and runs one UPDATE (the contact's opted_out_at) in the threadpool, on an
  engine made once (refmail.db.make_engine, as refmail's);
- on PostgreSQL, refmail with `web --workers 2` when the command has that option (else it says so).
The load generator is the same for all, each POST `List-Unsubscribe=One-Click` to a distinct
contact's /u/<token> (every request a real first unsubscribe) over --concurrency keep-alive
connections:
- `wrk` (Debian package; the default when installed): C, one thread (--wrk-threads), a Lua
  script giving each request the next prebuilt URL (bench/_wrk.py), for --duration seconds;
  its latency percentiles are wrk's own. It costs the machine far less CPU than
- `python`: --concurrency threads, each with its own http.client connection, bounded by
  --requests and --time-limit (on a 2-core machine it takes about a core from the servers).
Contestants are alternated over --rounds; prints per client the medians of req/s and
p50/p90/p99 per contestant, the ratio refmail ÷ minimal, on PostgreSQL refmail's 2 workers ÷
its 1, and where the CPU went (cores used on average by the server processes, PostgreSQL, the
client and the rest of the machine). Sanity checks: the contacts opted out are exactly the
ones POSTed (wrk: only contacts it sent, and at least as many as it had answers for; none
left over, else --requests was too small for --duration), and, for refmail, each logged once
with no open follow-ups left.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text

from bench._common import (
    PG_URL,
    REFMAIL,
    child_env,
    database,
    machine_noted,
    median,
    percentile,
    ratio,
    table,
)
from bench._cpu import Usage, snapshot, usage
from bench._seed import seed_contacts
from bench._wrk import WrkRun, run_wrk, wrk_path
from refmail import models as m
from refmail.db import make_engine
from refmail.tokens import Tokens
from tests.support.dovecot import free_port
from tests.support.mailbox import OWNER
from tests.support.mailbox import REFMAIL as REFMAIL_ADDRESS

KEY_ENV = "REFMAIL_SIGNING_KEY"
BODY = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# refmail's settings (refmail.httpserver.server_config): the same event loop (uvloop when
# installed) and HTTP parser (h11), no access log.
UVICORN = {
    "log_level": "warning",
    "proxy_headers": True,
    "server_header": False,
    "access_log": False,
    "loop": "auto",
    "http": "h11",
}


# --- the minimal baseline (run as a child: python -m bench.web_oneclick --serve URL PORT) -----


def minimal_app(url: str, key: str):  # type: ignore[no-untyped-def]
    """One route: token → form check → one UPDATE → a small page."""
    from sqlalchemy import update
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    tokens = Tokens([key])
    engine = make_engine(url)

    def opt_out(public_id: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                update(m.Contact)
                .where(m.Contact.public_id == public_id, m.Contact.opted_out_at.is_(None))
                .values(opted_out_at=datetime.now(UTC))
            )

    async def unsubscribe(request: Request) -> HTMLResponse:
        public_id = tokens.read(request.path_params["token"], "unsubscribe")
        if public_id is None:
            return HTMLResponse("<h1>Link not recognised</h1>", 404)
        form = await request.form()
        if form.get("List-Unsubscribe") != "One-Click":
            return HTMLResponse("<h1>Nothing changed</h1>", 400)
        await run_in_threadpool(opt_out, public_id)
        return HTMLResponse("<h1>You are unsubscribed</h1>")

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[Route("/u/{token}", unsubscribe, methods=["POST"]), Route("/healthz", healthz)]
    )


# --- servers -------------------------------------------------------------------------------


def refmail_web_has_workers() -> bool:
    out = subprocess.run(
        [*REFMAIL, "web", "--help"], capture_output=True, text=True, env=child_env(), check=False
    )
    return "--workers" in out.stdout


@contextmanager
def server(contestant: str, url: str, key: str) -> Iterator[tuple[int, int]]:
    """The contestant served on a free loopback port until the block ends; yields the port and
    the server's process id."""
    port = free_port()
    env = child_env({KEY_ENV: key})
    with tempfile.TemporaryDirectory(prefix="refmail-bench-web-") as tmp:
        if contestant == "minimal":
            cmd = [sys.executable, "-m", "bench.web_oneclick", "--serve", url, str(port)]
        else:
            config = Path(tmp) / "refmail.toml"
            config.write_text(
                f'database = "{url}"\n[web]\nbase_url = "http://127.0.0.1:{port}"\n'
                f'signing_key_env = "{KEY_ENV}"\n\n[[accounts]]\nname = "bench"\n'
                f'address = "{REFMAIL_ADDRESS}"\nowners = ["{OWNER}"]\ndelivery = "file"\n'
                f'[accounts.maildir]\npath = "{tmp}/Maildir"\n'
            )
            workers = ["--workers", "2"] if contestant.endswith("2 workers") else []
            listen = f"127.0.0.1:{port}"
            cmd = [*REFMAIL, "--config", str(config), "web", "--listen", listen, *workers]
        process = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
        try:
            _wait_ready(process, port)
            yield port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before it started")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 30 s")


# --- the load ------------------------------------------------------------------------------


@dataclass
class Load:
    """What one contestant's run measured, whichever client drove it."""

    answered: int = 0
    seconds: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p99
    cpu: Usage | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


@dataclass
class PythonLoad:
    """What the Python client saw."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    posted: set[str] = field(default_factory=set)
    wall: float = 0.0


def drive(port: int, paths: list[tuple[str, str]], concurrency: int, limit: float) -> PythonLoad:
    """POST each (public id, path) once from `concurrency` keep-alive connections."""
    load, lock, queue = PythonLoad(), threading.Lock(), list(reversed(paths))
    deadline = time.monotonic() + limit

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    break
                public_id, path = queue.pop()
            started = time.perf_counter()
            error = ""
            try:
                conn.request("POST", path, body=BODY, headers=FORM)
                response = conn.getresponse()
                page = response.read()
                if response.status != 200 or b"You are unsubscribed" not in page:
                    error = f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                if error:
                    load.errors[error] = load.errors.get(error, 0) + 1
                else:
                    load.latencies.append(elapsed)
                    load.posted.add(public_id)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.wall = time.perf_counter() - began
    return load


def opted_out(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(
                conn.scalars(select(m.Contact.public_id).where(m.Contact.opted_out_at.is_not(None)))
            )
    finally:
        engine.dispose()


def check_logged(url: str, opted: int) -> list[str]:
    """refmail's own effects: each opt-out logged once, no open follow-ups left."""
    engine = make_engine(url)
    problems = []
    try:
        with engine.connect() as conn:
            logged = conn.scalar(
                select(func.count())
                .select_from(m.ContactChange)
                .where(m.ContactChange.field == "opted_out_at")
            )
            if logged != opted:
                problems.append(f"{logged} opt-outs logged for {opted} contacts")
            still = conn.scalar(
                select(func.count())
                .select_from(m.FollowUp)
                .join(m.Contact, m.Contact.id == m.FollowUp.contact_id)
                .where(m.Contact.opted_out_at.is_not(None), m.FollowUp.state.in_(m.OPEN_STATES))
            )
            if still:
                problems.append(f"{still} open follow-ups left for opted-out contacts")
    finally:
        engine.dispose()
    return problems


def wrk_problems(run: WrkRun, opted: set[str], by_path: dict[str, str]) -> list[str]:
    """Only contacts wrk sent are opted out, at least one per answer it counted (a request in
    flight when wrk stopped may have been served too), and it never ran out of contacts."""
    problems = []
    sent = {by_path[p] for p in run.sent}
    answered = run.requests - run.errors.get("status", 0)
    if not opted <= sent:
        problems.append(f"{len(opted - sent)} contacts opted out that wrk never sent")
    if len(opted) < answered:
        problems.append(f"opted out {len(opted)} < {answered} answered")
    if run.spent:
        problems.append(f"ran out of contacts ({run.spent} requests over): raise --requests")
    if run.errors:
        problems.append(f"errors {run.errors}")
    return problems


def backends(url: str, name: str) -> Callable[[], list[int]]:
    """The process ids of the PostgreSQL connections named `name` (none on SQLite)."""
    if not url.startswith("postgresql"):
        return list
    engine = make_engine(url, pool_size=1, max_overflow=0)

    def pids() -> list[int]:
        with engine.connect() as conn:
            query = text("SELECT pid FROM pg_stat_activity WHERE application_name = :n")
            return list(conn.scalars(query, {"n": name}))

    return pids


def one_run(contestant: str, kind: str, client: str, args: argparse.Namespace) -> Load:
    key = secrets.token_urlsafe(32)
    tokens = Tokens([key])
    with database(kind, args.postgres) as url:
        public_ids = seed_contacts(url, args.requests)
        paths = [(pid, f"/u/{tokens.make(pid, 'unsubscribe')}") for pid in public_ids]
        name = f"refmail-bench-{secrets.token_hex(4)}"  # the server's connections, to find them
        ours = backends(url, name)
        if kind == "postgres":
            url = f"{url}&application_name={name}"
        with server(contestant, url, key) as (port, pid):
            before, cpu_before = snapshot(pid, ours()), time.process_time()
            if client == "wrk":
                run = run_wrk(
                    port,
                    [path for _, path in paths],
                    body=BODY,
                    content_type=FORM["Content-Type"],
                    connections=args.concurrency,
                    seconds=args.duration,
                    threads=args.wrk_threads,
                )
                spent = run.cpu_seconds
            else:
                py = drive(port, paths, args.concurrency, args.time_limit)
                spent = time.process_time() - cpu_before
            cpu = usage(before, snapshot(pid, ours()), spent)
        opted = opted_out(url)
        if client == "wrk":
            load = Load(run.requests, run.seconds, run.latency_ms, cpu)
            load.problems = wrk_problems(run, opted, {path: p for p, path in paths})
        else:
            latency = {f"p{round(q * 100)}": percentile(py.latencies, q) * 1000 for q in QS}
            load = Load(len(py.latencies), py.wall, latency, cpu)
            if opted != py.posted:
                load.problems.append(f"opted out {len(opted)} vs POSTed {len(py.posted)}")
            if py.errors:
                load.problems.append(f"errors {py.errors}")
        if contestant != "minimal":
            load.problems += check_logged(url, len(opted))
    return load


QS = (0.5, 0.9, 0.99)


def report(kind: str, client: str, runs: dict[str, list[Load]]) -> None:
    rows = []
    for name, loads in runs.items():
        stat = [median([x.latency_ms[f"p{round(q * 100)}"] for x in loads]) for q in QS]
        problems = sorted({p for x in loads for p in x.problems})
        middle = sorted(loads, key=lambda x: x.rate)[len(loads) // 2]  # the median run's CPU
        cpu = middle.cpu
        rows.append(
            [
                name,
                sum(x.answered for x in loads),
                f"{median([x.rate for x in loads]):,.0f}",
                *(f"{s:.1f}" for s in stat),
                cpu.cores(middle.seconds) if cpu else "-",
                cpu.per_request(middle.answered) if cpu else "-",
                "; ".join(problems) or "ok",
            ]
        )
    print(f"\n{kind}, client {client}, medians of {len(next(iter(runs.values())))} rounds:")
    cores, per = "cores: server pg client rest", "CPU ms/req: server pg"
    head = ["contestant", "answered", "req/s", "p50 ms", "p90 ms", "p99 ms", cores, per, "checks"]
    table(head, rows)
    base = runs.get("minimal")
    for name, loads in runs.items():
        if name == "minimal" or base is None:
            continue
        ours, theirs = (median([x.rate for x in r]) for r in (loads, base))
        p99, p99_base = (median([x.latency_ms["p99"] for x in r]) for r in (loads, base))
        print(f"{name} ÷ minimal: req/s {ratio(ours, theirs)}, p99 {ratio(p99, p99_base)}")
    one, two = runs.get("refmail"), runs.get("refmail, 2 workers")
    if one and two:
        rate_one, rate_two = (median([x.rate for x in r]) for r in (one, two))
        print(f"refmail, 2 workers ÷ 1 worker: req/s {ratio(rate_two, rate_one)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--client",
        nargs="+",
        choices=("wrk", "python"),
        default=["wrk"] if wrk_path() else ["python"],
        help="load generator(s); default wrk when installed",
    )
    parser.add_argument(
        "--requests", type=int, default=20000, help="contacts seeded (python: POSTs) per run"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--postgres", metavar="URL", default=PG_URL)
    parser.add_argument("--duration", type=float, default=10.0, help="wrk: seconds of load")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0, help="python: seconds, at most")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        import uvicorn

        url, port = args.serve
        app = minimal_app(url, os.environ[KEY_ENV])
        uvicorn.run(app, host="127.0.0.1", port=int(port), **UVICORN)  # type: ignore[arg-type]
        return 0
    if not 1 <= args.concurrency <= 256 or not 1 <= args.requests <= 200_000:
        parser.error("--concurrency must be 1..256 and --requests 1..200000")
    if "wrk" in args.client and not wrk_path():
        parser.error("wrk is not installed (apt-get install wrk): use --client python")
    workers = refmail_web_has_workers()
    problems = 0
    with machine_noted():
        print(
            f"{args.concurrency} keep-alive connections; wrk: {args.duration:.0f} s over "
            f"{args.requests} contacts; python: {args.requests} POSTs, at most "
            f"{args.time_limit:.0f} s"
        )
        for kind in args.db:
            names = ["minimal", "refmail"]
            if kind == "postgres" and workers:
                names.append("refmail, 2 workers")
            for client in args.client:
                runs: dict[str, list[Load]] = {n: [] for n in names}
                for r in range(args.rounds):
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        load = one_run(name, kind, client, args)
                        runs[name].append(load)
                        problems += len(load.problems)
                        print(
                            f"  {kind} {client} round {r + 1}: {name:<20} {load.rate:8,.0f} req/s"
                            f" p99 {load.latency_ms['p99']:7.1f} ms  cores "
                            f"{load.cpu.cores(load.seconds) if load.cpu else '-'}, CPU ms/req "
                            f"{load.cpu.per_request(load.answered) if load.cpu else '-'}"
                            + (f"  PROBLEM: {'; '.join(load.problems)}" if load.problems else ""),
                            flush=True,
                        )
                report(kind, client, runs)
        if not workers:
            print("refmail web has no --workers yet")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
