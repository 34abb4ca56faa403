"""Finding the cue and look-alike phrases of a language in the author's sentences.

The patterns are the language tables of `detect_lang`; gate words keep the cost down: a
pattern only runs on the sentences that hold one of its gate words. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable

from refmail.detect_languages import LANGUAGES
from refmail.detect_text import sentences

_NOT_SOMEONE = frozenset({"we", "it", "this", "that", "you", "they", "i", "there", "what"})


@functools.lru_cache(maxsize=256)
def cue_pattern(code: str, name: str) -> re.Pattern[str]:
    """One cue's pattern, compiled the first time a sentence holds one of its gate words:
    compiling every cue of a language costs more than classifying a message (issue 15), and
    most mail runs few of them."""
    return re.compile(LANGUAGES[code].cues[name], re.MULTILINE)


Accept = Callable[[str, str, "re.Match[str]"], bool]


def find_cues(
    text: str,
    code: str,
    gated: bool = True,
    sentence_list: list[str] | None = None,
    accept: Accept | None = None,
) -> dict[str, str]:
    """Cue feature -> the words that showed it (first occurrence, sentence by sentence).

    One pass of substring searches finds, for every cue, the sentences holding one of its gate
    words (words without which its pattern cannot match); the cue's pattern then runs on those
    sentences only. Most mail holds few gate words, so few patterns run, on little text.
    `gated=False` runs every pattern on every sentence (the tests compare both ways).
    `accept(cue, sentence, match)` may refuse a match (the caller knows who was addressed).
    """
    data = LANGUAGES[code]
    sent = sentences(text) if sentence_list is None else sentence_list
    lowered = "\n".join(sent).lower().replace("’", "'")
    starts: list[int] = []
    offset = 0
    for sentence in sent:
        starts.append(offset)
        offset += len(sentence) + 1
    found: dict[str, str] = {}
    for name in data.cues:
        if name == "cue_copy_why" and "cue_copy_in" not in found:
            continue  # "who knows…" only explains a copy
        gates = data.gates.get(name) if gated else None
        where = range(len(sent)) if gates is None else _holding(lowered, gates, starts)
        for i in where:
            snippet = _first_match(name, cue_pattern(code, name), sent[i], accept)
            if snippet:
                found[name] = snippet
                break
    return found


def _holding(lowered: str, words: tuple[str, ...], starts: list[int]) -> list[int]:
    """Indexes of the sentences (starting at `starts` in `lowered`) that hold one of `words`."""
    hits: set[int] = set()
    last = len(starts) - 1
    for word in words:
        pos = lowered.find(word)
        while pos != -1 and len(hits) < 200:
            index = bisect.bisect_right(starts, pos) - 1
            hits.add(index)
            if index >= last:
                break
            # the sentence is in: look on from the next one (a diff holds "+" on every line)
            pos = lowered.find(word, starts[index + 1])
    return sorted(hits)


_KEEPER = re.compile(r"(?i:\b(?:we|i)(?:'ll|'d|\s(?:can|will|could|should|shall|would))?\s*$)")


_ASKED_OF_OTHERS = re.compile(
    r"(?i:\b(?:him|her|them|you)\sto\s|\bplease\s|\b(?:can|could|would|will)\syou\s(?:please\s)?)$"
)


def _keeps_it(before: str) -> bool:
    """The author keeps the matter: "We can take it from here" (no one else is handed it)."""
    return bool(_KEEPER.search(before[-30:]))


def _first_match(
    name: str, pattern: re.Pattern[str], sentence: str, accept: Accept | None = None
) -> str:
    for match in pattern.finditer(sentence):
        if accept is not None and not accept(name, sentence, match):
            continue
        words = " ".join(match.group(0).split())
        if name == "cue_copy_in" and _ASKED_OF_OTHERS.search(sentence[: match.start()][-30:]):
            continue  # "I'd like him to pull in the right people": asked of someone, not done
        if name == "cue_hand_off" and (
            words.split(" ")[0].lower() in _NOT_SOMEONE or _keeps_it(sentence[: match.start()])
        ):
            continue  # "We will be in touch" is a promise, not a hand-off to someone else
        return words[:100]
    return ""
