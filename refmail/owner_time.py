"""Times as the owner reads and types them: shown in their zone with the zone named (ISO-8601
with its offset in JSON), and read as ISO-8601 (no zone: theirs) or relative (+3d, +12h, +30m)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from refmail.patterns import Lazy

RELATIVE = Lazy(r"\+(\d+)([dhm])")  # compiled on first use: only a typed time needs it
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def show(value: datetime | None, zone: tzinfo, as_json: bool = False) -> str:
    """'2026-11-27 10:00 CET' for a person, '2026-11-27T10:00+01:00' for a program.

    >>> from datetime import UTC
    >>> from zoneinfo import ZoneInfo
    >>> show(datetime(2026, 11, 27, 9, tzinfo=UTC), ZoneInfo("Europe/Berlin"))
    '2026-11-27 10:00 CET'
    """
    if value is None:
        return ""
    local = value.astimezone(zone)
    return local.isoformat(timespec="minutes") if as_json else local.strftime("%Y-%m-%d %H:%M %Z")


def read(text: str, zone: tzinfo, now: datetime) -> datetime:
    """ISO-8601 (a time without a zone is in `zone`), or +N d/h/m from `now`; ValueError else.

    >>> from datetime import UTC
    >>> read("+2d", UTC, datetime(2030, 1, 1, tzinfo=UTC)).isoformat()
    '2030-01-03T00:00:00+00:00'
    """
    relative = RELATIVE().fullmatch(text.strip())
    if relative:
        return now + timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=zone)
