"""Introduction detection: the four shapes, principled negatives, robots, replies, own mail.

Fixtures in tests/fixtures/mail are hand-written (not copied from the corpus); the corpus test at
the end guards the measured precision and recall against regressions.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmail import detect_cues
from refmail.detect import Classification, Identity, classify, context_sentence, robot_hit
from refmail.detect_cues import (
    _gate_index,
    _gate_sentences,
    _gate_sentences_joined,
    _gate_sentences_searched,
    _holding,
)
from refmail.detect_features import find_cues
from refmail.detect_languages import LANGUAGES
from refmail.detect_parties import capitalised_words
from refmail.detect_text import author_text, sentences
from refmail.parse import ParsedMessage, parse_message

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "mail"
OWNER = "alice@novak.example.com"
REFMAIL = "refmail@example.com"
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({REFMAIL}))


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def verdict(name: str) -> Classification:
    return classify(load(name), IDENTITY)


def parties(v: Classification) -> dict[str, bool]:
    return {p.address.email: p.reached for p in v.parties}


def message(headers: str, body: str) -> bytes:
    """A small message from header lines and a body (LF line endings are fine for parsing)."""
    return (headers.strip() + "\n\n" + body).encode()


INTRO_BODY = "Bob, meet Carol. Carol runs the Turin studio I told you about. You two should talk.\n"
INTRO_HEADERS = f"""
From: Alice <{OWNER}>
To: Bob <bob@example.org>, Carol <carol@example.net>
Subject: Intro: Bob <> Carol
Message-ID: <intro@novak.example.com>
"""


# --- the four shapes -----------------------------------------------------------------------


def test_owner_intro() -> None:
    v = verdict("owner_intro.eml")
    assert (v.kind, v.shape, v.rule) == ("introduction", "owner_intro", "intro_owner_intro")
    assert v.introducer is not None and v.introducer.email == OWNER
    assert parties(v) == {
        "bruno@harborlabs.example.org": True,
        "chiara@ricci-design.example.net": True,
    }
    assert "design studio" in v.context
    assert {h.rule for h in v.hits} >= {"cue_meet", "subject_names_intro"}


def test_referral_to_owner_excludes_owner_and_introducer() -> None:
    v = verdict("referral_to_owner.eml")
    assert (v.kind, v.shape) == ("introduction", "referral_to_owner")
    assert v.introducer is not None and v.introducer.email == "dan@okoye.example.org"
    assert parties(v) == {"erin.walsh@tidewater.example.net": True}
    assert "heads partnerships at Tidewater" in v.context


def test_forward_finds_the_other_party_in_forwarded_headers() -> None:
    v = verdict("forward_intro.eml")
    assert (v.kind, v.shape) == ("introduction", "forward")
    assert v.introducer is not None and v.introducer.email == OWNER
    assert parties(v) == {
        "frank@northwind-ventures.example.com": True,
        "grace@loomly.example.io": False,
    }
    assert "gave her your name" in v.context


def test_loop_in_names_the_copied_person() -> None:
    v = verdict("loop_in.eml")
    assert (v.kind, v.shape) == ("introduction", "loop_in")
    assert v.introducer is not None and v.introducer.email == OWNER
    assert parties(v) == {
        "henry.blake@ferrovia.example.com": True,
        "jake.moreno@novak.example.com": True,
    }
    assert v.context.startswith("I'm copying Jake, who ran exactly this migration")


def test_loop_in_cues_come_from_own_text_not_quoted_request() -> None:
    # The quoted question says "Could you introduce me"; that must not veto Alice's reply.
    msg = load("loop_in.eml")
    assert "introduce me" not in msg.own_text
    assert "introduce me" in msg.full_text


def test_copy_without_saying_who_or_why_is_not_a_loop_in() -> None:
    raw = message(
        f"""
From: Alice <{OWNER}>
To: Bob <bob@example.org>
Cc: Jeff Stone <jeff.stone@example.org>
Subject: Re: August forecast
In-Reply-To: <aug@example.org>
""",
        "Updated numbers attached. I've taken the liberty of copying Jeff on this.\n\n"
        "On Mon, 1 Jul 2024, Bob <bob@example.org> wrote:\n> numbers?\n",
    )
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.rule) == ("other", "fyi_copy")  # copying someone "on this": FYI


def test_copying_someone_already_on_the_thread_is_not_an_introduction() -> None:
    raw = message(
        f"""
