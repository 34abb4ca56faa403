"""The owner's report: introductions and their outcomes, conversions per month, referral
partners and their words, suggested conversions, notes, and what is due next.

`build` reads the database into a `Report` (plain dataclasses); `text`, `as_json`, `csv_tables`
and `svg_chart` present the same Report, so the terminal and the owner's page cannot disagree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from refmail import models as m
from refmail import outcomes, partners

MONTHS_SHOWN = 12
BAR_WIDTH = 30  # characters of the widest bar in the text chart
DUE_AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    introductions: int
    converted: int


@dataclass(frozen=True)
class IntroRow:
    id: int
    date: str
    introducer: str
    parties: str
    status: str
    value: float | None
    follow_ups: str  # e.g. "2 open, 3 done"
    subject: str


@dataclass(frozen=True)
class PartnerRow:
    email: str
    name: str
    referrals: int
    connected: int
    converted: int
    value: float
    last_thanked: str
    last_rewarded: str
    rewards_owed: int
    expectations: str
    quotes: str


@dataclass(frozen=True)
class SuggestionRow:
    id: int
    introduction: int
    who: str
    evidence: str
    text: str


@dataclass(frozen=True)
class DueRow:
    id: int
    kind: str
    recipient: str
    due: str
    why: str


@dataclass(frozen=True)
class Totals:
    introductions: int
    connected: int
    converted: int
    value: float
    pending: int
    suggestions: int


@dataclass(frozen=True)
class Report:
    generated_at: str
    totals: Totals
    months: tuple[Month, ...]
    introductions: tuple[IntroRow, ...]
    partners: tuple[PartnerRow, ...]
    suggestions: tuple[SuggestionRow, ...]
    notes: tuple[str, ...]
    due: tuple[DueRow, ...]


def _day(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else ""


def build(session: Session, owners: frozenset[str], now: datetime) -> Report:
    intros = session.scalars(
        select(m.Introduction)
        .options(selectinload(m.Introduction.parties).selectinload(m.IntroductionParty.contact))
        .order_by(m.Introduction.id.desc())
    ).all()
    counted = [i for i in intros if i.status != "pending"]
    suggestions = outcomes.open_suggestions(session)
    totals = Totals(
        introductions=len(counted),
        connected=sum(i.status in partners.REACHED for i in counted),
        converted=sum(i.status == "converted" for i in counted),
        value=sum(i.value or 0.0 for i in counted if i.status == "converted"),
        pending=len(intros) - len(counted),
        suggestions=len(suggestions),
    )
    return Report(
        generated_at=now.astimezone(UTC).isoformat(timespec="seconds"),
        totals=totals,
        months=_months(session, counted, now),
        introductions=tuple(_intro_row(session, i) for i in intros),
        partners=tuple(_partner_row(p) for p in partners.partners(session, owners)),
        suggestions=tuple(
            SuggestionRow(
                s.id,
                s.introduction_id,
                s.contact.name or s.contact.email,
                s.evidence,
                outcomes.suggestion_text(s),
            )
            for s in suggestions
        ),
        notes=tuple(
            f"{_day(n.at)} {n.text}"
            for n in session.scalars(select(m.OwnerNote).order_by(m.OwnerNote.id.desc()).limit(20))
        ),
        due=_due(session, now),
    )


def _months(session: Session, intros: list[m.Introduction], now: datetime) -> tuple[Month, ...]:
    """Introductions by the month they were made; conversions by the month they converted."""
    made: dict[str, int] = {}
    for intro in intros:
        key = (intro.message.sent_at or intro.created_at).astimezone(UTC).strftime("%Y-%m")
        made[key] = made.get(key, 0) + 1
    won: dict[str, int] = {}
    converted = {i.id: i for i in intros if i.status == "converted"}
    first: dict[int, datetime] = {}
    for change in session.scalars(
        select(m.IntroductionChange)
        .where(m.IntroductionChange.new_status == "converted")
        .order_by(m.IntroductionChange.at)
    ):
        first.setdefault(change.introduction_id, change.at)
    for intro_id, intro in converted.items():
        key = first.get(intro_id, intro.updated_at).astimezone(UTC).strftime("%Y-%m")
        won[key] = won.get(key, 0) + 1
    keys = _last_months(now, MONTHS_SHOWN)
    older = sorted(k for k in {*made, *won} if k < keys[0])
    return tuple(Month(k, made.get(k, 0), won.get(k, 0)) for k in [*older, *keys])


def _last_months(now: datetime, count: int) -> list[str]:
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _intro_row(session: Session, intro: m.Introduction) -> IntroRow:
    states = [
        f.state
        for f in session.scalars(select(m.FollowUp).where(m.FollowUp.introduction_id == intro.id))
    ]
    open_ = sum(s in m.OPEN_STATES for s in states)
    done = sum(s == "delivered" for s in states)
    return IntroRow(
        id=intro.id,
        date=_day(intro.message.sent_at or intro.created_at),
        introducer=intro.introducer.email,
        parties=", ".join(p.contact.email for p in intro.parties),
        status=intro.status,
        value=intro.value,
        follow_ups=f"{open_} open, {done} done",
        subject=intro.message.subject[:120],
    )


def _partner_row(p: partners.PartnerView) -> PartnerRow:
    return PartnerRow(
        email=p.email,
        name=p.name,
        referrals=p.referrals,
        connected=p.connected,
        converted=p.converted,
        value=p.value,
        last_thanked=_day(p.last_thanked),
        last_rewarded=_day(p.last_rewarded),
        rewards_owed=p.rewards_owed,
        expectations=p.expectations,
        quotes=" | ".join(p.quotes),
    )


def _due(session: Session, now: datetime) -> tuple[DueRow, ...]:
    rows = session.scalars(
        select(m.FollowUp)
        .where(m.FollowUp.state.in_(m.OPEN_STATES), m.FollowUp.due_at <= now + DUE_AHEAD)
        .order_by(m.FollowUp.due_at, m.FollowUp.id)
        .limit(50)
    )
    return tuple(
        DueRow(f.id, f.kind, f.contact.email, _day(f.due_at), f.reason or f.state) for f in rows
    )


# --- presenting it -------------------------------------------------------------------------


def as_json(report: Report) -> dict[str, Any]:
    return asdict(report)


TABLES = ("introductions", "partners", "suggestions", "due", "months")


def csv_table(report: Report, name: str) -> str:
    """One of the report's tables as CSV (a header row, then one row per item)."""
    if name not in TABLES:
        raise KeyError(name)
    rows = [asdict(r) for r in getattr(report, name)]
    out = io.StringIO()
    columns = list(rows[0]) if rows else _fields(name)
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return out.getvalue()


