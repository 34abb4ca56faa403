"""Reads refmail.toml into frozen, validated settings; fails fast naming the bad key.

Secrets never live in the TOML: passwords come from an environment variable or a file path.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import re
import tomllib
import types
import typing
from dataclasses import field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from refmail import kinds
from refmail.addrcheck import plain
from refmail.classes import dataclass  # dataclasses' own, less the code it compiles at import
from refmail.errors import ConfigError

DEFAULT_PATH = "refmail.toml"
ENV_PATH = "REFMAIL_CONFIG"


@dataclass(frozen=True, kw_only=True)
class OAuth2Keys:
    """For auth = "xoauth2" (IMAP and SMTP alike): the provider's token endpoint and the app's
    client id; the refresh token and client secret come from the environment or files."""

    oauth2_token_url: str = ""
    oauth2_client_id: str = ""
    oauth2_client_secret_env: str = "REFMAIL_OAUTH2_CLIENT_SECRET"
    oauth2_client_secret_file: str = ""
    oauth2_refresh_token_env: str = "REFMAIL_OAUTH2_REFRESH_TOKEN"
    oauth2_refresh_token_file: str = ""


@dataclass(frozen=True)
class ImapSettings(OAuth2Keys):
    """How to reach one IMAP mailbox. The password is looked up only when connecting."""

    host: str
    user: str
    port: int = 0  # 0: 993 for tls="ssl", else 143
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    auth: Literal["password", "xoauth2"] = "password"
    password_env: str = "REFMAIL_IMAP_PASSWORD"
    password_file: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    drafts_folder: str = ""  # empty: SPECIAL-USE \Drafts, then by name, else created
    batch_size: int = 500
    timeout: float = 30.0

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "ssl" else 143)

    def password(self) -> str:
        return read_secret(self.password_env, self.password_file, "imap password")


@dataclass(frozen=True)
class SmtpSettings(OAuth2Keys):
    """How to submit mail: follow-ups in `smtp` delivery, and links asked for on the web."""

    host: str
    user: str = ""
    port: int = 0  # 0: 465 for tls="ssl", else 587
    tls: Literal["ssl", "starttls", "none"] = "starttls"
    auth: Literal["password", "xoauth2"] = "password"
    password_env: str = "REFMAIL_SMTP_PASSWORD"
    password_file: str = ""
    # With auth = "xoauth2" and no oauth2_token_url: a fixed access token from these.
    token_env: str = "REFMAIL_SMTP_OAUTH_TOKEN"
    token_file: str = ""
    timeout: float = 30.0
    max_per_hour: int = 30  # this account's sends in any rolling hour
    # "append": refmail APPENDs a copy to Sent after the server accepts; "server": the provider
    # files submitted mail in Sent itself (Gmail, Microsoft 365); "none": no copy.
    sent_copy: Literal["append", "server", "none"] = "append"
    sent_folder: str = ""  # empty: SPECIAL-USE \Sent, then by name, else created

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.tls == "ssl" else 587)

    def password(self) -> str:
        return read_secret(self.password_env, self.password_file, "smtp password")

    def token(self) -> str:
        return read_secret(self.token_env, self.token_file, "smtp oauth2 token")


# The delivery channels, by the names the config uses; refmail.wiring maps each to its module.
Mode = Literal["drafts", "file", "smtp"]
CHANNELS: tuple[str, ...] = get_args(Mode)


# Per-kind exceptions to the account's delivery (e.g. thank-yous sent, check-ins drafted): one
# optional field per kind in the kinds table, "" meaning "as the account".
if TYPE_CHECKING:
    KindDelivery = Any  # made at import time from the kinds table, which mypy cannot follow
else:
    KindDelivery = dataclass(
        type(
            "KindDelivery",
            (),
            {
                "__module__": __name__,
                "__doc__": "How each kind of follow-up leaves; empty: as the account.",
                "__annotations__": {name: Literal["", Mode] for name in kinds.NAMES},
                **{name: "" for name in kinds.NAMES},
            },
        ),
        frozen=True,
    )


@dataclass(frozen=True)
class MaildirSettings:
    """A local Maildir read as a source (the embedded demo uses one)."""

    path: str
    folders: tuple[str, ...] = ("INBOX",)
    batch_size: int = 500


@dataclass(frozen=True)
class Account:
    """One watched mailbox: refmail's own address inside the owner's account."""

    name: str
    address: str
    owners: tuple[str, ...]
    owner_name: str = ""
    delivery: Mode = "drafts"
    per_kind: KindDelivery = field(default_factory=KindDelivery)
    drafts_dir: str = "drafts"
    imap: ImapSettings | None = None
    maildir: MaildirSettings | None = None
    smtp: SmtpSettings | None = None
    # Owner mail counts only when the owner's provider authenticated it (refmail.authn): the
    # topmost Authentication-Results header written by one of these authserv-ids must show DMARC
    # pass, or DKIM/SPF pass aligned with the owner's domain. Off: the From header decides.
    require_authentication: bool = True
    trusted_authserv_ids: tuple[str, ...] = ()
    trusted_arc_ids: tuple[str, ...] = ()  # forwarders whose ARC results count (arc=pass)

    @property
    def owner_address(self) -> str:
        """The address follow-ups are written from."""
        return self.owners[0]

    def delivery_for(self, kind: str) -> Mode:
        """How follow-ups of this kind leave: the per-kind setting, else the account's."""
        chosen = getattr(self.per_kind, kind, "")
        mode = chosen or self.delivery
        if mode == "drafts" and self.imap is None:
            return "file"  # a Maildir account has no IMAP Drafts folder
        return mode  # type: ignore[return-value]

    def modes(self) -> set[str]:
        return {self.delivery_for(kind) for kind in kinds.NAMES}


