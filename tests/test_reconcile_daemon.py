"""`refmail run` reconciles drafts after every sync, so after each IDLE wake: a real daemon
process against a private Dovecot, polling only every 300 s."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from refmail import models as m
from tests.support.daemon import (
    AccountSpec,
    Database,
    DraftWatcher,
    plain_mail,
    ready,
    running,
    wait_for,
    write_config,
)
from tests.support.dovecot import Dovecot
from tests.support.mailbox import referral

pytestmark = pytest.mark.integration


def test_a_draft_sent_from_another_client_is_recorded_after_the_next_idle_wake(
    dovecot: Dovecot, imap_user: str, db: Database, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "refmail.toml", sqlite_url, [AccountSpec("main", imap_user, dovecot)]
    )
    with running(config, tmp_path / "daemon.log") as daemon:
        ready(daemon, dovecot, imap_user, db, "main")
        message_id, raw = referral()
        dovecot.append(imap_user, "INBOX", raw)
        watcher = DraftWatcher(dovecot, imap_user)
        try:
            assert watcher.seconds_until_reply(message_id, time.monotonic(), 10) < float("inf")
        finally:
            watcher.close()
        client = dovecot.client(imap_user)
        try:
            client.select_folder("Drafts")
            client.move(client.search(["HEADER", "In-Reply-To", message_id]), "Sent")
        finally:
            client.logout()

        dovecot.append(imap_user, "INBOX", plain_mail(uuid.uuid4().hex[:8]))  # IDLE wakes sync
        state = select(m.FollowUp.state).where(m.FollowUp.kind == "thank_you")
        wait_for(lambda: db.scalar(state) == "sent", 10, what="the draft recorded as sent")
        daemon.assert_alive()