From: Alice <{OWNER}>
To: "Reed, Mary" <mary.reed@example.org>
Cc: "Hale, Peter J" <peter.hale@example.org>
Subject: Re: press follow-up
""",
        "I'm copying Peter so the two of you can discuss before the 9:15 meeting.\n\n"
        "-----Original Message-----\nFrom: Reed, Mary\nTo: Hale, Peter J; Novak, Alice\n"
        "Sent: Tue Jan 19 06:00:49 2010\nSubject: press follow-up\n\nFyi.\n",
    )
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.rule) == ("other", "no_new_party")


def test_single_recipient_letter_of_introduction() -> None:
    raw = message(
        f"""
From: Alice <{OWNER}>
To: Gordon Bell <gordon@example.org>
Subject: Helen Park
""",
        "Dear Gordon,\n\nI'd like you to meet Helen Park. She led the Lakeside expansion and I "
        "think you two will find a lot in common.\n\nAlice\n",
    )
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.shape) == ("introduction", "owner_intro")
    assert parties(v) == {"gordon@example.org": True}  # Helen has no address: none is invented


# --- principled negatives ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ask_for_intro.eml", "asks_for_intro"),
        ("ooo_backup.eml", "out_of_office"),
        ("newsletter_introducing.eml", "bulk"),
        ("fyi_cc.eml", "fyi_copy"),
    ],
)
def test_negatives_with_a_named_reason(name: str, rule: str) -> None:
    v = verdict(name)
    assert v.kind == "other"
    assert v.rule == rule


@pytest.mark.parametrize("name", ["thanks_for_intro.eml", "self_intro.eml"])
def test_negatives_without_an_introduction_cue(name: str) -> None:
    assert verdict(name).kind == "other"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("Could you introduce me to Sandra? She says you two should talk.", "asks_for_intro"),
        (
            "Thanks so much for the introduction! Carol, meet Bob properly on Tuesday.",
            "thanks_for_intro",
        ),
        ("Let me introduce myself. Meet Carol, my cofounder, too.", "self_intro"),
        ("Moving Dave to bcc. Carol, please meet Bob on Tuesday.", "moved_to_bcc"),
    ],
)
def test_vetoes_beat_intro_cues(body: str, rule: str) -> None:
    raw = message(INTRO_HEADERS.replace("Intro: Bob <> Carol", "Hello"), body)
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.rule) == ("other", rule)


def test_nice_to_meet_reply_is_not_an_intro_but_a_real_intro_outweighs_it() -> None:
    reply = message(
        f"From: Bob <bob@example.org>\nTo: Carol <carol@example.net>\nCc: Alice <{OWNER}>\n"
        "Subject: Re: Intro: Bob <> Carol\n",
        "Carol, great to meet you! Does Thursday work for a call?\n",
    )
    assert classify(parse_message(reply), IDENTITY).kind == "other"
    intro = message(INTRO_HEADERS, "Great to meet you yesterday, Bob. " + INTRO_BODY)
    assert classify(parse_message(intro), IDENTITY).kind == "introduction"


def test_broadcast_is_an_announcement() -> None:
    many = ", ".join(f"p{i}@example.org" for i in range(12))
    raw = message(
        f"From: Alice <{OWNER}>\nTo: {many}\nSubject: New colleague\n",
        "I'd like to introduce you to Maya, who joins us on Monday as head of design.\n",
    )
    assert classify(parse_message(raw), IDENTITY).rule == "broadcast"


# --- robots, replies, own mail -------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        ("Auto-Submitted: auto-replied", "auto_submitted"),
        ("Precedence: bulk", "precedence"),
        ("List-Id: <founders.lists.example.org>", "mailing_list"),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", "report"),
    ],
)
def test_robot_headers_make_mail_automatic(extra: str, rule: str) -> None:
    # Someone else's list or bulk mail (the owner's own list posts are read: see below).
    headers = INTRO_HEADERS.replace(f"From: Alice <{OWNER}>", "From: Dan <dan@example.com>")
    raw = message(headers + extra, INTRO_BODY)
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.rule) == ("automatic", rule)


def test_the_owners_own_list_post_is_read_and_the_list_is_never_a_party() -> None:
    raw = message(
        f"""
