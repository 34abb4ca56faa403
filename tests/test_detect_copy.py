"""A copy verb copies a *person* in: "adding Liz Zhang", not "adding WARN_ON()".

List replies say "adding", "added", "including" and "+" about code as often as about people.
These hand-written replies (owner Alice answering Henry on a list, Jake in Cc) differ only in
the object of the verb.
"""

from __future__ import annotations

import pytest

from refmail.detect import Identity, classify
from refmail.detect_copy_shape import asks_the_copied
from refmail.detect_languages import LANGUAGES
from refmail.detect_parties import capitalised_words
from refmail.detect_purpose import copy_purpose
from refmail.detect_text import sentences
from refmail.parse import Address, parse_message

IDENTITY = Identity(frozenset({"alice@novak.example.com"}), frozenset({"refmail@example.com"}))
HEADERS = (
    "From: Alice Novak <alice@novak.example.com>\n"
    "To: Henry Blake <henry@ferrovia.example.com>\n"
    "Cc: Jake Moreno <jake@moreno.example.com>, Ops <ops@lists.example.com>\n"
    "Subject: Re: [PATCH] foo: fix the refcount leak\n"
    "In-Reply-To: <p1@ferrovia.example.com>\nMessage-ID: <r1@novak.example.com>\n\n"
)
QUOTE = (
    "\n\nOn Mon, 1 Apr 2024, Henry Blake <henry@ferrovia.example.com> wrote:\n"
    "> foo_open() takes a reference that is never dropped.\n"
)


def verdict(sentence: str) -> str:
    body = f"Henry,\n\n{sentence}\n\nAlice" + QUOTE
    return classify(parse_message((HEADERS + body).encode()), IDENTITY).kind


@pytest.mark.parametrize(
    "sentence",
    [
        "Adding Jake, who wrote the refcount helpers.",
        "Adding Jake Moreno here since he maintains foo.",
        "I've added the foo maintainers in case they have an opinion.",
        "I've added him to Cc, he knows this code.",
        "Cc'ing Jake, who wrote the refcount helpers.",
        "Cc'ing foo-devel and Jake, who wrote the refcount helpers.",
        "A question for Jake really, he wrote the helpers. CCed.",
        "+Cc: the foo maintainers, who know this code.",
        "+CC foo-devel, Jake, who wrote the refcount helpers.",
        "Jake knows this code better than I do, so I've included him.",
        "Let me pull in Jake, he wrote the helpers.",
        "Bringing Jake into the conversation since he owns foo.",
        "Jake (now in Cc) wrote the helpers.",
        "[+Jake]",
        "Jake should be able to help you with this.",
        "I'll let Jake comment on this, he wrote it.",
        # "the" and a person noun after "cc"/"loop in" is still people (round 9)
        "Cc'ing the Xen folks, who wrote the refcount helpers.",
        "Cc'ing relevant Moreno lists, and Jake, who wrote the refcount helpers.",
        # the copy made now, after an apology for an earlier one not made
        "Sorry for the noise. Cc-ing foo maintainers, who wrote the refcount helpers.",
        # a cc marker with punctuation before the name (round 12)
        "[cc:Jake]\n\nUnless Jake, who wrote the refcount helpers, has other ideas, revert it.",
        "Cc += Jake who wrote the refcount helpers.",
        # a group or role by what it looks after, lower case, and a group copied in brackets
        # after its noun (round 12)
        "Adding foo maintainers to the thread, they wrote the refcount helpers.",
        "Ccing foo maintainer, he wrote the refcount helpers.",
        "Please send it to the respective maintainers (added to Cc here), they know foo.",
        # the list and a person copied together, joined by "and"; "CC:ing" with the header's
        # colon (round 14)
        "CC'ing the list and Jake.\n\nJake, have you seen this leak before?",
        "Adding the foo ML and Jake.\n\nJake, have you seen this leak before?",
        "I'm CC:ing Jake, who wrote the refcount helpers.",
    ],
)
def test_copying_a_person_in_is_a_loop_in(sentence: str) -> None:
    assert verdict(sentence) == "introduction"


