"""Renders the follow-ups of real introductions (the corpus's dev split) as the dispatcher would
build them: parse → classify → record (plan) → dispatch.build_draft → render.

Each introduction is read twice, as two owners would see it:
- `introducer`: the owner wrote it. The last party is taken as not addressed (the owner wrote to
  the others and BCC'd refmail), so a double-sided introduction is planned for them; a call
  reminder stands in for it too.
- `party`: the owner is the first labelled party, so the introducer gets a thank-you.
Both views show the first check-in to each party. Two introductions by the owner sharing a party
make a merged check-in (no owner in the dev split was introduced twice by one person, so there is
no real merged thank-you: tests/test_render.py covers its wording).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from refmail import dispatch, outbox, record
from refmail import models as m
from refmail.config import Account, FollowUps
from refmail.detect import Classification, Identity, classify
from refmail.parse import ParsedMessage, parse_message
from refmail.render import Renderer

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REFMAIL = "refmail@golden.invalid"
CASES = 24  # dev introductions rendered: those written by people, then list mail, by name
# A party of two introductions by one introducer: their check-ins fold into one message. (No
# owner in the dev split was introduced twice by one person, so no real merged thank-you.)
MERGED = ("list-cgroups-2e6dab1f", "list-cgroups-6658732e", "tj@kernel.org", "longman@redhat.com")


def dev_intros(corpus: Path) -> list[dict[str, object]]:
    labels = json.loads((corpus / "labels.json").read_text())
    chosen = [e for e in labels if e.get("split") == "dev" and e.get("is_intro")]
    return sorted(chosen, key=lambda e: (str(e["file"]).startswith("intro/list-"), str(e["file"])))


def golden_texts(corpus: Path) -> Iterator[tuple[str, str]]:
    """(golden file name, its text) for every case."""
    entries = dev_intros(corpus)
    for entry in entries[:CASES]:
        stem = Path(str(entry["file"])).stem
        parsed = parse_message((corpus / str(entry["file"])).read_bytes())
        parties = [str(p) for p in entry["parties"]]  # type: ignore[attr-defined]
        for view, owner in (("introducer", str(entry["introducer"])), ("party", parties[0])):
            yield f"{stem}.{view}.txt", _view(view, [parsed], owner)
    first, second, owner, party = MERGED
    merged = [e for e in entries if Path(str(e["file"])).stem.startswith((first, second))]
    parsed_all = [parse_message((corpus / str(e["file"])).read_bytes()) for e in merged]
    yield "merged-check-in.txt", _view("introducer", parsed_all, owner, only=("check_in", party))


def _view(
    view: str, messages: list[ParsedMessage], owner: str, only: tuple[str, str] | None = None
) -> str:
    engine = create_engine("sqlite://")
    m.Base.metadata.create_all(engine)
    account = Account("golden", REFMAIL, (owner,), _name_of(owner, messages))
    identity = Identity(owners=frozenset({owner}), refmail=frozenset({REFMAIL}))
    now = max(_date(msg) for msg in messages) + timedelta(hours=1)
    out: list[str] = []
    with Session(engine) as session:
        settings = record.ensure_account(session, account, now)
        for msg in messages:
            verdict = classify(msg, identity)
            if verdict.kind != "introduction":
                out.append(f"(with owner {owner}: not an introduction: {verdict.reason})\n")
                continue
            if view == "introducer":
                verdict = _last_party_not_addressed(verdict)
            at = _date(msg) + timedelta(hours=1)  # each synced an hour after it was written
            row = record.record_message(session, settings.id, "INBOX", 0, msg, verdict, at)
            record.record_introduction(session, row, msg, verdict, account, FollowUps(), at)
        rows = session.scalars(select(m.FollowUp).order_by(m.FollowUp.id)).all()
        chosen = [r for r in rows if r.step == 0]
        if only:
            chosen = [r for r in chosen if (r.kind, r.contact.email) == only]
            outbox.merge(session, chosen[0], max(r.due_at for r in chosen))
            chosen = chosen[:1]
        calls = [
            outbox.call_instead(session, r, "call", "prefers the phone", now)
            for r in chosen
            if r.kind in ("double_intro", "thank_you")
        ]
        session.flush()
        renderer = Renderer()
        for row in [*chosen, *calls]:
            draft = dispatch.build_draft(session, row, account)
            out.append(_show(renderer.render(draft, now)))
    engine.dispose()
    return "\n".join(out)


def _last_party_not_addressed(verdict: Classification) -> Classification:
    parties = verdict.parties
    if len(parties) < 2 or not all(p.reached for p in parties):
        return verdict
    last = dataclasses.replace(parties[-1], reached=False)
    return dataclasses.replace(verdict, parties=(*parties[:-1], last))


def _name_of(address: str, messages: list[ParsedMessage]) -> str:
    for msg in messages:
        env = msg.envelope
        for a in (*env.recipients, *([msg.sender] if msg.sender else [])):
            if a.email == address and a.name:
                return a.name
    return ""


def _date(msg: ParsedMessage) -> datetime:
    if msg.date is not None and msg.date.tzinfo is not None:
        return msg.date
    return datetime(2026, 1, 5, 9, tzinfo=UTC)


def _show(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return f"=== To: {msg['To']}\nSubject: {msg['Subject']}\n\n{text}"