From: Alice <{OWNER}>
To: Bob Stone <bob@example.org>
Cc: Founders <founders@lists.example.org>, Carol Diaz <carol@example.net>
Subject: Re: flaky builds
List-Id: <founders.lists.example.org>
Precedence: list
""",
        "(cc'ing Carol, who maintains the build farm)\n\n"
        "On Mon, 1 Jul 2024, Bob Stone <bob@example.org> wrote:\n> builds keep failing\n",
    )
    v = classify(parse_message(raw), IDENTITY)
    assert (v.kind, v.shape) == ("introduction", "loop_in")
    assert parties(v) == {"carol@example.net": True, "bob@example.org": True}
    auto = message(raw.decode().replace("Precedence: list", "Auto-Submitted: auto-generated"), "")
    assert classify(parse_message(auto), IDENTITY).kind == "automatic"


def test_a_mailman_lists_junk_copy_of_the_owners_post_is_read() -> None:
    """Mailman 2 lists (dm-devel) mark their copies "Precedence: junk": with List-Id it is the
    list's copy of the owner's post; without, "junk" is an auto-reply's mark and stays one."""
    headers = f"""
From: Alice <{OWNER}>
To: Bob Stone <bob@example.org>, dm-devel@lists.example.org
Cc: Carol Diaz <carol@example.net>
Subject: Re: flaky builds
List-Id: <dm-devel.lists.example.org>
Precedence: junk
"""
    raw = message(headers, "CC'ing Carol, who maintains the build farm.\n")
    assert classify(parse_message(raw), IDENTITY).kind == "introduction"
    no_list = message(headers.replace("List-Id: <dm-devel.lists.example.org>\n", ""), "")
    assert classify(parse_message(no_list), IDENTITY).rule == "precedence"


def test_mailer_daemon_is_automatic() -> None:
    raw = message(
        f"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\nTo: {OWNER}\n"
        "Subject: Delivery Status Notification (Failure)\n",
        "Bob, meet Carol. " + INTRO_BODY,
    )
    msg = parse_message(raw)
    assert robot_hit(msg.envelope) is not None
    assert classify(msg, IDENTITY).kind == "automatic"


def test_reply_in_known_thread() -> None:
    raw = message(
        f"From: Bob <bob@example.org>\nTo: {OWNER}\nSubject: Re: Intro\n"
        "In-Reply-To: <intro@novak.example.com>\nReferences: <intro@novak.example.com>\n",
        "We met on Tuesday, thanks again!\n",
    )
    v = classify(parse_message(raw), IDENTITY, known_ids=frozenset({"<intro@novak.example.com>"}))
    assert (v.kind, v.rule, v.thread_ref) == ("reply", "known_thread", "<intro@novak.example.com>")
    assert classify(parse_message(raw), IDENTITY).kind == "other"


def test_own_mail_is_recognised() -> None:
    raw = message(INTRO_HEADERS + "X-Refmail-ID: 42", INTRO_BODY)
    assert classify(parse_message(raw), IDENTITY).kind == "own"


# --- context sentence ----------------------------------------------------------------------


def test_context_sentence_prefers_the_why() -> None:
    text = (
        "Hi both,\n\nBruno, meet Chiara.\n\n"
        "Chiara runs a studio in Turin and rebuilt the Nord brand.\n"
    )
    assert context_sentence(text) == "Chiara runs a studio in Turin and rebuilt the Nord brand."
    assert context_sentence("") == ""
    assert context_sentence("Best,\nAlice") == ""


def test_context_sentence_keeps_abbreviations_together() -> None:
    text = "Hi Nigel,\n\nJulia Smith from XYZ Co. may be giving you a call next week.\n"
    assert context_sentence(text) == "Julia Smith from XYZ Co. may be giving you a call next week."


# --- property: never raises, never returns the wrong people --------------------------------

POOL = [OWNER, REFMAIL, "bob@example.org", "carol@example.net", "dan@example.com", "x@y.example"]
BODIES = [
    INTRO_BODY,
    "I'm copying Dan, who can help you with this.",
    "Dan will be in touch with you directly.",
    "Thanks for the intro!",
    "",
    "FYI",
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    sender=st.sampled_from(POOL),
    to=st.lists(st.sampled_from(POOL), max_size=5),
    cc=st.lists(st.sampled_from(POOL), max_size=5),
    body=st.sampled_from(BODIES),
    subject=st.sampled_from(["Intro: Bob <> Carol", "Re: hello", "Fwd: deck", ""]),
)
def test_parties_never_include_owner_refmail_or_introducer(
    sender: str, to: list[str], cc: list[str], body: str, subject: str
) -> None:
    headers = f"From: {sender}\nSubject: {subject}\n"
    if to:
        headers += f"To: {', '.join(to)}\n"
    if cc:
        headers += f"Cc: {', '.join(cc)}\n"
    v = classify(parse_message(message(headers, body)), IDENTITY)
    emails = [p.address.email for p in v.parties]
    assert OWNER not in emails and REFMAIL not in emails and sender not in emails
    assert len(emails) == len(set(emails))
    recipients = set(to) | set(cc)
    assert all(p.address.email in recipients for p in v.parties if p.reached)
    if v.kind != "introduction":
        assert v.parties == ()


