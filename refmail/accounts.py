"""Opens an account's mail source and draft target from its settings (IMAP, Maildir or files).

The only place that chooses adapters, so sync and dispatch stay free of configuration details.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from refmail.config import Account
from refmail.dispatch import DraftTarget
from refmail.filedrop import FileDrafts
from refmail.imap import ImapDrafts, ImapSource, connect, find_drafts_folder
from refmail.maildir import MaildirSource
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
def open_target(account: Account) -> Iterator[DraftTarget]:
    """Where the account's follow-ups go: the IMAP Drafts folder, or a directory of .eml files."""
    if account.delivery == "file" or account.imap is None:
        yield FileDrafts(account.drafts_dir)
        return
    with connect(account.imap) as client:
        yield ImapDrafts(client, find_drafts_folder(client, account.imap.drafts_folder))
