"""Business mail (the shapes of the Enron mail kept outside the repository): quoted Lotus Notes
history, addresses copied by a mail client, names shared by two people, and gateway addresses.
All messages are hand-written for these tests."""

from __future__ import annotations

from refmail.detect import Classification, Identity, classify
from refmail.detect_parties import _text_addresses, is_robot, people
from refmail.detect_text import author_text
from refmail.parse import Address, normalise_address, parse_message

OWNER = "alice@novak.example.com"
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({"refmail@example.com"}))


def run(headers: str, body: str) -> Classification:
    raw = (headers.strip() + "\nMessage-ID: <b@example.com>\n\n" + body).encode()
    return classify(parse_message(raw), IDENTITY)


def features(v: Classification) -> set[str]:
    return {e.feature for e in v.evidence}


def test_lotus_notes_history_is_not_the_authors_text() -> None:
    body = (
        "Looks fine to me.\n\n\nBilly Lemmons\n04/30/2001 06:41 PM\n"
        "To: Alice Novak/HOU/EES@EES\ncc: Ted Bland/Enron@EnronXGate\n\nSubject: memo\n\n"
        "I've also added Janet Dietrich to the committee.\n"
    )
    raw = f"From: {OWNER}\nTo: billy@x.example\nSubject: Re: memo\n\n{body}".encode()
    assert author_text(parse_message(raw)).text == "Looks fine to me."


def test_addresses_in_copied_header_lines_are_not_written_by_the_author() -> None:
    text = (
        "Mike,\nCheck your address for Ken.\n\n"
        "To:   <m_besch@mail.example.net>, <chjohnson@mail.example.net>,\n"
        "      <cdownard@resorts.example.com>, Chuck\n"
        "cc: Dana <dana@x.example>\n"
        "Message-ID: <12.ab@aol.example.com>\n\n"
        "You can reach Erin Walsh at erin@tidewater.example.net any day.\n"
    )
    assert [(a.email, a.name) for a in _text_addresses(text)] == [
        ("erin@tidewater.example.net", "Erin Walsh")
    ]


def test_words_of_the_mail_client_or_the_domain_are_no_names() -> None:
    text = "Also <bill@x.example>. Stanford <mmosman@stanford.example.edu>, IBMUS <k@ibm.example>"
    assert [a.name for a in _text_addresses(text)] == ["", "", ""]


def test_one_first_name_speaks_to_one_person() -> None:
    # "Hi Greg," to two Gregs is one greeting, not one to each side
    v = run(
        f"From: {OWNER}\nTo: greg.piper@x.example, greg.whalley@x.example\nSubject: IT plan",
        "Hi Greg,\n\nToday I'll start the merger plan. Greg Whalley has my commitment too.\n",
    )
    assert "speaks_to_each" not in features(v)
    assert v.kind == "other"


def test_one_person_at_two_addresses_is_not_two_parties() -> None:
    v = run(
        f"From: {OWNER}\nTo: ken_lay@x.example, kenneth_lay@x.example\nSubject: a note",
        "Dear Mr. Lay:\n\nI am writing to you as a show of support in difficult times.\n",
    )
    assert "names_two_parties" not in features(v)
    assert v.kind == "other"


def test_a_doubled_dot_address_is_recognised_but_garbage_is_not() -> None:
    assert normalise_address("F..Herod@Enron.com") == "f..herod@enron.com"
    assert normalise_address("p..o'neil@enron.com") == "p..o'neil@enron.com"
    assert normalise_address("..x@enron.com") is None
    assert normalise_address("a..b@") is None


def test_names_and_addressees_alone_connect_nobody() -> None:
    v = run(
        f"From: {OWNER}\nTo: Judy Dyer <judy@x.example>, Dan Kang <dan@x.example>\n"
        "Subject: positions",
        "Judy, your sheet arrived.\n\nDan, the totals are attached. Judy runs settlements.\n",
    )
    assert "no_connecting_act" in features(v)
    assert v.kind == "other"


def test_an_introduction_is_never_marked_as_lacking_an_act() -> None:
    v = run(
        f"From: {OWNER}\nTo: Judy Dyer <judy@x.example>\nCc: Bob Gresch <bob@x.example>\n"
        "Subject: extract",
        "Judy,\n\nBob Gresch can answer all your questions about the extract for you.\n",
    )
    assert v.kind == "introduction", v.explain()
    assert "no_connecting_act" not in features(v)


def test_the_owners_mailbox_on_another_host_of_their_domain_is_not_a_party() -> None:
    raw = (
        b"From: Shi Deng <deng@isye.example.edu>\nTo: Zhen Li <zhen@isye.example.edu>\n"
        b"Cc: deng@mail.isye.example.edu, Vince Kaminski <vince@research.example.com>\n"
        b"Subject: Re: your mail\nMessage-ID: <d@example.com>\n\n"
        b"Zhen,\n\nDr. Kaminski would like to have you as an intern. Please write him an email to "
        b"introduce yourself. His address is vince@research.example.com.\n"
    )
    owner = Identity(owners=frozenset({"deng@isye.example.edu"}))
    v = classify(parse_message(raw), owner)
    assert v.kind == "introduction", v.explain()
    assert {p.address.email for p in v.parties} == {
        "zhen@isye.example.edu",
        "vince@research.example.com",
    }


def test_the_authors_own_address_in_their_signature_is_nobody_to_connect() -> None:
    raw = (
        b"From: m..presto@gridline.example.com\nTo: dana.davis@gridline.example.com\n"
        b"Subject: contact data\nMessage-ID: <p@example.com>\n\n"
        b"Dana, you can reach Frank Giffels at fgiffels@hgp.example.com about the RFI.\n\n"
        b"Kevin Presto\nUBS Warburg Energy\nkevin.presto@ubswenergy.example.com\n"
    )
    msg = parse_message(raw)
    who = people(msg, lambda a: a.email != "m..presto@gridline.example.com", msg.own_text)
    assert [a.email for a in who.in_text] == ["fgiffels@hgp.example.com"]


def test_role_mailboxes_are_nobody_to_connect() -> None:
    assert is_robot(Address("gridline.messaging.administration@gridline.example.com", ""))
    assert is_robot(Address("admin@pkns.example.com", "Systems Administrator"))
    assert not is_robot(Address("adminah.smith@x.example", ""))
