"""`refmail doctor` against real servers: a working account, and the ways one is misconfigured.

Each verdict line reads "STATUS  subject: words"; the exit status is 1 when any line is FAIL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result

from refmail.cli import cli
from tests.support.doctor import IMAP_ENV, has, migrated, verdicts
from tests.support.dovecot import PASSWORD, Dovecot, free_port
from tests.support.mailbox import account_toml

pytestmark = pytest.mark.integration

SMTP_ENV = "REFMAIL_DOCTOR_SMTP_PASSWORD"
SMTP_PASSWORD = "smtp-secret-4711"
SIGNING_KEY = "doctor-test-signing-key-0123456789"


def write_config(
    tmp_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int,
    user: str,
    database: str | None = None,
    folders: str = '"INBOX"',
    smtp: str = "",
    web: str = "",
) -> Path:
    path = tmp_path / "refmail.toml"
    database = database or f"sqlite:///{tmp_path / 'refmail.db'}"
    path.write_text(
        f"""
database = "{database}"

{web}
"""
        + account_toml(
            host, port, user, password_env=IMAP_ENV, folders=folders, imap_extra="timeout = 5\n"
        )
        + smtp
    )
    return path


def doctor(config: Path, **env: str | None) -> Result:
    environment: dict[str, str | None] = {
        IMAP_ENV: PASSWORD,
        SMTP_ENV: SMTP_PASSWORD,
        "REFMAIL_SIGNING_KEY": None,
        **env,
    }
    return CliRunner().invoke(cli, ["--config", str(config), "doctor"], env=environment)


# --- a working account -------------------------------------------------------------------------


def test_a_working_account_is_all_ok(dovecot: Dovecot, imap_user: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, port=dovecot.port, user=imap_user, database=migrated(tmp_path))
    result = doctor(config)
    assert result.exit_code == 0, result.output
    assert has(result, "ok", r"^database: sqlite:///.*schema current$")
    assert has(result, "ok", rf"^account main: IMAP login as {imap_user} at 127\.0\.0\.1:\d+")
    assert has(result, "ok", r"^account main: folder 'INBOX' found$")
    assert has(result, "ok", r"^account main: Drafts folder 'Drafts' \(SPECIAL-USE\)$")
    assert has(result, "ok", r"^account main: IDLE offered")
    assert has(result, "warn", r"^web: no base_url")
    assert not any(status == "FAIL" for status, _ in verdicts(result))
    assert PASSWORD not in result.output


def test_a_fresh_database_is_a_warning_not_a_failure(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, port=dovecot.port, user=imap_user)
    result = doctor(config)
    assert result.exit_code == 0, result.output
    assert has(result, "warn", r"^database: \d+ migration\(s\) pending; applied on next start$")


# --- misconfigured IMAP --------------------------------------------------------------------------


def test_wrong_password_fails_without_printing_it(imap_user: str, tmp_path: Path) -> None:
    # A server of its own: Dovecot slows every later login from this IP after a failed one.
    with Dovecot(imaps=False) as server:
        config = write_config(tmp_path, port=server.port, user=imap_user)
        result = doctor(config, **{IMAP_ENV: "hunter2-wrong"})
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", rf"^account main: IMAP login failed for {imap_user} at 127\.0\.0\.1")
    assert "hunter2-wrong" not in result.output
    assert PASSWORD not in result.output


def test_missing_password_fails_naming_the_variable(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, port=dovecot.port, user=imap_user)
    result = doctor(config, **{IMAP_ENV: None})
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", rf"^account main: .*{IMAP_ENV}")


def test_a_folder_that_does_not_exist_fails(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, port=dovecot.port, user=imap_user, folders='"INBOX", "Referrals"'
    )
    result = doctor(config)
    assert result.exit_code == 1, result.output
    assert has(result, "ok", r"^account main: folder 'INBOX' found$")
    assert has(result, "FAIL", r"^account main: folder 'Referrals' does not exist$")


def test_an_unreachable_server_fails(imap_user: str, tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    config = write_config(tmp_path, port=port, user=imap_user)
    result = doctor(config)
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", rf"^account main: cannot connect to IMAP server 127\.0\.0\.1:{port}")


def test_no_special_use_folders_warns_and_creates_nothing(imap_user: str, tmp_path: Path) -> None:
    with Dovecot(special_use=False, imaps=False) as server:
        config = write_config(tmp_path, port=server.port, user=imap_user)
        result = doctor(config)
        client = server.client(imap_user)
        try:
            existing = {name for _flags, _sep, name in client.list_folders()}
        finally:
            client.logout()
    assert result.exit_code == 0, result.output
    assert has(result, "warn", r"^account main: no Drafts folder: refmail will create 'Drafts'$")
    assert existing == {"INBOX"}  # the doctor only looks


# --- SMTP --------------------------------------------------------------------------------------


class Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def authenticate(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp_port() -> Iterator[int]:
    """An SMTP server on loopback (aiosmtpd) that takes AUTH without TLS."""
    port = free_port()
    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_table(port: int, user: str = "") -> str:
    return f"""
