"""`refmail doctor` on authentication and secrets, against a real Dovecot: it warns loudly when
the check is off, proposes the authserv-id found on the newest mail, reports what the last
messages' results were, and never prints a database password."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from refmail.cli import cli
from tests.support.doctor import IMAP_ENV, has, migrated
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox import OWNER, account_toml

pytestmark = pytest.mark.integration

GMAIL_PASS = (
    "mx.google.com; dkim=pass header.i=@example.com header.s=s1 header.b=x; "
    "spf=pass smtp.mailfrom=olivia@example.com; dmarc=pass header.from=example.com"
)
GMAIL_FAIL = "mx.google.com; dkim=none; spf=softfail smtp.mailfrom=example.com; dmarc=fail header.from=example.com"  # noqa: E501


def mail(n: int, sender: str, results: str) -> bytes:
    return (
        f"Authentication-Results: {results}\r\nFrom: {sender}\r\nTo: x@example.org\r\n"
        f"Subject: m{n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\nhello\r\n"
    ).encode()


def run(tmp_path: Path, dovecot: Dovecot, user: str, auth: str, database: str = "") -> Result:
    path = tmp_path / "refmail.toml"
    database = database or migrated(tmp_path)
    path.write_text(
        f'database = "{database}"\n'
        + account_toml(dovecot.host, dovecot.port, user, password_env=IMAP_ENV, auth=auth)
    )
    return CliRunner().invoke(cli, ["--config", str(path), "doctor"], env={IMAP_ENV: PASSWORD})


@pytest.fixture
def mailbox(dovecot: Dovecot, imap_user: str) -> str:
    dovecot.append(imap_user, "INBOX", mail(1, OWNER, GMAIL_PASS))
    dovecot.append(imap_user, "INBOX", mail(2, OWNER, GMAIL_FAIL))
    dovecot.append(imap_user, "INBOX", mail(3, "pat@partner.example", GMAIL_PASS))
    return imap_user


def test_off_is_a_loud_warning_with_a_proposal(
    dovecot: Dovecot, mailbox: str, tmp_path: Path
) -> None:
    result = run(tmp_path, dovecot, mailbox, "require_authentication = false")
    assert has(result, "warn", r"^account main: !!! require_authentication = false")
    assert has(result, "warn", r"proposed: trusted_authserv_ids = \['mx.google.com'\]")
    assert has(result, "ok", r"last 3 messages: 2 x mx.google.com: dkim=pass, spf=pass, dmarc=pass")


def test_on_without_ids_fails_and_reports_the_owners_mail(
    dovecot: Dovecot, mailbox: str, tmp_path: Path
) -> None:
    result = run(tmp_path, dovecot, mailbox, "require_authentication = true")
    assert result.exit_code == 1
    assert has(result, "FAIL", r"trusted_authserv_ids is empty")
    assert has(result, "warn", r"0 of your 2 recent messages authenticate as yours")


def test_on_with_the_id_reports_which_owner_mail_passes(
    dovecot: Dovecot, mailbox: str, tmp_path: Path
) -> None:
    auth = 'require_authentication = true\ntrusted_authserv_ids = ["mx.google.com"]'
    result = run(tmp_path, dovecot, mailbox, auth)
    assert has(result, "warn", r"1 of your 2 recent messages authenticate as yours")
    assert not has(result, "warn", r"proposed:")
    assert not has(result, "warn", r"!!!")


def test_a_database_password_is_never_printed(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://refmail:s3cret-pw@127.0.0.1:1/refmail"
    result = run(tmp_path, dovecot, imap_user, "require_authentication = false", url)
    assert has(result, "FAIL", r"^database: cannot open postgresql\+psycopg://refmail:\*\*\*@")
    assert "s3cret-pw" not in result.output
