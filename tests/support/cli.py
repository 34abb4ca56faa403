"""The `refmail` command run in process (click's runner), as the integration tests run it: the
private Dovecot's password and a link signing key in the environment, and a failing exit status
failing the test. Also `invoke`, for the tests of the command's own failures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from click.testing import CliRunner, Result

from refmail.cli import cli
from tests.support.dovecot import PASSWORD
from tests.support.mailbox import PASSWORD_ENV

SIGNING_KEY = "a-signing-key-for-the-smtp-tests-0123456789"
# The key is read only when the config has a [web] base_url, for the links in follow-ups.
ENV = {PASSWORD_ENV: PASSWORD, "REFMAIL_SIGNING_KEY": SIGNING_KEY}


def run(config: Path, *args: str) -> Result:
    """`refmail --config CONFIG ARGS…` with ENV; asserts it exits 0 and returns the result."""
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env=ENV)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def cli_run(config: Path, *args: str) -> str:
    """What `run` prints."""
    return run(config, *args).output


def dispatch(config: Path, at: datetime) -> str:
    """`refmail dispatch --once` as if it were `at`; what it prints."""
    return run(config, "dispatch", "--once", "--now", at.isoformat()).output


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`refmail ARGS…` with `env` added to the environment: (exit status, output), whatever
    the status."""
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output
