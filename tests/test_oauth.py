"""OAuth2 tokens for XOAUTH2: refreshed from a refresh token, cached, never leaked in errors."""

from __future__ import annotations

import pytest

from refmail.errors import SourceError
from refmail.oauth import OAuth2Settings, TokenSource
from tests.support.oauth_server import Provider, serve


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Provider:
    monkeypatch.setenv("REFMAIL_OAUTH2_REFRESH_TOKEN", "refresh-secret")
    monkeypatch.delenv("REFMAIL_OAUTH2_CLIENT_SECRET", raising=False)
    with serve(Provider()) as p:
        yield p


def source(provider: Provider, clock: list[float]) -> TokenSource:
    return TokenSource(OAuth2Settings(f"{provider.url}/token", "client-1"), clock=lambda: clock[0])


def test_tokens_are_cached_until_shortly_before_expiry(provider: Provider) -> None:
    now = [0.0]
    tokens = source(provider, now)
    assert tokens.token() == "access-1"
    now[0] = 3000.0
    assert tokens.token() == "access-1"  # still valid
    now[0] = 3541.0  # within a minute of the hour: refreshed early
    assert tokens.token() == "access-2"
    assert tokens.refresh() == "access-3"  # an explicit refresh always asks again


def test_refused_refresh_is_one_clear_line_without_secrets(provider: Provider) -> None:
    provider.refuse_refresh = True
    with pytest.raises(SourceError) as failure:
        source(provider, [0.0]).token()
    assert "HTTP 400" in str(failure.value)
    assert "refresh-secret" not in str(failure.value)


def test_unreachable_endpoint_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFMAIL_OAUTH2_REFRESH_TOKEN", "refresh-secret")
    tokens = TokenSource(OAuth2Settings("http://127.0.0.1:1/token", "client-1", timeout=2))
    with pytest.raises(SourceError, match="failed"):
        tokens.token()
