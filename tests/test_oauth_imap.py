"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks a local provider about each token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from refmail.config import ImapSettings
from refmail.errors import SourceError
from refmail.imap import connect
from refmail.oauth import forget_tokens
from tests.support.dovecot import Dovecot
from tests.support.oauth_server import Provider, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def provider_and_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Provider, Dovecot]]:
    monkeypatch.setenv("REFMAIL_OAUTH2_REFRESH_TOKEN", "refresh-secret")
    with (
        serve(Provider(user=f"o{uuid.uuid4().hex[:8]}")) as provider,
        Dovecot(oauth2_introspection_url=f"{provider.url}/introspect") as server,
    ):
        yield provider, server


def settings(provider: Provider, server: Dovecot) -> ImapSettings:
    forget_tokens()
    return ImapSettings(
        host=server.host,
        port=server.port,
        tls="none",
        user=provider.user,
        auth="xoauth2",
        oauth2_token_url=f"{provider.url}/token",
        oauth2_client_id="refmail-test",
    )


def test_xoauth2_login_reuses_the_token(provider_and_server: tuple[Provider, Dovecot]) -> None:
    provider, server = provider_and_server
    imap = settings(provider, server)
    for _ in range(2):
        with connect(imap) as client:
            assert client.select_folder("INBOX")
    assert provider.issued == ["access-1"]  # fetched once, reused while valid


def test_a_refused_token_is_refreshed_once(provider_and_server: tuple[Provider, Dovecot]) -> None:
    provider, server = provider_and_server
    imap = settings(provider, server)
    with connect(imap):
        pass
    provider.revoked.add("access-1")  # the provider revoked it early
    with connect(imap) as client:
        assert client.select_folder("INBOX")
    assert provider.issued == ["access-1", "access-2"]


def test_no_retry_storm_when_refresh_does_not_help(
    provider_and_server: tuple[Provider, Dovecot],
) -> None:
    provider, server = provider_and_server
    imap = settings(provider, server)
    with connect(imap):
        pass
    provider.reject_all = True  # e.g. the user revoked the app's access
    with pytest.raises(SourceError, match="XOAUTH2, after one token refresh"), connect(imap):
        pass
    assert provider.issued == ["access-1", "access-2"]  # exactly one refresh, then it gives up
