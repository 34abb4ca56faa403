"""Round 17 of issue 10's detection: shapes seen on project lists (kept outside the
repository), each beside its nearest look-alike. All messages are hand-written."""

from __future__ import annotations

from refmail.detect import Classification, Identity, classify
from refmail.detect_copy_shape import copy_in_a_list_item
from refmail.parse import parse_message

OWNER = "alice@novak.example.com"
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({"refmail@example.com"}))


def run(
    sender: str, to: str, cc: str, body: str, subject: str = "Re: frob sensors"
) -> Classification:
    raw = (
        f"From: {sender}\nTo: {to}\nCc: {cc}\nSubject: {subject}\n"
        "Message-ID: <r17@example.com>\n\n" + body
    ).encode()
    return classify(parse_message(raw), IDENTITY)


def why(v: Classification) -> str:
    return "\n".join(v.explain())


# An Outlook for Mac reply: the attribution, then the quoted mail indented four spaces.
INDENTED = (
    'On 7/8/26, 11:29 AM, "frob-devel on behalf of Jim Fox" <jim@fox.example.com> wrote:\n\n'
    "    On 7/8/26 10:52 AM, Bo Lind wrote:\n"
    "    > Does the sensor daemon read the new chips?\n\n"
    "    + Kay, who wrote the chip sensor code\n\n"
    "    It needs the config daemon for now.\n\n"
)
TO = "Jim Fox <jim@fox.example.com>, Bo Lind <bo@lind.example.org>"
CC = "frob-devel@lists.example.org, Kay Moss <kay@moss.example.net>"


def test_a_copy_in_an_indented_quote_is_not_the_authors() -> None:
    # Outlook for Mac indents the quoted mail instead of marking it with '>': the loop-in
    # quoted there is someone else's; the answer below connects no one
    body = INDENTED + "The old daemon reads them too once the driver is enabled.\n\nRegards\nVic\n"
    v = run("Vic Hale <vic@hale.example.com>", TO, CC, body)
    assert v.kind == "other", why(v)


def test_a_copy_written_below_an_indented_quote_is_the_authors() -> None:
    # the look-alike's twin: the author's own copy note below the indented quote still counts
    body = INDENTED + "+ Ann, who maintains the old daemon and knows the driver side.\n\nVic\n"
    v = run("Vic Hale <vic@hale.example.com>", TO, CC + ", Ann Roy <ann@roy.example.net>", body)
    assert v.kind == "introduction", why(v)
    assert "ann@roy.example.net" in {p.address.email for p in v.parties}


# A new mail to the list, Jon's proposal quoted; the author copies another list.
PROPOSAL = "\n\nOn 16/06/2026 19:48, Jon Cole wrote:\n> Some topics I would bring to a session.\n"
LIST_TO = "Jon Cole <jon@cole.example.net>, summit@lists.example.org"


def test_a_list_copied_by_its_mailbox_name_is_a_list_copy() -> None:
    # "Added frob-doc to Cc": the name is the list's mailbox (frob-doc@vger…); the people put
    # in Bcc cannot be seen, so nobody is connected
    body = "(Added frob-doc to Cc and a few people to Bcc)" + PROPOSAL + "\nHi, a late thought."
    v = run("Vera Holm <vera@holm.example.com>", LIST_TO, "frob-doc@vger.example.org", body)
    assert v.kind == "other", why(v)
    assert "neg_list_copy" in {h.feature for h in v.evidence}


def test_a_person_copied_beside_a_list_by_its_mailbox_name_is_a_loop_in() -> None:
    # the look-alike's twin: a person named beside the list is copied in all the same
    body = (
        "(Added frob-doc and Kay to Cc, Kay wrote most of the build scripts)"
        + PROPOSAL
        + "\nHi, a late thought."
    )
    cc = "frob-doc@vger.example.org, Kay Moss <kay@moss.example.net>"
    v = run("Vera Holm <vera@holm.example.com>", LIST_TO, cc, body)
    assert v.kind == "introduction", why(v)
    assert {p.address.email for p in v.parties} == {"kay@moss.example.net", "jon@cole.example.net"}


THREAD = "\n\nOn Sat, 28 Feb 2026, Jon Cole wrote:\n> Reports rot in the tracker.\n"
CC_MANY = "Kay Moss <kay@moss.example.net>, Bo Lind <bo@lind.example.org>, summit@lists.example.org"


def test_a_copy_in_a_step_of_a_procedure_is_said_not_made() -> None:
    # the author sets out what a bot would do; its copy is a step, not the author's act
    body = (
        "What I'd like to propose: a bot that watches an address. When a report comes in, it:\n\n"
        "  1. Pulls the trace from the mail\n"
        "  2. Decodes it and finds the commit that broke things\n"
        "  3. Forwards the report to the right list, Cc'ing\n"
        "     the right people\n\nThoughts?" + THREAD
    )
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", CC_MANY, body)
    assert v.kind == "other", why(v)
    assert "copy_in_a_list_item" in {h.feature for h in v.evidence}


def test_a_point_of_a_plan_copying_someone_is_said_not_made() -> None:
    body = (
        "My todo list:\n\n* get the series reviewed and applied\n"
        "* afterwards make sure Bo and/or Kay (now CCed) check the text\n"
        "* drop the old document" + THREAD
    )
    # (Kay's address is not among the recipients: the copy is told of, not seen)
    cc = "Bo Lind <bo@lind.example.org>, summit@lists.example.org"
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", cc, body)
    assert v.kind == "other", why(v)


