"""Business mail (the shapes of the Enron mail kept outside the repository): quoted Lotus Notes
history, addresses copied by a mail client, names shared by two people, and gateway addresses.
All messages are hand-written for these tests."""

from __future__ import annotations

import pytest

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


def test_a_doubled_dot_address_is_recognised_but_garbage_is_not() -> None:
    assert normalise_address("F..Herod@Enron.com") == "f..herod@enron.com"
    assert normalise_address("p..o'neil@enron.com") == "p..o'neil@enron.com"
    assert normalise_address("..x@enron.com") is None
    assert normalise_address("a..b@") is None


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


# --- round 12: referrals in business mail (hand-written shapes) ------------------------------


def test_a_resume_path_in_code_talk_is_no_resume() -> None:
    v = run(
        f"From: {OWNER}\nTo: dev@x.example, ops@x.example\nSubject: Re: suspend",
        "This is the resume path that fails; please see the resume handler below.\n",
    )
    assert "cue_passes_on_cv" not in features(v)


FORWARDED_TIM = (
    "\n\n -----Original Message-----\n"
    'From: \t"Riordan, Tim F." <tim.f.riordan@petro.example.com>\n'
    "Sent:\tMonday, October 29, 2001 10:40 AM\nTo:\tNovak, Alice\nSubject:\tRE: the desk\n\n"
    "Why don't you just send the resume over and I will give it to her?\n"
)


def test_an_address_the_author_writes_stands_for_the_same_mailbox_forwarded() -> None:
    # Tim's forwarded header and the address the author gives for him are one person
    v = run(
        f"From: {OWNER}\nTo: chris.gold@example.com\nSubject: FW: the desk",
        "Chris,\n\nIf you're in a position to send Tim Riordan a resume and mention my name, Tim"
        " will hand walk it to the person hiring. Tim is expecting your inquiry.\n\n"
        "Tim's e-mail address is:\t\ttim.f.riordan@usa.petro.example.com\n" + FORWARDED_TIM,
    )
    assert v.kind == "introduction"
    assert {p.address.email for p in v.parties} == {
        "chris.gold@example.com",
        "tim.f.riordan@usa.petro.example.com",
    }


def test_an_address_written_for_someone_else_leaves_the_forwarded_one() -> None:
    # the look-alike: the address written is another person's, so both stay
    v = run(
        f"From: {OWNER}\nTo: chris.gold@example.com\nSubject: FW: the desk",
        "Chris,\n\nIf you're in a position to send Tim Riordan a resume and mention my name, Tim"
        " will hand walk it to Maria, who is hiring. Tim is expecting your inquiry.\n\n"
        "Maria's e-mail address is:\t\tmaria.hooper@usa.petro.example.com\n" + FORWARDED_TIM,
    )
    assert v.kind == "introduction"
    assert {
        "tim.f.riordan@petro.example.com",
        "maria.hooper@usa.petro.example.com",
    } <= {p.address.email for p in v.parties}


# --- round 12b: the loop-in of a colleague new to the thread (hand-written shapes) -----------

_HISTORY = (
    "\n\n -----Original Message-----\nFrom: \tHale, Rob\nSent:\tMonday, May 7, 2001 9:12 AM\n"
    "To:\tNovak, Alice\nSubject:\tdb outage\n\nAlice, the reporting database is down again. "
    "Who can look at it?\nRob\n"
)


def test_a_colleague_copied_who_can_help_the_reader_is_a_loop_in() -> None:
    v = run(
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: tom.yates@x.example, "
        "gina.cole@x.example\nSubject: RE: db outage",
        "Gina Cole looks after that database.\n\nHope she can help you out.\n\nAlice" + _HISTORY,
    )
    assert "hands_to_the_copied" in features(v)
    assert v.kind == "introduction"
    assert {p.address.email for p in v.parties} >= {"rob.hale@x.example", "gina.cole@x.example"}


def test_copied_on_this_and_she_will_respond_is_no_fyi_copy() -> None:
    v = run(
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Rob,\nSorry for the delay. I have copied Gina Cole on this email and she will respond "
        "to you on how the restore is going.\nAlice" + _HISTORY,
    )
    fyi = [e for e in v.evidence if e.feature == "neg_fyi_copy"]
    assert all(e.weight == 0 for e in fyi)
    assert v.kind == "introduction"