[accounts.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
user = "{user}"
password_env = "{SMTP_ENV}"
timeout = 5
"""


def test_smtp_server_reachable_is_ok(
    dovecot: Dovecot, imap_user: str, tmp_path: Path, smtp_port: int
) -> None:
    config = write_config(
        tmp_path, port=dovecot.port, user=imap_user, smtp=smtp_table(smtp_port, "olivia")
    )
    result = doctor(config)
    assert result.exit_code == 0, result.output
    assert has(result, "ok", rf"^account main: SMTP login at 127\.0\.0\.1:{smtp_port} \(none\)$")
    assert has(result, "ok", r"^account main: Sent folder 'Sent' \(SPECIAL-USE\)$")
    assert SMTP_PASSWORD not in result.output


def test_smtp_wrong_password_fails(
    dovecot: Dovecot, imap_user: str, tmp_path: Path, smtp_port: int
) -> None:
    config = write_config(
        tmp_path, port=dovecot.port, user=imap_user, smtp=smtp_table(smtp_port, "olivia")
    )
    result = doctor(config, **{SMTP_ENV: "hunter2-wrong"})
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", r"^account main: SMTP login refused for olivia at 127\.0\.0\.1")
    assert "hunter2-wrong" not in result.output


def test_smtp_closed_port_fails(dovecot: Dovecot, imap_user: str, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=dovecot.port, user=imap_user, smtp=smtp_table(port))
    result = doctor(config)
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", rf"^account main: SMTP at 127\.0\.0\.1:{port} \(none\): .*refused")


# --- web and database ----------------------------------------------------------------------------


def test_web_base_url_without_signing_key_fails(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    web = '[web]\nbase_url = "https://refmail.example.com"'
    config = write_config(tmp_path, port=dovecot.port, user=imap_user, web=web)
    result = doctor(config)
    assert result.exit_code == 1, result.output
    assert has(result, "FAIL", r"^web: signing key: .*REFMAIL_SIGNING_KEY")


def test_web_over_http_is_a_warning(dovecot: Dovecot, imap_user: str, tmp_path: Path) -> None:
    web = '[web]\nbase_url = "http://refmail.example.com"'
    config = write_config(tmp_path, port=dovecot.port, user=imap_user, web=web)
    result = doctor(config, REFMAIL_SIGNING_KEY=SIGNING_KEY)
    assert result.exit_code == 0, result.output
    assert has(result, "warn", r"^web: http://refmail\.example\.com is not https")
    assert has(result, "ok", r"^web: links point at http://refmail\.example\.com; signing key")
    assert SIGNING_KEY not in result.output


def unreachable_database(tmp_path: Path, dovecot: Dovecot, imap_user: str) -> Result:
    url = f"postgresql+psycopg://refmail:hunter2-db@127.0.0.1:{free_port()}/refmail"
    config = write_config(tmp_path, port=dovecot.port, user=imap_user, database=url)
    return doctor(config)


def test_unreachable_database_fails_without_its_password(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    result = unreachable_database(tmp_path, dovecot, imap_user)
    assert result.exit_code == 1, result.output
    assert re.search(
        r"^FAIL  database: cannot open postgresql\+psycopg://refmail:\*\*\*@", result.output, re.M
    )
    assert "hunter2-db" not in result.output
    assert re.search(r"^ok    account main: IMAP login", result.output, re.M)  # the rest ran


def test_a_database_failure_is_one_verdict_line(
    dovecot: Dovecot, imap_user: str, tmp_path: Path
) -> None:
    result = unreachable_database(tmp_path, dovecot, imap_user)
    verdicts(result)  # every line of the output is a verdict
