"""Reads what a contact's reply asks of refmail (stop writing, or pause and until when) and what
it says of the introduction's outcome ("we're working together", "not a fit").

Pure and English-only: `now` is a parameter; only the first READ_LIMIT characters are read.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

READ_LIMIT = 1_000
MORNING = 9  # calendar dates ("in March", "3 March") mean 09:00 UTC that day
HOLIDAYS_END = (1, 7)  # "after the holidays" → 7 January

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
_FLAGS = re.IGNORECASE


@dataclass(frozen=True)
class Intent:
    """What a reply asks: "stop" (opt out) or "pause" (until a time, or None: the caller's
    default pause length applies)."""

    kind: Literal["stop", "pause"]
    until: datetime | None
    phrase: str  # the words that decided


def reply_intent(own_text: str, now: datetime) -> Intent | None:
    """The stop or pause request in `own_text` (the author's own words), or None.

    A stop wins over a pause. `until`, when set, is strictly after `now`; a pause whose date
    cannot be read has until=None. Naive `now` gives naive results, read as UTC.
    """
    sentences = _sentences(own_text[:READ_LIMIT].translate(_QUOTES))
    for sentence in sentences:
        phrase = _stop_phrase(sentence)
        if phrase is not None:
            return Intent("stop", None, phrase)
    for i, sentence in enumerate(sentences):
        intent = _pause(sentence, sentences[i + 1 : i + 2], now)
        if intent is not None:
            return intent
    return None


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?;])\s+", line) if s.strip())
    return out


Status = Literal["converted", "closed"]


@dataclass(frozen=True)
class Outcome:
    """How an introduction turned out, said in a reply: "converted" (work together) or
    "closed" (it goes no further)."""

    status: Status
    phrase: str  # the words that decided
    sentence: str  # the sentence they are in (what the owner will want to read)


_PATTERNS: tuple[tuple[Status, str], ...] = (
    (
        "converted",
        r"\b(?:we'?re|we\s+are|we'?ve\s+been|we\s+have\s+been|we'?ll\s+be|we\s+will\s+be)\s+"
        r"(?:now\s+|already\s+|officially\s+)?(?:working|partnering)\s+(?:together|with)\b",
    ),
    (
        "converted",
        r"\b(?:we|they|i)(?:'ve|\s+have)?\s+(?:just\s+|finally\s+|now\s+)?signed\b|"
        r"\bsigned\s+(?:the|a|our)\s+(?:contract|deal|agreement|sow|proposal|engagement)\b|"
        r"\b(?:it'?s|contract\s+is|deal\s+is)\s+(?:now\s+)?signed\b",
    ),
    (
        "converted",
        r"\b(?:we|i)(?:'ve|\s+have)?\s+(?:just\s+)?(?:hired|engaged|retained|closed\s+the\s+deal)\b|"
        r"\b(?:is|are)\s+now\s+(?:a\s+|our\s+)?(?:client|customer)s?\b",
    ),
    ("closed", r"\bnot\s+(?:a\s+|the\s+)?(?:good\s+|great\s+|right\s+)?fit\b"),
    (
        "closed",
        r"\bno,?\s+thank(?:s|\s+you)\b(?!\s+(?:needed|necessary|required))|"
        r"\b(?:not|no\s+longer)\s+interested\b|"
        r"\b(?:we'?ll|we\s+will|i'?ll|i\s+will|going\s+to|decided\s+to)\s+pass\b|"
        r"\bdecided\s+not\s+to\s+(?:go\s+ahead|proceed|move\s+forward)\b",
    ),
)
_OUTCOMES = tuple((status, re.compile(p, _FLAGS)) for status, p in _PATTERNS)
_IF = re.compile(r"\b(?:if|unless|whether|in\s+case|should)\b", _FLAGS)


def reply_outcome(own_text: str) -> Outcome | None:
    """The outcome a reply states in `own_text` (the author's own words), or None.

    >>> reply_outcome("Thanks Olivia! We're working together now.").phrase
    "We're working together"
    >>> reply_outcome("If it's not a fit, no worries.") is None
    True
    """
    for sentence in _sentences(own_text[:READ_LIMIT].translate(_QUOTES)):
        for status, pattern in _OUTCOMES:
            for match in pattern.finditer(sentence):
                before = sentence[: match.start()]
                if _IF.search(before) or (_NEGATED.search(before) and status == "converted"):
                    continue
                return Outcome(status, " ".join(match.group(0).split()), sentence)
    return None


# --- stop ----------------------------------------------------------------------------------

_CONTACT = (
    r"(?:e-?mail(?:ing)?|contact(?:ing)?|messag(?:e|ing)|mail(?:ing)?|writ(?:e|ing)(?: to)?|"
    r"text(?:ing)?|call(?:ing)?|spam(?:ming)?|send(?:ing)? me|reach(?:ing)? out to)"
)
_MAIL = r"(?:e-?mails?|mails?|messages?|follow-?ups?|reminders?|updates?|these|them|this)"
_ASK = r"(?:please\s+|pls\s+|kindly\s+|just\s+)?"

# (pattern, whether "from …"/"off …" after it must name the writer's mail, not something else)
_STOP_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = tuple(
    (re.compile(p, _FLAGS), aimed)
    for p, aimed in (
        (r"\bunsubscribe\b(?:\s+me\b)?|\bbe\s+unsubscribed\b", True),
        (r"\bopt\s+(?:me\s+)?out\b|\bbe\s+opted\s+out\b", True),
        (r"\bremove\s+me\b|\bbe\s+removed\b", True),
        (r"\btake\s+me(?=\s+off\b)", True),
        (rf"\bstop\s+{_CONTACT}\s+(?:me|us)\b", False),
        (rf"\bstop\s+sending\s+(?:me\s+)?{_MAIL}", False),
        (r"^\W*(?:please\s+)?stop\W*$|\bplease\s+stop\s*[.!]*$", False),
        (rf"\b(?:don'?t|do\s+not|never)\s+{_CONTACT}\s+(?:me|us)\b(?!\s+(?:back|if|when))", False),
        (
            r"\b(?:don'?t|do\s+not)\s+(?:want|wish)\s+to\s+"
            r"(?:be\s+contacted|hear\s+from\s+you|receive|get\s+(?:any\s+)?(?:more\s+)?e-?mails)",
            False,
        ),
        (rf"\bno\s+more\s+{_MAIL}\b(?!\s+(?:from\s+me|than|about))", False),
        (r"\bleave\s+me\s+alone\b", False),
        (
            r"\b(?:delete|remove|erase)\s+my\s+(?:e-?mail\s+)?"
            r"(?:details|data|address|information|info|contact\s+details)\b",
            False,
        ),
    )
)
_NEGATED = re.compile(
    r"\b(?:don'?t|do\s+not|didn'?t|did\s+not|never|not|no\s+need\s+to|won'?t|wouldn'?t|"
    r"doesn'?t|shouldn'?t|no\s+reason\s+to|without|hardly)\b(?:\s+[\w']+){0,3}\s*$",
    _FLAGS,
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|when|whenever|whether|unless|in\s+case)\s+(?:you|i|we|they|he|she|someone|anyone|"
    r"people|customers?|users?)\b",
    _FLAGS,
)
_THIRD_PARTY = re.compile(
    r"\b(?i:ask(?:ed)?|tell|told|get|got|want(?:ed|s)?|remind(?:ed)?)\s+(?!(?i:me|you)\b)"
    r"[\w'.-]+(?:\s+[\w'.-]+)?\s+to\s+(?:\w+\s+)?$|"
    r"\b(?:(?i:he|she|they)|[A-Z][a-z]+)\s+(?i:asked|wants?|wanted)\s+to\s+(?:\w+\s+)?$",
)
# Who may ask to unsubscribe / opt out / be removed: the writer, asking the reader.
_REQUESTER = re.compile(
    r"(?:^|[,;:!-]\s*|\b(?:please|pls|kindly|so|ok|okay|yes|and|also|just|then|hi|thanks)\s+)"
    rf"{_ASK}$|"
    r"\b(?:i|we)(?:'d|\s+would|'m|\s+am)?\s+(?:like|want|wish|need|love|prefer|asking\s+you|"
    r"ask(?:ing)?\s+(?:you\s+)?|have)\s+(?:you\s+)?to\s+$|"
    rf"\b(?:can|could|would|will)\s+(?:you|someone|somebody)\s+{_ASK}$|"
    r"\bhow\s+(?:do|can|would|should)\s+(?:i|we)\s+$|\b(?:i|we)\s+(?:hereby\s+)?$",
    _FLAGS,
)
_AIMED = re.compile(
    r"^\s*(?:me\s+)?(?:from|off|of)\s+(?:(?:you|your|this|these|all|future|any|further)\b|"
    r"the\s+(?:(?:mailing|distribution|e-?mail|contact)\s+)?(?:list|e-?mails?|mails?|messages|"
    r"thread|loop|cc|reminders|follow-?ups|updates)\b|(?:e-?mails?|mails?|messages|"
    r"communications?|follow-?ups|updates|reminders)\b)",
    _FLAGS,
)
_CONTINUES = re.compile(
    r"^\s*(?:me\b|please\b|now\b|thanks?\b|thank\s+you\b|immediately\b|[.!?,;)]|$)", _FLAGS
)


def _stop_phrase(sentence: str) -> str | None:
    for pattern, aimed in _STOP_PATTERNS:
        for match in pattern.finditer(sentence):
            if _is_request(sentence, match, aimed):
                target = _AIMED.match(sentence[match.end() :]) if aimed else None
                words = sentence[match.start() : match.end() + (target.end() if target else 0)]
                return " ".join(words.split()).strip(" .!")
    return None


def _is_request(sentence: str, match: re.Match[str], aimed: bool) -> bool:
    before, after = sentence[: match.start()], sentence[match.end() :]
    if _NEGATED.search(before) and not _starts_negative(match.group(0)):
        return False
    if _HYPOTHETICAL.search(before) or _THIRD_PARTY.search(before) or '"' in before:
        return False
    if not aimed:
        return True
    if not (_AIMED.match(after) or _CONTINUES.match(after)):
        return False  # "remove me from the Slack channel", "unsubscribe link", "unsubscribe Bob"
    clause = re.split(r"[,;:]", before)[-1]
    return match.group(0).lower().endswith(" me") or bool(_REQUESTER.search(clause))


def _starts_negative(phrase: str) -> bool:
    return bool(re.match(r"(?:don'?t|do\s+not|never|no\s+more)\b", phrase, _FLAGS))


# --- pause ---------------------------------------------------------------------------------

_NOT_NOW = re.compile(
    r"\b(?:(?<!why\s)not\s+(?:right\s+)?now\b(?!\s+that)|not\s+at\s+(?:the|this)\s+(?:moment|time)"
    r"|not\s+for\s+now|maybe\s+later|perhaps\s+later|not\s+(?:a\s+)?(?:good|great|the\s+right)\s+"
    r"time|bad\s+timing|(?:some\s+)?other\s+time|another\s+time|can'?t\s+(?:right\s+)?now|"
    r"too\s+busy)\b",
    _FLAGS,
)
_DEFER = re.compile(
    r"\b(?:circle\s+back|check\s+(?:back|in\s+again)|reach\s+out\s+again|get\s+back\s+to\s+me|"
    r"follow\s+up\s+(?:again|later)|try\s+(?:me\s+)?again|ping\s+me|reconnect|revisit|"
    r"touch\s+base|come\s+back\s+to\s+(?:me|this)|(?:contact|e-?mail|write\s+to)\s+me\s+again|"
    r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:busy|swamped|slammed|away|travell?ing|on\s+leave|"
    r"on\s+(?:vacation|holiday)|out\s+of\s+(?:the\s+)?office))\b",
    _FLAGS,
)


def _pause(sentence: str, following: list[str], now: datetime) -> Intent | None:
    trigger = _NOT_NOW.search(sentence)
    if trigger is not None:
        for text in (sentence, *following):
            found = _date(text, now)
            if found is not None:
                return Intent("pause", found[0], f"{trigger.group(0)} … {found[1]}")
        return Intent("pause", None, trigger.group(0))
    defer = _DEFER.search(sentence)
    found = _date(sentence, now) if defer is not None else None
    if defer is not None and found is not None:
        return Intent("pause", found[0], f"{defer.group(0)} … {found[1]}")
    return None


# --- dates ---------------------------------------------------------------------------------

_MONTHS = {
    name: i
    for i in range(1, 13)
    for name in (calendar.month_name[i].lower(), calendar.month_abbr[i].lower())
}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
_COUNT = r"(?P<count>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_PART = (
    r"(?P<part>early|mid|middle\s+of|late|the\s+end\s+of|end\s+of|the\s+start\s+of|"
    r"start\s+of|the\s+beginning\s+of|beginning\s+of)[\s-]*"
)
_NO_DAY = r"(?!\s*[0-3]?\d(?:st|nd|rd|th)?\b)"  # "May" but not "May 20"
_PART_DAY = {"early": 1, "start": 1, "beginning": 1, "mid": 15, "middle": 15, "late": 20}


def _at(now: datetime, year: int, month: int, day: int) -> datetime | None:
    """09:00 UTC on that day (naive if `now` is naive), or None if there is no such day."""
    try:
        return datetime(year, month, day, MORNING, tzinfo=UTC if now.tzinfo else None)
    except ValueError:
        return None


def _next_yearly(now: datetime, month: int, day: int) -> datetime | None:
    for year in (now.year, now.year + 1, now.year + 2, now.year + 4):
        when = _at(now, year, month, day)
        if when is not None and when > now:
            return when
    return None


def _add_months(now: datetime, months: int) -> datetime:
    index = now.month - 1 + months
    year, month = now.year + index // 12, index % 12 + 1
    return now.replace(
        year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1])
    )


def _count(m: re.Match[str]) -> int:
    word = " ".join(m.group("count").lower().split())
    return int(word) if word.isdigit() else _NUMBERS[word]


def _in_span(m: re.Match[str], now: datetime) -> datetime | None:
    unit, count = m.group("unit").lower(), _count(m)
    if count < 1:
        return None
    if unit.startswith("month"):
        return _add_months(now, count)
    return now + timedelta(days=count * (7 if unit.startswith("week") else 1))


def _month_part(m: re.Match[str], now: datetime) -> datetime | None:
    part = (m.group("part") or "").lower().replace("the ", "").split()
    day = _PART_DAY.get(part[0], 21) if part else 1  # "end of March" → the 21st
    return _next_yearly(now, _MONTHS[m.group("month").lower()], day)


def _after_month(m: re.Match[str], now: datetime) -> datetime | None:
    month = _MONTHS[m.group("month").lower()] % 12 + 1
    return _next_yearly(now, month, 1)


def _day_month(m: re.Match[str], now: datetime) -> datetime | None:
    month, day = _MONTHS[m.group("month").lower()], int(m.group("day"))
    year = m.group("year")
    if year:
        return _at(now, int(year), month, day)
    return _next_yearly(now, month, day)


def _iso(m: re.Match[str], now: datetime) -> datetime | None:
    return _at(now, int(m.group("year")), int(m.group("month_n")), int(m.group("day")))


def _nth(m: re.Match[str], now: datetime) -> datetime | None:
    day = int(m.group("day"))
    for months in range(13):
        first = _add_months(now.replace(day=1), months)
        when = _at(now, first.year, first.month, day)
        if when is not None and when > now:
            return when
    return None


def _next_month(m: re.Match[str], now: datetime) -> datetime | None:
    first = _add_months(now.replace(day=1), 1)
    return _at(now, first.year, first.month, 1)


_DateRule = tuple[re.Pattern[str], Callable[[re.Match[str], datetime], datetime | None]]
_YEAR = r"(?:,?\s+(?P<year>20\d\d))?"
_DATE_RULES: tuple[_DateRule, ...] = tuple(
    (re.compile(p, _FLAGS), f)
    for p, f in (
        (r"\b(?P<year>20\d\d)-(?P<month_n>[01]\d)-(?P<day>[0-3]\d)\b", _iso),
        (rf"\b{_MONTH}\s+{_DAY}\b{_YEAR}", _day_month),
        (rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b{_YEAR}", _day_month),
        (
            r"\bafter\s+the\s+(?:holidays|christmas\s+holidays|festive\s+season|new\s+year)\b",
            lambda m, now: _next_yearly(now, *HOLIDAYS_END),
        ),
        (
            r"\b(?:(?:the\s+)?(?:start|beginning)\s+of\s+|early\s+|in\s+)?next\s+year\b",
            lambda m, now: _at(now, now.year + 1, *HOLIDAYS_END),
        ),
        (r"\bnext\s+week\b", lambda m, now: now + timedelta(days=7)),
        (r"\bnext\s+month\b", _next_month),
        (rf"\bin\s+(?:about\s+|another\s+)?{_COUNT}\s+(?P<unit>days?|weeks?|months?)\b", _in_span),
        (rf"\b(?:after|from|until|till|til)\s+the\s+{_DAY}\b(?!\s+(?:of\s+)?{_MONTH})", _nth),
        (rf"\bafter\s+{_MONTH}\b{_NO_DAY}", _after_month),
        (
            rf"\b(?:(?:back\s+)?in|from|until|till|by|around|after)\s+(?:{_PART})?{_MONTH}\b{_NO_DAY}",
            _month_part,
        ),
        (rf"\b{_PART}{_MONTH}\b{_NO_DAY}", _month_part),
    )
)


def _date(text: str, now: datetime) -> tuple[datetime, str] | None:
    """The earliest-written date expression in `text` that lies after `now`, and its words."""
    found: list[tuple[int, datetime, str]] = []
    for pattern, resolve in _DATE_RULES:
        for match in pattern.finditer(text):
            if (match.groupdict().get("month") or "").lower() == "may" and not _real_may(match):
                continue
            when = resolve(match, now)
            if when is not None and when > now:
                found.append((match.start(), when, " ".join(match.group(0).split())))
                break
    if not found:
        return None
    _, when, words = min(found, key=lambda item: item[0])
    return when, words


def _real_may(match: re.Match[str]) -> bool:
    """ "May" the month is written with a capital; "may" lower-case is the verb."""
    return match.group("month")[0] == "M"


# --- yes or no: the answer to an offered introduction ---------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a reply to "would you like an introduction to …?" says, and the words that decided."""

    yes: bool
    phrase: str


_NO = re.compile(
    r"\b(?:no,?\s+thanks?(?:\s+you)?|no\s+thank\s+you|not\s+interested|(?:i'?ll|i\s+will|"
    r"i'?d\s+rather|we'?ll)\s+pass|no\s+need|(?:i'?ll|i\s+will|must|have\s+to|going\s+to)\s+"
    r"decline|(?:i'?m|i\s+am|we'?re)\s+(?:good|fine|ok|okay)\s+(?:for\s+now|thanks?)|"
    r"(?:rather|prefer)\s+not|not\s+(?:for\s+me|a\s+fit|relevant|the\s+right\s+fit)|"
    r"(?:don'?t|do\s+not)\s+(?:think\s+(?:so|it'?s|that'?s)|need|want)|"
    r"^\W*no\W*$)",
    _FLAGS,
)
_YES = re.compile(
    r"\b(?:yes|yeah|yep|sure|absolutely|definitely|of\s+course|please\s+do|go\s+(?:ahead|for\s+it)|"
    r"(?:happy|glad|keen|delighted)\s+to|(?:would|'d)\s+(?:love|like|be\s+(?:happy|glad|keen|"
    r"delighted))|love\s+to|sounds?\s+(?:great|good|perfect|interesting)|"
    r"(?:that|this)\s+would\s+be\s+(?:great|helpful|wonderful|useful)|count\s+me\s+in|"
    r"please\s+(?:introduce|connect)|i'?m\s+in)\b",
    _FLAGS,
)


def answer_intent(own_text: str) -> Answer | None:
    """Yes or no to an offered introduction, from the reply's own words; None if neither.

    A no anywhere wins over a yes ("Yes, I saw it — but no thanks"); a negated yes ("I would
    not be happy to") is not a yes.

    >>> answer_intent("Yes, happy to! Thanks for thinking of me.").yes
    True
    >>> answer_intent("No thanks, we already have someone.").yes
    False
    >>> answer_intent("I'll be out until Monday.") is None
    True
    """
    sentences = _sentences(own_text[:READ_LIMIT].translate(_QUOTES))
    for sentence in sentences:
        found = _NO.search(sentence)
        if found is not None:
            return Answer(False, " ".join(found.group(0).split()))
    for sentence in sentences:
        for found in _YES.finditer(sentence):
            before = sentence[: found.start()]
            if _NEGATED.search(before) or _HYPOTHETICAL.search(before):
                continue
            return Answer(True, " ".join(found.group(0).split()))
    return None