def test_a_colleague_already_on_the_thread_is_not_looped_in() -> None:
    # the nearest look-alike: the same words to someone the quoted mail already had
    history = _HISTORY.replace("To:\tNovak, Alice", "To:\tNovak, Alice\nCc:\tgina.cole@x.example")
    v = run(
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Gina Cole looks after that database.\n\nHope she can help you out.\n\nAlice" + history,
    )
    assert "hands_to_the_copied" not in features(v)
    assert v.kind == "other"


def test_an_address_without_a_name_is_on_a_thread_quoted_by_notes_name() -> None:
    from refmail.detect_parties import on_thread

    history = "-----Original Message-----\nFrom: \tDono, Lin  \nTo:\tLee, Den\nSubject: x\n"
    assert on_thread(Address("lin.dono@x.example", ""), history)
    assert not on_thread(Address("lin.park@x.example", ""), history)
    assert not on_thread(Address("lin@x.example", ""), history)  # one word names nobody


# the mirror of the loop-in: someone new addressed, to serve a copied one the thread had
_LINS_NOTE = (
    "\n\n -----Original Message-----\nFrom: \tDono, Lin  \nSent:\tThursday, March 7, 2002 9:43 AM"
    "\nTo:\tNovak, Alice\nSubject:\tFW: supply contract\n\nAlice, can someone pull the official "
    "contract file for me? I need to check the amendments.\nLin\n"
)

_ON_LINS_BEHALF = (
    "\n\n -----Original Message-----\nFrom: \tKray, Ben  \nSent:\t31 October, 2001 12:37 PM"
    "\nTo:\tNovak, Alice\nSubject:\tHarbor I, L.L.C.\n\nAlice,\n\nPer Lin Dono's request, would "
    "you please update the attached slide on the ownership of Harbor Partners? You can fax it "
    "back to Lin.\n\n-Ben\n"
)


def test_copies_never_named_leave_a_hand_off_outweighing_its_pointer() -> None:
    # the score that narrows the parties is the final one: "please contact him" of someone copied
    # stops weighing as a pointer, and the others copied for the record are no parties
    v = run(
        f"From: {OWNER}\nTo: gus.ferreira@x.example\nCc: ivo.marsh@x.example, "
        "ada.byrne@x.example, tom.quill@x.example\nSubject: Ticket 4417",
        "Gus:\nI received a ticket saying only that Ivo could not log in. Upon calling him, I "
        "found that his old password still works.\n\nWould you please contact him at your "
        "earliest time and assist him with his access?\n\nThank you,\nAlice\n",
    )
    assert v.kind == "introduction"
    assert {p.address.email for p in v.parties} == {"gus.ferreira@x.example", "ivo.marsh@x.example"}


