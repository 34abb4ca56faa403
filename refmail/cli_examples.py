"""The examples at the end of each command's `-h` (click's epilog, kept as written)."""

from __future__ import annotations

import click

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "refmail init && refmail sync && refmail dispatch",
        "refmail outbox list --config ~/r.toml",
    ),
    "init": (
        "refmail init                      # the demo, in refmail-demo/",
        "refmail init --force --imap imaps://you%40example.com@imap.example.com/Refmail \\",
        "    --address you+refmail@example.com --owner you@example.com --owner-name 'You' \\",
        "    --smtp smtps://you%40example.com@smtp.example.com --base-url https://r.example.com",
    ),
    "sync": ("refmail sync", "refmail sync --config ~/refmail.toml"),
    "dispatch": ("refmail dispatch", "refmail dispatch --now 2030-01-08T10:00   # tests only"),
    "classify": ("refmail classify message.eml", "refmail classify --owner me@example.com *.eml"),
    "intros": ("refmail intros list", "refmail intros dismiss 12"),
    "intros list": ("refmail intros list", "refmail intros list --json | jq .parties"),
    "intros dismiss": ("refmail intros dismiss 12",),
    "outbox": ("refmail outbox list", "refmail outbox preview --at +8d"),
    "outbox list": ("refmail outbox list", "refmail outbox list --state deferred --json"),
    "outbox why": ("refmail outbox why 42", "refmail outbox why 42 --json"),
    "outbox preview": (
        "refmail outbox preview",
        "refmail outbox preview --at +8d",
        "refmail outbox preview --at 2030-01-08T09:00 --json",
    ),
    "outbox cancel": ("refmail outbox cancel 42",),
    "outbox snooze": ("refmail outbox snooze 42 +3d", "refmail outbox snooze 42 2030-01-08T09:00"),
    "contacts": ("refmail contacts show ann@example.com",),
    "contacts show": ("refmail contacts show ann@example.com --json",),
    "contacts set": (
        "refmail contacts set ann@example.com --level reduced",
        "refmail contacts set bob@example.com --pause-until 2030-03-01",
        "refmail contacts set spam@example.com --opt-out",
    ),
    "web": ("refmail web", "refmail web --listen 127.0.0.1:8025"),
    "run": (
        "refmail run",
        "refmail run --worker            # beside other workers on one PostgreSQL",
        "systemctl --user start refmail   # config/refmail.service",
    ),
    "intros show": ("refmail intros show 12", "refmail intros show 12 --json"),
    "intros confirm": ("refmail intros confirm 12   # an unverified introduction is yours",),
    "intros outcome": (
        "refmail intros outcome 12 converted --value 1200 --note 'retainer signed'",
        "refmail intros outcome 12 not_a_fit",
    ),
    "intros suggestions": ("refmail intros suggestions",),
    "intros confirm-suggestion": ("refmail intros confirm-suggestion 3",),
    "intros ask": ("refmail intros ask leo@example.com dana@example.com --context 'both bake'",),
    "intro": ("refmail intro ask leo@example.com dana@example.com",),
    "intro ask": (
        "refmail intro ask leo@example.com dana@example.com --name 'Dana Diaz'",
        "refmail intro ask leo@example.com dana@example.com --context 'she needs a baker'",
    ),
    "contacts list": ("refmail contacts list", "refmail contacts list --json"),
    "contacts export": ("refmail contacts export ann@example.com > ann.json",),
    "contacts forget": ("refmail contacts forget ann@example.com",),
    "partners": ("refmail partners list",),
    "partners list": ("refmail partners list", "refmail partners list --json"),
    "partners note": ("refmail partners note pat@example.com 'refers clients under 50 staff'",),
    "partners reward-sent": ("refmail partners reward-sent pat@example.com",),
    "report": ("refmail report", "refmail report --json"),
    "digest": ("refmail digest", "refmail digest --force"),
    "owner-password": ("refmail owner-password   # then [owner_page] password_hash = …",),
    "doctor": ("refmail doctor", "refmail doctor --json"),
}


def add_examples(command: click.Command, path: str = "") -> None:
    """Give `command` (and, for a group, every subcommand loaded under it) its examples."""
    if path in EXAMPLES:
        command.epilog = _epilog(EXAMPLES[path])
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            add_examples(sub, f"{path} {name}".strip())


def _epilog(lines: tuple[str, ...]) -> str:
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
