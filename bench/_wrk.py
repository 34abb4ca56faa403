"""wrk (the C load generator, Debian package `wrk`) as a bench's client: every request a POST
to a distinct prebuilt path, the paths split between wrk's threads, and what wrk measured
(requests, errors, latency percentiles, which paths each thread sent) read back as a `WrkRun`.

Not a bench itself: bench/web_oneclick.py drives it. Far cheaper in CPU than a Python client,
so on a small machine the servers get the cores the load generator would otherwise take.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# One path a line in the file named by REFMAIL_WRK_PATHS. Thread k of n sends lines k, k+n, ...;
# a thread that has sent all of its own sends SPENT (a 404, counted as an error) so that running
# out of contacts shows instead of re-posting one already done.
SCRIPT = r"""
local counter, threads = 0, {}
local body, spent = os.getenv("REFMAIL_WRK_BODY"), "/u/spent"
local ctype = os.getenv("REFMAIL_WRK_TYPE")

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n, k, i = tonumber(os.getenv("REFMAIL_WRK_THREADS")), index, 0
  mine, sent = {}, 0
  for line in io.lines(os.getenv("REFMAIL_WRK_PATHS")) do
    if i % n == k then
      table.insert(mine, wrk.format("POST", line, {["Content-Type"] = ctype}, body))
    end
    i = i + 1
  end
  over = wrk.format("POST", spent, {["Content-Type"] = ctype}, body)
  verifying = (k == 0)
end

function request()
  if verifying then  -- wrk calls thread 0's request() once at start to check it: not sent
    verifying = false
    return mine[1] or over
  end
  sent = sent + 1
  return mine[sent] or over
end

function done(summary, latency, requests)
  local out = {}
  for _, t in ipairs(threads) do
    table.insert(out, string.format("%d:%d", t:get("index"), t:get("sent")))
  end
  local e = summary.errors
  io.write(string.format(
    "REFMAIL_WRK {\"requests\": %d, \"micros\": %d, \"connect\": %d, \"read\": %d, "
      .. "\"write\": %d, \"status\": %d, \"timeout\": %d, \"p50\": %d, \"p90\": %d, "
      .. "\"p99\": %d, \"max\": %d, \"sent\": \"%s\"}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(out, ",")))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass
class WrkRun:
    """What one wrk run measured. `sent` holds the paths wrk wrote a request for (a request
    still in flight when wrk stopped may or may not have been served: it is not in
    `requests`)."""

    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]  # p50, p90, p99, max
    sent: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # wrk's own user + system time
    spent: int = 0  # requests sent after a thread ran out of paths (all errors)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    port: int,
    paths: list[str],
    *,
    body: bytes,
    content_type: str,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkRun:
    """POST each of `paths` at most once to 127.0.0.1:port for `seconds`, from `connections`
    keep-alive connections on `threads` wrk threads."""
    exe = wrk_path()
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="refmail-bench-wrk-") as tmp:
        script, listing = Path(tmp) / "oneclick.lua", Path(tmp) / "paths"
        script.write_text(SCRIPT)
        listing.write_text("".join(f"{p}\n" for p in paths))
        env = os.environ | {
            "REFMAIL_WRK_PATHS": str(listing),
            "REFMAIL_WRK_THREADS": str(threads),
            "REFMAIL_WRK_BODY": body.decode(),
            "REFMAIL_WRK_TYPE": content_type,
        }
        cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        cmd += ["--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}"]
        process = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out = process.stdout.read() if process.stdout else ""
        err = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.strip() or out.strip()}")
    run = parse(out, paths, threads)
    run.cpu_seconds = usage.ru_utime + usage.ru_stime
    return run


def parse(out: str, paths: list[str], threads: int) -> WrkRun:
    """The REFMAIL_WRK line the script's done() prints, with the paths each thread sent."""
    line = next((x for x in out.splitlines() if x.startswith("REFMAIL_WRK ")), None)
    if line is None:
        raise RuntimeError(f"no result line in wrk's output:\n{out}")
    raw = json.loads(line.removeprefix("REFMAIL_WRK "))
    sent: list[str] = []
    spent = 0
    for item in filter(None, raw["sent"].split(",")):
        index, count = (int(x) for x in item.split(":"))
        own = paths[index::threads]
        sent.extend(own[:count])
        spent += max(0, count - len(own))
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    return WrkRun(
        requests=raw["requests"],
        seconds=raw["micros"] / 1e6,
        errors=errors,
        latency_ms={k: raw[k] / 1000 for k in ("p50", "p90", "p99", "max")},
        sent=sent,
        spent=spent,
    )
