"""The sentences that matter: what the author says about each party, and why they should talk.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import re

from refmail.detect_cues import find_cues
from refmail.detect_lang import LanguageData
from refmail.detect_languages import LANGUAGES
from refmail.detect_parties import named
from refmail.detect_text import sentences
from refmail.parse import Address

QUOTE_MARKS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})
# (its words' first letters looked at first: most places are left at once)
_REASON = re.compile(
    r"\b(?=[bceghilmps])(?:because|since|similar|mutual(?:ly)?|in\scommon|interest(?:ed|ing)?|might|could\shelp|"
    r"benefit|both\s(?:like|love|work)|good\sfit|looking\sfor|hoping|porque|similar|en\scomún)\b",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:best|thanks|thank you|cheers|regards|kind regards|all the best|warmly|saludos|"
    r"un abrazo|gracias)\b",
    re.IGNORECASE,
)


def _vocative(sentence: str) -> set[str]:
    """The name a sentence is spoken to ("Tom, Priya leads…" → {"tom"}): not its subject."""
    match = re.match(r"\s*([A-Z][\w'-]{1,30})\s?[,:]", sentence)
    return {match.group(1).lower()} if match else set()


@functools.lru_cache(maxsize=1024)
def describes(pattern: str, sentence: str) -> bool:
    """The sentence holds a word of the language's `describes` pattern ("runs", "who"…): asked
    of the same sentence for every party, the greeting and the context, searched once."""
    return re.search(pattern, sentence) is not None


def about_sentences(addr: Address, named_in: list[tuple[str, set[str]]], data: LanguageData) -> str:
    """The sentences that describe `addr` (up to two): named there and described there."""
    greeting = re.compile(rf"^\s*{data.greeting}\b")
    picked = [
        s
        for s, words in named_in
        if named(addr, words - _vocative(s))
        and describes(data.describes, s)
        and not greeting.match(s)
        and len(s.split()) >= 4
    ]
    return " ".join(picked[:2])[:400]


_CAPITALISED_PAST_ONE = re.compile(r"(?<=\s)[A-Z][a-z]{2,}")
CONTEXT_SENTENCES = 40  # sentences of the author's text weighed for the context sentence


@functools.lru_cache(maxsize=8)
def _greeting_line(code: str) -> re.Pattern[str]:
    """The compiled "greeting line" pattern of a language."""
    data = LANGUAGES.get(code, LANGUAGES["en"])
    return re.compile(rf"^\s*{data.greeting}\b[^\n]{{0,60}}$")


def context_sentence(text: str, code: str = "en", cues: tuple[str, ...] | None = None) -> str:
    """The one sentence that best says why these people should talk (for the follow-ups).

    Prefers a sentence with an introduction cue that says who someone is or why they should
    talk; greetings and sign-offs never qualify.

    >>> context_sentence("Hi Bob,\\n\\nMeet Alice, who builds boats. You should talk.\\n\\nJoe")
    'Meet Alice, who builds boats.'
    """
    code = code if code in LANGUAGES else "en"
    greeting = _greeting_line(code)
    pattern = LANGUAGES[code].describes
    body = "\n".join(
        line for line in text.translate(QUOTE_MARKS).split("\n") if not greeting.match(line)
    )
    candidates = [
        s
        for s in sentences(body)[:CONTEXT_SENTENCES]
        if len(s.split()) >= 3 and not _SIGN_OFF.match(s)
    ]
    if not candidates:
        return ""
    if cues is None:
        cues = tuple(find_cues(body, code).values())
    snippets = [c[:25] for c in cues]

    def score(sentence: str) -> int:
        cue = any(snippet in sentence for snippet in snippets)
        names = _CAPITALISED_PAST_ONE.search(sentence) is not None
        short = len(sentence.split()) < 6
        described = describes(pattern, sentence)
        return cue + described + (_REASON.search(sentence) is not None) + names - short

    best = max(enumerate(candidates), key=lambda item: (score(item[1]), -item[0]))
    return best[1][:300]