@dataclass(frozen=True)
class FollowUps:
    """What to plan for each new introduction, and when."""

    thank_you: bool = True
    thank_you_delay_hours: float = 0.0
    double_intro: bool = True
    conversion_thanks: bool = True  # when the owner marks an introduction converted
    check_in_days: tuple[int, ...] = (7, 30)
    max_age_days: int = (
        30  # older introductions (a first sync of old mail) are recorded, not followed up
    )
    dismissed_after_days: float = 2.0  # a draft gone from Drafts and not in Sent this long
    drafts_expire_days: float = 0.0  # unsent drafts older than this are withdrawn (0: never)


@dataclass(frozen=True)
class Window:
    """At most `count` messages in any `days`-day rolling window."""

    count: int
    days: float

    def __str__(self) -> str:
        return f"{self.count} per {self.days:g} days"


@dataclass(frozen=True)
class CapsOverride:
    """Different caps for some contacts (addresses, or "@domain"); unset keys inherit."""

    contacts: tuple[str, ...]
    windows: tuple[Window, ...] | None = None
    min_gap_hours: float | None = None
    cooldown_days: float | None = None


@dataclass(frozen=True)
class Caps:
    """One budget per person across every kind of follow-up, and when mail may go out."""

    windows: tuple[Window, ...] = (Window(1, 2), Window(2, 7), Window(4, 30))
    min_gap_hours: float = 24.0
    cooldown_days: float = 3.0  # after human contact, check-ins wait this long
    stale_days: float = 21.0  # a check-in this late is skipped
    window_start: time = time(9, 0)  # the send window, in the recipient's time zone
    window_end: time = time(18, 0)  # equal to window_start: open all day
    weekends: bool = False
    drafts_in_window: bool = True  # drafts too are due only inside the send window
    merge: tuple[str, ...] = tuple(k.name for k in kinds.KINDS if k.merge)
    overrides: tuple[CapsOverride, ...] = ()

    def for_contact(self, address: str) -> Caps:
        """These caps with the first matching override applied."""
        domain = "@" + address.rsplit("@", 1)[-1]
        for override in self.overrides:
            if address in override.contacts or domain in override.contacts:
                changes = {
                    k: v
                    for k, v in dataclasses.asdict(override).items()
                    if k != "contacts" and v is not None
                }
                if override.windows is not None:
                    changes["windows"] = override.windows
                return dataclasses.replace(self, overrides=(), **changes)
        return self