# --- the corpus guard ----------------------------------------------------------------------


def _bench() -> ModuleType:
    path = ROOT / "bench" / "detect_corpus.py"
    spec = importlib.util.spec_from_file_location("detect_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _corpus(bench: ModuleType) -> Path:
    corpus: Path = bench.DEFAULT_CORPUS
    if not (corpus / "labels.json").is_file():
        pytest.fail(f"labelled corpus missing at {corpus} (expected ../shared/corpus)")
    return corpus


def test_corpus_dev_precision_recall_and_parties() -> None:
    """A regression guard on the dev split only (the test split is for bench/ measurement)."""
    bench = _bench()
    outcomes, _ = bench.run(_corpus(bench), ("dev",))
    strict = bench.score(outcomes)
    misses = [o.file for o in strict.misses]
    assert strict.precision >= 0.97, misses
    assert strict.recall >= 0.95, misses
    assert strict.exact_addressable >= 0.85 * strict.tp, misses


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "I'd like to introduce you to",
                "Meet Ann",
                "you two should talk",
                "cc'ing Bob",
                "Copying Jake Sullivan who works with me",
                "she will be in touch",
                "Dana will be in touch",
                "I gave her your name",
                "resume of my friend",
                "Would you be open to an intro",
                "+Dana",
                "(cc'd)",
                "put you in touch",
                "forwarding it on to our team",
                "do you want to chat",
                "te presento a Luis",
                "os pongo en contacto",
                "\n",
                " ",
                ",",
                ".",
                "Hi Bob,",
                "please MEET Carol",
                "YOU  TWO\nSHOULD meet",
                "Thanks,",
                "Ann",
                "tomorrow",
                "out of the\noffice",
                "thanks for cc'ing me",
            ]
        ),
        max_size=12,
    ).map(" ".join)
)
def test_gate_words_never_change_what_is_found(text: str) -> None:
    """The gate words are only a shortcut: with them or without, the same cues are found."""
    for code in LANGUAGES:
        assert find_cues(text, code) == find_cues(text, code, gated=False)


def test_gate_words_never_change_a_dev_corpus_verdict() -> None:
    bench = _bench()
    corpus = _corpus(bench)
    files = [corpus / str(e["file"]) for e in bench.labels(corpus, ("dev",))]
    files += sorted((corpus / "weird").glob("*.eml"))
    for path in files:
        text = author_text(parse_message(path.read_bytes())).text
        assert find_cues(text, "en") == find_cues(text, "en", gated=False), path.name


_GATE_WORDS = sorted({w for words in LANGUAGES["en"].gates.values() for w in words})


def test_each_gate_word_lists_the_gate_words_it_starts_with() -> None:
    """Looked up by prefix (issue 15's start-up), the same as comparing every pair of words."""
    for code, data in LANGUAGES.items():
        words = sorted({w for ws in data.gates.values() for w in ws})
        pairwise = {w: tuple(g for g in words if w.startswith(g)) for w in words}
        assert _gate_index(code)[1] == pairwise, code


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*_GATE_WORDS[::7], "intro", "introduce you", "you two", "x", ". ", "’", "İ"]
        ),
        max_size=20,
    ).map("".join)
)
def test_one_pass_finds_every_gate_word_where_a_search_per_word_does(text: str) -> None:
    """The trie of gate words finds overlapping words too ("introduce you" holds "intro")."""
    sent = [s for s in text.split(". ") if s]
    lowered = "\n".join(sent).lower().replace("’", "'")
    starts = [sum(len(s) + 1 for s in sent[:i]) for i in range(len(sent))]
    expected: dict[str, list[int]] = {}
    for word in _GATE_WORDS:
        pos = lowered.find(word)
        while pos != -1:
            index = max(i for i, start in enumerate(starts) if start <= pos)
            if index not in expected.setdefault(word, []):
                expected[word].append(index)
            pos = lowered.find(word, pos + 1)
    assert _gate_sentences(sent, "en") == expected
    assert _gate_sentences_joined(lowered, sent, "en") == expected
    if "İ" not in text:  # (lower-cased, "İ" is two characters: the joined reading then)
        one_by_one = [s.lower().replace("’", "'") for s in sent]
        assert _gate_sentences_searched(one_by_one, "en") == expected


