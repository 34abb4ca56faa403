"""Private, throw-away Dovecot IMAP server for tests and benches.

Runs `dovecot -F -c CONF` from a temp dir on free localhost ports; never touches the system Dovecot.
Also: its pytest fixtures (`dovecot`, `imap_user`, imported by tests/conftest.py) and `drafts`,
which reads a user's folder back as parsed messages with their flags.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import email.message
import email.policy
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import imapclient
import pytest

PASSWORD = "secret"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SETUP_HINT = "dovecot not installed: run .ci/setup-dovecot.sh"
_SBIN_FALLBACKS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def find_dovecot_binary() -> str | None:
    """Return the path of the dovecot binary (also looked up in sbin dirs off PATH)."""
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in _SBIN_FALLBACKS if os.access(p, os.X_OK)), None)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<{path.name} missing>"
    return "\n".join(text.splitlines()[-lines:]) or f"<{path.name} empty>"


def _service_users() -> tuple[str, str, str]:
    """(login user, internal user, internal group): Dovecot refuses root for these."""
    if os.geteuid() != 0:
        name = pwd.getpwuid(os.geteuid()).pw_name
        return name, name, grp.getgrgid(os.getgid()).gr_name
    login, internal = (_existing_user(n) for n in ("dovenull", "dovecot"))
    return login.pw_name, internal.pw_name, grp.getgrgid(internal.pw_gid).gr_name


def _existing_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return pwd.getpwnam("nobody")


def _mail_owner() -> tuple[int, int]:
    """uid/gid for mail processes: Dovecot refuses uid 0 ("userdb returned 0 as uid")."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    entry = _existing_user("nobody")
    return entry.pw_uid, entry.pw_gid


def _mailboxes_conf(special_use: bool) -> str:
    """SPECIAL-USE Drafts/Sent/Trash, or nothing at all (only INBOX exists) when disabled."""
    if not special_use:
        return ""
    return (
        "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = subscribe\n  }\n"
        "  mailbox Sent {\n    special_use = \\Sent\n    auto = subscribe\n  }\n"
        "  mailbox Trash {\n    special_use = \\Trash\n  }\n"
    )