@dataclass(frozen=True)
class Web:
    """The recipient-facing pages; an empty base_url leaves links out of the footer."""

    base_url: str = ""
    listen: str = "127.0.0.1:8025"
    signing_key_env: str = "REFMAIL_SIGNING_KEY"
    signing_key_file: str = ""
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed; from any other
    # peer the header is ignored and the peer's own address is the client's.
    trusted_proxies: tuple[str, ...] = ()
    # /metrics and /healthz answer only these client addresses (or networks), or a request with
    # "Authorization: Bearer <token>" where the token is read from this environment variable.
    monitor_from: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token_env: str = ""
    # Where the "email me my link" form counts requests: "memory" (this process only),
    # "database" (shared by every `refmail web --workers` process), "auto" (the database when
    # there are several workers).
    rate_limit: Literal["auto", "memory", "database"] = "auto"

    def signing_keys(self) -> list[str]:
        """Newest first, one per line (or comma-separated); older ones still verify links."""
        raw = read_secret(self.signing_key_env, self.signing_key_file, "link signing key")
        return [k.strip() for k in raw.replace(",", "\n").splitlines() if k.strip()]

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class Daemon:
    """Timing of `refmail run`: the database is the queue, these are the clock."""

    sync_seconds: float = 300.0  # polling; with IDLE new mail is synced within about a second
    dispatch_seconds: float = 60.0
    housekeeping_hours: float = 24.0
    idle: bool = True  # IMAP IDLE where the server offers it
    idle_reissue_seconds: float = 540.0  # re-issue IDLE before servers drop it (≤ 10 minutes)
    reconnect_max_seconds: float = 300.0  # backoff cap after a failed connection or login
    misfire_grace_seconds: float = 60.0
    keep_events_days: float = 365.0  # why-log entries of finished follow-ups kept this long
    log_format: Literal["text", "json"] = "text"
    web: bool = True  # serve the recipient pages too, when web.base_url is set
    lease_seconds: float = 30.0  # `run --worker`: an account's lease; a dead worker's expires


@dataclass(frozen=True)
class RewardOverride:
    """A different reward for some partners (addresses, or "@domain"); text "" means none."""

    partners: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True)
class Rewards:
    """[rewards]: what a referrer is promised when their referral becomes business."""

    text: str = ""  # e.g. "a bottle of champagne is on its way"; empty: no reward
    overrides: tuple[RewardOverride, ...] = ()

    def for_partner(self, address: str) -> str:
        """The reward line for this referrer (the first override naming them, else the text)."""
        domain = "@" + address.rsplit("@", 1)[-1]
        for override in self.overrides:
            if address in override.partners or domain in override.partners:
                return override.text
        return self.text


@dataclass(frozen=True)
class OptIn:
    """[optin]: introductions asked for first (`refmail intro ask`, the +ask address)."""

    wait_days: float = 14.0  # no answer after this long: the ask lapses and the owner is told
    digest_days: float = 7.0  # how often `refmail digest` drafts the owner's digest
    call_first: bool = False  # on a yes: a call reminder to the other person, the intro a day on


@dataclass(frozen=True)
class OwnerPage:
    """[owner_page]: the owner's report page (/owner), behind HTTP Basic auth.

    The password hash (from `refmail owner-password`) comes from the environment variable or
    this key; with neither, the page refuses every request."""

    user: str = "owner"
    password_hash: str = ""
    password_hash_env: str = "REFMAIL_OWNER_PASSWORD_HASH"

    def hash(self) -> str:
        return os.environ.get(self.password_hash_env, "") or self.password_hash


@dataclass(frozen=True)
class Settings:
    """Everything refmail.toml says, validated. `path` is where it was read from."""

    accounts: tuple[Account, ...]
    database: str = "sqlite:///refmail.db"
    timezone: str = "UTC"
    templates: str = ""
    log_level: str = "INFO"
    followups: FollowUps = field(default_factory=FollowUps)
    caps: Caps = field(default_factory=Caps)
    daemon: Daemon = field(default_factory=Daemon)
    web: Web = field(default_factory=Web)
    rewards: Rewards = field(default_factory=Rewards)
    optin: OptIn = field(default_factory=OptIn)
    owner_page: OwnerPage = field(default_factory=OwnerPage)
    path: Path = Path(DEFAULT_PATH)

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise ConfigError(f"no account named {name!r} in {self.path}")


def read_secret(env: str, path: str, what: str) -> str:
    """A secret from the environment variable `env`, else from the file at `path`."""
    if env and os.environ.get(env):
        return os.environ[env]
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    raise ConfigError(f"no {what}: set the environment variable {env}, or the file key beside it")


