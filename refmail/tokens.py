"""Signed link tokens for the recipient pages: opaque, per contact and purpose, rotatable keys.

A token is a contact's random public id and an HMAC-SHA256 signature salted with the purpose
(itsdangerous), so it names no address and no row number, cannot be guessed or enumerated, and an
unsubscribe token does not open the preference page. Verification is constant-time. Keys come
newest first; every key still verifies, only the newest signs.

>>> old = Tokens(["the signing key of last year"])
>>> new = Tokens(["the signing key of this year", "the signing key of last year"])
>>> new.read(old.make("q1w2e3", "unsubscribe"), "unsubscribe")  # a link sent before rotating
'q1w2e3'
>>> new.read(new.make("q1w2e3", "unsubscribe"), "preferences") is None
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadData, BadSignature, Signer, TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode

from refmail.errors import ConfigError

Purpose = Literal["unsubscribe", "preferences"]


class Tokens:
    """Makes and reads link tokens and form (CSRF) tokens."""

    def __init__(self, keys: Sequence[str]) -> None:
        keys = [k for k in keys if k]
        if not keys or any(len(k) < 16 for k in keys):
            raise ConfigError("signing keys must be given and at least 16 characters long")
        self._keys = list(reversed(keys))  # itsdangerous signs with the last one
        self._signers: dict[str, Signer] = {}  # made once per purpose, not per request
        self._form = TimestampSigner(self._keys, salt="refmail.form", digest_method=hashlib.sha256)

    def _signer(self, purpose: str) -> Signer:
        signer = self._signers.get(purpose)
        if signer is None:
            signer = Signer(self._keys, salt=f"refmail.{purpose}", digest_method=hashlib.sha256)
            self._signers[purpose] = signer
        return signer

    def make(self, public_id: str, purpose: Purpose) -> str:
        return self._signer(purpose).sign(public_id).decode("ascii")

    def read(self, token: str, purpose: Purpose) -> str | None:
        """The public id the token was made for; None if it is no valid token for `purpose`."""
        if not token or len(token) > 200 or not _canonical(token):
            return None
        try:
            return self._signer(purpose).unsign(token).decode("ascii")
        except (BadSignature, UnicodeError, ValueError):
            return None

    def form_token(self, public_id: str) -> str:
        """A CSRF token for one contact's form, valid for a limited time."""
        return self._form.sign(public_id).decode("ascii")

    def form_token_ok(self, token: str, public_id: str, max_age: int = 7200) -> bool:
        try:
            return self._form.unsign(token, max_age=max_age).decode("ascii") == public_id
        except (BadSignature, UnicodeError, ValueError):
            return False


def _canonical(token: str) -> bool:
    """Only the one spelling of a signature is accepted: base64 has spare bits in its last
    character, and a token altered there must not count as the same token."""
    _, _, signature = token.rpartition(".")
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except (BadData, ValueError, UnicodeError):
        return False


@dataclass(frozen=True)
class LinkBuilder:
    """The public URLs of one contact's pages."""

    base_url: str
    tokens: Tokens

    def unsubscribe(self, public_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/u/{self.tokens.make(public_id, 'unsubscribe')}"

    def preferences(self, public_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/p/{self.tokens.make(public_id, 'preferences')}"
