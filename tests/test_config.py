"""config.parse / config.load: defaults, errors that name the bad key, paths, secrets."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from refmail import config
from refmail.config import Caps, FollowUps, Web
from refmail.errors import ConfigError

MINIMAL: dict[str, Any] = {
    "accounts": [
        {
            "name": "main",
            "address": "refmail@example.com",
            "owners": ["owner@example.com"],
            "imap": {"host": "imap.example.com", "user": "owner@example.com"},
        }
    ]
}


def raw(**top: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    doc.update(top)
    return doc


def account(**changes: Any) -> dict[str, Any]:
    """A document whose only account has `changes` applied (None deletes a key)."""
    doc = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            del doc["accounts"][0][key]
        else:
            doc["accounts"][0][key] = value
    return doc


def parse(doc: dict[str, Any], base: Path = Path("/etc/refmail")) -> config.Settings:
    return config.parse(doc, base / "refmail.toml")


def error_of(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse(doc)
    return str(info.value)


# --- defaults --------------------------------------------------------------------------------


def test_minimal_config_gets_documented_defaults() -> None:
    settings = parse(MINIMAL)
    assert settings.timezone == "UTC"
    assert settings.log_level == "INFO"
    assert settings.templates == ""
    assert settings.followups == FollowUps()
    assert settings.followups.check_in_days == (7, 30)
    assert settings.caps == Caps()
    assert settings.web == Web()
    (acct,) = settings.accounts
    assert acct.delivery == "drafts"
    assert acct.maildir is None
    assert acct.imap is not None
    assert acct.imap.tls == "ssl"
    assert acct.imap.effective_port == 993
    assert acct.imap.folders == ("INBOX",)
    assert acct.owner_address == "owner@example.com"


def test_addresses_are_normalised_to_lower_case() -> None:
    settings = parse(account(address="RefMail@Example.COM", owners=["Owner@EXAMPLE.com"]))
    assert settings.accounts[0].address == "refmail@example.com"
    assert settings.accounts[0].owners == ("owner@example.com",)


def test_integers_are_accepted_for_floats() -> None:
    settings = parse(raw(followups={"thank_you_delay_hours": 2}))
    assert settings.followups.thank_you_delay_hours == 2.0
    assert isinstance(settings.followups.thank_you_delay_hours, float)


def test_lists_become_tuples() -> None:
    settings = parse(raw(followups={"check_in_days": [3, 14]}))
    assert settings.followups.check_in_days == (3, 14)


# --- errors name the bad key -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        (raw(databse="sqlite:///x.db"), "databse"),
        (raw(followups={"thank_yuo": True}), "followups.thank_yuo"),
        (raw(path="/elsewhere"), "path"),
        (account(colour="blue"), "accounts[0].colour"),
        (
            account(imap={"host": "h", "user": "u", "tlss": "ssl"}),
            "accounts[0].imap.tlss",
        ),
    ],
)
def test_unknown_key_is_named(doc: dict[str, Any], key: str) -> None:
    message = error_of(doc)
    assert message.startswith(f"{key}:")
    assert "unknown key" in message


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        (raw(timezone=5), "timezone"),
        (raw(followups={"thank_you": "yes"}), "followups.thank_you"),
        (raw(followups={"max_age_days": True}), "followups.max_age_days"),
        (raw(followups={"thank_you_delay_hours": "1"}), "followups.thank_you_delay_hours"),
        (raw(followups={"check_in_days": 7}), "followups.check_in_days"),
        (raw(followups={"check_in_days": [7, "30"]}), "followups.check_in_days[1]"),
        (raw(caps="none"), "caps"),
        (account(owners="owner@example.com"), "accounts[0].owners"),
        (account(imap={"host": "h", "user": "u", "port": "993"}), "accounts[0].imap.port"),
    ],
)
def test_wrong_type_is_named(doc: dict[str, Any], key: str) -> None:
    assert error_of(doc).startswith(f"{key}: must be")


@pytest.mark.parametrize(
    ("doc", "key", "value"),
    [
        (account(delivery="pigeon"), "accounts[0].delivery", "'pigeon'"),
        (account(imap={"host": "h", "user": "u", "tls": "TLS"}), "accounts[0].imap.tls", "'TLS'"),
    ],
)
def test_bad_literal_value_is_named(doc: dict[str, Any], key: str, value: str) -> None:
    message = error_of(doc)
    assert message.startswith(f"{key}: {value} is not one of")


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        (account(owners=["owner@example.com", "not an address"]), "accounts[0].owners"),
        (account(address="refmail-at-example.com"), "accounts[0].address"),
    ],
)
def test_invalid_email_is_named(doc: dict[str, Any], key: str) -> None:
    message = error_of(doc)
    assert message.startswith(f"{key}:")
    assert "not a valid address" in message


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        (account(name=None), "accounts[0].name"),
        (account(owners=None), "accounts[0].owners"),
        (account(imap={"user": "u"}), "accounts[0].imap.host"),
        (account(imap=None, maildir={"folders": ["INBOX"]}), "accounts[0].maildir.path"),
    ],
)
def test_missing_required_key_is_named(doc: dict[str, Any], key: str) -> None:
    assert error_of(doc) == f"{key}: required"


def test_empty_owners_is_an_error() -> None:
    assert error_of(account(owners=[])).startswith("accounts[0].owners:")


@pytest.mark.parametrize("doc", [{}, {"accounts": []}, {"accounts": {"name": "x"}}])
def test_no_accounts_is_an_error(doc: dict[str, Any]) -> None:
    assert error_of(doc).startswith("accounts:")


def test_both_imap_and_maildir_is_an_error() -> None:
    message = error_of(account(maildir={"path": "Maildir"}))
    assert message.startswith("accounts[0]:")
    assert "exactly one source" in message


def test_neither_imap_nor_maildir_is_an_error() -> None:
    assert "exactly one source" in error_of(account(imap=None))


def test_duplicate_account_names_are_an_error() -> None:
    doc = copy.deepcopy(MINIMAL)
    doc["accounts"].append(copy.deepcopy(doc["accounts"][0]))
    message = error_of(doc)
    assert message.startswith("accounts:")
    assert "unique" in message


def test_second_account_errors_name_its_index() -> None:
    doc = copy.deepcopy(MINIMAL)
    second = copy.deepcopy(doc["accounts"][0]) | {"name": "other", "address": "nope"}
    doc["accounts"].append(second)
    assert error_of(doc).startswith("accounts[1].address:")


def test_many_accounts_sharing_addresses_each_get_them_normalised() -> None:
    """Addresses shared by many accounts are validated once per config, yet every account
    gets the normalised value, and a bad one is named at its own account."""
    doc = copy.deepcopy(MINIMAL)
    base = doc["accounts"][0] | {"owners": ["Owner@Example.COM"], "address": "R@Example.com"}
    doc["accounts"] = [base | {"name": f"a{i}"} for i in range(300)]
    settings = config.parse(doc, Path("refmail.toml"))
    assert {a.owners for a in settings.accounts} == {("owner@example.com",)}
    assert {a.address for a in settings.accounts} == {"r@example.com"}
    doc["accounts"][200] = base | {"name": "a200", "owners": ["Owner@Example.COM", "bad"]}
    assert error_of(doc).startswith("accounts[200].owners:")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_unknown_time_zone_is_named(zone: str) -> None:
    message = error_of(raw(timezone=zone))
    assert message.startswith("timezone:")
    assert "unknown time zone" in message


def test_known_time_zone_is_kept() -> None:
    assert parse(raw(timezone="Europe/Berlin")).timezone == "Europe/Berlin"


def test_imap_batch_size_below_one_is_named() -> None:
    doc = account(imap={"host": "h", "user": "u", "batch_size": 0})
    assert error_of(doc).startswith("accounts[0].imap.batch_size:")


def test_maildir_batch_size_below_one_is_named() -> None:
    doc = account(imap=None, maildir={"path": "Maildir", "batch_size": 0})
    assert error_of(doc).startswith("accounts[0].maildir.batch_size:")


def test_negative_check_in_days_are_named() -> None:
    assert error_of(raw(followups={"check_in_days": [-7]})).startswith("followups.check_in_days")


# --- paths -----------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    doc = account(
        imap=None,
        maildir={"path": "mail/Maildir"},
        drafts_dir="out/drafts",
    )
    doc["database"] = "sqlite:///data/refmail.db"
    doc["templates"] = "my-templates"
    settings = parse(doc, tmp_path)
    acct = settings.accounts[0]
    assert settings.database == f"sqlite:///{tmp_path / 'data' / 'refmail.db'}"
    assert settings.database.startswith("sqlite:////")
    assert acct.maildir is not None
    assert acct.maildir.path == str(tmp_path / "mail" / "Maildir")
    assert acct.drafts_dir == str(tmp_path / "out" / "drafts")
    assert settings.templates == str(tmp_path / "my-templates")


def test_default_sqlite_and_drafts_live_next_to_the_config(tmp_path: Path) -> None:
    settings = parse(MINIMAL, tmp_path)
    assert settings.database == f"sqlite:///{tmp_path / 'refmail.db'}"
    assert settings.accounts[0].drafts_dir == str(tmp_path / "drafts")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/refmail/refmail.db",
        "sqlite:///:memory:",
        "postgresql+psycopg://refmail@db.example.com/refmail",
    ],
)
def test_absolute_and_server_urls_are_untouched(url: str, tmp_path: Path) -> None:
    assert parse(raw(database=url), tmp_path).database == url


def test_absolute_maildir_path_is_untouched(tmp_path: Path) -> None:
    doc = account(imap=None, maildir={"path": "/srv/mail/Maildir"})
    assert parse(doc, tmp_path).accounts[0].maildir.path == "/srv/mail/Maildir"


def test_load_reads_toml_and_resolves_against_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "refmail.toml"
    path.parent.mkdir()
    path.write_text(
        'database = "sqlite:///r.db"\n'
        "[followups]\ncheck_in_days = [1]\n"
        "[caps]\nwindow_start = 08:30:00\n"
        "[[accounts]]\n"
        'name = "main"\naddress = "refmail@example.com"\nowners = ["owner@example.com"]\n'
        '[accounts.maildir]\npath = "Maildir"\n',
        encoding="utf-8",
    )
    settings = config.load(path)
    assert settings.path == path
    assert settings.database == f"sqlite:///{path.parent / 'r.db'}"
    assert settings.followups.check_in_days == (1,)
    assert settings.caps.window_start.hour == 8
    assert settings.caps.window_start.minute == 30
    assert settings.accounts[0].maildir.path == str(path.parent / "Maildir")


def test_load_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=r"no config file at .*absent\.toml"):
        config.load(path)


def test_load_invalid_toml_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("accounts = [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        config.load(path)


def test_resolve_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFMAIL_CONFIG", "/from/env.toml")
    assert config.resolve_path("/from/flag.toml") == Path("/from/flag.toml")
    assert config.resolve_path(None) == Path("/from/env.toml")
    monkeypatch.delenv("REFMAIL_CONFIG")
    assert config.resolve_path(None) == Path("refmail.toml")


# --- secrets ---------------------------------------------------------------------------------


def test_read_secret_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("RM_TEST_SECRET", "from-env")
    assert config.read_secret("RM_TEST_SECRET", str(secret_file), "test secret") == "from-env"


def test_read_secret_falls_back_to_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("  from-file\n", encoding="utf-8")
    monkeypatch.delenv("RM_TEST_SECRET", raising=False)
    assert config.read_secret("RM_TEST_SECRET", str(secret_file), "test secret") == "from-file"


def test_read_secret_without_either_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RM_TEST_SECRET", raising=False)
    with pytest.raises(ConfigError, match="RM_TEST_SECRET"):
        config.read_secret("RM_TEST_SECRET", "", "test secret")


def test_read_secret_unreadable_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RM_TEST_SECRET", raising=False)
    missing = tmp_path / "no-such-file"
    with pytest.raises(ConfigError, match="no-such-file"):
        config.read_secret("RM_TEST_SECRET", str(missing), "test secret")


def test_password_is_read_lazily_and_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RM_TEST_IMAP_PW", raising=False)
    doc = account(imap={"host": "h", "user": "u", "password_env": "RM_TEST_IMAP_PW"})
    settings = parse(doc)  # no password set: parsing must not need it
    monkeypatch.setenv("RM_TEST_IMAP_PW", "hunter2-s3cr3t")
    imap = settings.accounts[0].imap
    assert imap is not None
    assert imap.password() == "hunter2-s3cr3t"
    assert "hunter2-s3cr3t" not in repr(settings)
    assert "hunter2-s3cr3t" not in repr(imap)


def test_relative_password_file_resolves_against_the_config_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "imap.pw").write_text("pw-from-file\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the config directory
    monkeypatch.delenv("RM_TEST_IMAP_PW", raising=False)
    doc = account(
        imap={
            "host": "h",
            "user": "u",
            "password_env": "RM_TEST_IMAP_PW",
            "password_file": "imap.pw",
        }
    )
    settings = parse(doc, conf_dir)
    assert settings.accounts[0].imap.password() == "pw-from-file"
