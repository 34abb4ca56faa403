"""OAuth2 access tokens for XOAUTH2 logins (Gmail, Microsoft 365), from a refresh token.

A token is fetched from the provider's token endpoint (RFC 6749 section 6) and kept until shortly
before it expires. A login that fails is retried once with a fresh token, never more: the
daemon's backoff takes it from there. Secrets come from the environment or files, never logs.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import field

from refmail.classes import dataclass
from refmail.config import ImapSettings, SmtpSettings, read_secret
from refmail.errors import ConfigError, SourceError

EARLY_SECONDS = 60  # refresh this long before the provider's expiry


@dataclass(frozen=True)
class OAuth2Settings:
    """Where and how to refresh: the provider's token URL and the app's client credentials."""

    token_url: str
    client_id: str
    client_secret_env: str = "REFMAIL_OAUTH2_CLIENT_SECRET"
    client_secret_file: str = ""
    refresh_token_env: str = "REFMAIL_OAUTH2_REFRESH_TOKEN"
    refresh_token_file: str = ""
    timeout: float = 30.0


@dataclass
class TokenSource:
    """Access tokens for one account, cached until they are about to expire."""

    settings: OAuth2Settings
    clock: Callable[[], float] = time.monotonic
    _token: str = field(default="", repr=False)
    _expires: float = 0.0

    def token(self) -> str:
        if not self._token or self.clock() >= self._expires:
            return self.refresh()
        return self._token

    def refresh(self) -> str:
        """A new access token from the refresh token; SourceError (no secrets in it) on failure."""
        s = self.settings
        form = {
            "grant_type": "refresh_token",
            "client_id": s.client_id,
            "refresh_token": read_secret(
                s.refresh_token_env, s.refresh_token_file, "oauth2 refresh token"
            ),
        }
        with suppress(ConfigError):  # a public client has no secret
            form["client_secret"] = read_secret(
                s.client_secret_env, s.client_secret_file, "oauth2 client secret"
            )
        # Only a token refresh needs the HTTP client: not every IMAP login loads it.
        import urllib.error
        import urllib.parse
        import urllib.request

        request = urllib.request.Request(
            s.token_url,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=s.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise SourceError(
                f"OAuth2 token refresh refused by {s.token_url}: HTTP {exc.code}"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"OAuth2 token refresh at {s.token_url} failed: {exc}") from exc
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(f"OAuth2 token endpoint {s.token_url} returned no access_token")
        lifetime = float(answer.get("expires_in", 3600) or 3600)
        self._token, self._expires = token, self.clock() + max(lifetime - EARLY_SECONDS, 0)
        return token


def token_source(server: ImapSettings | SmtpSettings) -> TokenSource:
    """The token cache of one server's OAuth2 settings (IMAP and SMTP alike), so a token is
    reused until it expires and both protocols refresh the same way."""
    return _cached(
        OAuth2Settings(
            token_url=server.oauth2_token_url,
            client_id=server.oauth2_client_id,
            client_secret_env=server.oauth2_client_secret_env,
            client_secret_file=server.oauth2_client_secret_file,
            refresh_token_env=server.oauth2_refresh_token_env,
            refresh_token_file=server.oauth2_refresh_token_file,
            timeout=server.timeout,
        )
    )


@functools.lru_cache(maxsize=64)
def _cached(settings: OAuth2Settings) -> TokenSource:
    return TokenSource(settings)


def forget_tokens() -> None:
    """Drop every cached token (credentials changed: the next login fetches a fresh one)."""
    _cached.cache_clear()
