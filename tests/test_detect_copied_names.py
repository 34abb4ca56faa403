"""Whom a loop-in copies when a name in the copy fits no address: the people copied in by a
given name that their address does not carry ("+CC Jan and Paolo" with jkowal@…), and the
look-alikes where an unmatched name is nobody copied here. All messages are hand-written."""

from __future__ import annotations

from refmail.detect import Classification, Identity, classify
from refmail.parse import parse_message

OWNER = "alice@novak.example.com"
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({"refmail@example.com"}))
QUOTE = (
    "\n\nOn Mon, 1 Apr 2024, Wanda Long <wanda@longhaul.example.org> wrote:\n"
    "> The io stats of the root group are reset twice.\n"
)
# An Outlook-style quoted header block: it shows who was on the thread before this message
ORIGINAL = (
    "\n-----Original Message-----\nFrom: Wanda Long <wanda@longhaul.example.org>\n"
    f"To: Alice Novak <{OWNER}>\nSubject: blk: keep the stats\n\nPlease keep them.\n"
)


def run(cc: str, body: str) -> Classification:
    raw = (
        f"From: Alice Novak <{OWNER}>\nTo: Wanda Long <wanda@longhaul.example.org>\n"
        f"Cc: blk-devel@lists.example.org, {cc}\n"
        "Subject: Re: [PATCH] blk: keep the stats\nMessage-ID: <t@example.com>\n\n" + body + QUOTE
    ).encode()
    return classify(parse_message(raw), IDENTITY)


def parties(v: Classification) -> set[str]:
    assert (v.kind, v.shape) == ("introduction", "loop_in")
    return {p.address.email for p in v.parties}


def test_a_given_name_beside_a_matched_one_is_the_last_nameless_copy() -> None:
    # Paolo by his display name; Jan's address carries no name, and is the newest nameless copy
    v = run(
        "mlei@example.net, jkowal@suse.example.com, Paolo Bassi <paolo@unimore.example.it>",
        "Hi,\n\n+CC Jan and Paolo for the bfq part.",
    )
    assert parties(v) == {
        "jkowal@suse.example.com",
        "paolo@unimore.example.it",
        "wanda@longhaul.example.org",
    }


def test_a_full_name_that_fits_no_address_names_someone_not_copied_here() -> None:
    # "Dan Jones" has no address here: no nameless copy stands in for him
    v = run(
        "mlei@example.net, Paolo Bassi <paolo@unimore.example.it>",
        "Hi,\n\nAdding Dan Jones and Paolo, who wrote the bfq part.",
    )
    assert parties(v) == {"paolo@unimore.example.it", "wanda@longhaul.example.org"}


def test_a_word_after_the_copied_names_is_no_nameless_copy() -> None:
    # "Intel" and "Linux" fit no address either, but they are not listed with Paolo
    for body in (
        "Hi,\n\nAdding Paolo from Intel, who wrote the bfq part.",
        "Hi,\n\nAdding Paolo, he knows Linux block internals.",
    ):
        v = run("mlei@example.net, Paolo Bassi <paolo@unimore.example.it>", body)
        assert parties(v) == {"paolo@unimore.example.it", "wanda@longhaul.example.org"}


def test_a_name_whose_address_is_written_in_the_text_is_no_nameless_copy() -> None:
    v = run(
        "mlei@example.net, Paolo Bassi <paolo@unimore.example.it>",
        "Hi,\n\nCc'ing Paolo and Yosry, who both wrote parts of bfq.\n"
        "Yosry Ahmed <yosry@tmpfs.example.com> has the tmpfs side of it.",
    )
    assert "mlei@example.net" not in parties(v)
    assert "paolo@unimore.example.it" in parties(v)


def test_every_name_matched_adds_no_nameless_copy() -> None:
    v = run(
        "mlei@example.net, Jan Kowal <jan@suse.example.com>, "
        "Paolo Bassi <paolo@unimore.example.it>",
        "Hi,\n\n+CC Jan and Paolo for the bfq part.",
    )
    assert parties(v) == {
        "jan@suse.example.com",
        "paolo@unimore.example.it",
        "wanda@longhaul.example.org",
    }


def test_a_phrase_in_capitals_that_names_nobody_is_no_nameless_copy() -> None:
    # "SHARED MEMORY", "SMC": a subsystem's name in capitals, not a person whose address
    # carries no name; the nameless addresses at the end of Cc are not copied in by it
    v = run(
        "jkowal@suse.example.com, rgallo@example.net",
        "Hi,\n\nI am Cc'ing SHARED MEMORY (SMC) for the deadlock, in case.",
    )
    assert {"jkowal@suse.example.com", "rgallo@example.net"}.isdisjoint(
        p.address.email for p in v.parties
    )
    # (round 16) the same copy of "the SMC maintainers" copies a group: on list mail, where
    # no quoted header block shows who is new, nobody in Cc is guessed...
    group = "Hi,\n\nI am Cc'ing the SHARED MEMORY (SMC) maintainers for the deadlock.\n"
    v = run("jkowal@suse.example.com, rgallo@example.net", group)
    assert {"jkowal@suse.example.com", "rgallo@example.net"}.isdisjoint(parties(v))
    # ... and where one does, the people in Cc new to the thread are the group
    v = run("jkowal@suse.example.com, rgallo@example.net", group + ORIGINAL)
    assert {"jkowal@suse.example.com", "rgallo@example.net"} <= parties(v)


