"""Serves refmail's web app with a real uvicorn on a loopback port, in a thread, for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from refmail.web import WebContext, create_app
from tests.support.dovecot import free_port


@contextmanager
def serve(context: WebContext) -> Iterator[str]:
    """Start the app; yield its base URL; stop it."""
    port = free_port()
    # As `refmail web` runs it: X-Forwarded-For is the app's to judge (web.trusted_proxies).
    config = uvicorn.Config(
        create_app(context), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
