"""Time from an introduction arriving to its follow-up draft, with `refmail run` in IDLE.

    python3 -m bench.idle_latency [--messages 50] [--poll-messages 10] [--budget 180]

Starts a private Dovecot (tests/support/dovecot.py) and `refmail run` as a subprocess (fresh SQLite,
`[caps] drafts_in_window = false`, polling only every 300 s, so only IDLE explains a fast draft).
Then, one at a time, another IMAP client APPENDs a fresh partner referral (its own Message-ID,
partner and client) and the clock runs until the thank-you draft answering it (In-Reply-To that
Message-ID) is in Drafts, looked for every 20 ms over one connection. Prints median, p90, p99 and
max in milliseconds and how many took more than 2 s; then the same with `[daemon] idle = false`
and `sync_seconds = 5` (the polling fallback) over fewer messages, each APPENDed at a random
point of the polling period. The whole run is bounded by --budget seconds: what does not fit
is skipped, and said so.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import imapclient
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from refmail import models as m
from tests.support.dovecot import PASSWORD, Dovecot, find_dovecot_binary
from tests.support.mailbox import account_toml, referral

ROOT = Path(__file__).resolve().parents[1]

PASSWORD_ENV = "REFMAIL_BENCH_IMAP_PASSWORD"
SLOW = 2.0  # seconds: the promise for IDLE
TIMEOUT = 15.0  # per message: longer counts as lost


@dataclass
class Mode:
    name: str
    idle: bool
    sync_seconds: float
    messages: int


def write_config(path: Path, server: Dovecot, user: str, mode: Mode) -> None:
    path.write_text(
        f"""
database = "sqlite:///{path.parent / "refmail.db"}"
log_level = "INFO"

[daemon]
sync_seconds = {mode.sync_seconds}
dispatch_seconds = 60
reconnect_max_seconds = 2
idle = {"true" if mode.idle else "false"}

[caps]
drafts_in_window = false

"""
        + account_toml(server.host, server.port, user, name="bench", password_env=PASSWORD_ENV)
    )


class DraftsProbe:
    """One connection on Drafts: NOOP, then SEARCH for a draft replying to a Message-ID."""

    def __init__(self, server: Dovecot, user: str) -> None:
        self.client = server.client(user)
        self.client.select_folder("Drafts", readonly=True)

    def found(self, message_id: str) -> bool:
        self.client.noop()
        return bool(self.client.search(["HEADER", "In-Reply-To", message_id]))

    def close(self) -> None:
        self.client.logout()


def wait_until_synced(db_url: str, uid: int, deadline: float) -> None:
    engine = create_engine(db_url)
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    last = conn.execute(select(func.max(m.FolderState.last_uid))).scalar()
            except OperationalError:  # the daemon has not created the schema yet
                last = None
            if last is not None and last >= uid:
                return
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise SystemExit("refmail run did not sync the warm-up message in time")


def measure(server: Dovecot, mode: Mode, deadline: float) -> tuple[list[float], int, str]:
    """(latencies in seconds, how many timed out, the daemon's log) for one mode."""
    user = f"bench-{mode.name}-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="refmail-idle-bench-") as tmp:
        config = Path(tmp) / "refmail.toml"
        write_config(config, server, user, mode)
        log_path = Path(tmp) / "daemon.log"
        env = {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(ROOT)}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "refmail", "--config", str(config), "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=tmp,
            )
        latencies: list[float] = []
        lost = 0
        rng = random.Random(1)
        try:
            # Warm up: an ordinary message, synced, means the first sync ran and IDLE (if on)
            # has woken it at least once; a short pause lets the watcher go back into IDLE.
            _, warm = referral("warmup-" + uuid.uuid4().hex[:6])
            uid = server.append(user, "INBOX", warm) or 1
            wait_until_synced(f"sqlite:///{Path(tmp) / 'refmail.db'}", uid, time.monotonic() + 30)
            time.sleep(0.5 if mode.idle else 0)
            appender = server.client(user)  # "another client" delivering the mail
            probe = DraftsProbe(server, user)
            try:
                for i in range(mode.messages):
                    if (
                        time.monotonic() + (TIMEOUT if mode.idle else 2 * mode.sync_seconds)
                        > deadline
                    ):
                        print(f"  ({mode.name}: time budget reached after {i} messages)")
                        break
                    message_id, raw = referral(f"{mode.name}{i}-{uuid.uuid4().hex[:6]}")
                    if not mode.idle:  # mail arrives at any point of the polling period
                        time.sleep(rng.uniform(0, mode.sync_seconds))
                    started = time.monotonic()
                    appender.append("INBOX", raw)
                    while not probe.found(message_id):
                        if time.monotonic() - started > TIMEOUT:
                            lost += 1
                            break
                        time.sleep(0.02)
                    else:
                        latencies.append(time.monotonic() - started)
                    if mode.idle:
                        time.sleep(0.2)  # let the watcher return to IDLE, as real mail would
            finally:
                probe.close()
                appender.logout()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        return latencies, lost, log_path.read_text(errors="replace")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def report(mode: Mode, latencies: list[float], lost: int) -> None:
    ms = [x * 1000 for x in latencies]
    label = (
        f"IDLE (sync_seconds={mode.sync_seconds:g})"
        if mode.idle
        else f"polling (idle=false, sync_seconds={mode.sync_seconds:g})"
    )
    if not ms:
        print(f"{label}: no draft seen ({lost} timed out)")
        return
    print(
        f"{label}: n={len(ms)}  median {statistics.median(ms):7.0f} ms  "
        f"p90 {percentile(ms, 90):7.0f} ms  p99 {percentile(ms, 99):7.0f} ms  "
        f"max {max(ms):7.0f} ms  >{SLOW:g} s: {sum(x > SLOW * 1000 for x in ms)}"
        + (f"  timed out (> {TIMEOUT:g} s): {lost}" if lost else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50, help="messages with IDLE")
    parser.add_argument("--poll-messages", type=int, default=10, help="messages when polling")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="sync_seconds to compare")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds for the whole run")
    args = parser.parse_args()
    if find_dovecot_binary() is None:
        raise SystemExit("dovecot not installed: run .ci/setup-dovecot.sh")
    started = time.monotonic()
    deadline = started + args.budget - 10  # leave room to stop the servers
    print(
        f"refmail IDLE latency: APPEND by another client -> draft in Drafts "
        f"(Python {platform.python_version()}, {platform.machine()}, imapclient "
        f"{imapclient.__version__})",
        flush=True,
    )
    modes = [
        Mode("idle", True, 300, args.messages),
        Mode("poll", False, args.poll_seconds, args.poll_messages),
    ]
    with Dovecot(imaps=False) as server:
        for mode in modes:
            if time.monotonic() > deadline:
                print(f"{mode.name}: skipped, time budget used up")
                continue
            latencies, lost, log = measure(server, mode, deadline)
            report(mode, latencies, lost)
            if lost or "Traceback" in log:
                print("  daemon log tail:\n    " + "\n    ".join(log.splitlines()[-15:]))
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
