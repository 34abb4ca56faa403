"""A cue's pattern as run on one sentence (issue 15): only the alternatives whose own gate words
the sentence holds, and its character classes without "’" when the sentence has none. Both are
shortcuts: the matches are those of the whole pattern."""

from __future__ import annotations

import re
import re._parser
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.detect_cues import _alternative, alternatives, cue_matches, cue_pattern
from refmail.detect_languages import LANGUAGES
from refmail.detect_text import sentences

# At least one sentence each alternative of the gated cues matches, in their order.
_EXAMPLES = [
    # cue_hand_off
    "I'll take it from here",
    "Over to you two!",
    "I'll step aside now",
    "feel free to bcc me",
    "Move me to BCC",
    "Ill let you two find a time",
    "Kris will reach out to you",
    "Kris will be contacting each of you",
    "Drop him a line.",
    "send her an email",
    "She'd love to hear from you",
    "You'll hear from her soon",
    "Dana knows I'm sending this",
    "Jake should be able to help you with your question",
    "Bill Williams in our real time group is going to handle this",
    "Marcia Linton (Jim's assistant) can give you the call-in number",
    "David roland will be point person on this",
    "Tim and Joe will likely need your assistance",
    "Please introduce yourself to Ana",
    "I'll let Jake comment on this.",
    "I've asked Kris to follow up with you",
    "I told Bo to get in touch w you",
    # cue_copy_in
    "Copying Dana, who runs the lab.",
    "+CC pdx86 list, Armin, Derek",
    "CC'ing the list and Hans",
    "I am passing this email onto Jack and Cheryl",
    "+Kairui",
    "[cc Martin]",
    "[ add Neil, who wrote it ]",
    "Cc += Srini who maintains it",
    "bringing Jake into the conversation",
    "George (gbiv@, cc'ed)",
    "the respective maintainers (added to Cc here)",
    "John is cc'd here",
    "Jane has been copied",
    "adding the gentlemen from that commit to Cc",
    "Let's add Jonathan to the CC list",
    "we add jo@example.org into this mail thread",
    "(handled by Bryan, added to the Cc list)",
    "Bryan, now added to this thread",
    "A question for Tony and Yazen. CCed.",
    # cue_introduce
    "introducing you to Bob",
    "Happy to connect you",
    "This is to introduce to you Mr. Lee",
    "let me introduce Sam",
    "I'm making an intro",
    "Here's the promised intro to Bo",
    "Quick intro as discussed",
    "I'm referring Mr. Lin for evaluation",
    "I'd like to refer Ana to you",
    # cue_connect
    "Putting you both in touch",
    "Connecting you so the work can start",
    "connecting Ana with Bo",
    "could you put someone in touch with Rick",
    "I put Dana in touch with Lee",
    "getting you and Bill Williams together",
    "bring you together with Ana",
    # cue_should_talk
    "You two should talk",
    "It is time for you two to meet",
    "You'd both benefit",
    "I think you'd hit it off",
    "so you can connect directly",
    "so that you both can talk",
    "you two can help each other",
    "you should chat",
    "please compare notes",
    # cue_gave_name
    "I gave him your number",
    "Ana recommended you",
    "I've given Marta your email",
    "I suggested she reach out to you",
    "I told him about you",
    "You'll hear from Ana soon",
    "I referred him to you",
    "I told Ana about you",
    "I told her to expect you",
]
_WORDS = [
    *_EXAMPLES,
    "Hi Bob,",
    "help",
    "thread",
    "you",
    "Ann",
    "ſ",
    "İ",
    "’",
    "(",
    ",",
    ".",
    "and",
    "to the",
]


def _spans(matches: Iterator[re.Match[str]]) -> list[tuple[int, int]]:
    return [m.span() for m in matches]


def test_a_pattern_is_its_alternatives_joined() -> None:
    for data in LANGUAGES.values():
        for name, source in data.cues.items():
            parts = alternatives(source)
            assert "|".join(parts) == source, name
            for part in parts:
                re.compile(part)  # each a whole pattern: no bar inside a group split off


def test_alternative_gates_are_one_list_of_lower_case_words_per_alternative() -> None:
    for data in LANGUAGES.values():
        for name, gates in data.alternative_gates.items():
            assert len(gates) == len(alternatives(data.cues[name])), name
            for words in gates:
                assert words and all(w == w.lower() and w.isascii() for w in words), name


def test_every_alternative_has_an_example_and_runs_on_it() -> None:
    for code, data in LANGUAGES.items():
        for name in data.alternative_gates:
            whole = cue_pattern(code, name)
            for i, part in enumerate(alternatives(data.cues[name])):
                shown = [s for s in _EXAMPLES if re.search(part, s, re.MULTILINE)]
                assert shown, (name, i)
                for s in shown:
                    assert _spans(cue_matches(code, name, s)) == _spans(whole.finditer(s))


def test_a_sentence_runs_only_the_alternatives_it_can_match() -> None:
    """ "Jake can help you" holds a gate word of one hand-off alternative only."""
    help_you = "Jake can help you"
    assert next(cue_matches("en", "cue_hand_off", help_you)).re is _alternative(
        "en", "cue_hand_off", 4
    )
    assert list(cue_matches("en", "cue_hand_off", "Nothing here")) == []


def test_no_alternative_matches_empty_text() -> None:
    """(the alternatives run apart move on from each match's end, as an alternation does)"""
    for data in LANGUAGES.values():
        for name in data.alternative_gates:
            for part in alternatives(data.cues[name]):
                assert re._parser.parse(part).getwidth()[0] > 0, (name, part)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join))
def test_a_sentence_finds_what_the_whole_pattern_finds(text: str) -> None:
    for sentence in sentences(text):
        for code, data in LANGUAGES.items():
            for name in data.cues:
                whole = cue_pattern(code, name).finditer(sentence)
                found = _spans(cue_matches(code, name, sentence))
                assert found == _spans(whole), (name, sentence)


def test_the_straight_classes_hold_no_curly_apostrophe() -> None:
    for code, data in LANGUAGES.items():
        for name in data.cues:
            assert "’" not in cue_pattern(code, name, curly=False).pattern, name
