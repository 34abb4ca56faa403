"""Closing the referral loop, through a real sync of a local Maildir on SQLite and PostgreSQL:
outcomes set by the owner's mail (and refused from anyone else's), the conversion thank-you and
reward, suggested conversions that send nothing, opt-in asks, partners, and forgetting a person.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import String, Text, func, select

from refmail import models as m
from refmail import optin, outcomes, partners, records, report
from refmail.db import SessionFactory, transaction
from refmail.dispatch import build_draft
from refmail.render import Renderer
from refmail.replies import answer_intent
from tests.support.loop import REFERRAL_ID, RULES, referral, sync
from tests.support.mailbox import OWNER, REFMAIL
from tests.support.maildirs import CLOCK, account


def owner_mail(to: str, subject: str, body: str, n: str, extra: str = "") -> bytes:
    return (
        f"From: Olivia <{OWNER}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\nMessage-ID: <owner-{n}@example.com>\r\n"
        f"{extra}\r\n{body}\r\n"
    ).encode()


def follow_ups(factory: SessionFactory) -> list[tuple[str, str, str]]:
    with factory() as session:
        return [
            (f.kind, f.contact.email, f.state)
            for f in session.scalars(select(m.FollowUp).order_by(m.FollowUp.id))
        ]


def intro_status(factory: SessionFactory, n: int = 1) -> tuple[str, float | None]:
    with factory() as session:
        intro = session.scalar(
            select(m.Introduction)
            .join(m.MessageRecord)
            .where(m.MessageRecord.message_id == f"<referral-{n}@partnerlaw.example>")
        )
        assert intro is not None
        return intro.status, intro.value


# --- outcomes by mail --------------------------------------------------------------------


def test_the_owner_replying_at_plus_won_converts_and_plans_thanks_with_the_reward(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral()])
    won = owner_mail(
        "olivia+refmail+won@example.com",
        "Re: Introduction: Olivia, meet Carl (1)",
        "Carl signed today.\r\nrefmail: converted 1,200 retainer for the year",
        "won",
        f"In-Reply-To: {REFERRAL_ID}\r\nReferences: {REFERRAL_ID}\r\n",
    )
    done = sync(factory, root, [won])
    assert any("open → converted" in n for n in done.notices), done.notices
    assert intro_status(factory) == ("converted", 1200.0)
    kinds_planned = [(k, who) for k, who, state in follow_ups(factory) if state == "planned"]
    assert ("conversion_thanks", "pat@partnerlaw.example") in kinds_planned
    assert ("reward_task", "pat@partnerlaw.example") in kinds_planned
    with factory() as session:
        change = session.scalars(select(m.IntroductionChange)).one()
        assert (change.source, change.old_status, change.new_status) == (
            "mail",
            "open",
            "converted",
        )
        assert change.note == "retainer for the year" and "+won" in change.reason
        thanks = session.scalar(select(m.FollowUp).where(m.FollowUp.kind == "conversion_thanks"))
        assert thanks is not None
        account_settings = account(root)
        text = (
            Renderer().render(build_draft(session, thanks, account_settings), CLOCK()).as_string()
        )
        assert "Carl Chen" in text and "a bottle of champagne is on its way" in text
        task = session.scalar(select(m.FollowUp).where(m.FollowUp.kind == "reward_task"))
        assert task is not None
        todo = Renderer().render(build_draft(session, task, account_settings), CLOCK())
        assert todo["To"] == "Olivia <olivia@example.com>" or OWNER in todo["To"]
        assert "champagne" in todo.get_content()
        assert session.scalars(select(m.Reward.state)).all() == ["promised"]
    # the same command again (a copy in Sent) changes nothing more
    again = sync(factory, root, [won])
    assert again.duplicates == 1
    assert sum(k == "conversion_thanks" for k, _, _ in follow_ups(factory)) == 1


def test_a_stranger_cannot_command_refmail_and_a_body_line_works_for_the_owner(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral()])
    forged = (
        "From: Mallory <mallory@evil.example>\r\nTo: olivia+refmail+won@example.com\r\n"
        f"Cc: {OWNER}\r\n"
        f"Subject: Re: Introduction\r\nIn-Reply-To: {REFERRAL_ID}\r\n"
        "Message-ID: <forged@evil.example>\r\n\r\nrefmail: converted\r\n"
    ).encode()
    report_ = sync(factory, root, [forged])
    assert any("ignored" in n for n in report_.notices)
    assert intro_status(factory)[0] == "open"
    lost = owner_mail(
        f"{REFMAIL}",
        "Fwd: Introduction: Olivia, meet Carl (1)",
        "refmail: lost — they went with someone local",
        "lost",
    )
    sync(factory, root, [lost])
    assert intro_status(factory)[0] == "not_a_fit"
    assert all(k != "conversion_thanks" for k, _, _ in follow_ups(factory))
    assert all(state != "planned" for k, _, state in follow_ups(factory) if k == "check_in")


def test_forwarding_the_partys_mail_to_plus_won_finds_the_introduction_by_its_people(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral(n=1), referral(n=2)])
    forward = owner_mail(
        "olivia+refmail+won@example.com",
        "Fwd: Signed proposal",
        "Done!\r\n\r\n---------- Forwarded message ---------\r\n"
        "From: Carl Chen <carl2@chenconsulting.example>\r\nDate: Fri, 20 Nov 2026 08:00\r\n"
        "Subject: Signed proposal\r\nTo: Olivia <olivia@example.com>\r\n\r\n"
        "Here it is, signed.\r\n",
        "fwd",
    )
    sync(factory, root, [forward])
    assert intro_status(factory, 1)[0] == "open"
    assert intro_status(factory, 2)[0] == "converted"


def test_a_command_that_names_no_known_introduction_changes_nothing(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral()])
    lost = [
        owner_mail(REFMAIL, "Something else entirely", "refmail: converted", "x1"),
        owner_mail(REFMAIL, "Re: hi", "refmail: converted #999", "x2"),
        owner_mail("olivia+refmail+won@example.com", "", "", "x3"),
        owner_mail("olivia+refmail+won@example.com", "Re: " * 500 + "x", "\x00" * 100, "x4"),
    ]
    done = sync(factory, root, lost)
    assert sum("nothing changed" in n for n in done.notices) == 4, done.notices
    assert done.malformed == 0
    assert intro_status(factory) == ("open", None)
    with factory() as session:
        assert session.scalars(select(m.IntroductionChange)).all() == []
        kinds = session.scalars(select(m.MessageRecord.kind).where(m.MessageRecord.rule != ""))
        assert sorted(kinds) == ["command"] * 4 + ["introduction"]


def test_no_reward_for_a_partner_whose_override_is_empty(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral("sam@stingy.example")])
    with transaction(factory) as session:
        intro = session.scalars(select(m.Introduction)).one()
        outcomes.set_outcome(
            session, intro, "converted", RULES, CLOCK(), source="owner", reason="t"
        )
    planned = [k for k, _, _ in follow_ups(factory)]
    assert "conversion_thanks" in planned and "reward_task" not in planned


# --- suggestions ---------------------------------------------------------------------------


def test_an_invoice_between_the_owner_and_the_party_is_suggested_and_nothing_is_planned(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral()])
    before = follow_ups(factory)
    invoice = (
        f"From: Olivia <{OWNER}>\r\nTo: Carl Chen <carl1@chenconsulting.example>\r\n"
        "Subject: Your first month\r\nDate: Tue, 03 Mar 2026 09:00:00 +0000\r\n"
        "Message-ID: <invoice-1@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nHi Carl, attached as agreed.\r\n--b\r\n"
        "Content-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="Invoice-0042.pdf"\r\n\r\nJVBERi0=\r\n--b--\r\n'
    ).encode()
    lunch = owner_mail("Carl Chen <carl1@chenconsulting.example>", "Lunch", "Noon?", "lunch")
    done = sync(factory, root, [invoice, lunch])
    assert follow_ups(factory) == before  # nothing is sent, or planned, on a guess
    assert intro_status(factory)[0] == "open"
    with factory() as session:
        rows = outcomes.open_suggestions(session)
        assert len(rows) == 1
        text = outcomes.suggestion_text(rows[0])
        built = report.build(session, frozenset({OWNER}), CLOCK())
    assert text.startswith("Carl Chen may have become a client: invoice")
    assert "sent 3 Mar" in text and f"refmail intros outcome {rows[0].introduction_id}" in text
    assert [s.text for s in built.suggestions] == [text]
    assert text in done.notices


# --- opt-in --------------------------------------------------------------------------------


def ask() -> bytes:
    return owner_mail(
        "Dana Diaz <dana@diaz.example>",
        "A possible introduction",
        "Hi Dana,\r\n\r\nWould you like an introduction to Leo Lane (leo@lane.example)? "
        "Leo runs payroll for small agencies and is looking for a designer.\r\n",
        "ask",
        "Delivered-To: olivia+refmail+ask@example.com\r\n",
    )


def answer(text: str, n: str) -> bytes:
    return (
        f"From: Dana Diaz <dana@diaz.example>\r\nTo: Olivia <{OWNER}>\r\n"
        "Subject: Re: A possible introduction\r\nIn-Reply-To: <owner-ask@example.com>\r\n"
        f"References: <owner-ask@example.com>\r\nMessage-ID: <dana-{n}@diaz.example>\r\n"
        f"\r\n{text}\r\n"
    ).encode()


def test_an_ask_then_yes_plans_the_double_intro_to_both(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    asked = sync(factory, root, [ask()])
    assert any("pending" in n for n in asked.notices), asked.notices
    assert follow_ups(factory) == []
    with factory() as session:
        intro = session.scalars(select(m.Introduction)).one()
        assert intro.status == "pending"
        assert {p.contact.email: p.reached for p in intro.parties} == {
            "dana@diaz.example": True,
            "leo@lane.example": False,
        }
        assert session.scalar(select(m.Contact.name).where(m.Contact.email == "leo@lane.example"))
    sync(factory, root, [answer("Yes, happy to! Thanks Olivia.", "yes")])
    doubles = {who for k, who, state in follow_ups(factory) if k == "double_intro"}
    assert doubles == {"dana@diaz.example", "leo@lane.example"}


def test_with_call_first_a_yes_plans_a_call_to_the_other_person_before_the_intros(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [ask()])
    with transaction(factory) as session:
        intro = session.scalars(select(m.Introduction)).one()
        said = answer_intent("Yes please!")
        assert said is not None
        optin.answer(session, intro, said, replace(RULES, call_first=True), CLOCK())
    with factory() as session:
        rows = session.scalars(select(m.FollowUp).order_by(m.FollowUp.due_at, m.FollowUp.id))
        planned = [(f.kind, f.contact.email, f.due_at - CLOCK()) for f in rows][:3]
        call = session.scalars(select(m.FollowUp).where(m.FollowUp.kind == "call_task")).one()
        draft = build_draft(session, call, account(root))
    assert planned[0] == ("call_task", "leo@lane.example", timedelta(0))
    assert {p[:2] for p in planned[1:]} == {
        ("double_intro", "dana@diaz.example"),
        ("double_intro", "leo@lane.example"),
    }
    assert all(p[2] == timedelta(days=1) for p in planned[1:])
    assert draft.call_reason == "introduce Leo to Dana Diaz"  # the call names whom to whom


def test_an_ask_answered_no_plans_nothing_and_tells_the_owner(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [ask()])
    done = sync(factory, root, [answer("No thanks, we already have someone for payroll.", "no")])
    assert follow_ups(factory) == []
    with factory() as session:
        assert session.scalars(select(m.Introduction.status)).one() == "closed"
        notes = session.scalars(select(m.OwnerNote.text)).all()
    assert len(notes) == 1 and "said no" in notes[0] and notes[0] in done.notices


def test_an_unanswered_ask_lapses_and_the_owner_is_told(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [ask()])
    with transaction(factory) as session:
        assert optin.expire(session, timedelta(days=14), CLOCK() + timedelta(days=13)) == []
        lapsed = optin.expire(session, timedelta(days=14), CLOCK() + timedelta(days=15))
    assert len(lapsed) == 1 and "did not answer" in lapsed[0]
    assert follow_ups(factory) == []


# --- partners ------------------------------------------------------------------------------


def test_partner_numbers_quotes_and_expectations_come_from_real_introductions(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    sync(factory, root, [referral(n=1), referral(n=2)])
    with transaction(factory) as session:
        first, second = session.scalars(select(m.Introduction).order_by(m.Introduction.id))
        outcomes.set_outcome(
            session, first, "converted", RULES, CLOCK(), source="owner", reason="t", value=500.0
        )
        outcomes.set_outcome(
            session, second, "connected", RULES, CLOCK(), source="owner", reason=""
        )
        partners.set_expectations(session, "pat@partnerlaw.example", "refers small firms", CLOCK())
    with transaction(factory) as session:
        (pat,) = partners.partners(session, frozenset({OWNER}))
        sent = partners.reward_sent(session, "pat@partnerlaw.example", CLOCK())
    assert (pat.referrals, pat.connected, pat.converted, pat.value) == (2, 2, 1, 500.0)
    assert pat.rewards_owed == 1 and len(sent) == 1
    assert pat.expectations == "refers small firms"
    # until detect's per-introduction about_owner lands, the quote is the referral's own sentence
    with factory() as session:
        contexts = set(session.scalars(select(m.Introduction.context)))
    assert pat.quotes and set(pat.quotes) <= contexts and "Carl" in pat.quotes[0]
    assert [s for k, _, s in follow_ups(factory) if k == "reward_task"] == ["skipped"]


# --- forget --------------------------------------------------------------------------------


def all_text(factory: SessionFactory) -> list[tuple[str, str, str]]:
    """Every text value in every table: (table, column, value)."""
    out = []
    with factory() as session:
        for table in m.Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String | Text):
                    for value in session.execute(select(column)).scalars():
                        if value:
                            out.append((table.name, column.name, str(value)))
    return out


def test_export_then_forget_leaves_no_trace_and_plans_nothing_again(
    factory: SessionFactory, tmp_path: Path
) -> None:
    root = tmp_path / "md"
    carl = "carl1@chenconsulting.example"
    chat = (
        f"From: Carl Chen <{carl}>\r\nTo: Olivia <{OWNER}>\r\nSubject: Re: Introduction\r\n"
        f"In-Reply-To: {REFERRAL_ID}\r\nReferences: {REFERRAL_ID}\r\n"
        "Message-ID: <carl-reply@chenconsulting.example>\r\n\r\nGreat to meet you, Olivia.\r\n"
    ).encode()
    carl_refers = (
        f"Delivered-To: {OWNER}\r\nFrom: Carl Chen <{carl}>\r\nTo: Olivia <{OWNER}>\r\n"
        "Cc: Zoe Zhang <zoe@zhang.example>\r\nSubject: Introduction: Olivia, meet Zoe\r\n"
        "Date: Thu, 19 Nov 2026 11:00:00 +0000\r\nMessage-ID: <carl-refers@chen.example>\r\n"
        "\r\nOlivia, meet Zoe. Zoe needs a bookkeeper too, so I wanted to connect you two.\r\n"
    ).encode()
    invoice = owner_mail(f"Carl Chen <{carl}>", "Invoice 1", "The invoice is attached.", "inv")
    sync(factory, root, [referral(), carl_refers])
    sync(factory, root, [chat, invoice])  # a reply is known once the referral is recorded
    with transaction(factory) as session:
        intro = session.scalars(select(m.Introduction).order_by(m.Introduction.id)).first()
        assert intro is not None
        outcomes.set_outcome(
            session, intro, "converted", RULES, CLOCK(), source="owner", reason="Carl Chen signed"
        )
        intro.context = f"Carl Chen ({carl}) needs a bookkeeper"
        outcomes.note_owner(session, intro.account_id, None, "Call Carl Chen about March", CLOCK())
        session.flush()
        contact = records.find_contact(session, carl)
        held = {
            "follow_ups": m.FollowUp,
            "changes": m.ContactChange,
            "suggestions": m.Suggestion,
        }
        counts = {
            key: session.scalar(
                select(func.count()).select_from(model).where(model.contact_id == contact.id)
            )
            for key, model in held.items()
        }
        exported = records.export(session, carl)
    assert exported["contact"]["email"] == carl and exported["contact"]["name"] == "Carl Chen"
    assert {key: len(exported[key]) for key in held} == counts
    assert counts["suggestions"] == 1 and counts["follow_ups"] >= 3
    assert len(exported["introductions"]) == 2  # one as a party, one he made
    assert {"<carl-reply@chenconsulting.example>", "<carl-refers@chen.example>"} <= {
        msg["message_id"] for msg in exported["messages"]
    }
    assert exported["changes"] and exported["introductions"][0]["outcome_changes"]
    assert all(e["events"] for e in exported["follow_ups"])
    assert any("carl chen" in v.lower() for _, _, v in all_text(factory))

    with transaction(factory) as session:
        records.forget(session, carl, CLOCK())
    leftovers = [
        (t, c, v) for t, c, v in all_text(factory) if carl in v.lower() or "carl chen" in v.lower()
    ]
    assert leftovers == []
    with factory() as session:
        assert session.scalar(select(func.count(m.Suppression.id))) == 1
        assert records.is_suppressed(session, carl)
        statuses = session.scalars(select(m.Introduction.status)).all()
        assert statuses == ["converted"]  # Pat's stays; the one Carl made is gone
        assert session.scalar(select(m.Contact.id).where(m.Contact.email == "zoe@zhang.example"))

    again = (
        f"Delivered-To: {OWNER}\r\nFrom: Eve Example <eve@elsewhere.example>\r\n"
        f"To: Olivia <{OWNER}>\r\nCc: Carl Chen <{carl}>\r\n"
        "Subject: Introduction: Olivia, meet Carl\r\nDate: Thu, 19 Nov 2026 11:00:00 +0000\r\n"
        "Message-ID: <eve-1@elsewhere.example>\r\n\r\nOlivia, meet Carl. Carl needs a bookkeeper, "
        "I wanted to connect you two.\r\n"
    ).encode()
    sync(factory, root, [again])
    with factory() as session:
        contacts = session.scalars(select(m.Contact.email)).all()
        recipients = session.scalars(
            select(m.Contact.email).join(m.FollowUp, m.FollowUp.contact_id == m.Contact.id)
        ).all()
    assert carl not in contacts and carl not in recipients
