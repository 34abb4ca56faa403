"""Times every module-level compiled pattern of a set of modules on adversarial inputs.

A super-linear pattern can run for hours and Python cannot interrupt a regex, so the timing runs
in a child process (`python -m tests.support.regex_timing MODULE...`) that the parent kills when one
input takes too long. The child prints one JSON line per (pattern, input) pair.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from refmail.patterns import Lazy

SMALL, LARGE = 10_000, 100_000
RATIO = 30  # linear is 10, quadratic 100: a generous bound
FLOOR = 1e-4  # seconds: below this a small run is timer noise
# Strings repeated up to the input size: runs of one character that many patterns repeat
# (whitespace, '>', '@', '-', '_'), pairs that make two overlapping quantifiers ambiguous, and
# the words the quote and header patterns look for.
UNITS = (
    " ", "\t", "\n", "\r\n", ">", "@", "-", "_", ".", "/", "a", "1", "<", "=", "é", "a@", "@a",
    "> ", "\n ", " \n", "a ", "a.", "a/", "1/", "a-", "<a", "- ", "a wrote\n", "From: a\n",
    "x@y on 01/02/2001 ", "  01/02/2001 10:00 AM\n", "=?a?q?", "Forwarded by ",
    "I'd like to introduce you ", "please not ", "550 5.1.1 ", "<a@b> ",
)  # fmt: skip
# A prefix that puts the pattern's start in place, then a long filler that never completes it.
PREFIXED = (
    ("Forwarded by ", " "), ("On ", " "), ("a wrote", " "), ("From: ", " "), ("x@y", " "),
    ("-- ", " "), ("--", "-"), ("a", " "), ("<", "a"), ("Message-ID:", " "),
)  # fmt: skip


def inputs(size: int) -> Iterator[tuple[str, str]]:
    """About `size` characters of each kind. A unit's inputs of every size end as the LARGE one
    does (the one that shows a blow-up): how the text ends can decide whether a pattern matches
    at once or backtracks through all of it, so two sizes that ended differently compared
    different work, not growth (a linear pattern, wire._PLAIN, measured 30 to 36-fold)."""
    for unit in UNITS:
        tail = unit[: LARGE % len(unit)]
        yield repr(unit), unit * ((size - len(tail)) // len(unit)) + tail
    for prefix, filler in PREFIXED:
        yield f"{prefix!r}+{filler!r}", prefix + filler * (size - len(prefix))


def patterns(module_names: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    """(name, pattern) for every compiled str pattern at module level, also inside tuples,
    lists and dicts (tables of patterns), and for every pattern compiled on first use
    (refmail.patterns.Lazy), compiled here."""
    found: list[tuple[str, re.Pattern[str]]] = []

    def visit(name: str, value: Any, depth: int) -> None:
        if isinstance(value, Lazy):
            value = value()
        if isinstance(value, re.Pattern):
            if isinstance(value.pattern, str):
                found.append((name, value))
        elif depth < 3 and isinstance(value, (list, tuple, frozenset, set)):
            for i, item in enumerate(value):
                visit(f"{name}[{i}]", item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for key, item in value.items():
                visit(f"{name}[{key!r}]", item, depth + 1)

    for module_name in module_names:
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            visit(f"{module_name}.{attr}", value, 0)
    return found


def _run(pattern: re.Pattern[str], text: str, runs: int) -> float:
    """CPU seconds to find every match (what findall, finditer and sub do), best of `runs`.
    CPU time of this thread, not wall time: other processes on a busy machine do not count."""
    best = float("inf")
    for _ in range(runs):
        started = time.thread_time()
        for _match in pattern.finditer(text):
            pass
        best = min(best, time.thread_time() - started)
        if best > 0.05:
            break  # slow already: more runs only cost time
    return best


def _child(module_names: list[str], skip: int, only: list[str], leave_out: list[str]) -> None:
    """Print {"i", "pattern", "input"}, then {"i", "small"} and {"i", "large"} lines, from job
    number `skip` on; `only` names the inputs to use (all when empty), `leave_out` the patterns
    not to time."""
    kinds = [k for k, _ in inputs(SMALL) if not only or k in only]
    jobs = [(n, p, k) for n, p in patterns(module_names) if n not in leave_out for k in kinds]
    small = dict(inputs(SMALL))
    large = dict(inputs(LARGE))
    for i, (name, pattern, kind) in enumerate(jobs):
        if i < skip:
            continue
        print(json.dumps({"i": i, "pattern": name, "input": kind}), flush=True)
        t_small = _run(pattern, small[kind], 3)
        print(json.dumps({"i": i, "small": t_small}), flush=True)
        t_large = _run(pattern, large[kind], 1)
        if t_large > RATIO * max(t_small, FLOOR):
            t_large = min(t_large, _run(pattern, large[kind], 3))  # a hiccup, or really slow?
        print(json.dumps({"i": i, "large": t_large}), flush=True)
    print(json.dumps({"done": len(jobs)}), flush=True)


@dataclass(frozen=True)
class Timing:
    pattern: str
    input: str
    small: float
    large: float  # inf: killed after the limit

    @property
    def ratio(self) -> float:
        return self.large / max(self.small, FLOOR)

    @property
    def linear(self) -> bool:
        return self.ratio <= RATIO


class _Lines:
    """Lines from a child's stdout with a timeout (select on the descriptor, own buffer: a
    buffered text pipe would hide lines it has read ahead from select)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def next(self, timeout: float) -> bytes | None:
        """The next line; None if none came within `timeout` seconds; b"" at the end."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(remaining, 0))
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return b""
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


def measure(
    module_names: Sequence[str],
    limit: float = 3.0,
    only: Sequence[str] = (),
    leave_out: Sequence[str] = (),
) -> list[Timing]:
    """Time every pattern × input pair in a child (only the inputs named in `only`, if given;
    not the patterns named in `leave_out`, whose input is bounded where they are applied: a
    stuck one costs `limit` per input); a run over `limit` seconds is killed and counted as
    infinitely slow."""
    results: list[Timing] = []
    skip = 0
    while True:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.regex_timing",
                str(skip),
                json.dumps([*only]),
                json.dumps([*leave_out]),
                *module_names,
            ],
            stdout=subprocess.PIPE,
        )
        lines = _Lines(proc)
        pending: dict[str, Any] | None = None
        finished = False
        try:
            while True:
                line = lines.next(60 if pending is None else limit)
                if line is None:
                    break  # the child is stuck in a regex
                if not line:
                    raise RuntimeError(f"regex timing child exited with {proc.wait()}")
                data = json.loads(line)
                if "done" in data:
                    finished = True
                    break
                if "small" in data:
                    assert pending is not None
                    pending["small"] = data["small"]
                elif "large" in data:
                    assert pending is not None
                    name, kind, small = pending["pattern"], pending["input"], pending["small"]
                    results.append(Timing(name, kind, small, data["large"]))
                    pending = None
                else:
                    pending = data
        finally:
            proc.kill()
            proc.wait()
        if finished:
            return results
        if pending is None:
            raise RuntimeError("regex timing child is silent")
        inf = float("inf")
        results.append(Timing(pending["pattern"], pending["input"], pending.get("small", inf), inf))
        skip = pending["i"] + 1


if __name__ == "__main__":
    _child(sys.argv[4:], int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]))
