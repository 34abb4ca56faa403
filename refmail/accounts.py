"""Opens an account's mail source and draft target from its settings (IMAP, Maildir or files).

The only place that chooses adapters, so sync and dispatch stay free of configuration details.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from refmail.config import Account
from refmail.dispatch import DraftTarget
from refmail.filedrop import FileDrafts
from refmail.imap import (
    DRAFT_FLAGS,
    SENT_FLAGS,
    ImapFolder,
    ImapSource,
    connect,
    find_drafts_folder,
    find_sent_folder,
)
from refmail.maildir import MaildirSource
from refmail.smtp import SmtpTarget
from refmail.source import Source


def folders(account: Account) -> tuple[str, ...]:
    if account.imap is not None:
        return account.imap.folders
    assert account.maildir is not None
    return account.maildir.folders


@contextmanager
def open_source(account: Account) -> Iterator[Source]:
    """The account's mailbox, connected and logged in when it is IMAP."""
    if account.maildir is not None:
        yield MaildirSource(account.maildir.path, account.maildir.batch_size)
        return
    assert account.imap is not None
    with connect(account.imap) as client:
        yield ImapSource(client, account.imap.batch_size)


@contextmanager
def open_targets(account: Account) -> Iterator[Callable[[str], DraftTarget]]:
    """Where each kind of follow-up goes (account.delivery_for): Drafts, files, or SMTP with a
    copy in Sent. One IMAP connection serves Drafts and Sent, opened only when needed."""
    with ExitStack() as stack:
        client = None
        if account.imap is not None and account.modes() & {"drafts", "smtp"}:
            client = stack.enter_context(connect(account.imap))
        by_mode: dict[str, DraftTarget] = {"file": FileDrafts(account.drafts_dir)}
        if client is not None and account.imap is not None:
            if "drafts" in account.modes():
                drafts = find_drafts_folder(client, account.imap.drafts_folder)
                by_mode["drafts"] = ImapFolder(client, drafts, DRAFT_FLAGS)
            if "smtp" in account.modes() and account.smtp is not None:
                sent = find_sent_folder(client, account.smtp.sent_folder)
                by_mode["smtp"] = SmtpTarget(
                    account.smtp, account.owner_address, ImapFolder(client, sent, SENT_FLAGS)
                )
        elif "smtp" in account.modes() and account.smtp is not None:
            by_mode["smtp"] = SmtpTarget(account.smtp, account.owner_address, None)
        yield lambda kind: by_mode[account.delivery_for(kind)]
