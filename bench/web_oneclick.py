"""refmail's one-click unsubscribe beside a minimal Starlette app doing the same UPDATE.

    python3 -m bench.web_oneclick [--requests 5000] [--concurrency 16] [--rounds 3]
        [--db sqlite postgres] [--postgres URL] [--time-limit 60]

Each contestant gets a fresh database (a temp SQLite file, or a throw-away schema in the local
PostgreSQL `test` database) seeded with one contact per request, each with two planned check-ins,
and is served by uvicorn on 127.0.0.1, one worker, with the settings `refmail web` uses
(log level warning, proxy headers, no Server header):
- refmail: the real command, `python -m refmail --config C web --listen 127.0.0.1:PORT`;
- minimal: a Starlette app with one route that reads the same signed token (refmail.tokens),
  parses the same form and runs one UPDATE (the contact's opted_out_at) in the threadpool, on an
  engine made once (refmail.db.make_engine, as refmail's);
- on PostgreSQL, refmail with `web --workers 2` when the command has that option (else it says so).
The load generator is the same for all: --concurrency threads, each with its own keep-alive
http.client connection, POSTing `List-Unsubscribe=One-Click` to distinct contacts' /u/<token>
(every request a real first unsubscribe), bounded by --requests and --time-limit. Contestants are
alternated over --rounds; prints the medians of req/s and p50/p90/p99 per contestant, the
ratio refmail ÷ minimal, and on PostgreSQL refmail's 2 workers ÷ its 1. Sanity checks: exactly
the contacts POSTed are opted out (and, for refmail, logged once with no open follow-ups left).
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

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
from bench._seed import seed_contacts
from refmail import models as m
from refmail.db import make_engine
from refmail.tokens import Tokens
from tests.support.dovecot import free_port
from tests.support.mailbox import OWNER
from tests.support.mailbox import REFMAIL as REFMAIL_ADDRESS

KEY_ENV = "REFMAIL_SIGNING_KEY"
BODY = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
UVICORN = {"log_level": "warning", "proxy_headers": True, "server_header": False}


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
def server(contestant: str, url: str, key: str) -> Iterator[int]:
    """The contestant served on a free loopback port until the block ends; yields the port."""
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
            yield port
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
    """What one contestant's run measured."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    posted: set[str] = field(default_factory=set)
    wall: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


def drive(port: int, paths: list[tuple[str, str]], concurrency: int, limit: float) -> Load:
    """POST each (public id, path) once from `concurrency` keep-alive connections."""
    load, lock, queue = Load(), threading.Lock(), list(reversed(paths))
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


def check(url: str, posted: set[str], full: bool) -> list[str]:
    """Exactly the POSTed contacts are opted out; for refmail also logged once, none still due."""
    engine = make_engine(url)
    problems = []
    try:
        with engine.connect() as conn:
            opted = set(
                conn.scalars(select(m.Contact.public_id).where(m.Contact.opted_out_at.is_not(None)))
            )
            if opted != posted:
                problems.append(f"opted out {len(opted)} vs POSTed {len(posted)}")
            if full:
                logged = conn.scalar(
                    select(func.count())
                    .select_from(m.ContactChange)
                    .where(m.ContactChange.field == "opted_out_at")
                )
                if logged != len(posted):
                    problems.append(f"{logged} opt-outs logged for {len(posted)} contacts")
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


def one_run(contestant: str, kind: str, args: argparse.Namespace) -> Load:
    key = secrets.token_urlsafe(32)
    tokens = Tokens([key])
    with database(kind, args.postgres) as url:
        public_ids = seed_contacts(url, args.requests)
        paths = [(pid, f"/u/{tokens.make(pid, 'unsubscribe')}") for pid in public_ids]
        with server(contestant, url, key) as port:
            load = drive(port, paths, args.concurrency, args.time_limit)
        load.problems = check(url, load.posted, full=contestant != "minimal")
    if load.errors:
        load.problems.append(f"errors {load.errors}")
    return load


def report(kind: str, runs: dict[str, list[Load]]) -> None:
    rows = []
    for name, loads in runs.items():
        stat = [
            median([percentile(x.latencies, q) * 1000 for x in loads]) for q in (0.5, 0.9, 0.99)
        ]
        problems = sorted({p for x in loads for p in x.problems})
        rows.append(
            [
                name,
                sum(len(x.latencies) for x in loads),
                f"{median([x.rate for x in loads]):,.0f}",
                *(f"{s:.1f}" for s in stat),
                "; ".join(problems) or "ok",
            ]
        )
    print(f"\n{kind}, medians of {len(next(iter(runs.values())))} rounds:")
    table(["contestant", "answered", "req/s", "p50 ms", "p90 ms", "p99 ms", "checks"], rows)
    base = runs.get("minimal")
    for name, loads in runs.items():
        if name == "minimal" or base is None:
            continue
        ours = median([x.rate for x in loads])
        theirs = median([x.rate for x in base])
        p99 = median([percentile(x.latencies, 0.99) for x in loads])
        p99_base = median([percentile(x.latencies, 0.99) for x in base])
        print(f"{name} ÷ minimal: req/s {ratio(ours, theirs)}, p99 {ratio(p99, p99_base)}")
    one, two = runs.get("refmail"), runs.get("refmail, 2 workers")
    if one and two:
        rate_one, rate_two = (median([x.rate for x in r]) for r in (one, two))
        print(f"refmail, 2 workers ÷ 1 worker: req/s {ratio(rate_two, rate_one)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="POSTs per contestant and run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--postgres", metavar="URL", default=PG_URL)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds of load, at most")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        import uvicorn

        url, port = args.serve
        app = minimal_app(url, os.environ[KEY_ENV])
        uvicorn.run(app, host="127.0.0.1", port=int(port), **UVICORN)  # type: ignore[arg-type]
        return 0
    if not 1 <= args.concurrency <= 256 or not 1 <= args.requests <= 100_000:
        parser.error("--concurrency must be 1..256 and --requests 1..100000")
    workers = refmail_web_has_workers()
    problems = 0
    with machine_noted():
        print(
            f"{args.requests} POSTs per run from {args.concurrency} keep-alive connections, "
            f"at most {args.time_limit:.0f} s each"
        )
        for kind in args.db:
            names = ["minimal", "refmail"]
            if kind == "postgres" and workers:
                names.append("refmail, 2 workers")
            runs: dict[str, list[Load]] = {n: [] for n in names}
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    load = one_run(name, kind, args)
                    runs[name].append(load)
                    problems += len(load.problems)
                    print(
                        f"  {kind} round {r + 1}: {name:<20} {load.rate:8,.0f} req/s "
                        f"p99 {percentile(load.latencies, 0.99) * 1000:7.1f} ms"
                        + (f"  PROBLEM: {'; '.join(load.problems)}" if load.problems else ""),
                        flush=True,
                    )
            report(kind, runs)
        if not workers:
            print("refmail web has no --workers yet")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
