"""The `refmail` command run in process (click's runner), as the integration tests run it: the
private Dovecot's password in the environment, and a failing exit status failing the test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from refmail.cli import cli
from tests.support.dovecot import PASSWORD
from tests.support.mailbox import PASSWORD_ENV


def run(config: Path, *args: str) -> Result:
    """`refmail --config CONFIG ARGS…`; asserts it exits 0 and returns the result."""
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env={PASSWORD_ENV: PASSWORD})
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result