def test_a_short_text_finds_its_gate_words_without_the_trie_until_a_long_one_compiled_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compiling the trie costs a cron sync of one short message ≈ 8 ms (issue 15): a short
    text is searched word by word, a long one compiles the trie, used from then on. No gate
    word holds a newline (the word-by-word search looks in the sentences joined by one)."""
    assert not any(
        "\n" in w for data in LANGUAGES.values() for ws in data.gates.values() for w in ws
    )
    monkeypatch.setattr(detect_cues, "_TRIES", {})
    short = ["Olivia, meet Carol", "I wanted to connect you two"]
    found = {"meet": [0], "connect": [1], "connect you": [1], "you two": [1]}
    assert _gate_sentences(short, "en") == found
    assert detect_cues._TRIES == {}
    long = [*short, "x" * detect_cues._SEARCH_PER_WORD_BELOW]
    assert _gate_sentences(long, "en") == found
    assert set(detect_cues._TRIES) == {"en"}
    assert _gate_sentences(short, "en") == found


def test_a_cue_runs_on_at_most_200_sentences_holding_its_gate_words() -> None:
    """Beyond 200 sentences, a cue's pattern runs on the first 200 that hold its gate words,
    taken word by word in the table's order (a long diff or list costs no more)."""
    at = {"a": list(range(0, 300, 2)), "b": list(range(1, 300, 2))}
    both = {"a", "b"}
    assert _holding(at, ("a", "b"), 300, both) == [*range(0, 100), *range(100, 300, 2)]
    assert _holding(at, ("b", "a"), 300, both) == [*range(0, 100), *range(101, 300, 2)]
    assert _holding(at, ("b", "c"), 150, {"b"}) == at["b"]
    assert _holding(at, ("a", "b"), 150, both) == list(range(300))
    assert _holding(at, ("c",), 150, set()) == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="Ab-'’ _9é\n", max_size=60))
def test_capitalised_words_are_the_words_of_a_name_with_or_without_dashes(text: str) -> None:
    """A text without "--" is read with a faster pattern: the same words come out."""
    slow = re.compile(r"[^\W\d_](?:[\w'’]|-(?!-)){1,40}")
    words = [w for w in slow.findall(text) if w[0].isupper()]
    expected = {w.lower().removesuffix("'s").removesuffix("’s") for w in words}
    assert capitalised_words(text) == expected


def test_sentences_keep_an_abbreviation_at_the_end_of_a_long_sentence() -> None:
    long = "word " * 50
    assert sentences(f"{long}at XYZ Co. may call. I met Prof. Lee. Ok. Fine") == [
        f"{long.strip()} at XYZ Co. may call.",
        "I met Prof. Lee.",
        "Ok.",
        "Fine",
    ]
    assert sentences("It is by eCo. Then") == ["It is by eCo.", "Then"]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I am referring Mr. Karl Brun (cc'd) for an assessment.", True),
        ("We're referring you to Dr. Vogel.", True),
        ("I'd like to refer Ana Ruiz to you.", True),
        ("I'm referring Bob's question to legal.", False),  # someone's thing, not a person
        ("I am referring to the contract.", False),
    ],
)
def test_a_referral_made_is_the_act_of_introducing(text: str, found: bool) -> None:
    assert ("cue_introduce" in find_cues(text, "en")) is found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("This is to introduce to you Mr. Tomas Weller, the son of an old friend.", True),
        ("I take this occasion to introduce to you the bearer of this letter, Mrs. Lind.", True),
        ("Allow me to introduce to you my colleague Dana Ruiz.", True),
        ("I will introduce to you Mr. Weller next week.", False),  # promised for later
        ("Can you introduce to you whoever runs sales?", False),  # no one named
    ],
)
def test_a_letter_of_introduction_names_whom_it_introduces_after_to_you(
    text: str, found: bool
) -> None:
    assert ("cue_introduce" in find_cues(text, "en")) is found
