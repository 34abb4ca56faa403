"""A real SMTP server on loopback for tests (aiosmtpd), with the faults a provider can show.

It keeps every message it accepts (envelope and raw bytes) in memory, and can be told to:

- file each accepted message into a Dovecot user's Sent folder *before* answering 250, as Gmail
  and Microsoft 365 do (refmail's `sent_copy = "server"` relies on that);
- refuse RCPT or DATA with a given reply (``451 4.3.0 …``, ``550 5.1.1 …``) for the first N
  attempts, or always;
- require a login (AUTH PLAIN/LOGIN over the plain loopback connection) with a password the
  test can change while the server runs, answering 535 to any other;
- drop the connection during DATA without answering: in the middle of the message
  (``mid_data``, nothing accepted), after the whole message but before accepting it
  (``before_reply``), or after accepting (and filing) it, so the client never sees the 250
  (``after_accept``: the "lost reply" every SMTP client must survive).

The server runs in a thread of the test process; a dispatcher in another process reaches it over
TCP, so the in-memory record is all a test needs. Handler hooks never await, so recording a
message and filing it in Sent happen together or not at all, even when the client is killed.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import imapclient
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.support.dovecot import Dovecot, free_port

Stage = Literal["RCPT", "DATA"]
DropMode = Literal["mid_data", "before_reply", "after_accept"]


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "").strip()


@dataclass
class _Fault:
    kind: str  # "RCPT", "DATA" (refusals) or a DropMode
    reply: str
    remaining: int | None  # None: always


@dataclass
class SinkState:
    """What the server saw; read it from the test thread under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[Received] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=lambda: {"MAIL": 0, "RCPT": 0, "DATA": 0})
    faults: list[_Fault] = field(default_factory=list)
    sessions: int = 0  # connections open right now
    drops: int = 0


class SmtpSink:
    """The handler (aiosmtpd hooks) plus the controls and the record a test uses."""

    def __init__(self) -> None:
        self.state = SinkState()
        self.host = "127.0.0.1"
        self.port = 0
        self._file_into: tuple[Dovecot, str, str] | None = None
        self._login: tuple[str, str] | None = None
        self._controller: Controller | None = None

    # ---- controls ---------------------------------------------------------

    def file_into_sent(self, server: Dovecot, user: str, folder: str = "Sent") -> None:
        """APPEND every accepted message (\\Seen) to `user`'s `folder` before answering 250."""
        self._file_into = (server, user, folder)

    def refuse(self, stage: Stage, reply: str, times: int | None = None) -> None:
        """Answer `reply` (e.g. "451 4.3.0 Try again later") at RCPT or at the end of DATA,
        for the next `times` attempts (None: always)."""
        with self.state.lock:
            self.state.faults.append(_Fault(stage, reply, times))

    def drop(self, mode: DropMode = "mid_data", times: int | None = 1) -> None:
        """Close the connection during DATA without answering, for the next `times` messages."""
        with self.state.lock:
            self.state.faults.append(_Fault(mode, "", times))

    def require_login(self, user: str, password: str) -> None:
        """From now on only this user and password may log in (others get 535)."""
        self._login = (user, password)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator: anyone, until require_login names who."""
        if self._login is None:
            return AuthResult(success=True)
        given = (bytes(data.login).decode(), bytes(data.password).decode())
        return AuthResult(success=given == self._login, handled=False)  # server answers 535

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def reset(self) -> None:
        """Forget everything: messages, counters, faults and the Sent filing."""
        with self.state.lock:
            self.state.received.clear()
            self.state.faults.clear()
            self.state.attempts = {"MAIL": 0, "RCPT": 0, "DATA": 0}
            self.state.drops = 0
        self._file_into = None

    # ---- the record -------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.received)

    def attempts(self, stage: str) -> int:
        with self.state.lock:
            return self.state.attempts[stage]

    @property
    def drops(self) -> int:
        with self.state.lock:
            return self.state.drops

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.received:
            counts[item.message_id] = counts.get(item.message_id, 0) + 1
        return counts

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no client is connected (after a client was killed, say): by then any
        message it got accepted is recorded, and filed in Sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if self.state.sessions == 0:
                    return
            time.sleep(0.01)
        raise AssertionError(f"SMTP sink still has {self.state.sessions} sessions open")

    # ---- lifecycle --------------------------------------------------------

    def start(self) -> SmtpSink:
        self.port = free_port()
        self._controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            authenticator=self.authenticate,
            auth_require_tls=False,  # loopback only, as refmail's tls = "none" is
        )
        self._controller.start()
        self.wait_idle()  # the controller's own readiness probe
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # ---- aiosmtpd hooks (run in the server's event loop; none of them awaits) ---------------

    def _take(self, kind: str) -> _Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.kind == kind and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _count(self, stage: str) -> None:
        with self.state.lock:
            self.state.attempts[stage] += 1

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._count("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self._count("RCPT")
        fault = self._take("RCPT")
        if fault is not None:
            return fault.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._count("DATA")
        if self._take("before_reply") is not None:
            return self._abort(server)
        fault = self._take("DATA")
        if fault is not None:
            return fault.reply
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        received = Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data)
        if self._file_into is not None:
            dovecot, user, folder = self._file_into
            dovecot.append(user, folder, data, flags=[imapclient.SEEN])  # blocks: before the 250
        with self.state.lock:
            self.state.received.append(received)
        if self._take("after_accept") is not None:
            return self._abort(server)
        return "250 Message accepted for delivery"

    def _abort(self, server: SMTP) -> str:
        """Close the connection at once; the reply returned afterwards is never sent."""
        with self.state.lock:
            self.state.drops += 1
        if server.transport is not None:
            server.transport.abort()
        return "451 never sent"

    def _connected(self, delta: int) -> None:
        with self.state.lock:
            self.state.sessions += delta


class _Server(SMTP):
    """aiosmtpd's SMTP with a count of open sessions and an optional drop in mid-message."""

    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(sink, **kwargs)
        self.sink = sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sink._connected(+1)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)
        finally:
            self.sink._connected(-1)

    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is not None and self.envelope.rcpt_tos:
            fault = self.sink._take("mid_data")
            if fault is not None:
                self.sink._count("DATA")
                await self.push("354 End data with <CR><LF>.<CR><LF>")
                await self._reader.readuntil(b"\r\n")  # the first line of the message, no more
                self.sink._abort(self)
                raise ConnectionResetError("dropped in mid-message by the test")  # ends the session
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(sink, **kwargs)
        self.sink = sink

    def factory(self) -> SMTP:
        return _Server(self.sink, **self.SMTP_kwargs)


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    """A fresh SMTP sink on 127.0.0.1 (a free port), stopped after the test."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