def _make_cert(tmpdir: Path) -> tuple[Path, Path] | None:
    """Create a self-signed cert/key with openssl, or None if openssl is missing."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    cert, key = tmpdir / "cert.pem", tmpdir / "key.pem"
    cmd = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    result = subprocess.run(cmd, capture_output=True, check=False)
    return (cert, key) if result.returncode == 0 else None


class Dovecot:
    """A private Dovecot instance: any username, one shared password, maildir per user."""

    def __init__(
        self, special_use: bool = True, imaps: bool = True, oauth2_introspection_url: str = ""
    ) -> None:
        self.special_use = special_use
        # With an introspection URL, XOAUTH2 logins are checked there (Dovecot's oauth2 passdb).
        self.oauth2_introspection_url = oauth2_introspection_url
        self.want_imaps = imaps
        self.host = "127.0.0.1"
        self.port = 0
        self.imaps_port: int | None = None  # set if openssl made a self-signed cert
        self.cert_path: Path | None = None
        self.password = PASSWORD
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._binary: str | None = None

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> Dovecot:
        """Create the temp dir + config (first time only), launch, wait until LOGIN works."""
        if self.proc is not None:
            raise RuntimeError("Dovecot already running")
        self._binary = find_dovecot_binary()
        if self._binary is None:
            raise RuntimeError(SETUP_HINT)
        if self.tmpdir is None:
            self._prepare()
        self._launch()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the server we started and delete the temp dir."""
        self._terminate()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def restart(self) -> None:
        """Stop the process (keeping mail and config) and start it again on the same ports."""
        self._terminate()
        self.start()

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def conf_path(self) -> Path:
        return self._dir / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self._dir / "dovecot.log"

    @property
    def _dir(self) -> Path:
        if self.tmpdir is None:
            raise RuntimeError("Dovecot not started")
        return self.tmpdir

    def _prepare(self) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="refmail-dovecot-"))
        self.tmpdir.chmod(0o755)  # login processes run as an unprivileged user
        for sub in ("run", "state", "home"):
            (self.tmpdir / sub).mkdir()
        os.chown(self.tmpdir / "home", *_mail_owner())
        self.port = free_port()
        cert = _make_cert(self.tmpdir) if self.want_imaps else None
        self.imaps_port = free_port() if cert else None
        self.cert_path = cert[0] if cert else None
        self.conf_path.write_text(self._config(cert))

    def _launch(self) -> None:
        stderr = open(self._dir / "dovecot.stderr", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                [str(self._binary), "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # own process group: pgid == our pid
                preexec_fn=_dies_with_parent(),
            )
        finally:
            stderr.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self._fail(f"dovecot exited with code {self.proc.returncode}")
            try:
                self.client("startup-probe").logout()
                return
            except Exception as exc:  # noqa: BLE001 - any failure: retry until the deadline
                last_error = exc
                time.sleep(0.05)
        self._fail(f"dovecot not ready after {START_TIMEOUT}s: {last_error!r}")

    def _fail(self, reason: str) -> NoReturn:
        raise RuntimeError(
            f"{reason}\n--- {self.log_path} ---\n{_tail(self.log_path)}"
            f"\n--- stderr ---\n{_tail(self._dir / 'dovecot.stderr')}"
        )

    def _terminate(self) -> None:
        """SIGTERM our master PID, wait, then SIGKILL its (own) process group."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)

    # ---- configuration ---------------------------------------------------

    def _oauth2_passdb(self) -> str:
        if not self.oauth2_introspection_url:
            return ""
        ext = self._dir / "oauth2.conf.ext"
        ext.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self.oauth2_introspection_url}\n"
            "username_attribute = username\n"
            "active_attribute = active\nactive_value = true\nforce_introspection = yes\n"
        )
        ext.chmod(0o644)
        return (
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {ext}\n}}\n"
        )

    def _config(self, cert: tuple[Path, Path] | None) -> str:
        d = self._dir
        login_user, internal_user, group = _service_users()
        uid, gid = _mail_owner()
        chroot = "login" if os.geteuid() == 0 else ""
        if cert:
            ssl = f"ssl = yes\nssl_cert = <{cert[0]}\nssl_key = <{cert[1]}\n"
            imaps = (
                f"  inet_listener imaps {{\n    address = {self.host}\n"
                f"    port = {self.imaps_port}\n  }}\n"
            )
        else:
            ssl, imaps = "ssl = no\n", ""
        return f"""\
# generated by tests/dovecot.py
protocols = imap
listen = {self.host}
base_dir = {d}/run
state_dir = {d}/state
instance_name = refmail-test-{d.name}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
debug_log_path = {d}/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if self.oauth2_introspection_url else ""}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {group}
first_valid_uid = 0
first_valid_gid = 0
mail_privileged_group =
mail_location = maildir:~/Maildir
imap_max_line_length = 10M
shutdown_clients = yes
{self._oauth2_passdb()}passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{_mailboxes_conf(self.special_use)}}}
service imap-login {{
  chroot = {chroot}
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
{imaps}}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

    # ---- IMAP helpers ----------------------------------------------------

    def client(self, user: str) -> imapclient.IMAPClient:
        """Return an IMAPClient logged in as `user` (plain IMAP)."""
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(user, self.password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(
        self, user: str, folder: str, raw_bytes: bytes, flags: Sequence[str | bytes] = ()
    ) -> int | None:
        """APPEND a message for `user`; return its UID (from APPENDUID) if reported."""
        client = self.client(user)
        try:
            response = client.append(folder, raw_bytes, flags=tuple(flags))
        finally:
            client.logout()
        match = re.search(rb"APPENDUID \d+ (\d+)", response or b"")
        return int(match.group(1)) if match else None


def drafts(
    server: Dovecot, user: str, folder: str = "Drafts"
) -> list[tuple[email.message.Message, tuple[bytes, ...]]]:
    """Every message in `user`'s `folder` (read-only, in UID order), parsed, with its flags."""
    client = server.client(user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        return [
            (email.message_from_bytes(d[b"BODY[]"], policy=email.policy.default), d[b"FLAGS"])
            for _, d in sorted(data.items())
        ]
    finally:
        client.logout()


# ---- pytest fixtures (import them into a conftest) -----------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the whole test session."""
    if find_dovecot_binary() is None:
        pytest.fail(SETUP_HINT, pytrace=False)
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_user() -> str:
    """A fresh username, so each test gets an isolated, empty mailbox."""
    return "u" + uuid.uuid4().hex[:10]


def _dies_with_parent() -> Callable[[], None] | None:
    """For the child: SIGTERM when the process that started it dies, so a test worker killed
    before its fixtures' teardown (an interrupted run, a timeout) leaves no Dovecot behind.
    Linux sends it when the forking *thread* exits, so only the main thread asks for it."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def ask() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(1)

    return ask
