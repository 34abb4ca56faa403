"""What the tests of refmail's web pages share: the link signing keys, RFC 8058's one-click
POST body, and a plain SMTP server on loopback that keeps the "email me my link" mail."""

from __future__ import annotations

import email.message
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from tests.support.dovecot import free_port

KEYS = ["a-signing-key-for-tests-0123456789"]
ONE_CLICK = b"List-Unsubscribe=One-Click"


class Sink(MessageHandler):
    """An SMTP server that keeps what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[email.message.Message] = []

    def handle_message(self, message: email.message.Message) -> None:
        self.messages.append(message)


@contextmanager
def running_sink() -> Iterator[tuple[Sink, int]]:
    """A Sink listening on a free loopback port: (sink, port), stopped on leaving."""
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
