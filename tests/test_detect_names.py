"""Names that read naturally: a party whose display name is missing, a placeholder or only the
address's local part is called what the author's own text calls them, or nothing at all.

The messages are hand-written (owner Ruth introduces or copies people in); each pair differs in
the one thing the rule looks at.
"""

from __future__ import annotations

import pytest

from refmail.detect import Classification, Identity, classify
from refmail.detect_names import initial_fits, party_names, says_nothing
from refmail.parse import Address, parse_message

OWNER = "ruth@hale.example.com"
IDENTITY = Identity(frozenset({OWNER}), frozenset({"refmail@hale.example.com"}))


def verdict(headers: str, body: str, sender: str = f"Ruth Hale <{OWNER}>") -> Classification:
    raw = (
        f"From: {sender}\n{headers}\nSubject: hello\nMessage-ID: <n1@hale.example.com>\n"
        "Date: Tue, 02 Jun 2026 10:00:00 +0000\n\n" + body
    )
    found = classify(parse_message(raw.encode()), IDENTITY)
    assert found.kind == "introduction", found.explain()
    return found


def names(found: Classification) -> dict[str, str]:
    return {p.address.email: p.address.name for p in found.parties}


@pytest.mark.parametrize(
    ("address", "nothing"),
    [
        (Address("nora@x.org", ""), True),
        (Address("nora@x.org", "nora"), True),
        (Address("valmorolj@x.org", "ValmoroLj"), True),
        (Address("valmorolj@x.org", "VALMOROLJ"), True),
        (Address("jo.park@x.org", "jo.park"), True),
        (Address("pat@x.org", "pat@x.org"), True),
        (Address("wk@x.org", "you"), True),
        (Address("mike@x.org", "Mike"), False),  # a capitalised word: a name someone chose
        (Address("jo.park@x.org", "Jo Park"), False),
        (Address("kb@x.org", "Balderston, Kris M"), False),
    ],
)
def test_a_display_name_says_nothing_when_it_is_only_the_address(
    address: Address, nothing: bool
) -> None:
    assert says_nothing(address) is nothing


def test_a_vocative_names_the_party_it_ties_to_and_a_placeholder_names_nobody() -> None:
    found = verdict(
        "To: nora <nora@quay.example.org>, you <you@tern.example.net>",
        "Nora, meet this friend of mine who restores wooden boats. You should talk!\n\nRuth\n",
    )
    assert names(found) == {"nora@quay.example.org": "Nora", "you@tern.example.net": ""}


def test_an_opening_vocative_names_the_one_addressee_whose_address_it_fits() -> None:
    headers = "To: {to}\nCc: Ines Ruiz <ines@ruiz.example.org>"
    body = "Tom--\nI'm copying Ines who ran the pilot and can get back to you on the budget.\n"
    fits = verdict(headers.format(to="tkwx <tkwx@mill.example.net>"), body)
    assert names(fits)["tkwx@mill.example.net"] == "Tom"
    assert names(fits)["ines@ruiz.example.org"] == "Ines Ruiz"  # a real name is kept
    # "Tom" cannot be qzv@…: no name rather than a guess
    misfit = verdict(headers.format(to="qzv <qzv@mill.example.net>"), body)
    assert names(misfit)["qzv@mill.example.net"] == ""


def test_a_full_name_in_the_text_names_the_party_it_ties_to() -> None:
    found = verdict(
        "To: Ben Ode <ben@ode.example.org>\nCc: moraless <moraless@grants.example.org>",
        "Ben, I'm copying Sara Morales who runs our grants desk; she can walk you through it.\n",
    )
    assert names(found)["moraless@grants.example.org"] == "Sara Morales"


def test_the_names_of_a_copy_in_go_to_the_nameless_copied_by_their_initials() -> None:
    found = verdict(
        "To: Ben Ode <ben@ode.example.org>\n"
        "Cc: dunnek <dunnek@hall.example.org>, ortizmr <ortizmr@hall.example.org>",
        "Thanks. I'm copying Kate and Rosa so they can help you with the venue and the press.\n",
    )
    assert names(found) == {
        "ben@ode.example.org": "Ben Ode",
        "dunnek@hall.example.org": "Kate",
        "ortizmr@hall.example.org": "Rosa",
    }


def test_copy_in_names_that_fit_either_address_name_neither() -> None:
    ben = Address("ben@ode.example.org", "Ben Ode")
    copied = [Address("kellya@x.org", "kellya"), Address("adamsk@x.org", "adamsk")]
    text = "I'm copying Anna and Kim so they can help you."
    assert initial_fits("Anna", copied[0]) and initial_fits("Anna", copied[1])
    assert party_names(text, [ben, *copied], [ben], copied, [], text) == {}
    # as many names as people copied, or none is given: "Lena" may be someone else entirely
    one = copied[:1]
    assert party_names(text, [ben, *one], [ben], one, [], text) == {}


def test_one_name_is_one_person() -> None:
    # "Dana" fits both nameless addresses: it names neither
    parties = [Address("dana@a.example.org", "dana"), Address("dana.k@b.example.org", "")]
    text = "Dana, meet Dana! You both run bakeries."
    assert party_names(text, parties, parties, [], []) == {}
    # a name of someone with a name of their own names no nameless party
    doug = Address("doug.band@x.org", "Doug Band")
    dbx = Address("dbx@x.org", "dbx")
    assert party_names("Doug--\nI'm copying Justin.", [dbx, doug], [dbx], [doug], []) == {}


def test_a_nameless_introducer_is_not_called_by_the_local_part() -> None:
    found = verdict(
        "To: Greta Lind <greta@lind.example.org>, Omar Vale <omar@vale.example.org>",
        "Greta, meet Omar: he builds looms and you sell weaving kits. I'll let you two take "
        "it from here.\n",
        sender="ruthh <ruthh@hale.example.com>",
    )
    assert found.introducer == Address("ruthh@hale.example.com", "")
