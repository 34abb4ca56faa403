"""The exceptions refmail raises on purpose.

Each carries a one-line message meant for a person; the CLI prints it and exits non-zero.
"""


class RefmailError(Exception):
    """Base class: a failure refmail understands and can explain in one line."""


class ConfigError(RefmailError):
    """The configuration is missing, unreadable or names a bad value (the message names the key)."""


class SourceError(RefmailError):
    """A mailbox could not be reached or read (connection, login, folder)."""


class DeliveryError(RefmailError):
    """A follow-up could not be delivered; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class CredentialsError(DeliveryError):
    """The account's own credentials were refused (SMTP 535, a token the provider will not
    refresh): no follow-up is at fault, so none is failed; the account's deliveries pause and
    everything stays due until the credentials work again."""


class BusyError(RefmailError):
    """Another process is doing the same work on the same account right now (a sync beside
    `refmail run`, say): this one skips rather than racing it."""


class DatabaseError(RefmailError):
    """The database could not be opened, created or reached (the message names it, no password)."""
