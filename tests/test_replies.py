"""Tests for refmail.replies: stop and pause requests in a contact's own words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmail.replies import READ_LIMIT, Intent, reply_intent, reply_outcome

NOW = datetime(2024, 4, 10, 14, 30, tzinfo=UTC)  # a Wednesday in April

STOPS = [
    "Please remove me from your list.",
    "Unsubscribe",
    "UNSUBSCRIBE",
    "unsubscribe.",
    "Please unsubscribe me.",
    "Unsubscribe me please",
    "Stop emailing me.",
    "Please stop contacting me.",
    "Take me off your mailing list.",
    "Please take me off this list, thanks.",
    "Don't contact me again.",
    "Do not email me again.",
    "Never contact me again.",
    "Please don't email me anymore.",
    "Not interested, please stop.",
    "Opt me out.",
    "Kindly opt me out of future emails.",
    "I'd like to opt out.",
    "No more emails, please.",
    "I'd like to unsubscribe.",
    "I want to unsubscribe from these emails.",
    "How do I unsubscribe from these emails?",
    "Can you please remove me from this list?",
    "Could you stop sending me these messages?",
    "Remove me.",
    "I do not wish to be contacted again.",
    "Leave me alone.",
    "Stop sending me emails.",
    "Stop messaging me, I'm not interested.",
    "I'm not interested. Please stop emailing me.",
    "Please delete my details from your system.",
    "STOP",
    "We would like to be removed from your mailing list.",
    "Thanks, but I\u2019d like to unsubscribe from your emails.",
]

NOT_STOPS = [
    "Please don't unsubscribe me, I love these updates.",
    "How do I unsubscribe from the newsletter you mentioned?",
    "I unsubscribed from their mailing list last year.",
    "Don't remove me from the list!",
    "Can you remove me from the Slack channel?",
    "If you ever want to unsubscribe someone, use the admin page.",
    "Tell Bob to stop emailing me about the invoice.",
    "I've asked LinkedIn to stop emailing me.",
    "I'll stop emailing you about this now.",
    "You can opt out of the pension scheme at any time.",
    "No need to take me off the list, I'm happy to hear from you.",
    "Stop by the office whenever you like.",
    "She asked to be removed from the board.",
    "I'm not interested in the job, but thanks for thinking of me.",
    "Please keep emailing me updates.",
    "Don't stop sending me these, they're great.",
    "The unsubscribe link in your footer is broken.",
    "We never unsubscribe customers without asking.",
    "Thanks, no more questions from me.",
    "Would you like me to stop emailing Bob?",
    "Great to meet you - Ana is a fantastic designer.",
    'He literally wrote "stop emailing me" in the subject line, ha.',
]


@pytest.mark.parametrize("text", STOPS)
def test_stop(text: str) -> None:
    intent = reply_intent(text, NOW)
    assert intent is not None and intent.kind == "stop", text
    assert intent.until is None
    assert intent.phrase and intent.phrase.lower() in " ".join(text.split()).lower().replace(
        "\u2019", "'"
    )


@pytest.mark.parametrize("text", NOT_STOPS)
def test_not_stop(text: str) -> None:
    intent = reply_intent(text, NOW)
    assert intent is None or intent.kind != "stop", (text, intent)


def test_stop_phrase_names_the_target() -> None:
    intent = reply_intent("Hi Sam,\n\nplease remove me from your list.\n\nBest,\nAnn", NOW)
    assert intent == Intent("stop", None, "remove me from your")


def test_stop_wins_over_pause() -> None:
    intent = reply_intent("Not now. Actually, please just stop emailing me.", NOW)
    assert intent is not None and intent.kind == "stop"


def at9(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, tzinfo=UTC)


APRIL = NOW
DEC_20 = datetime(2024, 12, 20, 16, 0, tzinfo=UTC)
JAN_3 = datetime(2025, 1, 3, 10, 0, tzinfo=UTC)
JAN_31 = datetime(2025, 1, 31, 8, 0, tzinfo=UTC)
FEB_10 = datetime(2025, 2, 10, 8, 0, tzinfo=UTC)

PAUSES = [
    # (text, now, expected until)
    ("Not right now, sorry.", APRIL, None),
    ("Maybe later!", APRIL, None),
    ("Not at the moment, we're heads-down on the launch.", APRIL, None),
    ("Not now - check back in March.", APRIL, at9(2025, 3, 1)),  # year rollover
    ("Not now. Try me again in early March.", FEB_10, at9(2025, 3, 1)),
    ("Not right now, I'll be back in March.", JAN_3, at9(2025, 3, 1)),
    ("Not now, maybe after the holidays.", DEC_20, at9(2025, 1, 7)),
    ("Not now, maybe after the holidays.", JAN_3, at9(2025, 1, 7)),
    ("Not now, let's talk next week.", APRIL, APRIL + timedelta(days=7)),
    ("Swamped at the moment, reach out again early next year.", APRIL, at9(2025, 1, 7)),
    ("Not now, maybe next year.", DEC_20, at9(2025, 1, 7)),
    ("Not now - next month works better.", APRIL, at9(2024, 5, 1)),
    ("Not now - next month works better.", DEC_20, at9(2025, 1, 1)),
    ("Not now, ping me in two weeks.", APRIL, APRIL + timedelta(days=14)),
    (
        "Not right now. Can you circle back in 3 months?",
        APRIL,
        datetime(2024, 7, 10, 14, 30, tzinfo=UTC),
    ),
    ("Not now; in a couple of weeks maybe.", APRIL, APRIL + timedelta(days=14)),
    ("Not now. After the 15th would be better.", APRIL, at9(2024, 4, 15)),
    (
        "Not now. After the 15th would be better.",
        datetime(2024, 4, 20, tzinfo=UTC),
        at9(2024, 5, 15),
    ),
    ("Not now, but from mid-January we have budget.", APRIL, at9(2025, 1, 15)),
    ("Not right now - try again on 2024-06-03.", APRIL, at9(2024, 6, 3)),
    ("Not now, maybe March 3?", APRIL, at9(2025, 3, 3)),
    ("Not now, maybe 3 March?", APRIL, at9(2025, 3, 3)),
    ("Not a good time; how about the 3rd of May?", APRIL, at9(2024, 5, 3)),
    ("Maybe later, on June 2, 2024.", APRIL, at9(2024, 6, 2)),
    ("Not now, in 3 months.", JAN_31, datetime(2025, 4, 30, 8, tzinfo=UTC)),  # day clamped
    ("Let's reconnect in a couple of weeks.", APRIL, APRIL + timedelta(days=14)),
    ("I'm travelling until May 20, can you check back then?", APRIL, at9(2024, 5, 20)),
    ("Not now - try again on 2023-06-03.", APRIL, None),  # a past date is unreadable
    ("Not now, we may 3x the team later.", APRIL, None),  # "may" the verb
]


@pytest.mark.parametrize(("text", "now", "until"), PAUSES)
def test_pause(text: str, now: datetime, until: datetime | None) -> None:
    intent = reply_intent(text, now)
    assert intent is not None and intent.kind == "pause", text
    assert intent.until == until, (text, intent)


NOT_PAUSES = [
    "Let's talk next week about the contract.",
    "Thanks for the intro! I'll reach out to Bob in March.",
    "Why not now? I'm free all week.",
    "Not now that we have funding, we can hire.",
    "We met in March and got on really well.",
]


@pytest.mark.parametrize("text", NOT_PAUSES)
def test_not_pause(text: str) -> None:
    assert reply_intent(text, NOW) is None, text


def test_naive_now_gives_naive_until() -> None:
    intent = reply_intent("Not now, in March.", datetime(2024, 4, 10, 12))
    assert intent is not None and intent.until == datetime(2025, 3, 1, 9)


def test_only_the_first_part_is_read() -> None:
    filler = "We had a lovely time at the conference. " * 40
    assert len(filler) > READ_LIMIT
    assert reply_intent(filler + "Please unsubscribe me.", NOW) is None


# --- properties ----------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        *("not", "now", "right", "maybe", "later", "please", "stop", "remove", "me", "from"),
        *("your", "list", "unsubscribe", "don't", "contact", "again", "in", "next", "week"),
        *("month", "March", "mid-January", "after", "the", "holidays", "15th", "3", "two"),
        *("weeks", "months", "2024-06-03", "June", "2", "opt", "out", "take", "off", "emailing"),
        *(",", ".", "!", "?", "\n", "hi", "thanks", "May", "may", "31st", "29", "February"),
    ]
)
TEXTS = st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=40).map(" ".join))
NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(TEXTS, NOWS)
def test_never_raises_and_until_is_after_now(text: str, now: datetime) -> None:
    intent = reply_intent(text, now)
    if intent is not None:
        assert intent.kind in ("stop", "pause")
        assert intent.until is None or intent.until > now
        assert intent.kind == "pause" or intent.until is None


@settings(max_examples=400, deadline=None)
@given(
    TEXTS,
    NOWS,
    st.sampled_from(["Hi Sam,", "Hello,", "Dear Ms Smith,", "Hey!"]),
    st.sampled_from(["Best,\nAnn", "Thanks,\nBob", "Cheers", "Kind regards,\nDr. A. Li"]),
)
def test_greeting_and_sign_off_change_nothing(
    text: str, now: datetime, greeting: str, sign_off: str
) -> None:
    wrapped = f"{greeting}\n\n{text}\n\n{sign_off}"
    assert reply_intent(wrapped, now) == reply_intent(text, now)


@pytest.mark.parametrize(
    "text,status",
    [
        ("We're working together now, thanks again!", "converted"),
        ("Great news: we've signed the agreement.", "converted"),
        ("We signed last week.", "converted"),
        ("Alice is now a client of ours.", "converted"),
        ("Not a good fit for us, sadly.", "closed"),
        ("No thanks.", "closed"),
        ("We're not interested at this point.", "closed"),
        ("We'll pass on this one.", "closed"),
    ],
)
def test_outcomes_said_in_replies(text: str, status: str) -> None:
    outcome = reply_outcome(text)
    assert outcome is not None and outcome.status == status


@pytest.mark.parametrize(
    "text",
    [
        "If it's not a fit, no worries at all.",
        "We haven't signed anything yet.",
        "We're not working together yet.",
        "No thanks needed, happy to help!",
        "Let's talk Tuesday about working together.",
        "Should we decide to pass, I'll tell you.",
    ],
)
def test_no_outcome_where_none_is_said(text: str) -> None:
    assert reply_outcome(text) is None