@pytest.mark.parametrize(
    "sentence",
    [
        "Adding WARN_ON() at each call site is not the answer.",
        "Thanks for adding the Coffee Lake support, who would have thought.",
        "We keep adding them back into the pool; can you please check?",
        "Adding to Jake's point: the error path must drop it.",
        "Added Jake's Reviewed-by, can you please pick it up?",
        "This was Cc'ed to LKML already, can you please look?",
        "+CC foo-devel for info, can you please look?",
        "I see you've CCed the foo maintainers, can you please look?",
        "It would be easier if people CCed the right folks, can you please look?",
        "We end up copying them around, can you please look?",
        "Just curious, but why +CC foo-devel and the foo folk? Can you please explain?",
        # an organisation looped in, not a person (round 9)
        "So I am looping in the Foundation to ask them to review the policy.",
        # lists named like a person: "Cc'ing relevant QEMU lists" copies lists only (round 12)
        "Cc'ing relevant Moreno lists to bring the discussion there, can you please look?",
        # a copy not made, apologised for (round 12)
        "Sorry for not cc-ing foo maintainers at the beginning. I can resend if needed.",
        # code that adds to a variable, not a cc marker
        "cc += len;\nCan you please look?",
        # a role or group word that is no one copied: a thing they keep, a file, code
        "Adding foo maintainers' notes to the wiki, can you please look?",
        "Adding a MAINTAINERS entry for foo, can you please look?",
        "We are adding test runners to the CI, can you please look?",
        # the list copied with a capitalised word that names nobody addressed (round 14)
        "Cc'ing the list and Debian, can you please look?",
        "Reported-by: Henry Blake <henry@ferrovia.example.com>\nCc: Jake Moreno "
        "<jake@moreno.example.com>\nCan you please pick this up?",
    ],
)
def test_adding_code_or_a_thing_is_not(sentence: str) -> None:
    assert verdict(sentence) == "other"


def test_one_person_at_two_addresses_is_not_two_parties() -> None:
    """A reply to someone listed twice (work and +dt addresses) speaks to one person."""
    raw = (
        b"From: Alice Novak <alice@novak.example.com>\n"
        b"To: Henry Blake <henry@ferrovia.example.com>\n"
        b"Cc: Henry Blake <henry+dt@ferrovia.example.com>, Ops <ops@lists.example.com>\n"
        b"Subject: Re: [PATCH] foo\nMessage-ID: <r2@novak.example.com>\n\n"
        b"Hi Henry,\n\nHenry, the same issue shows up here. Can you resend?\n"
    )
    verdict = classify(parse_message(raw), IDENTITY)
    assert verdict.kind == "other", "\n".join(verdict.explain())
    assert "speaks_to_each" not in {e.feature for e in verdict.evidence}


def test_a_patch_below_the_text_speaks_to_nobody() -> None:
    """Lines a diff adds are code, whatever they say ("+Cc'ing Jake, who wrote it")."""
    body = (
        "Henry,\n\nHere is v2 with the fix.\n\nAlice\n---\n foo.c | 2 +-\n"
        " 1 file changed\n\ndiff --git a/foo.c b/foo.c\n"
        "+Cc'ing Jake, who wrote the refcount helpers.\n"
    )
    raw = (HEADERS.replace("Subject: Re: [PATCH]", "Subject: Re: [RFC]") + body).encode()
    assert classify(parse_message(raw), IDENTITY).kind == "other"


def test_the_whole_name_picks_the_person_copied_in() -> None:
    """ "Adding Liz Zhang." names Liz Zhang, not Bo Zhang who was already in Cc."""
    raw = (
        b"From: Alice Novak <alice@novak.example.com>\n"
        b"To: Henry Blake <henry@ferrovia.example.com>, Liz Zhang <lizzha@example.com>\n"
        b"Cc: Bo Zhang <zhanb@example.com>\n"
        b"Subject: Re: quotas\nMessage-ID: <r3@novak.example.com>\n\n"
        b"Adding Liz Zhang.\n\n"
        b"From: Henry Blake <henry@ferrovia.example.com>\nSent: Tuesday, April 18, 2023 9:44 AM\n"
        b"To: Alice Novak <alice@novak.example.com>\nCc: Bo Zhang <zhanb@example.com>\n"
        b"Subject: quotas\n\nCan we set quotas per pod?\n"
    )
    verdict = classify(parse_message(raw), IDENTITY)
    assert verdict.kind == "introduction", "\n".join(verdict.explain())
    assert "lizzha@example.com" in {p.address.email for p in verdict.parties}
    assert "zhanb@example.com" not in {p.address.email for p in verdict.parties}


