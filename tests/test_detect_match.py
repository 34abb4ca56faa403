"""Round 8's general mechanisms, one by one: a name tied to an address built from it or to
the given name it shortens."""

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


def test_a_word_beginning_the_given_name_is_its_short_form() -> None:
    assert named(Address("hch@infradead.example", "Christoph Hellwig"), {"chris"})
    assert named(Address("ac@nv.example", "Courbot, Alexandre"), {"alex"})
    # three letters begin too many names; the surname is not the given name
    assert not named(Address("hch@infradead.example", "Christoph Hellwig"), {"chr"})
    assert not named(Address("hch@infradead.example", "Christoph Hellwig"), {"hell"})
    # a capitalised word opening a sentence is no short form
    assert not named(Address("wb@x.example", "Willem Bos"), {"will"})


def test_a_short_form_is_not_read_from_a_whole_texts_words() -> None:
    words = {f"w{i:02d}" for i in range(13)} | {"chris"}
    assert not named(Address("hch@infradead.example", "Christoph Hellwig"), words)
