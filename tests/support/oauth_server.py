"""A local OAuth2 provider for tests: a token endpoint (refresh grant) and an introspection
endpoint Dovecot's oauth2 passdb can ask. Loopback only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class Provider:
    refresh_token: str = "refresh-secret"
    user: str = ""
    issued: list[str] = field(default_factory=list)  # access tokens handed out, in order
    revoked: set[str] = field(default_factory=set)
    refuse_refresh: bool = False
    reject_all: bool = False  # introspection says every token is inactive
    url: str = ""

    def valid(self, token: str) -> bool:
        return not self.reject_all and token in self.issued and token not in self.revoked


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            if self.path == "/token":
                ok = (
                    not provider.refuse_refresh
                    and form.get("grant_type") == ["refresh_token"]
                    and form.get("refresh_token") == [provider.refresh_token]
                )
                if not ok:
                    return self._json(400, {"error": "invalid_grant"})
                token = f"access-{len(provider.issued) + 1}"
                provider.issued.append(token)
                return self._json(200, {"access_token": token, "expires_in": 3600})
            if self.path == "/introspect":
                token = (form.get("token") or [""])[0]
                active = provider.valid(token)
                return self._json(
                    200,
                    {"active": active, "username": provider.user} if active else {"active": False},
                )
            return self._json(404, {})

        def _json(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def serve(provider: Provider) -> Iterator[Provider]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
