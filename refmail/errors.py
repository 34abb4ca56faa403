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


class DatabaseError(RefmailError):
    """The database could not be opened, created or reached (the message names it, no password)."""