def _fields(name: str) -> list[str]:
    kinds: dict[str, Any] = {
        "introductions": IntroRow,
        "partners": PartnerRow,
        "suggestions": SuggestionRow,
        "due": DueRow,
        "months": Month,
    }
    return [f.name for f in fields(kinds[name])]


def _csv_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def chart_lines(months: tuple[Month, ...]) -> list[str]:
    """A text chart: per month, introductions (#) and conversions (*)."""
    top = max((mo.introductions for mo in months), default=0) or 1
    lines = []
    for mo in months:
        intro_bar = "#" * round(mo.introductions * BAR_WIDTH / top)
        won_bar = "*" * round(mo.converted * BAR_WIDTH / top)
        lines.append(f"{mo.month}  {intro_bar:<{BAR_WIDTH}} {mo.introductions:>3} introduced")
        lines.append(f"{'':7}  {won_bar:<{BAR_WIDTH}} {mo.converted:>3} converted")
    return lines


def text(report: Report) -> str:
    t = report.totals
    out = [
        f"introductions {t.introductions}  connected {t.connected}  converted {t.converted}  "
        f"value {t.value:g}  pending asks {t.pending}  suggestions {t.suggestions}",
        "",
        "per month (# introduced, * converted):",
        *chart_lines(report.months),
        "",
        "introductions:",
        *_table(
            report.introductions,
            ["id", "date", "introducer", "parties", "status", "value", "follow_ups"],
        ),
        "",
        "partners:",
        *_table(
            report.partners,
            [
                "email",
                "referrals",
                "connected",
                "converted",
                "value",
                "last_thanked",
                "last_rewarded",
                "expectations",
            ],
        ),
    ]
    quoted = [p for p in report.partners if p.quotes]
    if quoted:
        out += ["", "what partners said:"]
        out += [f"  {p.email}: {p.quotes}" for p in quoted]
    out += ["", "suggested conversions (confirm with the command shown):"]
    out += [f"  #{s.id} {s.text}" for s in report.suggestions] or ["  (none)"]
    if report.notes:
        out += ["", "notes:", *(f"  {n}" for n in report.notes)]
    out += ["", "due next:"]
    out += _table(report.due, ["id", "kind", "recipient", "due", "why"])
    return "\n".join(out)


def plain_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows of dicts as an aligned text table."""
    return "\n".join(line[2:] for line in _lines(rows, columns))


def _table(rows: tuple[Any, ...], columns: list[str]) -> list[str]:
    return _lines([asdict(r) for r in rows], columns)


def _lines(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [min(max(len(c), *(len(r[i]) for r in cells)), 40) for i, c in enumerate(columns)]
    head = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return ["  " + head.rstrip(), *("  " + b.rstrip() for b in body)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def svg_chart(months: tuple[Month, ...], width: int = 640, height: int = 220) -> str:
    """Introductions and conversions per month as an inline SVG bar chart (no script, no
    external resources); labels are escaped."""
    pad, base = 30, height - 30
    top = max((mo.introductions for mo in months), default=0) or 1
    slot = (width - 2 * pad) / max(len(months), 1)
    bar = max(slot / 2 - 2, 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title" class="chart"><title id="chart-title">Introductions '
        "and conversions per month</title>",
        f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="#888"/>',
    ]
    for i, mo in enumerate(months):
        x = pad + i * slot
        for j, (count, colour, what) in enumerate(
            ((mo.introductions, "#4a7bd0", "introduced"), (mo.converted, "#2e9d5b", "converted"))
        ):
            h = (base - pad) * count / top
            parts.append(
                f'<rect class="bar" x="{x + j * (bar + 2):.1f}" y="{base - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(mo.month)}: {count} {what}</title></rect>"
            )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{base + 16}" font-size="10" text-anchor="middle">'
            f"{escape(mo.month[2:])}</text>"
        )
    parts.append(
        f'<rect x="{pad}" y="6" width="10" height="10" fill="#4a7bd0"/>'
        f'<text x="{pad + 14}" y="15" font-size="12">introduced</text>'
        f'<rect x="{pad + 90}" y="6" width="10" height="10" fill="#2e9d5b"/>'
        f'<text x="{pad + 104}" y="15" font-size="12">converted (most in a month: {top})</text>'
        "</svg>"
    )
    return "".join(parts)