STEPHEN_HEADERS = HEADERS.replace("Jake Moreno <jake@", "Stephen Moreno <smo@")


def stephen_verdict(sentence: str) -> str:
    body = f"Henry,\n\n{sentence}\n\nAlice" + QUOTE
    return classify(parse_message((STEPHEN_HEADERS + body).encode()), IDENTITY).kind


def test_a_lowercase_word_after_a_copy_verb_is_no_short_form_of_a_copied_name() -> None:
    """ "Adding step Two": "step" begins Stephen but, not capitalised, names nobody."""
    assert stephen_verdict("Adding step Two.") != "introduction"
    assert stephen_verdict("Adding Steph, who wrote the refcount helpers.") == "introduction"


GIL = Address("gil.fine@linux.example.com", "Gil Fine")


def asked(text: str) -> Address | None:
    named_in = [(s, capitalised_words(s)) for s in sentences(text)]
    return asks_the_copied(named_in, [GIL], "Copying Gil", text)


@pytest.mark.parametrize(
    "text",
    [
        "Copying Gil for visibility. Did Gil get the invoice?",
        "Copying Gil for visibility. Did the invoice reach Gil?",
        "Copying Gil for visibility. Did you send the invoice to Gil?",
        "Copying Gil for visibility. Could someone (maybe Gil or Dana) check it?",
    ],
)
def test_a_question_about_the_copied_does_not_ask_them(text: str) -> None:
    assert asked(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Copying Gil for visibility. What do you think Gil?",
        "Copying Gil for visibility. What do you think, Gil?",
        "Copying Gil for visibility. Gil, did the invoice reach you?",
        "Copying Gil for visibility. @Gil: can you check it?",
        "Copying Gil for visibility. What do you think Bjorn? Gil?",
        "Copying Gil for visibility. What do you think Bjorn, Dana and Gil?",
        "Copying Gil for visibility. Dana and Gil - thoughts on this?",
        "Copying Gil for visibility. Gil (+CC) out of interest, why is it so?",
    ],
)
def test_a_question_spoken_to_the_copied_asks_them(text: str) -> None:
    assert asked(text) == GIL


def _replying_to_kernel_address(attribution: str) -> set[str]:
    raw = (
        "From: Alice Novak <alice@novak.example.com>\n"
        "To: Henry Blake <kernel@ferrovia.example.org>\n"
        "Cc: Jake Moreno <jake@moreno.example.com>, Ops <ops@lists.example.com>\n"
        "Subject: Re: [PATCH] foo: fix the refcount leak\n"
        "In-Reply-To: <p1@ferrovia.example.org>\nMessage-ID: <r9@novak.example.com>\n\n"
        "Adding Jake, who wrote the refcount helpers: can you have a look?\n\nAlice\n\n"
        f"{attribution}\n> foo_open() takes a reference that is never dropped.\n"
    ).encode()
    verdict = classify(parse_message(raw), IDENTITY)
    assert verdict.kind == "introduction", "\n".join(verdict.explain())
    return {p.address.email for p in verdict.parties}


def test_the_author_of_the_quote_is_a_person_whatever_the_local_part() -> None:
    """ "kernel@…" reads like a list's name, but the address wrote the quoted mail (round 12):
    a list delivers mail and writes none, so the one answered is a party."""
    wrote = "On Mon, 1 Apr 2024, Henry Blake <kernel@ferrovia.example.org> wrote:"
    assert _replying_to_kernel_address(wrote) == {
        "jake@moreno.example.com",
        "kernel@ferrovia.example.org",
    }
    # by the display name alone, when the attribution gives no address
    assert "kernel@ferrovia.example.org" in _replying_to_kernel_address("Henry Blake wrote:")
    # someone else's quote: the list-like address is left out as before
    assert _replying_to_kernel_address("On Mon, 1 Apr 2024, Ann Roe wrote:") == {
        "jake@moreno.example.com"
    }


