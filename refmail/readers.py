"""Whole messages parsed and classified, in this process or, for big batches, in a process pool.

Parse and classify are most of a first sync's CPU (issue 15), and pure: the bytes, the header
block triage read and the account's identity in, a ParsedMessage and a Classification out. A
batch with many candidates is spread over worker processes while sync goes on fetching; a small
one (an incremental sync, the daemon's usual batch) is read here, where a pool would cost more
than it saves. Either way the result is the same and comes back in the order asked.

Classification here is made with the threads known when the batch was sorted (the reply rule
is the only one that reads them); sync classifies again, at recording time, only a message whose
references name a thread recorded since (an introduction earlier in the same batch).

Each message is read inside its own guard with a CPU budget (MESSAGE_BUDGET_SECONDS): a failure
comes back as text, never as an exception. A worker that dies (a crash in C code, the OOM
killer) breaks the pool: the messages it left unread are then read again one at a time, each in
a fresh pool, so the one that kills its worker costs only itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from typing import TYPE_CHECKING

from refmail.classes import dataclass
from refmail.source import Key, Source

if TYPE_CHECKING:  # the pool's machinery is imported when a batch first needs it
    from concurrent.futures import Future, ProcessPoolExecutor

    from refmail.detect import Classification, Identity
    from refmail.parse import Heads, ParsedMessage

# CPU seconds each step on one message (parse; classify) may take. Python cannot interrupt a
# regex, so every step is bounded by design; this catches what still overruns, checked between
# steps. CPU time of the thread, so a busy machine does not make a good message look like poison.
MESSAGE_BUDGET_SECONDS = 5.0
# Candidates in one batch from which a pool pays: starting workers costs ≈ 0.1 s and each
# message's result is pickled back (≈ 0.1 ms), while reading one costs ≈ 5 ms.
POOL_FROM = 40
WORKER_NICENESS = 10
FETCH_CHUNK = 50  # candidate bodies fetched per round trip
PROCESSES = min(os.cpu_count() or 1, 4)
# The workers start from a server process that imported the parser and the detector once; not
# `fork`, because the daemon that syncs has threads (IDLE watchers, the web server).
_CONTEXT = "forkserver"
_PRELOAD = ["refmail.readers", "refmail.parse", "refmail.detect"]


class OverBudget(Exception):
    """One message took longer than MESSAGE_BUDGET_SECONDS."""


class Failed(Exception):
    """A step that failed where the message was read (maybe another process): its why."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Read:
    """One message through parse and classify: what failed says why (the other fields None
    from that step on)."""

    msg: ParsedMessage | None
    verdict: Classification | None
    why: str = ""  # "Type: text" of the failure, as sync records it


_Job = tuple[bytes, "Heads | None", "Identity", frozenset[str]]  # a task's arguments
Task = Callable[[bytes, "Heads | None", "Identity", frozenset[str]], Read]


@dataclass
class Pending:
    """A message handed to the pool: its key, the task's arguments, its future (None when the
    pool broke as it was handed over) and the pool it went to."""

    key: Key
    job: _Job
    future: Future[Read] | None
    generation: int

    @property
    def raw(self) -> bytes:
        return self.job[0]

    @property
    def threads(self) -> frozenset[str]:
        """The known threads it is classified with."""
        return self.job[3]


def read_message(
    raw: bytes, heads: Heads | None, identity: Identity, threads: frozenset[str]
) -> Read:
    """Parse, then classify with `threads` the known ones; each step in its own guard and
    budget."""
    from refmail.detect import classify
    from refmail.parse import parse_message

    started = time.thread_time()
    try:
        msg = parse_message(raw, heads)
        check_budget(started, "parse")
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
        return Read(None, None, why_of(exc))
    started = time.thread_time()
    try:
        verdict = classify(msg, identity, threads)
        check_budget(started, "classify")
    except Exception as exc:  # noqa: BLE001 - recorded as malformed by sync
        return Read(msg, None, why_of(exc))
    return Read(msg, verdict)


def check_budget(started: float, step: str) -> None:
    spent = time.thread_time() - started
    if spent > MESSAGE_BUDGET_SECONDS:
        raise OverBudget(
            f"{step} took {spent:.1f} s, over the {MESSAGE_BUDGET_SECONDS:g} s budget per message"
        )


def why_of(exc: BaseException) -> str:
    """What sync records of a failure: "Type: text" (a Failed carries the original's)."""
    return exc.why if isinstance(exc, Failed) else f"{type(exc).__name__}: {exc}"


@dataclass
class Ahead:
    """The next batch as read ahead: its header blocks, and its candidates (as the database
    knew them then) handed to the pool. Its own turn sorts it again with what the batch before
    recorded, and takes from here what it still reads whole."""

    heads: dict[Key, Heads] = field(default_factory=dict)
    pending: dict[Key, Pending] = field(default_factory=dict)

    def drop(self) -> None:
        """What its turn did not take (no longer a candidate) is not read."""
        for left in self.pending.values():
            if left.future is not None:
                left.future.cancel()
        self.pending.clear()


