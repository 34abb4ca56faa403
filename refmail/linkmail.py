"""Sends the "email me my link" mails off the request path, within the account's hourly budget.

The page queues the address and answers at once, the same way whether or not the address is
known, so its timing tells nothing; a worker thread looks the address up and sends. Every send
counts against the account's `max_per_hour`, together with the follow-ups it sent over SMTP.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from refmail import contacts
from refmail import models as m
from refmail.clock import Clock, system_clock
from refmail.db import SessionFactory
from refmail.errors import RefmailError

log = logging.getLogger(__name__)

LinkMailer = Callable[[str, str], None]  # (address, preferences URL) → sends the link
HOUR = timedelta(hours=1)


@dataclass
class SendBudget:
    """An account's `max_per_hour`, shared by link mails and its follow-ups sent over SMTP."""

    factory: SessionFactory
    account: str
    per_hour: int
    clock: Clock = system_clock
    _sent: deque[datetime] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        """Spend one send if the last hour leaves room for it."""
        now = self.clock()
        with self._lock:
            while self._sent and self._sent[0] <= now - HOUR:
                self._sent.popleft()
            if self._follow_ups_sent(now) + len(self._sent) >= self.per_hour:
                return False
            self._sent.append(now)
            return True

    def _follow_ups_sent(self, now: datetime) -> int:
        since = now - HOUR
        with self.factory() as session:
            return int(
                session.scalar(
                    select(func.count(m.FollowUp.id))
                    .join(m.Account, m.Account.id == m.FollowUp.account_id)
                    .where(
                        m.Account.name == self.account,
                        or_(
                            and_(m.FollowUp.channel == "smtp", m.FollowUp.delivered_at > since),
                            and_(m.FollowUp.state == "delivering", m.FollowUp.claimed_at > since),
                        ),
                    )
                )
                or 0
            )


class LinkQueue:
    """A bounded queue of addresses that asked for their link, and the thread that sends."""

    def __init__(
        self,
        factory: SessionFactory,
        mailer: LinkMailer | None,
        link_for: Callable[[str], str],
        budget: SendBudget | None = None,
        size: int = 200,
    ) -> None:
        self.factory, self.mailer, self.link_for, self.budget = factory, mailer, link_for, budget
        self._queue: queue.Queue[str] = queue.Queue(maxsize=size)
        self._thread = threading.Thread(target=self._run, name="link-mail", daemon=True)
        self._thread.start()

    def submit(self, address: str) -> None:
        """Never blocks: a full queue drops the request (the page says the same either way)."""
        try:
            self._queue.put_nowait(address)
        except queue.Full:
            log.warning("too many link requests waiting: one dropped")

    def join(self) -> None:
        """Wait until every queued request is handled (for tests and shutdown)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            address = self._queue.get()
            try:
                self._send(address)
            except Exception:
                log.exception("could not send a preferences link")
            finally:
                self._queue.task_done()

    def _send(self, address: str) -> None:
        try:
            with self.factory() as session:
                contact = contacts.find(session, address)
                if contact is None:
                    return
                public_id, stored = contact.public_id, contact.email
        except RefmailError:
            return  # not an address
        if self.mailer is None:
            log.warning("a preferences link was asked for, but no SMTP account can send it")
            return
        if self.budget is not None and not self.budget.take():
            log.warning("a preferences link was not sent: the account's max_per_hour is spent")
            return
        self.mailer(stored, self.link_for(public_id))