def resolve_path(config_path: str | os.PathLike[str] | None) -> Path:
    """--config, else $REFMAIL_CONFIG, else ./refmail.toml."""
    return Path(config_path or os.environ.get(ENV_PATH) or DEFAULT_PATH)


def load(config_path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the TOML file; raise ConfigError naming the offending key."""
    path = resolve_path(config_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no config file at {path} (run `refmail init` to write one)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse(raw, path)


def parse(raw: dict[str, Any], path: Path) -> Settings:
    """Validate an already-decoded TOML document (split out so tests need no file)."""
    base = path.resolve().parent
    raw = dict(raw)
    accounts = raw.pop("accounts", None)
    if not isinstance(accounts, list) or not accounts:
        raise ConfigError("accounts: at least one [[accounts]] table is required")
    # Many accounts usually share their owners and address: each distinct one is validated once.
    addresses: dict[str, str] = {}
    built = tuple(_account(a, f"accounts[{i}]", base, addresses) for i, a in enumerate(accounts))
    names = [a.name for a in built]
    if len(set(names)) != len(names):
        raise ConfigError("accounts: account names must be unique")
    if "path" in raw:
        raise ConfigError("path: unknown key")
    settings = _build(Settings, raw, "", extra={"accounts": built, "path": path})
    _check_timezone(settings.timezone, "timezone")
    _check_caps(settings.caps)
    _check_web(settings.web)
    _check_followups(settings.followups)
    return dataclasses.replace(
        settings,
        database=_database_url(settings.database, base),
        templates=_path(base, settings.templates),
        web=dataclasses.replace(
            settings.web, signing_key_file=_path(base, settings.web.signing_key_file)
        ),
    )


def _account(raw: Any, where: str, base: Path, addresses: dict[str, str]) -> Account:
    """One [[accounts]] table; `addresses` remembers the addresses already validated."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    account = _build(Account, raw, where + ".")
    if (account.imap is None) == (account.maildir is None):
        raise ConfigError(
            f"{where}: give exactly one source, [accounts.imap] or [accounts.maildir]"
        )
    owners = tuple(_known_email(o, f"{where}.owners", addresses) for o in account.owners)
    if not owners:
        raise ConfigError(f"{where}.owners: at least one owner address is required")
    changes: dict[str, Any] = {
        "address": _known_email(account.address, f"{where}.address", addresses),
        "owners": owners,
        "drafts_dir": _path(base, account.drafts_dir),
        "trusted_authserv_ids": tuple(i.strip().lower() for i in account.trusted_authserv_ids),
        "trusted_arc_ids": tuple(i.strip().lower() for i in account.trusted_arc_ids),
    }
    if account.maildir is not None:
        if account.maildir.batch_size < 1:
            raise ConfigError(f"{where}.maildir.batch_size: must be at least 1")
        changes["maildir"] = dataclasses.replace(
            account.maildir, path=_path(base, account.maildir.path)
        )
    if account.imap is not None:
        if account.imap.batch_size < 1:
            raise ConfigError(f"{where}.imap.batch_size: must be at least 1")
        if account.imap.auth == "xoauth2" and not account.imap.oauth2_token_url:
            raise ConfigError(f'{where}.imap.oauth2_token_url: required for auth = "xoauth2"')
        changes["imap"] = dataclasses.replace(
            account.imap,
            password_file=_path(base, account.imap.password_file),
            oauth2_client_secret_file=_path(base, account.imap.oauth2_client_secret_file),
            oauth2_refresh_token_file=_path(base, account.imap.oauth2_refresh_token_file),
        )
    if account.smtp is not None:
        if account.smtp.max_per_hour < 1:
            raise ConfigError(f"{where}.smtp.max_per_hour: must be at least 1")
        changes["smtp"] = dataclasses.replace(
            account.smtp,
            password_file=_path(base, account.smtp.password_file),
            token_file=_path(base, account.smtp.token_file),
            oauth2_client_secret_file=_path(base, account.smtp.oauth2_client_secret_file),
            oauth2_refresh_token_file=_path(base, account.smtp.oauth2_refresh_token_file),
        )
    for section in ("imap", "smtp"):
        server = getattr(account, section)
        if server is not None and server.tls == "none" and not is_loopback(server.host):
            raise ConfigError(
                f'{where}.{section}.tls: "none" (plain text) is allowed only to this machine '
                f'(localhost, 127.0.0.1, ::1), not to {server.host!r}: use "ssl" or "starttls"'
            )
    built = dataclasses.replace(account, **changes)
    if "smtp" in built.modes() and built.smtp is None:
        raise ConfigError(f"{where}.smtp: delivery by smtp needs an [accounts.smtp] table")
    return built


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (a password sent in plain text stays on it)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _path(base: Path, value: str) -> str:
    """Relative paths are relative to the config file; `~` is the user's home; empty stays empty."""
    return str(base / Path(value).expanduser()) if value else ""


def _check_caps(caps: Caps) -> None:
    for i, window in enumerate(caps.windows):
        if window.count < 1 or window.days <= 0:
            raise ConfigError(f"caps.windows[{i}]: count must be ≥ 1 and days > 0")
    unknown = set(caps.merge) - set(kinds.NAMES)
    if unknown:
        raise ConfigError(f"caps.merge: unknown kind {sorted(unknown)[0]!r}")
    for i, override in enumerate(caps.overrides):
        if not override.contacts:
            raise ConfigError(f"caps.overrides[{i}].contacts: name at least one address or @domain")


def _check_followups(f: FollowUps) -> None:
    if any(d < 0 for d in f.check_in_days):
        raise ConfigError("followups.check_in_days: days must be 0 or more")
    if list(f.check_in_days) != sorted(f.check_in_days):
        raise ConfigError("followups.check_in_days: list the days in increasing order")
    if f.thank_you_delay_hours < 0:
        raise ConfigError("followups.thank_you_delay_hours: must be 0 or more")
    if f.max_age_days < 0:
        raise ConfigError("followups.max_age_days: must be 0 or more")
    if f.dismissed_after_days < 0:
        raise ConfigError("followups.dismissed_after_days: must be 0 or more")
    if f.drafts_expire_days < 0:
        raise ConfigError("followups.drafts_expire_days: must be 0 or more (0: never)")


def _check_web(web: Web) -> None:
    if web.base_url and not web.base_url.startswith(("https://", "http://")):
        raise ConfigError("web.base_url: must start with https:// (or http:// for a test)")
    for key in ("trusted_proxies", "monitor_from"):
        for i, net in enumerate(getattr(web, key)):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as exc:
                raise ConfigError(f"web.{key}[{i}]: {net!r} is not an address or network") from exc
    try:
        web.host_port  # noqa: B018 - validates the listen address
    except ValueError as exc:
        raise ConfigError(f"web.listen: {web.listen!r} is not HOST:PORT") from exc


def _email(value: str, key: str) -> str:
    fast = plain(value)  # most addresses: email_validator's answer, without importing it
    if fast is not None:
        return fast
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ConfigError(f"{key}: {value!r} is not a valid address ({exc})") from exc


def _known_email(value: str, key: str, addresses: dict[str, str]) -> str:
    """`_email`, once per distinct value of a config (an invalid one raises every time)."""
    if value not in addresses:
        addresses[value] = _email(value, key)
    return addresses[value]


def _check_timezone(name: str, key: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{key}: unknown time zone {name!r}") from exc


def _database_url(url: str, base: Path) -> str:
    """Relative SQLite paths are relative to the config file, not to the working directory."""
    match = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", url)
    if match and ":memory:" not in url:
        return match.group(1) + str(base / Path(match.group(2)).expanduser())
    return url


def _build(cls: type, raw: dict[str, Any], prefix: str, extra: dict[str, Any] | None = None) -> Any:
    """Build dataclass `cls` from a TOML table, checking names and types field by field."""
    hints, fields = _schema(cls)
    extra = extra or {}
    unknown = sorted(set(raw) - set(fields) - set(extra))
    if unknown:
        known = ", ".join(sorted(set(fields) - {"path"}))
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {known})")
    values: dict[str, Any] = dict(extra)
    for name, value in raw.items():
        values[name] = _coerce(value, hints[name], prefix + name)
    missing = [
        n
        for n, f in fields.items()
        if n not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]}: required")
    return cls(**values)


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """The type hints and fields of a settings class: resolving the hints (string annotations,
    evaluated) was most of the time of loading a config with many accounts, and never changes."""
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in args if a is not type(None))
        return _coerce(value, inner, key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: must be a list")
        return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: must be a table")
        return _build(hint, value, key + ".")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: must be {hint.__name__}, not {type(value).__name__}")
    return value
