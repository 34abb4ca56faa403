"""Secrets and files: init never prints a database password; the config, the SQLite database
and the drafts directory (and the drafts in it) are readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from refmail.db import make_engine, migrate, safe_url
from refmail.filedrop import FileDrafts
from tests.support.cli import invoke


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask():  # type: ignore[no-untyped-def]
    """A permissive umask, as on many desktops: the modes must not depend on it."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def test_init_writes_a_private_config_and_database(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    code, out = invoke("--config", str(path), "init")
    assert code == 0, out
    assert mode(path) == 0o600
    database = next(tmp_path.rglob("*.db"))  # the demo keeps its database in refmail-demo/
    assert mode(database) == 0o600
    assert all(mode(p) == 0o600 for p in tmp_path.rglob("*.db-*"))  # -wal, -shm


def test_init_over_a_readable_config_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "refmail.toml"
    path.write_text("# old\n")
    path.chmod(0o644)
    code, out = invoke("--config", str(path), "init", "--force")
    assert code == 0, out
    assert mode(path) == 0o600


def test_init_never_prints_a_database_password(tmp_path: Path) -> None:
    # Nobody listens on port 1: init fails, and its error must not echo the URL's password.
    url = "postgresql+psycopg://refmail:s3cret-pw@127.0.0.1:1/test"
    code, out = invoke("--config", str(tmp_path / "refmail.toml"), "init", "--database", url)
    assert code != 0
    assert "s3cret-pw" not in out


def test_safe_url_masks_every_shape() -> None:
    assert safe_url("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db"
    assert safe_url("postgresql+psycopg://u:pw@h:5/db?sslmode=require").count("pw") == 0
    assert safe_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert "secret" not in safe_url("not a url://u:secret@h")


def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    engine.dispose()
    assert mode(tmp_path / "r.db") == 0o600


def test_drafts_directory_and_files_are_private(tmp_path: Path) -> None:
    drafts = FileDrafts(tmp_path / "drafts")
    drafts.put(b"Subject: x\r\n\r\nbody\r\n", "<a@b>")
    assert mode(tmp_path / "drafts") == 0o700
    assert [mode(p) for p in (tmp_path / "drafts").iterdir()] == [0o600]
