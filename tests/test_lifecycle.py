"""The pure part of reconciliation: folder headers matched to the outbox's drafts, and what
each outcome is (sent and when, missing, dismissed, withdrawn, expired, untouched or edited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmail.lifecycle import (
    Entry,
    Tracked,
    digest,
    entry_from_headers,
    resolve,
    sent_time,
    survey,
    untouched,
)

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
GRACE = timedelta(days=2)
DRAFT = (
    b"From: Olivia <olivia@example.com>\r\nTo: Pat <pat@partner.example>\r\n"
    b"Subject: Thank you for introducing Carol\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <refmail.1@example.com>\r\nIn-Reply-To: <intro-1@partner.example>\r\n"
    b"References: <intro-1@partner.example>\r\nX-Refmail-ID: refmail.1@example.com\r\n"
    b"\r\nThanks, Pat!\r\n"
)


def row(n: int = 1, **changes: object) -> Tracked:
    values: dict[str, object] = {
        "id": n,
        "kind": "thank_you",
        "message_id": f"<refmail.{n}@example.com>",
        "recipient": "pat@partner.example",
        "subject": "Thank you for introducing Carol",
        "thread": f"<intro-{n}@partner.example>",
        "delivered_at": T0,
        "digest": digest(DRAFT),
    }
    values.update(changes)
    return Tracked(**values)  # type: ignore[arg-type]


def entry(key: str, raw: bytes = DRAFT, arrived: datetime | None = T0) -> Entry:
    return entry_from_headers(key, raw, arrived)


def test_headers_read_into_an_entry() -> None:
    e = entry("7")
    assert e.message_id == "<refmail.1@example.com>"
    assert e.refmail_id == "refmail.1@example.com"
    assert e.recipients == {"pat@partner.example"}
    assert e.thread == {"<intro-1@partner.example>"}
    assert e.date == T0 and e.arrived == T0


@given(st.binary(max_size=400))
def test_hostile_headers_never_raise(raw: bytes) -> None:
    e = entry_from_headers("1", raw)
    assert e.key == "1"
    survey([row()], [e], T0)  # and matching them does not either


def test_a_draft_still_in_drafts_is_present_by_message_id() -> None:
    seen = survey([row()], [entry("7")], T0 + timedelta(hours=1))
    assert seen.present[1].key == "7"
    assert seen.missing == [] and seen.since() is None  # nothing to look for in Sent


def test_a_draft_resaved_under_a_new_message_id_is_found_by_x_refmail_id() -> None:
    resaved = DRAFT.replace(b"Message-ID: <refmail.1@", b"Message-ID: <client.99@")
    seen = survey([row()], [entry("8", resaved)], T0)
    assert seen.present[1].key == "8"


def test_a_draft_gone_from_drafts_and_in_sent_was_sent_by_the_owner_when_the_copy_says() -> None:
    later = T0 + timedelta(days=3)
    copy = DRAFT.replace(b"Mon, 02 Nov 2026 10:00:00", b"Thu, 05 Nov 2026 10:00:00")
    seen = survey([row()], [], later + timedelta(hours=1))
    assert seen.since() == T0 - timedelta(days=1)
    done = resolve(seen.missing, [entry("3", copy, later)], later + timedelta(hours=1), GRACE)
    assert [(s.row.id, s.at, s.how) for s in done.sent] == [(1, later, "same Message-ID")]


def test_a_moved_draft_keeps_its_own_times_so_it_was_sent_when_first_seen_in_sent() -> None:
    now = T0 + timedelta(days=2)
    done = resolve([row()], [entry("3")], now, GRACE)  # Date and INTERNALDATE of the draft
    assert done.sent[0].at == now


def test_a_sent_time_in_the_future_is_now() -> None:
    future = entry_from_headers("1", b"Date: Fri, 01 Jan 2100 00:00:00 +0000\r\n\r\n")
    assert sent_time(future, T0, T0 + timedelta(hours=5)) == T0 + timedelta(hours=5)


def test_a_copy_sent_under_a_new_message_id_is_matched_on_recipient_subject_and_thread() -> None:
    sent = (
        b"To: pat@partner.example\r\nSubject: Re: thank you  for introducing Carol\r\n"
        b"Message-ID: <tb-1@example.com>\r\nIn-Reply-To: <intro-1@partner.example>\r\n"
        b"Date: Tue, 03 Nov 2026 08:00:00 +0000\r\n\r\n"
    )
    other_thread = sent.replace(b"intro-1@", b"intro-2@").replace(b"tb-1@", b"tb-2@")
    done = resolve([row()], [entry("1", other_thread), entry("2", sent)], T0 + GRACE, GRACE)
    assert [(s.at, s.how) for s in done.sent] == [
        (datetime(2026, 11, 3, 8, tzinfo=UTC), "same recipient, subject and thread")
    ]


def test_one_sent_copy_answers_for_one_draft_and_exact_matches_go_first() -> None:
    # Two drafts to the same person with the same subject and thread: the copy that carries
    # draft 2's Message-ID is draft 2's, even though draft 1 would match it loosely.
    second = DRAFT.replace(b"refmail.1@", b"refmail.2@")
    rows = [row(1, thread="<intro-1@partner.example>"), row(2, thread="<intro-1@partner.example>")]
    done = resolve(rows, [entry("9", second)], T0 + timedelta(hours=1), GRACE)
    assert [(s.row.id, s.how) for s in done.sent] == [(2, "same Message-ID")]


def test_gone_from_both_is_missing_then_dismissed_after_the_grace() -> None:
    now = T0 + timedelta(hours=5)
    first = resolve([row()], [], now, GRACE)
    assert [r.id for r in first.missing] == [1] and not first.dismissed
    waiting = row(missing_since=now)
    assert resolve([waiting], [], now + GRACE - timedelta(minutes=1), GRACE) == type(first)()
    assert [r.id for r in resolve([waiting], [], now + GRACE, GRACE).dismissed] == [1]


def test_without_a_sent_folder_gone_is_dismissed_at_once() -> None:
    assert [r.id for r in resolve([row()], None, T0, GRACE).dismissed] == [1]


def test_gone_while_its_withdrawal_is_wanted_is_withdrawn_whoever_removed_it() -> None:
    done = resolve([row(withdraw_reason="opted out (recipient)")], [], T0, GRACE)
    assert [r.id for r in done.withdrawn] == [1] and not done.dismissed


def test_back_in_drafts_after_missing() -> None:
    seen = survey([row(missing_since=T0)], [entry("1")], T0 + timedelta(hours=1))
    assert [r.id for r in seen.back] == [1]


@pytest.mark.parametrize(("days", "age", "expired"), [(0, 400, False), (3, 2, False), (3, 3, True)])
def test_expiry_only_when_configured_and_old_enough(days: float, age: int, expired: bool) -> None:
    seen = survey([row()], [entry("1")], T0 + timedelta(days=age), days)
    assert bool(seen.expired) is expired


def test_only_refmails_untouched_draft_may_be_deleted() -> None:
    r, e = row(), entry("1")
    assert untouched(r, e, DRAFT)
    assert untouched(r, e, DRAFT.replace(b"\r\n", b"\n"))  # the server's line endings differ
    assert not untouched(r, e, DRAFT.replace(b"Thanks, Pat!", b"Thanks so much, Pat!"))
    assert not untouched(r, e, None)  # body not read
    assert not untouched(row(digest=""), e, DRAFT)  # digest unknown (recovered after a crash)
    no_x = entry("1", DRAFT.replace(b"X-Refmail-ID: refmail.1@example.com\r\n", b""))
    assert not untouched(r, no_x, DRAFT)