def test_a_copy_note_as_its_own_line_or_a_lone_item_is_still_made() -> None:
    # the look-alikes' twins: one item is no list, and a note outside the list is the author's
    for body in (
        "- +cc Kay, who wrote the tracker's mail gateway and can tell what it drops." + THREAD,
        "Two things:\n\n- the tracker drops replies\n- nobody reads it\n\n"
        "+cc Kay, who wrote the tracker's mail gateway and can tell what it drops." + THREAD,
    ):
        v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", CC_MANY, body)
        assert v.kind == "introduction", why(v)
        assert "kay@moss.example.net" in {p.address.email for p in v.parties}


def test_no_nameless_copy_is_guessed_among_dozens() -> None:
    # "cc'ing Waiman" whose address carries no name, in a Cc of a dozen nameless addresses
    # as patch tools write it: the last one is not the one copied in, so none is guessed
    many = ", ".join(f"dev{i}@kern{i}.example.org" for i in range(12))
    body = "cc'ing Waiman, who has been working on the same thing." + THREAD
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", many, body)
    assert v.kind == "introduction", why(v)
    assert {p.address.email for p in v.parties} == {"jon@cole.example.net"}
    # the twin: with a few nameless copies, the newest stands for the name (clients append)
    few = "dev1@kern1.example.org, dev2@kern2.example.org"
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", few, body)
    assert {p.address.email for p in v.parties} == {
        "jon@cole.example.net",
        "dev2@kern2.example.org",
    }


def test_a_short_form_ending_in_its_own_letter_names_the_one_copied() -> None:
    # "+Cc Mira, Dave": Mira is Miroslava's short form (not a cut of it, so no plain prefix)
    body = "+Cc Mira, Dave\n\nI think they wrote the scheduler part." + THREAD
    cc = "Miroslava Novak <mnovak@ffwll.example.org>, Dave Ash <dave@ash.example.org>"
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", cc, body)
    assert v.kind == "introduction", why(v)
    assert {p.address.email for p in v.parties} == {
        "mnovak@ffwll.example.org",
        "dave@ash.example.org",
        "jon@cole.example.net",
    }
    # the look-alike: two copied whose given names Mira could stand for: none is guessed, nor
    # one whose surname only starts the same ("Ada Mirek")
    cc = (
        "Miroslava Novak <mnovak@ffwll.example.org>, Mirela Dan <mdan@ffwll.example.org>, "
        "Ada Mirek <ada@mirek.example.org>, Dave Ash <dave@ash.example.org>"
    )
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", cc, body)
    parties = {p.address.email for p in v.parties}
    assert not parties & {
        "mnovak@ffwll.example.org",
        "mdan@ffwll.example.org",
        "ada@mirek.example.org",
    }


def test_a_nameless_copy_is_preferred_to_a_loose_short_form() -> None:
    # "+Cc Mark" with Marco in Cc and mr@… beside him, nameless: "Mark" reads as a short form
    # of Marco, but a nameless mailbox with Mark's initial may be his (a reviewer's case), so
    # the short form is not taken; the nameless copy stands for the name, as before round 17
    body = "+Cc Mark, who wrote the arm64 part.\n\nDoes this change the fault path?" + THREAD
    cc = "Marco Elver <elver@kasan.example.org>, mr@arm.example.com"
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", cc, body)
    assert v.kind == "introduction", why(v)
    assert {p.address.email for p in v.parties} == {
        "mr@arm.example.com",
        "jon@cole.example.net",
    }
    # the twin: a nameless copy whose mailbox cannot be Mark's (another initial) leaves the
    # short form its reading
    cc = "Marco Elver <elver@kasan.example.org>, kernel-team@arm.example.com"
    v = run("Sam Lee <sam@lee.example.org>", "Jon Cole <jon@cole.example.net>", cc, body)
    assert {p.address.email for p in v.parties} == {
        "elver@kasan.example.org",
        "jon@cole.example.net",
    }


def test_a_copy_note_after_a_list_or_beside_an_unrelated_item_is_not_in_a_list() -> None:
    # (a reviewer's cases) the author's own note on the line after a list, not indented into
    # its last item; and a lone item whose only "sibling" is in another list, paragraphs away
    note = "Cc'ing Jo, who wrote the driver."
    assert copy_in_a_list_item("1. built it\n2. ran the tests\n" + note, note) == ""
    lone = "- one thing\n\nSome text between.\n\n- " + note
    assert copy_in_a_list_item(lone, note) == ""
    # the twins: the note indented into the last item, and items parted by a blank line
    assert copy_in_a_list_item("1. built it\n2. ran it,\n   " + note, note) == "2. ran it,"
    spaced = "1. built it\n\n2. ran it, " + note
    assert copy_in_a_list_item(spaced, note) == "2. ran it, " + note
    # items wrapped without indenting, as plain-text mail does: a long line's next line goes on
    first = "* get this patchset reviewed and applied, then wait for the release:"
    then = "* then make sure Greg (now CCed) checks it"
    todo = f"{first}\nhttps://example.org/x\n\n{then}"
    assert copy_in_a_list_item(todo, "Greg (now CCed)") == then
