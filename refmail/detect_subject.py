"""What a message's subject says: an introduction named ("Maya <> Leo", "Sam / Noor",
"Introducing Julian Gibbs"), one asked or thanked for, a patch or pull request posted, a
calendar's notice of an event. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from refmail.detect_parties import People, named

__all__ = ["names_intro", "subject_features"]

_SUBJECT_INTRO = re.compile(
    r"^\s*(?:(?:fwd?|tr|wg|rv)\s*:\s*)*(?:(?:intro(?:duction|ducción)?s?|e-?intro|presentación)"
    r"\b|[^\n]{0,80}\S\s{0,3}(?:<\s?=?\s?>|<-+>|↔)\s{0,3}\S|[^\n]{0,60}\bmeet\s(?!you\b|up\b|with\b)\S"
    r"|(?P<a>[A-Z][\w'-]{1,30}(?:\s[A-Z][\w'-]{1,30})?)(?:\s(?:\+|&|y|and)\s|\s?/\s?)"
    r"(?P<b>[A-Z][\w'-]{1,30})\s*$"
    # "Introducing Julian Gibbs" (a person of the message, not "Introducing Acme Cloud")
    r"|introducing:?\s(?P<c>[A-Z][\w'-]{1,30}(?:\s[A-Z][\w'-]{1,30})?)\s*$)",
    re.IGNORECASE,
)
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|res)\s*:", re.IGNORECASE)
_REQUEST_SUBJECT = re.compile(
    r"^\s*(?:intro(?:duction)?|connection)\s(?:to|with)\b[^\n]{0,200}\?\s*$|\bforwardable\b"
    r"|\bthanks?\b[^\n]{0,100}\b(?:intro|introduction|referral)\b",
    re.IGNORECASE,
)
_PATCH_SUBJECT = re.compile(r"^\s*\[(?:PATCH|RFC|GIT\sPULL)", re.IGNORECASE)
# A calendar's mail about an event, titled with its time: "Invitation: Ann <> Bo @ Fri Mar 20…"
_CALENDAR_SUBJECT = re.compile(
    r"^\s*(?:(?:updated\s|new\s)?invitation|accepted|declined|tentatively\saccepted|tentative"
    r"|cancell?ed(?:\sevent)?|invitación(?:\sactualizada)?|aceptad[oa]|rechazad[oa])"
    r"(?:\s\([^()\n]{0,40}\))?\s?:[^\n]{1,200}\s@\s[^\n]{0,40}\d",
    re.IGNORECASE,
)


def subject_features(subject: str, who: People, add: Callable[[str, str], None]) -> None:
    """The subject's features: it asks or thanks for an introduction, names one, posts a patch
    or a pull request, or is a calendar's notice."""
    if _REQUEST_SUBJECT.search(subject):
        add("request_subject", f"subject “{subject[:80]}” asks or thanks for an intro")
    elif not _REPLY_SUBJECT.match(subject) and names_intro(subject, who):
        add("subject_names_intro", f"subject “{subject[:80]}”")
    if _PATCH_SUBJECT.match(subject):
        add("patch_posting", f"subject “{subject[:80]}” posts a patch")
    if _CALENDAR_SUBJECT.match(subject):
        add("calendar_invite", f"subject “{subject[:80]}” is a calendar's notice of an event")


def names_intro(subject: str, who: People) -> bool:
    """The subject names an introduction; "Maya + Leo" and "Introducing Julian Gibbs" only
    when the names are people of the message ("Mark Guzman and Turret" is a person and a
    thing)."""
    match = _SUBJECT_INTRO.match(subject)
    if match is None:
        return False
    sides = [side for side in ("a", "b", "c") if match.group(side) is not None]
    people = (*who.candidates, *who.forwarded, *who.in_text)
    return all(
        any(named(p, {w.lower() for w in match.group(side).split()}) for p in people)
        for side in sides
    )
