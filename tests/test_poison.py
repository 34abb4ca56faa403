"""Poison messages are isolated (issue 12): crafted mail that once stopped sync is parsed or
recorded malformed in bounded time, the cursor moves past it, later mail is recorded; a stop
request is honoured between messages; only the first 256 KB of a message is ever read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from refmail import detect as detect_module
from refmail import models as m
from refmail import parse as parse_module
from refmail import readers as readers_module
from refmail.clock import FixedClock
from refmail.config import Account, FollowUps, MaildirSettings
from refmail.db import SessionFactory
from refmail.detect import Identity, classify
from refmail.maildir import MaildirSource, deliver
from refmail.parse import parse_message, quoted_headers
from refmail.quotes import split_quoted
from refmail.source import BODY_LIMIT
from refmail.sync import SyncReport, sync_account
from tests.support import poison
from tests.support.mailbox import OWNER, REFMAIL, referral

CLOCK = FixedClock(datetime(2026, 11, 20, 12, tzinfo=UTC))
IDENTITY = Identity(owners=frozenset({OWNER}), refmail=frozenset({REFMAIL}))
STEP_LIMIT = 3.0  # CPU seconds for one crafted message's parse plus classify


# --- the parser and the classifier on each crafted message --------------------------------------


@pytest.mark.parametrize("name", sorted(poison.corpus()))
def test_each_crafted_message_parses_and_classifies_in_bounded_time(name: str) -> None:
    raw = poison.corpus()[name]
    started = time.thread_time()  # CPU time: the suite may share the machine
    msg = parse_message(raw)
    verdict = classify(msg, IDENTITY, set())
    elapsed = time.thread_time() - started
    assert elapsed < STEP_LIMIT, f"{name}: {elapsed:.1f} s"
    assert msg.message_id == f"<poison-0-{name}@poison.example>"
    assert verdict.kind in ("introduction", "reply", "automatic", "other", "own")


def test_multiparts_nested_a_thousand_deep_are_read_as_headers() -> None:
    msg = parse_message(poison.nested_multipart(1000))
    assert "NestingTooDeep" in msg.defects
    assert msg.sender is not None and msg.sender.email == "mallory@poison.example"
    # A depth the stdlib can read is read as usual, text and all.
    shallow = parse_message(poison.nested_multipart(50))
    assert "introduce you two" in shallow.own_text and "NestingTooDeep" not in shallow.defects


@pytest.mark.parametrize(
    "text",
    [
        "Hello,\n\n" + "@" * 2000 + "\n",
        "Hello,\n" + "\n" * 80_000 + "bye\n",
        "Hi\n\nOn Monday, Alice wrote:\n>" + " " * 3000 + "x\n" + (">" + " " * 3000 + "\n") * 20,
        "x" + " " * 3000 + "on 01/02/2001\n" + ("a@" + " " * 3000 + "b\n") * 20,
    ],
    ids=["2000-at", "80000-blank-lines", "quoted-spaces", "notes-spaces"],
)
def test_the_old_split_quoted_attacks_take_milliseconds(text: str) -> None:
    started = time.thread_time()
    own, history = split_quoted(text)
    quoted_headers(history)
    assert time.thread_time() - started < 0.5
    assert own or history


def test_a_message_cut_at_the_fetch_limit_is_still_read() -> None:
    raw = poison.big_with_attachment("cut", 2)[:BODY_LIMIT]
    msg = parse_message(raw)
    assert msg.message_id == "<poison-cut@poison.example>"
    assert "Olivia, meet Trent" in msg.own_text


# --- sync from a Maildir ------------------------------------------------------------------------


def maildir_account(root: Path, batch_size: int = 3) -> Account:
    return Account(
        name="t",
        address=REFMAIL,
        owners=(OWNER,),
        maildir=MaildirSettings(path=str(root), batch_size=batch_size),
    )


def fill(root: Path, messages: Sequence[bytes]) -> list[str]:
    return [
        deliver(root, raw, f"{1700000000 + i}.M{i}.test").name for i, raw in enumerate(messages)
    ]


def run_sync(
    factory: SessionFactory,
    acc: Account,
    should_stop: object = lambda: False,
    on_batch: object = None,
) -> SyncReport:
    assert acc.maildir is not None
    source = MaildirSource(acc.maildir.path, acc.maildir.batch_size)
    return sync_account(
        factory,
        acc,
        source,
        ("INBOX",),
        FollowUps(),
        CLOCK,
        on_batch,  # type: ignore[arg-type]
        should_stop=should_stop,  # type: ignore[arg-type]
    )


def malformed(factory: SessionFactory) -> dict[str, str]:
    with factory() as session:
        rows = session.scalars(select(m.MessageRecord).where(m.MessageRecord.kind == "malformed"))
        return {r.message_id: r.reason for r in rows}


def introductions(factory: SessionFactory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(m.Introduction)) or 0


def last_key(factory: SessionFactory) -> str | None:
    """The last Maildir key the folder's seen set holds (the cursor moved past it)."""
    with factory() as session:
        return session.scalar(select(func.max(m.MaildirSeen.key)))


