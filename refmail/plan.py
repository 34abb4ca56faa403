"""Turns a detected introduction into the follow-ups refmail should prepare, and when.

Pure: it takes the facts and the cadence and returns rows-to-be; the caller stores them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from refmail.classes import dataclass
from refmail.config import FollowUps


@dataclass(frozen=True)
class IntroFacts:
    """What planning needs to know about one introduction."""

    shape: str
    introducer: str
    introducer_is_owner: bool
    parties: tuple[tuple[str, bool], ...]  # (address, reached directly)
    at: datetime  # when the introduction was made


@dataclass(frozen=True)
class PlannedFollowUp:
    """A follow-up to store: kind, to whom, which step of its kind, and when it is due."""

    kind: str
    recipient: str
    step: int
    due_at: datetime
    about: tuple[str, ...] = ()  # the other parties a double-sided intro describes


def plan(facts: IntroFacts, cadence: FollowUps, now: datetime) -> list[PlannedFollowUp]:
    """The follow-ups for one introduction.

    - someone referred the owner → a thank-you to the introducer;
    - the owner introduced people who did not all get the introduction → a double-sided intro
      to each party who was not addressed (they learn the others' details and the context);
    - check-ins to each party after each configured delay.
    """
    start = min(facts.at, now)
    addresses = [a for a, _ in facts.parties]
    out: list[PlannedFollowUp] = []
    if cadence.thank_you and not facts.introducer_is_owner:
        due = start + timedelta(hours=cadence.thank_you_delay_hours)
        out.append(PlannedFollowUp("thank_you", facts.introducer, 0, due))
    if cadence.double_intro and facts.introducer_is_owner and len(addresses) >= 2:
        for address, reached in facts.parties:
            if not reached:
                others = tuple(a for a in addresses if a != address)
                out.append(PlannedFollowUp("double_intro", address, 0, start, others))
    for step, days in enumerate(cadence.check_in_days):
        for address in addresses:
            out.append(PlannedFollowUp("check_in", address, step, start + timedelta(days=days)))
    return out


def plan_outcome(
    outcome: str, facts: IntroFacts, cadence: FollowUps, reward: str, now: datetime
) -> list[PlannedFollowUp]:
    """The follow-ups an introduction's new outcome asks for.

    - converted, and someone else referred the owner → a conversion thank-you to the referrer
      (due now: the caps decide when it may go), and, when a reward is promised, a to-do for
      the owner to send it.
    """
    if outcome != "converted" or facts.introducer_is_owner or not cadence.conversion_thanks:
        return []
    out = [PlannedFollowUp("conversion_thanks", facts.introducer, 0, now)]
    if reward:
        out.append(PlannedFollowUp("reward_task", facts.introducer, 0, now))
    return out