def bodies(
    source: Source,
    folder: str,
    keys: list[Key],
    heads: dict[Key, Heads],
    check: Callable[[], None],
    ready: dict[Key, Pending] | None = None,
) -> Iterator[tuple[Key, bytes, Heads | None]]:
    """(key, first BODY_LIMIT bytes, header block) of each of `keys`, in order, fetched
    FETCH_CHUNK at a time (so a lazy reader holds only that many); those `ready` (read ahead)
    are not fetched again."""
    ready = ready or {}
    for start in range(0, len(keys), FETCH_CHUNK):
        chunk = keys[start : start + FETCH_CHUNK]
        check()  # may raise: a stop requested
        missing = [key for key in chunk if key not in ready]
        bodies = source.fetch(folder, missing) if missing else {}
        for key in chunk:
            raw = ready[key].raw if key in ready else bodies.pop(key, None)
            if raw is not None:  # else gone since the scan: nothing to record
                yield key, raw, heads.get(key)


def _lower_priority() -> None:
    """Workers yield the CPU to the syncing process and its database (the serial part: a
    worker that holds a core while they wait makes every round trip slower)."""
    os.nice(WORKER_NICENESS)


class Readers:
    """Reads a batch's candidates: here when few, in the pool when many (started on first
    need, kept until close). `task` is the function the workers run (tests give one that
    crashes on a chosen message); it must be importable by name."""

    def __init__(
        self,
        processes: int | None = None,
        pool_from: int | None = None,
        task: Task | None = None,
    ) -> None:
        # The module's settings as they are now (tests change them).
        self.processes = PROCESSES if processes is None else processes
        self.pool_from = POOL_FROM if pool_from is None else pool_from
        self.task = task or read_message
        self._pool: ProcessPoolExecutor | None = None
        self._generation = 0  # counts the pools started: a break is acted on once

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def pooled(self, count: int) -> bool:
        """Whether `count` messages are read in the pool."""
        return count >= self.pool_from and self.processes >= 2

    def read(
        self,
        count: int,
        items: Iterable[tuple[Key, bytes, Heads | None]],
        identity: Identity,
        threads: frozenset[str],
        ready: dict[Key, Pending] | None = None,
    ) -> Iterator[tuple[Key, bytes, Read, frozenset[str]]]:
        """Each (key, raw, heads) read, in the order given, with the known threads it was
        classified with. `count`: how many `items` will bring (they may be fetched lazily: the
        pool reads the first while the rest arrive); `ready`: those handed to the pool already
        (submit), taken from there."""
        ready = ready if ready is not None else {}
        if not self.pooled(count):
            for key, raw, heads in items:
                early = ready.pop(key, None)
                if early is not None:
                    yield key, early.raw, self._result(early), early.threads
                else:
                    yield key, raw, self.task(raw, heads, identity, threads), threads
            return
        pending = []
        for key, raw, heads in items:
            early = ready.pop(key, None)
            pending.append(early or self.submit(key, raw, heads, identity, threads))
        for early in pending:
            yield early.key, early.raw, self._result(early), early.threads

    def submit(
        self,
        key: Key,
        raw: bytes,
        heads: Heads | None,
        identity: Identity,
        threads: frozenset[str],
    ) -> Pending:
        """Hand one message to the pool (read() collects it when given it in `ready`)."""
        from concurrent.futures.process import BrokenProcessPool

        job = (raw, heads, identity, threads)
        generation = self._generation
        try:
            return Pending(key, job, self._executor().submit(self.task, *job), generation)
        except BrokenProcessPool:
            self._restart(generation)
            return Pending(key, job, None, generation)  # read alone when its turn comes

    def _result(self, pending: Pending) -> Read:
        from concurrent.futures.process import BrokenProcessPool

        if pending.future is not None:
            try:
                return pending.future.result()
            except BrokenProcessPool:
                self._restart(pending.generation)
        return self._alone(pending.job)

    def _alone(self, job: _Job) -> Read:
        """One message with the pool to itself: if its worker dies, it is the culprit."""
        from concurrent.futures.process import BrokenProcessPool

        generation = self._generation
        try:
            return self._executor().submit(self.task, *job).result()
        except BrokenProcessPool as exc:
            self._restart(generation)
            return Read(None, None, f"WorkerCrashed: its worker process died ({exc})")

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context(_CONTEXT)
            context.set_forkserver_preload(_PRELOAD)
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=context, initializer=_lower_priority
            )
        return self._pool

    def _restart(self, generation: int) -> None:
        """A broken pool takes every unfinished future with it: a fresh one for what is left,
        once (the futures of the broken pool each report the break)."""
        if generation == self._generation and self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._generation += 1
