"""decide(): the block rules, their precedence, pauses, and a few never-a-blitz properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmail import kinds
from refmail.config import Caps
from refmail.kinds import NAMES as KINDS
from refmail.models import CHANNELS, LEVELS
from refmail.policy import ContactView, Due, History, decide

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)  # a Wednesday, inside the 09-18 window
EARLIER = NOW - timedelta(days=40)
EMAIL_KINDS = tuple(k.name for k in kinds.KINDS if not k.to_owner)  # reminders go to the owner


def contact(**changes: object) -> ContactView:
    return ContactView(email="alice@example.org", **changes)  # type: ignore[arg-type]


def due(kind: str = "thank_you", step: int = 0) -> Due:
    return Due(kind, step, NOW)


def test_plain_contact_is_sent_to() -> None:
    decision = decide(contact(), due(), NOW)
    assert (decision.action, decision.rule) == ("send", "allowed")


@pytest.mark.parametrize("kind", KINDS)
def test_opted_out_is_skipped(kind: str) -> None:
    decision = decide(contact(opted_out_at=EARLIER), due(kind), NOW)
    assert (decision.action, decision.rule) == ("skip", "opted_out")


def test_bounced_is_skipped() -> None:
    decision = decide(contact(bounced_at=EARLIER), due(), NOW)
    assert (decision.action, decision.rule) == ("skip", "bounced")


@pytest.mark.parametrize(
    ("level", "kind", "step", "expected"),
    [
        ("none", "thank_you", 0, ("skip", "level_none")),
        ("none", "call_task", 0, ("skip", "level_none")),
        ("essential", "check_in", 0, ("skip", "level_essential")),
        ("essential", "thank_you", 0, ("send", "allowed")),
        ("essential", "double_intro", 0, ("send", "allowed")),
        ("reduced", "check_in", 0, ("send", "allowed")),
        ("reduced", "check_in", 1, ("skip", "level_reduced")),
        ("reduced", "thank_you", 1, ("send", "allowed")),
        ("normal", "check_in", 1, ("send", "allowed")),
    ],
)
def test_contact_levels(level: str, kind: str, step: int, expected: tuple[str, str]) -> None:
    decision = decide(contact(level=level), due(kind, step), NOW)
    assert (decision.action, decision.rule) == expected


def test_channel_none_is_skipped() -> None:
    decision = decide(contact(channel="none"), due(), NOW)
    assert (decision.action, decision.rule) == ("skip", "channel_none")


@pytest.mark.parametrize("kind", EMAIL_KINDS)
def test_phone_preference_becomes_a_call(kind: str) -> None:
    decision = decide(contact(channel="phone", phone="+1 555 0100"), due(kind), NOW)
    assert (decision.action, decision.rule) == ("call", "channel_phone")


def test_call_task_is_not_turned_into_another_call() -> None:
    decision = decide(contact(channel="phone"), due("call_task"), NOW)
    assert decision.action == "send"


def test_paused_contact_is_deferred_until_the_pause_ends() -> None:
    until = NOW + timedelta(days=6)  # a Tuesday, 10:00 UTC: inside the window
    decision = decide(contact(paused_until=until), due(), NOW)
    assert (decision.action, decision.rule, decision.until) == ("defer", "paused", until)
    assert "paused" in decision.hits


def test_expired_pause_is_sent() -> None:
    decision = decide(contact(paused_until=NOW - timedelta(minutes=1)), due(), NOW)
    assert decision.action == "send"


def test_pause_ending_outside_the_window_waits_for_it_to_open() -> None:
    until = datetime(2026, 1, 16, 20, 0, tzinfo=UTC)  # Friday evening
    decision = decide(contact(paused_until=until), due(), NOW)
    assert decision.action == "defer"
    assert decision.until == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)  # Monday morning


def test_opt_out_beats_everything() -> None:
    everything = contact(
        opted_out_at=EARLIER,
        bounced_at=EARLIER,
        level="none",
        channel="phone",
        paused_until=NOW + timedelta(days=3),
    )
    history = History(sent=(NOW - timedelta(hours=1),), last_human=NOW)
    decision = decide(everything, due("check_in", 3), NOW, history)
    assert (decision.action, decision.rule) == ("skip", "opted_out")


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"bounced_at": EARLIER, "level": "none", "channel": "phone"}, "bounced"),
        ({"level": "none", "channel": "phone"}, "level_none"),
        ({"channel": "none", "paused_until": NOW + timedelta(days=3)}, "channel_none"),
        ({"channel": "phone", "paused_until": NOW + timedelta(days=3)}, "channel_phone"),
    ],
)
def test_block_rules_apply_in_order(changes: dict[str, object], rule: str) -> None:
    assert decide(contact(**changes), due(), NOW).rule == rule


def test_recent_send_defers_by_min_gap() -> None:
    history = History(sent=(NOW - timedelta(hours=1),))
    decision = decide(contact(), due(), NOW, history, Caps(windows=()))
    assert decision.action == "defer"
    assert decision.rule == "min_gap"
    assert decision.until == NOW + timedelta(hours=23)


def test_stale_check_in_is_skipped() -> None:
    late = Due("check_in", 0, NOW, first_due_at=NOW - timedelta(days=30))
    assert decide(contact(), late, NOW).rule == "stale"


# --- properties ------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
maybe_instant = st.none() | instants
contacts = st.builds(
    ContactView,
    email=st.just("alice@example.org"),
    channel=st.sampled_from(CHANNELS),
    level=st.sampled_from(LEVELS),
    paused_until=maybe_instant,
    opted_out_at=maybe_instant,
    bounced_at=maybe_instant,
)
dues = st.builds(
    Due,
    kind=st.sampled_from(KINDS),
    step=st.integers(min_value=0, max_value=3),
    due_at=instants,
    first_due_at=maybe_instant,
)
histories = st.builds(
    History,
    sent=st.lists(instants, max_size=6).map(tuple),
    last_human=maybe_instant,
)


@given(contacts, dues, instants, histories)
def test_opted_out_or_level_none_never_gets_send(
    c: ContactView, d: Due, now: datetime, h: History
) -> None:
    decision = decide(c, d, now, h)
    if c.opted_out_at is not None or c.level == "none":
        assert decision.action != "send"


@given(contacts, dues, instants, histories)
def test_phone_contact_never_gets_an_email(
    c: ContactView, d: Due, now: datetime, h: History
) -> None:
    decision = decide(c, d, now, h)
    # Reminders to the owner (call_task, reward_task) are not email to the contact.
    if c.channel == "phone" and not kinds.get(d.kind).to_owner:
        assert decision.action != "send"


@given(contacts, dues, instants, histories)
def test_defer_is_always_later(c: ContactView, d: Due, now: datetime, h: History) -> None:
    decision = decide(c, d, now, h)
    if decision.action == "defer":
        assert decision.until is not None
        assert decision.until > now
