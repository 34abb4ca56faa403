"""What a sync batch asks the database again, and what it need not (issue 15), on SQLite and
PostgreSQL. The batch's contact cache is rechecked only after an owner's command may have created
contacts (one round trip per introduction less on PostgreSQL). Whether anyone is suppressed is
asked for every introduction, never remembered for the batch: a forget another process commits
while the batch runs (PostgreSQL reads what is committed) must keep that person out of the rest
of the batch, as the review of a per-batch memo found."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from refmail import models as m
from refmail import record, records
from refmail.db import SessionFactory, engine_of, transaction
from refmail.detect import Classification, Party
from refmail.parse import Address
from tests.support.maildir_sync import CLOCK
from tests.support.sql_log import recorded


@pytest.fixture
def statements(factory: SessionFactory) -> Iterator[list[str]]:
    with recorded(engine_of(factory), 2000) as seen:
        yield seen


def introduction(introducer: str, party: str) -> Classification:
    return Classification(
        "introduction",
        "test",
        "an introduction",
        introducer=Address(introducer, ""),
        parties=(Party(Address(party, ""), True),),
    )


def test_the_contact_cache_rechecks_only_after_it_was_told_to_forget(
    factory: SessionFactory, statements: list[str]
) -> None:
    with transaction(factory) as session:
        cache = record.ContactCache(session, ["x@example.com", "y@example.com"])
        looked = len(statements)
        cache.recheck_absent(["x@example.com"])
        assert len(statements) == looked  # nothing this transaction wrote could have made one
        made = record.upsert_contact(session, Address("x@example.com", "Xavier"), CLOCK())
        cache.forget(["owner@example.com"])  # what sync does after an owner's command
        cache.recheck_absent(["x@example.com"])
        assert cache.get("x@example.com") is made
        assert session.scalars(select(m.Contact.email)).all() == ["x@example.com"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_forget_committed_during_the_batch_keeps_that_person_out_of_the_rest_of_it(
    factory: SessionFactory,
) -> None:
    """PostgreSQL only: there another process can commit while a batch's transaction is open
    (SQLite's batch holds the write lock, so a forget waits for the batch to end)."""
    verdict = introduction("pat@example.com", "carol@example.com")
    with transaction(factory) as batch:
        assert records.unsuppressed(batch, verdict) is verdict  # nobody suppressed yet
        with transaction(factory) as other:  # `refmail contacts forget carol@…` meanwhile
            records.suppress(other, "carol@example.com", CLOCK())
        later = records.unsuppressed(batch, verdict)
        assert (later.kind, later.rule) == ("other", "suppressed")  # Carol was its one party