# Each case: the headers and body of a hand-written message, the feature that must (True) or
# must not (False) show, and the verdict. The kinds and their nearest look-alikes side by side.
SHAPES: dict[str, tuple[str, str, str, bool, str]] = {
    # "Hi Greg," to two Gregs is one greeting, not one to each side
    "one_first_name_speaks_to_one_person": (
        f"From: {OWNER}\nTo: greg.piper@x.example, greg.whalley@x.example\nSubject: IT plan",
        "Hi Greg,\n\nToday I'll start the merger plan. Greg Whalley has my commitment too.\n",
        "speaks_to_each",
        False,
        "other",
    ),
    "one_person_at_two_addresses_is_not_two_parties": (
        f"From: {OWNER}\nTo: ken_lay@x.example, kenneth_lay@x.example\nSubject: a note",
        "Dear Mr. Lay:\n\nI am writing to you as a show of support in difficult times.\n",
        "names_two_parties",
        False,
        "other",
    ),
    "names_and_addressees_alone_connect_nobody": (
        f"From: {OWNER}\nTo: Judy Dyer <judy@x.example>, Dan Kang <dan@x.example>\n"
        "Subject: positions",
        "Judy, your sheet arrived.\n\nDan, the totals are attached. Judy runs settlements.\n",
        "no_connecting_act",
        True,
        "other",
    ),
    "a_copied_colleague_who_will_contact_the_reader_is_a_hand_off": (
        f"From: {OWNER}\nTo: nora.lind@x.example\nCc: omar.haddad@x.example, "
        "pia.sorensen@x.example\nSubject: RE: transfer to the Oslo office",
        "I think we can make this work for you. Omar Haddad and/or Pia Sorensen will be "
        "contacting you. Thanks, Alice\n",
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    "please_contact_him_of_someone_copied_is_no_pointer_elsewhere": (
        f"From: {OWNER}\nTo: gus.ferreira@x.example\nCc: ivo.marsh@x.example\n"
        "Subject: Supply agreement",
        "Gus:\nIvo Marsh heard that you are now the one approving supply agreements. "
        "Attached is the agreement Ivo would like you to review. Please contact him with any "
        "questions at x4417.\nThanks,\nAlice\n",
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    # the nearest look-alike: someone copied and named, but nobody is to reach anybody
    "a_colleague_copied_for_information_is_no_hand_off": (
        f"From: {OWNER}\nTo: gus.ferreira@x.example\nCc: ivo.marsh@x.example\nSubject: Plan",
        "Gus,\nHere is the plan we discussed; I will set up time with you this week. "
        "Ivo Marsh has seen it already.\nAlice\n",
        "hands_to_the_copied",
        False,
        "other",
    ),
    "one_reader_asked_to_copy_a_group_later_is_no_copy_in": (
        f"From: {OWNER}\nTo: jeff.olsen@x.example\nSubject: Info",
        "Hi Jeff -- the gas desk (Rita Gomez and Tom Hale) asked for updates on the pipeline "
        "work. Do you mind sending them updates and ccing our gas group (Ana Lutz and me)?\n",
        "names_the_copied",
        False,
        "other",
    ),
    "someones_resume_passed_on_with_a_recommendation_is_a_referral": (
        f"From: {OWNER}\nTo: rob.hale@x.example, lia.ward@x.example\n"
        "Subject: FW: Referral from Sam Ortiz",
        "Please review resume.   She comes highly recommended by Sam Ortiz.\n\n"
        " -----Original Message-----\nFrom: \tBell, Dora\nSent:\tTuesday, July 17, 2001 5:04 PM\n"
        "To:\tNovak, Alice\nSubject:\tReferral from Sam Ortiz\n\nAlice,\nSam asked me to send you "
        "a copy of my resume.\nDora\n",
        "cue_passes_on_cv",
        True,
        "introduction",
    ),
    "a_resume_of_a_friend_attached_for_one_reader_is_a_referral": (
        f"From: {OWNER}\nTo: lee.park@x.example, kim.oh@x.example\nSubject: Counsel position",
        "Lee/Kim\n\nAttached is a resume for Mara Vance, who worked with our tax team for a "
        "year and is interested in the position. I have spoken with Mara today.\n\nAlice\n",
        "cue_passes_on_cv",
        True,
        "introduction",
    ),
    # the look-alike: a job seeker attaching their own résumé
    "ones_own_resume_is_not_passed_on": (
        f"From: {OWNER}\nTo: rick.moss@x.example\nSubject: Need contact",
        "Rick,\nIt was good running into you. I am looking for new opportunities. "
        "Attached is my resume. Here is the resume I mentioned, too.\nAlice\n",
        "cue_passes_on_cv",
        False,
        "other",
    ),
    # (round 13) a résumé sent to one reader alone: a referral when the author knows the
    # candidate (a relation, first-hand acquaintance, a colleague of the firm)
    "a_resume_of_someone_the_author_worked_for_is_a_referral": (
        f"From: {OWNER}\nTo: sue.brand@x.example\nSubject: Resume",
        "Sue, I know you are always looking for good people. Attached is a copy of a resume "
        "for a person I have worked for in the past.\n\nThanks,\nAlice\n",
        "knows_the_candidate",
        True,
        "introduction",
    ),
    "a_resume_of_someone_from_the_authors_office_is_a_referral": (
        f"From: {OWNER}\nTo: rich.sand@x.example\nSubject: Expert resume",
        "This is Tom Hale's resume. Tom grew up in Austin and has been in our Denver office "
        "for about ten years. He is an effective witness.\n\nRgds\nAlice\n",
        "knows_the_candidate",
        True,
        "introduction",
    ),
    # the nearest look-alike: routing, the paper handled without a word of the author's own
    "a_resume_routed_for_open_positions_is_no_referral": (
        f"From: {OWNER}\nTo: sue.brand@x.example\nSubject: Resume",
        "Sue,\nAttached is the resume of Dana Cole. Please consider her for any open "
        "positions in your group and let me know.\n\nThanks,\nAlice\n",
        "knows_the_candidate",
        False,
        "other",
    ),
    "the_reader_sent_to_a_colleague_copied_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "The job finished last week. Check with Gina Cole in this regard, she has the "
        "restore logs.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    # (round 15) the reader's matter routed to a colleague copied in, new to the thread: "Send
    # this bill to X", "If you could send further updates to X or Y"
    "the_readers_matter_routed_to_a_colleague_copied_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Rob;\nSend the restore request to Gina Cole in Denver. She will pass it on to the "
        "night shift.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    "further_updates_asked_for_a_colleague_copied_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "If you could forward any further outage notices to Gina Cole, I would appreciate it."
        "\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    # the nearest look-alikes: the author's own sending, and the reader's mail asked for by
    # the author ("send me", "send it to us")
    "the_author_sending_to_the_copied_routes_nobody": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "I will send the restore request to Gina Cole tomorrow.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    "send_me_the_logs_routes_nobody": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Please send me the logs too, so I can go through them with Gina Cole.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    # (round 15) the author alongside the one copied keeps the matter: "Either Gina or I will
    # call you"; the nearest introduction: "Gina will call you"
    "the_author_or_a_colleague_will_call_hands_nobody_on": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Thanks for the tour on Monday. Either Gina Cole or I will call you next week to go "
        "over the restore logs.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    "the_author_and_a_colleague_written_with_an_ampersand_hand_nobody_on": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Thanks for the tour on Monday. Gina Cole & I will call you next week to go over the "
        "restore logs.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    "a_colleague_copied_who_will_call_hands_the_reader_on": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Thanks for the tour on Monday. Gina Cole will call you next week to go over the "
        "restore logs.\nAlice" + _HISTORY,
        "cue_hand_off",
        True,
        "introduction",
    ),
    "the_author_who_spoke_to_the_copied_sends_nobody": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "I talked to Gina Cole today. I will get back to you after the restore.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    # (round 13) the matter given to someone copied in, new to the thread, with no verb of help:
    # put in charge ("has been managing", "is responsible for") or deferred to
    "a_colleague_copied_in_who_manages_the_matter_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "We would like to keep the nightly job. gina cole has been managing the database for "
        "us. She is out this week.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    "a_colleague_copied_in_deferred_to_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "I defer to Gina on this issue.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    # the nearest look-alike: the author in charge, the colleague copied for information
    "the_author_managing_the_matter_hands_nobody_on": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "I have been managing the database since May. Gina Cole saw the logs too.\nAlice"
        + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    "someone_new_asked_to_serve_a_copied_colleague_is_brought_in": (
        f"From: {OWNER}\nTo: den.lee@x.example\nCc: lin.dono@x.example\n"
        "Subject: FW: supply contract",
        "Den,\nPlease see the note below from Lin. Can you pull the contract and get it to Lin "
        "for review?\nThanks Alice" + _LINS_NOTE,
        "brings_in_the_reader",
        True,
        "introduction",
    ),
    # the nearest look-alike: an assistant's errand in which the author is served too
    "an_errand_for_the_author_and_a_copied_colleague_brings_in_nobody": (
        f"From: {OWNER}\nTo: den.lee@x.example\nCc: lin.dono@x.example\nSubject: FW: room",
        "Hi Den,\nCan you set up a room for Lin and me on Monday at 9 am?\nThanks, Alice"
        + _LINS_NOTE,
        "brings_in_the_reader",
        False,
        "other",
    ),
    "a_reader_already_on_the_thread_is_not_brought_in": (
        f"From: {OWNER}\nTo: den.lee@x.example\nCc: lin.dono@x.example\n"
        "Subject: RE: supply contract",
        "Den,\nCan you get the contract to Lin for review?\nThanks Alice"
        + _LINS_NOTE.replace("To:\tNovak, Alice", "To:\tNovak, Alice; Lee, Den"),
        "brings_in_the_reader",
        False,
        "other",
    ),
    # (round 14) the one served need not be in the quoted headers: the quoted text asked for
    # them by full name ("Per Tana Jones' request, would you update the slide")
    "someone_new_asked_to_answer_a_copied_requester_is_brought_in": (
        f"From: {OWNER}\nTo: elle.voss@x.example\nCc: ben.kray@x.example, lin.dono@x.example\n"
        "Subject: RE: Harbor I, L.L.C.",
        "Elle - As you are the expert on listed entities would you please answer Lin's "
        "question.\n\nThanks\nAlice" + _ON_LINS_BEHALF,
        "brings_in_the_reader",
        True,
        "introduction",
    ),
    # the nearest look-alike: only a namesake's surname (and a first name elsewhere) quoted
    "a_copied_namesake_of_someone_quoted_is_not_served": (
        f"From: {OWNER}\nTo: elle.voss@x.example\nCc: ben.kray@x.example, lin.dono@x.example\n"
        "Subject: RE: Harbor I, L.L.C.",
        "Elle - would you please answer the question below.\n\nThanks\nAlice"
        + _ON_LINS_BEHALF.replace("Per Lin Dono's request", "Per Rita Dono's request, and Lin's"),
        "brings_in_the_reader",
        False,
        "other",
    ),
    # "Can you help me get …": the asking form, not the author's own errand; serving the one
    # copied, named too, is enough among colleagues
    "colleagues_asked_to_help_get_a_copied_one_what_she_asked_for_are_brought_in": (
        f"From: {OWNER}\nTo: den.lee@novak.example.com, kai.berg@novak.example.com\n"
        "Cc: lin.dono@novak.example.com\nSubject: FW: supply contract",
        "Can you folks help me get the contract file below to Lin Dono, who is working with "
        "the audit team on this. Thanks.\nAlice" + _LINS_NOTE,
        "brings_in_the_reader",
        True,
        "introduction",
    ),
    # a reader already quoted by name ("Den Lee wrote:", no header block) is not new
    "a_reader_quoted_by_name_is_not_brought_in": (
        f"From: {OWNER}\nTo: den.lee@x.example\nCc: lin.dono@x.example\nSubject: Re: contract",
        "Den, can you, please, attach the contract Lin asked for?\n\n"
        "On Mon, Apr 27, 2020 at 01:13:04PM -0400, Den Lee wrote:\n> +cc Alice\n>\n"
        "> On Mon, Apr 27, 2020, Lin Dono wrote:\n> > The contract is missing.\n",
        "brings_in_the_reader",
        False,
        "other",
    ),
    # "please work with" a colleague copied in, new to the thread: sent to her
    "the_reader_told_to_work_with_a_colleague_copied_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "If the restore is fine, please work with Gina Cole (x4417) to have the change "
        "approved.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
    "the_author_who_works_with_the_copied_sends_nobody": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "I work with Gina Cole on the restore. I will get back to you.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        False,
        "other",
    ),
    # the author's own admin copied to schedule the reader's call: logistics, no connection
    "coordinating_with_the_authors_admin_is_an_admin_copy": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Rob, can you set up the call, you can coordinate with my admin, Gina.\nAlice" + _HISTORY,
        "neg_admin_copy",
        True,
        "other",
    ),
    # ... its counterpart: a colleague copied in, new to the thread, to coordinate with
    "coordinating_with_a_colleague_copied_in_is_a_loop_in": (
        f"From: {OWNER}\nTo: rob.hale@x.example\nCc: gina.cole@x.example\nSubject: RE: db outage",
        "Rob, can you set up the call, you can coordinate with Gina Cole.\nAlice" + _HISTORY,
        "hands_to_the_copied",
        True,
        "introduction",
    ),
}


@pytest.mark.parametrize("name", SHAPES)
def test_business_shape(name: str) -> None:
    headers, body, feature, shows, kind = SHAPES[name]
    v = run(headers, body)
    assert (feature in features(v)) == shows, "\n".join(v.explain())
    assert v.kind == kind, "\n".join(v.explain())


def test_a_resume_below_the_candidates_own_mail_passes_the_candidate_on() -> None:
    # the candidate's surname is the author's ("resume from my brother"): still the one passed on
    v = run(
        f"From: {OWNER}\nTo: greg.wolfe@x.example\nSubject: FW: Job",
        "Cover letter and resume from my brother are attached.\n\n"
        " -----Original Message-----\nFrom: \tDan Novak <dan.novak@school.example>\n"
        "Sent:\tThursday, June 28, 2001 6:37 PM\nTo:\tNovak, Alice\nSubject:\tJob\n\n"
        "Here is everything. Keep me posted.\n",
    )
    assert v.kind == "introduction", "\n".join(v.explain())
    assert {p.address.email for p in v.parties} == {
        "greg.wolfe@x.example",
        "dan.novak@school.example",
    }
