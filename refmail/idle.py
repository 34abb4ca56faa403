"""IMAP IDLE watchers: one connection per watched folder that wakes sync when mail arrives.

A watcher never reads mail itself: it only says "something changed" (and "I reconnected"), and
the account's sync job does a catch-up UID search. Dead connections are found by timeouts;
reconnects back off exponentially with jitter, capped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from refmail.config import ImapSettings
from refmail.errors import SourceError
from refmail.imap import NETWORK_ERRORS, connect

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0  # how often the watcher looks up from IDLE to see whether to stop


def backoff_delay(failures: int, cap: float, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with full jitter: 1, 2, 4 … seconds, at most `cap`.

    >>> 0 <= backoff_delay(3, 300, random.Random(1)) <= 8
    True
    """
    ceiling = min(cap, 2.0 ** max(failures - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


class IdleWatcher(threading.Thread):
    """Keeps one folder in IDLE and calls `on_change` when the server reports new mail."""

    def __init__(
        self,
        account: str,
        settings: ImapSettings,
        folder: str,
        on_change: Callable[[], None],
        stop: threading.Event,
        reissue_seconds: float = 540.0,
        reconnect_max: float = 300.0,
    ) -> None:
        super().__init__(name=f"idle-{account}-{folder}", daemon=True)
        self.account = account
        self.settings = settings
        self.folder = folder
        self.on_change = on_change
        self.stop_event = stop
        self.reissue_seconds = reissue_seconds
        self.reconnect_max = reconnect_max
        self.failures = 0
        self.supported = True  # False once the server says it has no IDLE: polling only

    def run(self) -> None:
        while not self.stop_event.is_set() and self.supported:
            try:
                self._watch()
            except (SourceError, *NETWORK_ERRORS) as exc:
                self.failures += 1
                delay = backoff_delay(self.failures, self.reconnect_max)
                # A server that refuses us (login, connect) is the account's sync job's to report,
                # with its own backoff: one error stream per account. A dropped IDLE is ours.
                level = logging.DEBUG if isinstance(exc, SourceError) else logging.WARNING
                log.log(
                    level,
                    "account %s folder %s: IDLE connection lost (%s); retrying in %.0f s",
                    self.account,
                    self.folder,
                    exc,
                    delay,
                )
                self.stop_event.wait(delay)

    def _watch(self) -> None:
        with connect(self.settings) as client:
            if not client.has_capability("IDLE"):
                log.info("account %s: the server has no IDLE; polling only", self.account)
                self.supported = False
                return
            client.select_folder(self.folder, readonly=True)
            if self.failures:
                log.info("account %s folder %s: reconnected", self.account, self.folder)
            self.failures = 0
            self.on_change()  # catch up on whatever arrived while we were away
            while not self.stop_event.is_set():
                self._idle_once(client)

    def _idle_once(self, client) -> None:  # type: ignore[no-untyped-def]
        """One IDLE command, ended before `reissue_seconds` (servers drop long IDLEs)."""
        client.idle()
        started = time.monotonic()
        changed = False
        try:
            while not self.stop_event.is_set():
                asked = time.monotonic()
                responses = client.idle_check(timeout=CHECK_SECONDS)
                if any(_is_bye(r) for r in responses) or (
                    not responses and time.monotonic() - asked < CHECK_SECONDS / 2
                ):
                    # idle_check swallows end-of-file and returns at once: the server is gone
                    raise SourceError("the server closed the IDLE connection")
                if any(_is_change(r) for r in responses):
                    changed = True
                    break
                if time.monotonic() - started > self.reissue_seconds:
                    break
        finally:
            client.idle_done()  # a dead server makes this time out: the reconnect path
        if changed:
            self.on_change()
        else:
            client.noop()


def _is_bye(response: object) -> bool:
    return isinstance(response, tuple) and bool(response) and response[0] == b"BYE"


def _is_change(response: object) -> bool:
    """EXISTS (new mail) and EXPUNGE/FETCH (changes) wake sync; anything else is chatter."""
    if not isinstance(response, tuple) or len(response) < 2:
        return False
    word = response[1]
    return isinstance(word, bytes) and word.upper() in (b"EXISTS", b"RECENT", b"EXPUNGE")
