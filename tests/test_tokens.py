"""Link tokens: only the right token, for the right purpose and contact, is accepted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmail.errors import ConfigError
from refmail.tokens import LinkBuilder, Tokens

KEY = "k" * 32
OLD = "o" * 32


def test_round_trip_per_purpose() -> None:
    tokens = Tokens([KEY])
    unsub = tokens.make("abcDEF123", "unsubscribe")
    assert tokens.read(unsub, "unsubscribe") == "abcDEF123"
    assert tokens.read(unsub, "preferences") is None  # a swapped purpose is refused


def test_tampered_truncated_and_foreign_tokens_are_refused() -> None:
    tokens = Tokens([KEY])
    good = tokens.make("alice-id", "unsubscribe")
    body, sig = good.split(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (f"{body}.{flipped}", good[:-1], good[:10], f"bob-id.{sig}", "", "x" * 500, body):
        assert tokens.read(bad, "unsubscribe") is None, bad
    for i in range(len(sig)):  # every single-character change of the signature
        for c in "AQgw_-":
            if c != sig[i]:
                assert tokens.read(f"{body}.{sig[:i]}{c}{sig[i + 1 :]}", "unsubscribe") is None
    other_key = Tokens(["z" * 32]).make("alice-id", "unsubscribe")
    assert tokens.read(other_key, "unsubscribe") is None


def test_rotation_old_links_keep_working() -> None:
    before = Tokens([OLD]).make("alice-id", "unsubscribe")
    rotated = Tokens([KEY, OLD])
    assert rotated.read(before, "unsubscribe") == "alice-id"
    assert rotated.make("alice-id", "unsubscribe") == Tokens([KEY]).make("alice-id", "unsubscribe")
    assert Tokens([KEY]).read(before, "unsubscribe") is None  # once the old key is dropped


def test_tokens_say_nothing_about_the_contact() -> None:
    link = LinkBuilder("https://r.example/", Tokens([KEY])).unsubscribe("Zq3-random-id")
    assert link.startswith("https://r.example/u/Zq3-random-id.")
    assert "@" not in link


def test_weak_or_missing_keys_are_refused() -> None:
    for keys in ([], [""], ["short"]):
        with pytest.raises(ConfigError):
            Tokens(keys)


def test_form_tokens_are_bound_to_the_contact_and_expire() -> None:
    tokens = Tokens([KEY])
    form = tokens.form_token("alice-id")
    assert tokens.form_token_ok(form, "alice-id")
    assert not tokens.form_token_ok(form, "bob-id")
    assert not tokens.form_token_ok(form, "alice-id", max_age=-1)
    assert not tokens.form_token_ok("garbage", "alice-id")


@given(st.text(max_size=300))
def test_arbitrary_strings_never_verify(candidate: str) -> None:
    assert Tokens([KEY]).read(candidate, "unsubscribe") is None
