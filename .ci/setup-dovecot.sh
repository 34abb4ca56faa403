#!/usr/bin/env bash
# Ensure the dovecot binary (Debian's dovecot-imapd) is installed for the IMAP integration tests.
# Idempotent: does nothing if dovecot is already there; exits non-zero loudly if it cannot install.
set -euo pipefail

have_dovecot() {
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]
}

die() {
    echo "setup-dovecot: ERROR: $*" >&2
    exit 1
}

if have_dovecot; then
    echo "setup-dovecot: dovecot already installed: $( (command -v dovecot || echo /usr/sbin/dovecot) | head -n1)"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "dovecot missing and apt-get not available; install dovecot-imapd by hand"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "dovecot missing; need root (or sudo) to apt-get install dovecot-imapd"
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-dovecot: installing dovecot-imapd ..."
$SUDO apt-get update -q || die "apt-get update failed"
$SUDO apt-get install -y -q --no-install-recommends dovecot-imapd || die "apt-get install dovecot-imapd failed"

have_dovecot || die "dovecot-imapd installed but no dovecot binary found"
echo "setup-dovecot: installed $(/usr/sbin/dovecot --version 2>/dev/null || dovecot --version)"
