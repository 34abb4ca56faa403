"""The one table of follow-up kinds: what each kind is, read by everything that plans, decides,
renders, routes or stores a follow-up.

A kind's name is the same string in the outbox (`follow_up.kind`), the config
(`[accounts.per_kind]`, `[caps] merge`), the send log and the template file names
(`templates/email/<name>.txt.j2`). Adding a kind touches this table, the planner (plan.py), its
two templates, refmail.toml.example and one migration (the CHECK constraint on follow_up.kind,
which tests/test_kinds.py compares with this table).

>>> get("check_in").courtesy
True
>>> [k.name for k in KINDS if k.to_owner]
['call_task', 'reward_task']
"""

from __future__ import annotations

from refmail.classes import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of follow-up and the practice it follows."""

    name: str
    essential: bool  # still sent to contacts who asked for essential mail only
    courtesy: bool  # light touch: waits after human contact, skipped when stale, ended by a reply
    merge: bool  # by default, pending ones to one person fold into one message ([caps] merge)
    to_owner: bool  # addressed to the owner (a reminder about a contact), never to the contact
    repeats: bool  # comes in steps; a contact at level "reduced" gets the first step only
    # what a call reminder replacing it asks the owner to do: {person} (whom to call), {others}
    # (the other parties), {introducer}; a [...] part is left out when its value is empty
    call_reason: str
    summary: str


KINDS: tuple[Kind, ...] = (
    Kind(
        "thank_you",
        essential=True,
        courtesy=False,
        merge=True,
        to_owner=False,
        repeats=False,
        call_reason="thank {person} for the introduction[ to {others}]",
        summary="thanks whoever referred someone to the owner",
    ),
    Kind(
        "double_intro",
        essential=True,
        courtesy=False,
        merge=False,
        to_owner=False,
        repeats=False,
        call_reason="introduce {person}[ to {others}]",
        summary="gives a party who was not on the introduction the other's details and context",
    ),
    Kind(
        "check_in",
        essential=False,
        courtesy=True,
        merge=True,
        to_owner=False,
        repeats=True,
        call_reason="ask {person} how it went[ with {others}]",
        summary="asks each party, days later, how the introduction went",
    ),
    Kind(
        "conversion_thanks",
        essential=True,
        courtesy=False,
        merge=True,
        to_owner=False,
        repeats=False,
        call_reason="tell {person} that the introduction[ to {others}] became work, and thank them",
        summary="thanks the referrer when a referral becomes business",
    ),
    Kind(
        "call_task",
        essential=True,
        courtesy=False,
        merge=False,
        to_owner=True,
        repeats=False,
        call_reason="follow up on the introduction[ to {others}]",
        summary="reminds the owner to call a contact who prefers the phone",
    ),
    Kind(
        "reward_task",
        essential=True,
        courtesy=False,
        merge=False,
        to_owner=True,
        repeats=False,
        call_reason="send the reward you promised for a referral that became work",
        summary="reminds the owner to send a referrer the reward promised for a conversion",
    ),
)

NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
COURTESY: tuple[str, ...] = tuple(k.name for k in KINDS if k.courtesy)
CALL_TASK = "call_task"  # the kind policy's "call" decision creates in place of an email

_BY_NAME = {k.name: k for k in KINDS}


def get(name: str) -> Kind:
    """The kind called `name`; KeyError for a name that is not in the table."""
    return _BY_NAME[name]