def test_a_given_name_that_names_nobody_is_still_a_nameless_copy() -> None:
    # the look-alike: a name written as names are ("Jan"), with the SMC beside it
    v = run(
        "mlei@example.net, jkowal@suse.example.com",
        "Hi,\n\nCc'ing Jan for the SMC part of the deadlock.",
    )
    assert "jkowal@suse.example.com" in parties(v)


def test_a_team_mailbox_copied_by_its_mailbox_name_is_copied_in() -> None:
    # "Adding specfix to cc": the name written is the mailbox's own, in lower case (round 14)
    v = run(
        "Spec Questions <specfix@protocols.example.com>",
        "Hi,\n\nLooks like a typo in the spec.\n\nAdding specfix to cc.\n\n"
        "@specfix: the value in section 2.2 is wrong.",
    )
    assert parties(v) == {"specfix@protocols.example.com", "wanda@longhaul.example.org"}


def test_a_mailbox_name_that_is_no_whole_local_part_copies_no_one() -> None:
    # "spec" is only the start of specfix@…, and "adding spec" is code, not a copy
    v = run(
        "Spec Questions <specfix@protocols.example.com>",
        "Hi,\n\nAdding spec checks to the parser would catch it.",
    )
    assert v.kind == "other", "\n".join(v.explain())


def test_a_given_name_typed_one_letter_short_is_the_copied_one() -> None:
    # (round 15) "CC'ing Rebeca and Paolo": Rebecca Lind is copied, her name typed short
    v = run(
        "Rebecca Lind <rlind@lind.example.se>, Paolo Bassi <paolo@unimore.example.it>",
        "Hi,\n\nCC'ing Rebeca and Paolo, who wrote the bfq part.",
    )
    assert parties(v) == {
        "rlind@lind.example.se",
        "paolo@unimore.example.it",
        "wanda@longhaul.example.org",
    }


def test_a_name_two_letters_off_or_of_someone_not_copied_is_nobody() -> None:
    # "Rebca" is two letters short of Rebecca; "Marco" is close to no one copied
    for body in (
        "Hi,\n\nCC'ing Rebca and Paolo, who wrote the bfq part.",
        "Hi,\n\nCC'ing Marco and Paolo, who wrote the bfq part.",
    ):
        v = run(
            "Rebecca Lind <rlind@lind.example.se>, Paolo Bassi <paolo@unimore.example.it>", body
        )
        assert parties(v) == {"paolo@unimore.example.it", "wanda@longhaul.example.org"}


def test_people_copied_as_a_group_are_the_ones_new_in_cc() -> None:
    # (round 16) "adding in some people who may know": the copy names no one; those copied are
    # the people in Cc new to the thread (the quoted header block shows who was on it),
    # connected with the asker whose mail is answered
    v = run(
        "Jo Kim <jo@kim.example.net>, Ravi Iyer <ravi@gridline.example.com>",
        "You are not the only one who wants this; adding in some people who may have a "
        "better idea of the steps needed.\n" + ORIGINAL,
    )
    assert parties(v) == {
        "jo@kim.example.net",
        "ravi@gridline.example.com",
        "wanda@longhaul.example.org",
    }


def test_a_group_copy_leaves_out_who_was_on_the_thread_and_a_named_copy_wins() -> None:
    # Jo was in the quoted mail's Cc: on the thread already, not copied in as one of the group
    raw = (
        f"From: Alice Novak <{OWNER}>\nTo: Wanda Long <wanda@longhaul.example.org>\n"
        "Cc: Jo Kim <jo@kim.example.net>, Ravi Iyer <ravi@gridline.example.com>\n"
        "Subject: RE: stats reset\nMessage-ID: <g@example.com>\n\n"
        "Hi Wanda,\n\nCCing a few people that were involved in the stats rework, in case they "
        "want to advise.\n\n-----Original Message-----\n"
        "From: Wanda Long <wanda@longhaul.example.org>\nTo: Alice Novak <" + OWNER + ">\n"
        "Cc: Jo Kim <jo@kim.example.net>\nSubject: stats reset\n\n"
        "The io stats of the root group are reset twice.\n"
    ).encode()
    assert parties(classify(parse_message(raw), IDENTITY)) == {
        "ravi@gridline.example.com",
        "wanda@longhaul.example.org",
    }
    # a copy that names its person copies that person only, whatever group word it has
    v = run(
        "Jo Kim <jo@kim.example.net>, Ravi Iyer <ravi@gridline.example.com>",
        "Hi,\n\nCC'ing Ravi, who knows the people who wrote the stats code.",
    )
    assert parties(v) == {"ravi@gridline.example.com", "wanda@longhaul.example.org"}


def test_one_person_copied_by_role_in_brackets_is_the_one_new_in_cc() -> None:
    # (round 16) "Our new team member (CCed) will take a look at it.": a role, not a name; the
    # one person in Cc is the one copied in for the asker
    body = "Hi Wanda,\n\nEnjoy your holiday.\nOur new team member (CCed) will take a look at it."
    v = run("Huy Tran <huy@tran.example.net>", body)
    assert parties(v) == {"huy@tran.example.net", "wanda@longhaul.example.org"}
    # with two people in Cc the role says not which: no one is guessed
    v = run("Huy Tran <huy@tran.example.net>, Jo Kim <jo@kim.example.net>", body)
    assert parties(v) == {"wanda@longhaul.example.org"}


def test_a_colleague_copied_by_role_for_visibility_is_no_loop_in() -> None:
    # the look-alike: the same bracketed copy of a role, said to be for the record only
    v = run(
        "Huy Tran <huy@tran.example.net>",
        "Hi Wanda,\n\nMy colleague (cc'd) for visibility only, no action needed.",
    )
    assert v.kind == "other", "\n".join(v.explain())
