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
    "run": ("refmail run", "systemctl --user start refmail   # config/refmail.service"),
    "doctor": ("refmail doctor", "refmail doctor --json"),
}


def add_examples(group: click.Group, path: str = "") -> None:
    """Give `group` and every command under it its examples."""
    if path in EXAMPLES:
        group.epilog = _epilog(EXAMPLES[path])
    for name, command in group.commands.items():
        sub = f"{path} {name}".strip()
        if isinstance(command, click.Group):
            add_examples(command, sub)
        elif sub in EXAMPLES:
            command.epilog = _epilog(EXAMPLES[sub])


def _epilog(lines: tuple[str, ...]) -> str:
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
