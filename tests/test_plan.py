"""plan(): which follow-ups an introduction gets, to whom, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from refmail.config import FollowUps
from refmail.plan import IntroFacts, PlannedFollowUp, plan

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
AT = NOW - timedelta(hours=3)
OWNER = "owner@example.com"
ALICE = "alice@example.org"
BOB = "bob@example.net"
PARTNER = "partner@example.com"


def kinds(rows: list[PlannedFollowUp]) -> list[str]:
    return sorted({r.kind for r in rows})


def test_owner_introduces_two_reached_parties_gets_only_check_ins() -> None:
    facts = IntroFacts("owner_intro", OWNER, True, ((ALICE, True), (BOB, True)), AT)
    rows = plan(facts, FollowUps(check_in_days=(7, 30)), NOW)
    assert kinds(rows) == ["check_in"]
    assert len(rows) == 2 * 2
    assert {(r.recipient, r.step, r.due_at) for r in rows} == {
        (ALICE, 0, AT + timedelta(days=7)),
        (BOB, 0, AT + timedelta(days=7)),
        (ALICE, 1, AT + timedelta(days=30)),
        (BOB, 1, AT + timedelta(days=30)),
    }


def test_referral_to_owner_thanks_the_introducer_and_checks_in_with_parties() -> None:
    facts = IntroFacts("referral", PARTNER, False, ((ALICE, True),), AT)
    rows = plan(facts, FollowUps(thank_you_delay_hours=2, check_in_days=(7,)), NOW)
    thanks = [r for r in rows if r.kind == "thank_you"]
    assert thanks == [PlannedFollowUp("thank_you", PARTNER, 0, AT + timedelta(hours=2))]
    check_ins = [r for r in rows if r.kind == "check_in"]
    assert [(r.recipient, r.due_at) for r in check_ins] == [(ALICE, AT + timedelta(days=7))]
    assert "double_intro" not in kinds(rows)


def test_forward_with_an_unreached_party_double_intros_only_that_party() -> None:
    carol = "carol@example.org"
    facts = IntroFacts("forward", OWNER, True, ((ALICE, False), (BOB, True), (carol, True)), AT)
    rows = plan(facts, FollowUps(check_in_days=()), NOW)
    assert rows == [PlannedFollowUp("double_intro", ALICE, 0, AT, about=(BOB, carol))]


def test_double_intro_needs_two_parties() -> None:
    facts = IntroFacts("forward", OWNER, True, ((ALICE, False),), AT)
    assert plan(facts, FollowUps(check_in_days=()), NOW) == []


def test_toggles_are_respected() -> None:
    referral = IntroFacts("referral", PARTNER, False, ((ALICE, True),), AT)
    forward = IntroFacts("forward", OWNER, True, ((ALICE, False), (BOB, True)), AT)
    off = FollowUps(thank_you=False, double_intro=False, check_in_days=())
    assert plan(referral, off, NOW) == []
    assert plan(forward, off, NOW) == []
    only_check_ins = FollowUps(thank_you=False, double_intro=False, check_in_days=(7,))
    assert kinds(plan(referral, only_check_ins, NOW)) == ["check_in"]
    assert kinds(plan(forward, only_check_ins, NOW)) == ["check_in"]


def test_future_dated_introduction_is_clamped_to_now() -> None:
    future = NOW + timedelta(days=3)
    facts = IntroFacts("referral", PARTNER, False, ((ALICE, True),), future)
    rows = plan(facts, FollowUps(check_in_days=(7,)), NOW)
    assert {(r.kind, r.due_at) for r in rows} == {
        ("thank_you", NOW),
        ("check_in", NOW + timedelta(days=7)),
    }


def test_check_in_steps_are_numbered_per_delay() -> None:
    facts = IntroFacts("owner_intro", OWNER, True, ((ALICE, True),), AT)
    rows = plan(facts, FollowUps(check_in_days=(3, 14, 60)), NOW)
    assert [(r.step, r.due_at - AT) for r in rows] == [
        (0, timedelta(days=3)),
        (1, timedelta(days=14)),
        (2, timedelta(days=60)),
    ]


# --- properties ------------------------------------------------------------------------------

addresses = st.from_regex(r"[a-z]{1,8}@[a-z]{1,6}\.example", fullmatch=True)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
cadences = st.builds(
    FollowUps,
    thank_you=st.booleans(),
    thank_you_delay_hours=st.floats(min_value=0, max_value=24 * 30),
    double_intro=st.booleans(),
    check_in_days=st.lists(st.integers(min_value=0, max_value=365), max_size=5).map(tuple),
)


@st.composite
def facts(draw: st.DrawFn) -> IntroFacts:
    people = draw(st.lists(addresses, min_size=1, max_size=6, unique=True))
    introducer, party_addresses = people[0], people[1:]
    reached = draw(st.lists(st.booleans(), min_size=len(party_addresses)))
    return IntroFacts(
        shape=draw(st.sampled_from(["owner_intro", "forward", "referral", "loop_in"])),
        introducer=introducer,
        introducer_is_owner=draw(st.booleans()),
        parties=tuple(zip(party_addresses, reached, strict=False)),
        at=draw(instants),
    )


@given(facts(), cadences, instants)
def test_plan_is_storable_and_never_early(
    intro: IntroFacts, cadence: FollowUps, now: datetime
) -> None:
    rows = plan(intro, cadence, now)
    triples = [(r.kind, r.recipient, r.step) for r in rows]
    assert len(triples) == len(set(triples))  # the DB's unique constraint "plan_once"
    allowed = {intro.introducer} | {a for a, _ in intro.parties}
    assert {r.recipient for r in rows} <= allowed
    assert all(r.due_at >= min(intro.at, now) for r in rows)
    for row in rows:
        assert row.recipient not in row.about
