"""Reading what `refmail doctor` says: its verdict lines ("STATUS  subject: words"), the
variable the doctor tests keep the IMAP password in, and a database already migrated (so the
database verdict is "ok")."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import Result

from refmail.db import make_engine, migrate

IMAP_ENV = "REFMAIL_DOCTOR_IMAP_PASSWORD"


def verdicts(result: Result) -> list[tuple[str, str]]:
    """(status, rest of the line) for every verdict line."""
    lines = []
    for line in result.output.splitlines():
        found = re.match(r"^(ok|warn|FAIL)\s+(.*)$", line)
        assert found, f"not a verdict line: {line!r}\n{result.output}"
        lines.append((found.group(1), found.group(2)))
    return lines


def has(result: Result, status: str, pattern: str) -> bool:
    """Whether a `status` verdict's words match `pattern` (re.search)."""
    return any(s == status and re.search(pattern, words) for s, words in verdicts(result))


def migrated(tmp_path: Path) -> str:
    """The URL of a SQLite database in tmp_path, migrated to the current schema."""
    url = f"sqlite:///{tmp_path / 'refmail.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url
