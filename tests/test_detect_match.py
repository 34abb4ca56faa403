"""Round 8's general mechanisms, one by one: a name tied to an address built from it or to
the given name it shortens, and the author's text around a quote attributed by header lines."""

from __future__ import annotations

from refmail.detect_parties import is_list, named
from refmail.detect_text import author_text
from refmail.parse import Address, parse_message


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


def test_a_lists_usual_name_at_a_personal_mailbox_provider_is_a_person() -> None:
    assert not is_list(Address("cohenarthur.dev@gmail.com", "cohenarthur.dev"), frozenset())
    assert is_list(Address("kernel-dev@igalia.example", ""), frozenset())
    assert is_list(Address("openwrt-devel@lists.openwrt.example", ""), frozenset())


def test_a_lists_usual_name_at_a_domain_of_the_persons_own_name_is_a_person() -> None:
    """ "Martin Sperl <kernel@martin.sperl.org>" (round 12): the domain is the person's name."""
    assert not is_list(Address("kernel@jake.moreno.example.org", "Jake Moreno"), frozenset())
    # one word of the name is the organisation's, not a person's own domain
    assert is_list(Address("kernel@moreno.example.org", "Moreno Kernel Team"), frozenset())
    assert is_list(Address("kernel@moreno.example.org", "Jake Moreno"), frozenset())


def _text(body: str) -> str:
    raw = f"From: a@x.example\nTo: b@y.example\nSubject: s\n\n{body}".encode()
    return author_text(parse_message(raw)).text


def test_header_lines_over_a_quote_attribute_it() -> None:
    body = (
        "From: Bob <bob@y.example>\nDate: Mon, 7 Dec 2026 12:52:03 +0900\n\n"
        "> the quoted question\n\nMy answer below the quote.\n"
    )
    assert _text(body) == "My answer below the quote."


def test_header_lines_over_unquoted_text_still_start_a_forward() -> None:
    body = (
        "See below.\n\nFrom: Bob <bob@y.example>\nDate: Mon, 7 Dec 2026 12:52:03 +0900\n"
        "To: Carol <carol@z.example>\n\nThe forwarded words.\n"
    )
    assert _text(body) == "See below."


def test_header_lines_with_a_full_width_colon_attribute_the_quote() -> None:
    # "From：" (U+FF1A) once raised IndexError: the value was split on an ASCII colon
    body = "Hi\n\nFrom： Bob <bob@y.example>\nSent: Mon\n\n> q\n\nMy words.\n"
    raw = f"From: a@x.example\nTo: b@y.example\nSubject: s\n\n{body}".encode()
    seen = author_text(parse_message(raw))
    assert seen.text.split() == ["Hi", "My", "words."]
    assert (seen.replied_name, seen.replied_email) == ("Bob", "bob@y.example")
    assert "My words." in _text("发件人：X\nTo: y\n\n> q\n\nMy words.\n")


def test_a_header_block_with_a_subject_over_a_quote_is_a_forward() -> None:
    """An inline forward quotes its body under the forwarded headers: the scan stops there, and
    the forwarded author is no one the message answers (unlike "From:"/"Date:" over a quote)."""
    body = (
        "Can you look at this one?\n\nFrom: Bob Stone <bob@y.example>\n"
        "Date: Mon, 7 Dec 2026 09:00:00 +0000\nSubject: Build broken\nTo: dev@z.example\n\n"
        "> The build fails on arm64 since Friday.\n\nDana knows this code.\n"
    )
    raw = f"From: a@x.example\nTo: b@y.example\nSubject: s\n\n{body}".encode()
    seen = author_text(parse_message(raw))
    assert seen.text == "Can you look at this one?"
    assert (seen.replied_name, seen.replied_email) == ("", "")