def test_a_destination_is_no_purpose_of_the_copy() -> None:
    """ "Adding Jake to cc..." says where the copy goes (round 12), not why: read as a purpose,
    "to cc" made a task of the author's among one organisation's people."""
    english = LANGUAGES["en"]
    for sentence in ("Adding Jake to cc...", "Adding Jake to the thread.", "Adding Jake to Cc."):
        assert copy_purpose(sentence, "Adding Jake", [], english) == ("", "")
    kind, clause = copy_purpose(
        "Adding Jake to cc, to see if he agrees.", "Adding Jake", [], english
    )
    assert (kind, clause) == ("task", "to see if he agrees.")


LONG_MIDDLE = (
    "The reference is taken in foo_open() and the error path returns early.\n\n"
    "I looked at the three callers and only the ioctl path leaks; the others drop it.\n\n"
    "A fix would move the put into the common exit label, as the bar driver does."
)


@pytest.mark.parametrize(
    ("last", "kind"),
    [
        # the copy said again at the end with its reason: awareness, not a loop-in (round 12)
        ("I'm CCing Jake on this, as I guess he wants to be aware of it.", "other"),
        ("I'm CCing Jake on this, as he wrote the helpers: can you look, Jake?", "introduction"),
    ],
)
def test_a_copy_said_twice_is_read_by_the_saying_near_its_reason(last: str, kind: str) -> None:
    assert verdict(f"[CCing Jake]\n\n{LONG_MIDDLE}\n\n{last}") == kind


def _inline_reply(sentence: str) -> str:
    raw = (
        "From: Alice Novak <alice@novak.example.com>\n"
        "To: Henry Blake <henry@ferrovia.example.com>\n"
        "Cc: Ops <ops@lists.example.com>, Ann Roe <ann@roe.example.org>,"
        " Ben Lutz <ben@lutz.example.net>, Cy Park <cy@park.example.net>\n"
        "Subject: Re: [PATCH 2/4] foo: add the hint call\n"
        "In-Reply-To: <p1@ferrovia.example.com>\nMessage-ID: <r1@novak.example.com>\n\n"
        "On Mon, 1 Apr 2024, Henry Blake <henry@ferrovia.example.com> wrote:\n"
        "> The call takes a pid.\n\n"
        f"{sentence}\n\n> It may also take a handle later.\n\nThat is fine.\n\nAlice\n"
    )
    return classify(parse_message(raw.encode()), IDENTITY).kind


@pytest.mark.parametrize("role", ["maintainer", "maintainers", "committers"])
def test_a_role_copied_in_by_name_of_role_is_a_group_copied(role: str) -> None:
    """ "Ccing pidfd maintainer." (round 12): one person copied by the role, as a group is."""
    question = "I wonder what our plan is for pids once handles exist."
    assert _inline_reply(f"{question} Ccing foo {role}.") == "introduction"
    # the role spoken of, nobody copied
    assert _inline_reply(f"{question} Ask the foo {role}.") == "other"


def test_the_authors_other_address_is_no_party() -> None:
    """Alice follows up her own mail from another address, her work one copied (round 12): the
    quoted author's name is hers, and the address of that name is Alice, not a party."""
    raw = (
        b"From: Alice Novak <alice@novak.example.com>\n"
        b"To: Henry Blake <henry@ferrovia.example.com>\n"
        b"Cc: Alice Novak <anovak@work.example.org>, Jake Moreno <jake@moreno.example.com>\n"
        b"Subject: Re: [PATCH] foo: fix the refcount leak\n"
        b"In-Reply-To: <p1@novak.example.com>\nMessage-ID: <r1@novak.example.com>\n\n"
        b"+Cc: Jake (a question about the helpers below)\n\n"
        b"On Mon, 1 Apr 2024, Alice Novak <alice@novak.example.com> wrote:\n"
        b"> foo_open() takes a reference that is never dropped.\n\n"
        b"Jake, can the helper drop it for us?\n\nAlice\n"
    )
    verdict = classify(parse_message(raw), IDENTITY)
    assert verdict.kind == "introduction", "\n".join(verdict.explain())
    assert {p.address.email for p in verdict.parties} == {
        "jake@moreno.example.com",
        "henry@ferrovia.example.com",
    }