def test_a_message_whose_parse_raises_is_recorded_malformed_and_the_batch_goes_on(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = referral("one"), referral("two")
    keys = fill(tmp_path / "md", [poison.at_signs(), first[1], second[1]])
    real = parse_module.parse_message

    def recursing(raw: bytes, heads=None):  # type: ignore[no-untyped-def]
        if b"poison-at-signs" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw, heads)

    monkeypatch.setattr(parse_module, "parse_message", recursing)  # sync imports it when used
    report = run_sync(factory, maildir_account(tmp_path / "md"))
    assert (report.malformed, report.introductions) == (1, 2)
    bad = malformed(factory)
    assert list(bad) == ["<poison-at-signs@poison.example>"]
    assert "RecursionError" in bad["<poison-at-signs@poison.example>"]
    assert last_key(factory) == keys[-1]


def test_a_message_over_its_time_budget_is_recorded_malformed(
    factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_id, slow = referral("slow")
    fast_id, fast = referral("fast")
    fill(tmp_path / "md", [slow, fast])
    real = detect_module.classify

    def slow_classify(msg, *args, **kwargs):  # type: ignore[no-untyped-def]
        if msg.message_id == slow_id:
            spin_until = time.thread_time() + 0.3  # CPU time: what the budget counts
            while time.thread_time() < spin_until:
                pass
        return real(msg, *args, **kwargs)

    monkeypatch.setattr(readers_module, "MESSAGE_BUDGET_SECONDS", 0.1)
    monkeypatch.setattr(detect_module, "classify", slow_classify)
    report = run_sync(factory, maildir_account(tmp_path / "md"))
    assert (report.malformed, report.introductions) == (1, 1)
    assert "over the 0.1 s budget" in malformed(factory)[slow_id]
    assert fast_id not in malformed(factory)


def test_a_stop_between_messages_drops_the_batch_in_hand_and_the_next_run_reads_it(
    factory: SessionFactory, tmp_path: Path
) -> None:
    keys = fill(tmp_path / "md", [referral(f"s{i}")[1] for i in range(6)])
    acc = maildir_account(tmp_path / "md", batch_size=3)
    asked_since_commit: list[int] = []

    def committed(*_: object) -> None:
        asked_since_commit.append(0)

    def stop_in_the_second_batch() -> bool:
        if not asked_since_commit:
            return False
        asked_since_commit[0] += 1
        # The first ask is the one right after the commit; the third is inside batch two.
        return asked_since_commit[0] >= 3

    report = run_sync(factory, acc, stop_in_the_second_batch, committed)
    assert report.scanned == 3 and introductions(factory) == 3
    assert last_key(factory) == keys[2]
    again = run_sync(factory, acc)
    assert (again.scanned, again.duplicates, again.introductions) == (3, 0, 3)
    assert introductions(factory) == 6 and last_key(factory) == keys[-1]


def test_the_crafted_corpus_syncs_from_a_maildir_with_the_introduction_after_it(
    factory: SessionFactory, tmp_path: Path
) -> None:
    crafted = poison.corpus()
    intro_id, intro = referral("after-poison")
    keys = fill(tmp_path / "md", [*crafted.values(), intro])
    started = time.monotonic()
    report = run_sync(factory, maildir_account(tmp_path / "md", batch_size=4))
    assert time.monotonic() - started < 30
    assert report.candidates == len(crafted) + 1 and report.introductions == 1
    assert set(malformed(factory)) <= {f"<poison-0-{n}@poison.example>" for n in crafted}
    assert last_key(factory) == keys[-1]
    with factory() as session:
        assert (
            session.scalar(
                select(m.MessageRecord.kind).where(m.MessageRecord.message_id == intro_id)
            )
            == "introduction"
        )


def test_maildir_reads_at_most_the_body_limit(tmp_path: Path) -> None:
    (name,) = fill(tmp_path / "md", [poison.big_with_attachment("big", 3)])
    source = MaildirSource(tmp_path / "md")
    body = source.fetch("INBOX", [name])[name]
    assert len(body) == BODY_LIMIT
    assert parse_message(body).message_id == "<poison-big@poison.example>"
