"""Round 8's general mechanisms, one by one: a name tied to an address built from it."""

from __future__ import annotations

from refmail.detect_parties import named
from refmail.parse import Address


def test_a_short_given_name_and_surname_tie_to_an_address_built_from_them() -> None:
    jack_lew = Address("jacobjlew@example.net", "")
    assert named(jack_lew, {"jack", "lew"})
    assert named(Address("robertstone@example.net", ""), {"bob", "stone"})


def test_a_short_given_name_alone_ties_nobody_to_a_longer_local_part() -> None:
    assert not named(Address("jacobjlew@example.net", ""), {"jack"})
    assert not named(Address("jacobsonrs@example.org", ""), {"jack"})
    # the surname must end the local part, the given name start it
    assert not named(Address("lewjacob@example.net", ""), {"jack", "lew"})


def test_jack_is_a_short_form_of_john_and_jacob() -> None:
    assert named(Address("js@example.net", "John Stultz"), {"jack"})
    assert named(Address("sj@example.net", "Sullivan, Jacob J"), {"jack"})
