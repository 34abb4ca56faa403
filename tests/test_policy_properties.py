"""Property tests of the pure policy ("never a blitz"): random caps, histories, zones and clocks.

What they prove, for every generated case:
- a contact fed due follow-ups one by one, at the times policy names, never gets more than a
  window's `count` in any rolling span of it (twice as long for level "reduced"), never two
  sends closer than `min_gap_hours`, never anything while paused, and nothing outside the send
  window in their zone (when drafts are held to it, or when sending);
- opted-out, bounced, paused and level-none contacts never get a "send"; a phone-preferring
  contact never gets an email (only call reminders go through); "defer" always names a later
  time; decide never raises;
- `earliest_in_window` is the least time ≥ now the window allows (against a brute force), and
  `next_window_open` lands inside the window, not before the input, within 8 days, idempotently.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from refmail import kinds
from refmail.config import Caps, Window
from refmail.policy import (
    ContactView,
    Due,
    History,
    decide,
    earliest_in_window,
    in_window,
    next_window_open,
)

KINDS = kinds.NAMES
# The block reasons a contact that may be written to can still meet (documented in policy.py).
ALLOWED_SKIPS = frozenset({"level_essential", "level_reduced", "stale"})

ZONE_NAMES = (
    "UTC",
    "Pacific/Kiritimati",  # UTC+14, no DST
    "America/St_Johns",  # UTC-3:30 / -2:30
    "Australia/Lord_Howe",  # a half-hour DST shift
    "Europe/London",
    "America/New_York",
    "Asia/Kathmandu",  # +5:45
    "Pacific/Pago_Pago",  # UTC-11
)
FIXED = (
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-3, minutes=-30)),
)
ZONES: tuple[tzinfo, ...] = (UTC, *(ZoneInfo(n) for n in ZONE_NAMES[1:]), *FIXED)


def _transitions() -> list[datetime]:
    """UTC instants at which one of ZONES changes its offset (DST), in a few years."""
    found: list[datetime] = []
    for zone in ZONES:
        for year in (2021, 2026, 2034):
            t = datetime(year, 1, 1, tzinfo=UTC)
            end = datetime(year + 1, 1, 1, tzinfo=UTC)
            before = t.astimezone(zone).utcoffset()
            while t < end:
                t2 = t + timedelta(minutes=30)
                after = t2.astimezone(zone).utcoffset()
                if after != before:
                    found.append(t2)
                t, before = t2, after
    return found


TRANSITIONS = _transitions()

zones = st.sampled_from(ZONES)
plain_clocks = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
near_dst = st.builds(
    lambda t, d: t + d,
    st.sampled_from(TRANSITIONS),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)),
)
clocks = st.one_of(plain_clocks, near_dst)
# Minutes, not microseconds: config gives times as "HH:MM".
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from((0, 10, 15, 30, 45, 59)))


@st.composite
def caps_strategy(draw: st.DrawFn) -> Caps:
    windows = draw(
        st.lists(
            st.builds(
                Window,
                st.integers(1, 5),
                st.floats(0.5, 40, allow_nan=False, allow_infinity=False),
            ),
            min_size=1,
            max_size=4,
        )
    )
    start = draw(clock_times)
    end = draw(st.one_of(st.just(start), clock_times))
    return Caps(
        windows=tuple(windows),
        min_gap_hours=draw(st.one_of(st.just(0.0), st.floats(0, 72))),
        cooldown_days=draw(st.floats(0, 10)),
        stale_days=draw(st.floats(1, 60)),
        window_start=start,
        window_end=end,
        weekends=draw(st.booleans()),
        drafts_in_window=draw(st.booleans()),
    )


caps_st = caps_strategy()


def contacts(
    *,
    channel: st.SearchStrategy[str] | None = None,
    level: st.SearchStrategy[str] | None = None,
    opted_out: bool | None = None,
    paused_from: datetime | None = None,
) -> st.SearchStrategy[ContactView]:
    moment = st.one_of(plain_clocks, near_dst)
    pause = (
        st.one_of(st.none(), moment)
        if paused_from is None
        else st.one_of(
            st.none(),
            st.timedeltas(timedelta(0), timedelta(days=90)).map(lambda d: paused_from + d),
        )
    )
    return st.builds(
        ContactView,
        email=st.just("x@example.org"),
        channel=st.sampled_from(("email", "phone", "none")) if channel is None else channel,
        level=st.sampled_from(("normal", "reduced", "essential", "none"))
        if level is None
        else level,
        paused_until=pause,
        opted_out_at=(
            st.one_of(st.none(), moment)
            if opted_out is None
            else (moment if opted_out else st.none())
        ),
        bounced_at=st.none() if opted_out is False else st.one_of(st.none(), moment),
    )


def history_before(now: datetime, max_size: int = 12) -> st.SearchStrategy[History]:
    """Past sends (and maybe a last human contact) within 90 days before `now`."""
    ago = st.timedeltas(timedelta(0), timedelta(days=90))
    return st.builds(
        History,
        sent=st.lists(ago.map(lambda d: now - d), max_size=max_size).map(
            lambda s: tuple(sorted(s))
        ),
        last_human=st.one_of(st.none(), ago.map(lambda d: now - d)),
    )


# --- the simulation: K due follow-ups released one by one at the times policy names ----------


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    now = draw(clocks)
    caps = draw(caps_st)
    contact = draw(
        contacts(
            channel=st.just("email"),
            level=st.sampled_from(("normal", "reduced", "essential")),
            opted_out=False,
            paused_from=now,
        )
    )
    history = draw(history_before(now))
    k = draw(st.integers(1, 12))
    dues = [
        Due(kind, step, now - late, now - late)
        for kind, step, late in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(KINDS),
                    st.integers(0, 2),
                    st.timedeltas(timedelta(0), timedelta(days=30)),
                ),
                min_size=k,
                max_size=k,
            )
        )
    ]
    return {
        "now": now,
        "caps": caps,
        "contact": contact,
        "history": history,
        "dues": dues,
        "zone": draw(zones),
        "sending": draw(st.booleans()),
    }


def simulate(s: dict[str, object]) -> tuple[list[datetime], list[str]]:
    """Decide each due follow-up in turn; returns the new send times and the skip rules met."""
    now: datetime = s["now"]  # type: ignore[assignment]
    caps: Caps = s["caps"]  # type: ignore[assignment]
    contact: ContactView = s["contact"]  # type: ignore[assignment]
    history: History = s["history"]  # type: ignore[assignment]
    zone: tzinfo = s["zone"]  # type: ignore[assignment]
    sending: bool = s["sending"]  # type: ignore[assignment]
    sent = list(history.sent)
    new: list[datetime] = []
    skips: list[str] = []
    for due in s["dues"]:  # type: ignore[attr-defined]
        for _ in range(10):  # a follow-up that needs more deferrals than this is stuck
            d = decide(
                contact, due, now, History(tuple(sent), history.last_human), caps, zone, sending
            )
            if d.action == "send":
                sent.append(now)
                new.append(now)
                break
            if d.action == "skip":
                skips.append(d.rule)
                break
            assert d.action == "defer", d
            assert d.until is not None and d.until > now, d
            now = d.until
        else:
            raise AssertionError(f"{due} still deferred after 10 decisions (now {now})")
    return new, skips


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_simulated_sends_respect_every_window_gap_pause_and_send_window(
    s: dict[str, object],
) -> None:
    new, skips = simulate(s)
    caps: Caps = s["caps"]  # type: ignore[assignment]
    contact: ContactView = s["contact"]  # type: ignore[assignment]
    history: History = s["history"]  # type: ignore[assignment]
    zone: tzinfo = s["zone"]  # type: ignore[assignment]
    note(f"sends: {new}; skips: {skips}")
    assert set(skips) <= ALLOWED_SKIPS
    assert new == sorted(new)
    everything = sorted([*history.sent, *new])
    fresh = set(new)
    stretch = 2.0 if contact.level == "reduced" else 1.0
    for w in caps.windows:
        span = timedelta(days=w.days * stretch)
        for i in range(len(everything) - w.count):
            # count + 1 sends inside one half-open span of `span`, the last of them ours: a blitz
            last = everything[i + w.count]
            if last in fresh:
                assert last - everything[i] >= span, (w, everything[i : i + w.count + 1])
    gap = timedelta(hours=caps.min_gap_hours)
    for before, after in itertools.pairwise(everything):
        if after in fresh:
            assert after - before >= gap
    if contact.paused_until is not None:
        assert all(t >= contact.paused_until for t in fresh)
    if caps.drafts_in_window or s["sending"]:
        for t in fresh:
            assert in_window(t, zone, caps), (t, t.astimezone(zone))


# --- block rules: who never gets anything --------------------------------------------------

dues = st.builds(
    Due,
    st.sampled_from(KINDS),
    st.integers(0, 3),
    plain_clocks,
    st.one_of(st.none(), plain_clocks),
)


@st.composite
def decisions(draw: st.DrawFn, contact_st: st.SearchStrategy[ContactView]) -> tuple:
    now = draw(clocks)
    contact = draw(contact_st)
    due = draw(dues)
    history = draw(history_before(now))
    caps = draw(caps_st)
    zone = draw(zones)
    sending = draw(st.booleans())
    return contact, due, now, history, caps, zone, sending


@settings(max_examples=300, deadline=None)
@given(decisions(contacts()))
def test_decide_never_raises_and_defer_is_always_later(args: tuple) -> None:
    contact, due, now, history, caps, zone, sending = args
    d = decide(contact, due, now, history, caps, zone, sending)
    assert d.action in ("send", "defer", "skip", "call")
    assert d.rule and d.reason
    if d.action == "defer":
        assert d.until is not None and d.until > now
    if contact.opted_out_at is not None or contact.level == "none" or contact.channel == "none":
        assert d.action == "skip"
    if contact.bounced_at is not None:
        assert d.action == "skip"
    if contact.paused_until is not None and contact.paused_until > now:
        assert d.action != "send"
        if d.action == "defer":
            assert d.until is not None and d.until >= contact.paused_until
    if contact.channel == "phone" and not kinds.get(due.kind).to_owner:
        assert d.action in ("call", "skip")


@settings(max_examples=200, deadline=None)
@given(decisions(contacts(channel=st.just("phone"))))
def test_a_phone_contact_never_gets_an_email(args: tuple) -> None:
    contact, due, now, history, caps, zone, sending = args
    d = decide(contact, due, now, history, caps, zone, sending)
    if not kinds.get(due.kind).to_owner:  # reminders go to the owner, who has no phone rule
        assert d.action in ("call", "skip"), d
    else:
        assert d.action in ("send", "defer", "skip"), d


@settings(max_examples=200, deadline=None)
@given(
    decisions(
        st.one_of(
            contacts(opted_out=True),
            contacts(level=st.just("none")),
            contacts(channel=st.just("none")),
        )
    )
)
def test_opted_out_level_none_and_channel_none_get_nothing(args: tuple) -> None:
    contact, due, now, history, caps, zone, sending = args
    d = decide(contact, due, now, history, caps, zone, sending)
    assert d.action == "skip", d


@st.composite
def paused_cases(draw: st.DrawFn) -> tuple:
    now = draw(clocks)
    until = now + draw(st.timedeltas(timedelta(microseconds=1), timedelta(days=120)))
    contact = ContactView(
        email="x@example.org",
        channel=draw(st.sampled_from(("email", "phone"))),
        level=draw(st.sampled_from(("normal", "reduced", "essential"))),
        paused_until=until,
    )
    return contact, draw(dues), now, draw(history_before(now)), draw(caps_st), draw(zones)


@settings(max_examples=200, deadline=None)
@given(paused_cases(), st.booleans())
def test_a_paused_contact_gets_nothing_before_the_pause_ends(args: tuple, sending: bool) -> None:
    contact, due, now, history, caps, zone = args
    d = decide(contact, due, now, history, caps, zone, sending)
    assert d.action in ("defer", "skip", "call"), d
    if d.action == "defer":
        assert d.until is not None and d.until >= contact.paused_until


# --- the helpers ---------------------------------------------------------------------------


def _allows(sent: list[datetime], window: Window, at: datetime) -> bool:
    span = timedelta(days=window.days)
    return sum(1 for s in sent if at - span < s <= at) < window.count


@settings(max_examples=400, deadline=None)
@given(
    clocks.flatmap(
        lambda now: st.tuples(
            st.just(now),
            st.lists(
                st.timedeltas(timedelta(0), timedelta(days=60)).map(lambda d: now - d),
                max_size=10,
            ),
        )
    ),
    st.builds(Window, st.integers(1, 5), st.floats(0.5, 40)),
)
def test_earliest_in_window_is_the_least_allowed_time(case: tuple, window: Window) -> None:
    now, sent = case
    got = earliest_in_window(sent, window, now)
    span = timedelta(days=window.days)
    # Allowed-ness only changes (for the better) when a send leaves the span: brute force.
    candidates = sorted({now, *(s + span for s in sent if s + span >= now)})
    expected = next(t for t in candidates if _allows(sent, window, t))
    assert got == expected
    assert _allows(sent, window, got)
    if got > now:
        assert not _allows(sent, window, got - timedelta(microseconds=1))


@settings(max_examples=500, deadline=None)
@given(clocks, zones, caps_st)
def test_next_window_open_is_inside_later_soon_and_idempotent(
    at: datetime, zone: tzinfo, caps: Caps
) -> None:
    got = next_window_open(at, zone, caps)
    note(f"{at} → {got} ({got.astimezone(zone)})")
    assert got >= at
    assert got - at <= timedelta(days=8)
    assert in_window(got, zone, caps), got.astimezone(zone)
    assert next_window_open(got, zone, caps) == got


def test_a_window_opening_in_the_dst_gap_is_still_entered() -> None:
    zone = ZoneInfo("America/St_Johns")  # 2026-03-08 02:00 -03:30 → 03:00 -02:30
    caps = Caps(window_start=time(2, 30), window_end=time(3, 15), weekends=True)
    got = next_window_open(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), zone, caps)
    assert in_window(got, zone, caps), got.astimezone(zone)  # 03:30 -02:30: closed


def test_a_window_opening_in_the_repeated_hour_is_not_in_the_past() -> None:
    zone = ZoneInfo("America/New_York")  # 2021-11-07 02:00 EDT → 01:00 EST
    caps = Caps(windows=(Window(1, 1),), min_gap_hours=0, window_start=time(1, 10),
                window_end=time(2, 0), weekends=True)  # fmt: skip
    at = datetime(2021, 11, 7, 6, 0, tzinfo=UTC)  # 01:00 EST, the second 01:00
    assert next_window_open(at, zone, caps) >= at  # got 05:10 UTC = 01:10 EDT


def test_fall_back_does_not_release_a_paused_or_capped_contact_early() -> None:
    zone = ZoneInfo("America/New_York")
    caps = Caps(windows=(Window(1, 1),), min_gap_hours=0, window_start=time(1, 10),
                window_end=time(2, 0), weekends=True)  # fmt: skip
    now = datetime(2021, 11, 7, 5, 10, tzinfo=UTC)  # 01:10 EDT, inside the window
    due = Due("thank_you", 0, now, now)
    paused = ContactView("x@example.org", paused_until=datetime(2021, 11, 7, 6, 0, tzinfo=UTC))
    capped = History((datetime(2021, 11, 6, 6, 0, tzinfo=UTC),))
    blocked = [
        decide(paused, due, now, History(), caps, zone).action,
        decide(ContactView("x@example.org"), due, now, capped, caps, zone).action,
    ]
    assert blocked == ["defer", "defer"], blocked


def test_a_window_over_midnight_opens() -> None:
    caps = Caps(window_start=time(22, 0), window_end=time(6, 0), weekends=True)
    at = datetime(2026, 5, 5, 12, tzinfo=UTC)
    assert in_window(datetime(2026, 5, 5, 23, tzinfo=UTC), UTC, caps)
    assert in_window(next_window_open(at, UTC, caps), UTC, caps)


def test_transitions_were_found() -> None:
    assert len(TRANSITIONS) >= 20
