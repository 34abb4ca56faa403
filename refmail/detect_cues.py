"""Finding the cue and look-alike phrases of a language in the author's sentences.

The patterns are the language tables of `detect_lang`; gate words keep the cost down: a
pattern only runs on the sentences that hold one of its gate words, and one pass of a single
pattern (every gate word of the language, as a trie; on a short text, a substring search per
word) finds where each gate word is. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet

from refmail.detect_languages import LANGUAGES
from refmail.detect_text import sentences
from refmail.patterns import Lazy

_NOT_SOMEONE = frozenset({"we", "it", "this", "that", "you", "they", "i", "there", "what"})


@functools.lru_cache(maxsize=256)
def cue_pattern(code: str, name: str, curly: bool = True) -> re.Pattern[str]:
    """One cue's pattern, compiled the first time a sentence holds one of its gate words:
    compiling every cue of a language costs more than classifying a message (issue 15), and
    most mail runs few of them. `curly=False`: for a text with no "’" in it, where the
    pattern's character classes need not hold one (see `_STRAIGHT`)."""
    source = LANGUAGES[code].cues[name]
    return re.compile(source if curly else _straight(source), re.MULTILINE)


# The character classes of the cues that hold a "’" (a name's "[\w'’-]"), and the same without
# it: one character past 255 in a class makes the compiler build a table of all 65,536, ≈ 0.15
# ms a class, a fifth of compiling the cues. Detection straightens quote marks first
# (`QUOTE_MARKS`), so its sentences hold none, and there both forms match alike.
_STRAIGHT = (("[\\w'’-]", "[\\w'-]"), ("[\\w'’]", "[\\w']"), ("['’]", "'"))


def _straight(source: str) -> str:
    """A pattern's source with its classes' "’" taken out (`_STRAIGHT`)."""
    for curled, straight in _STRAIGHT:
        source = source.replace(curled, straight)
    return source


def cue_matches(code: str, name: str, sentence: str) -> Iterator[re.Match[str]]:
    """The matches of the cue's pattern in `sentence` (whitespace folded, as `sentences` gives
    it), in order. On an ASCII sentence, only the alternatives whose gate words it holds
    (`LanguageData.alternative_gates`) run, each compiled alone and once: they find what the
    whole pattern finds, as the others cannot match there (and a batch of mail compiles each
    alternative once, not each set of them). Without "’" in its classes when it has none."""
    gates = LANGUAGES[code].alternative_gates.get(name)
    if gates is None or not sentence.isascii():
        return cue_pattern(code, name, "’" in sentence).finditer(sentence)
    low = sentence.lower()
    held = [
        _alternative(code, name, i)
        for i, words in enumerate(gates)
        if any(map(low.__contains__, words))
    ]
    if len(held) == 1:
        return held[0].finditer(sentence)
    return _leftmost_first(held, sentence)


@functools.lru_cache(maxsize=256)
def _alternative(code: str, name: str, index: int) -> re.Pattern[str]:
    """One top-level alternative of a cue's pattern, compiled straight (no "’" in its classes)."""
    return re.compile(_straight(alternatives(LANGUAGES[code].cues[name])[index]), re.MULTILINE)


def _leftmost_first(patterns: list[re.Pattern[str]], text: str) -> Iterator[re.Match[str]]:
    """The matches of the patterns joined by "|", in order: at each step the leftmost match of
    any, the first pattern's on a tie (the order an alternation tries them), searching on from
    its end. (No cue matches empty text: a match always moves the search on.)"""
    ahead = [p.search(text) for p in patterns]
    while True:
        best: re.Match[str] | None = None
        for match in ahead:
            if match is not None and (best is None or match.start() < best.start()):
                best = match
        if best is None:
            return
        yield best
        end = best.end()
        ahead = [
            m if m is None or m.start() >= end else p.search(text, end)
            for p, m in zip(patterns, ahead, strict=True)
        ]


# A pattern's pieces: an escape, a character class, a bracket, a bar, or a run of the rest.
_PIECE = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|[()|]|[^\\\[()|]+", re.DOTALL)


@functools.lru_cache(maxsize=64)
def alternatives(source: str) -> tuple[str, ...]:
    """The top-level alternatives of a pattern's source, in order (joined by "|", the source).

    >>> alternatives("a(?:b|c)|[|(]d|e")
    ('a(?:b|c)', '[|(]d', 'e')
    """
    parts: list[str] = []
    depth = start = 0
    for piece in _PIECE.finditer(source):
        text = piece.group()
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif text == "|" and depth == 0:
            parts.append(source[start : piece.start()])
            start = piece.end()
    parts.append(source[start:])
    return tuple(parts)


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
    `gated=False` runs every pattern whole on every sentence (the tests compare both ways).
    `accept(cue, sentence, match)` may refuse a match (the caller knows who was addressed).
    """
    data = LANGUAGES[code]
    sent = sentences(text) if sentence_list is None else sentence_list
    at = _gate_sentences(sent, code) if gated else {}
    present = _gates_present(at, code)
    found: dict[str, str] = {}
    for name in data.cues:
        if name == "cue_copy_why" and "cue_copy_in" not in found:
            continue  # "who knows…" only explains a copy
        gates = data.gates.get(name) if gated else None
        if gates is None:
            where: range | list[int] = range(len(sent))
        elif name in present:
            where = _holding(at, gates, len(sent), present[name])
        else:
            continue  # none of its gate words: the pattern cannot match
        for i in where:
            sentence = sent[i]
            found_in = (
                cue_matches(code, name, sentence)
                if gated
                else cue_pattern(code, name).finditer(sentence)
            )
            snippet = _first_match(name, found_in, sentence, accept)
            if snippet:
                found[name] = snippet
                break
    return found


@functools.lru_cache(maxsize=8)
def _gate_index(
    code: str,
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """A language's gate words, sorted; per gate word, the gate words it starts with (found
    where it is found); and per gate word, the cues it gates."""
    gates = LANGUAGES[code].gates
    gate_words = sorted({w for words in gates.values() for w in words})
    # A word's prefixes looked up, not every pair of words compared: the pairs cost ≈ 20 ms a
    # process (issue 15). Shortest first, which is sorted order for the prefixes of one word.
    known = set(gate_words)
    prefixes = {w: tuple(w[:i] for i in range(1, len(w) + 1) if w[:i] in known) for w in gate_words}
    gated = {w: tuple(name for name, words in gates.items() if w in words) for w in gate_words}
    return tuple(gate_words), prefixes, gated


def _gates_present(at: dict[str, list[int]], code: str) -> dict[str, set[str]]:
    """Per cue, those of its gate words found in the text: one pass over the words found, not
    one set intersection per cue (most cues have none, and are skipped)."""
    gated = _gate_index(code)[2]
    present: dict[str, set[str]] = {}
    for word in at:
        for name in gated[word]:
            present.setdefault(name, set()).add(word)
    return present


# Below this many characters of sentences, and until a longer text has compiled the trie, the
# gate words are found by one substring search per word: compiling the trie costs ≈ 39 M
# instructions (≈ 8 ms), a cron sync's largest pattern, and repays itself only on long text
# or many messages (issue 15). Both ways find the same words in the same sentences.
_SEARCH_PER_WORD_BELOW = 1_000
_TRIES: dict[str, re.Pattern[str]] = {}


def _gate_trie(code: str) -> re.Pattern[str]:
    """A language's gate words as one pattern that finds, at every position, the longest gate
    word starting there (compiled once, on the first text that needs it)."""
    pattern = _TRIES.get(code)
    if pattern is None:
        words = list(_gate_index(code)[0])
        trie = _trie(words) if words else "(?!)"
        pattern = _TRIES[code] = re.compile(f"(?=({trie}))")
    return pattern


_Node = dict[str, "_Node"]  # a trie node: the next character -> its node ("" ends a word)


def _trie(words: list[str]) -> str:
    """An alternation of `words` that shares their prefixes and prefers the longest.

    >>> _trie(["ab", "abc", "b"])
    '(?:ab(?:c)?|b)'
    """
    root: _Node = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def alternation(node: _Node) -> str:
        alts = [re.escape(c) + alternation(child) for c, child in sorted(node.items()) if c]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return alternation(root)


def _gate_sentences(sent: list[str], code: str) -> dict[str, list[int]]:
    """Per gate word found in the sentences (lower-cased), the indexes of the sentences
    holding it, in order: one pass over each sentence for every word."""
    lowered = [s.lower().replace("’", "'") for s in sent]
    if any(len(low) != len(s) for low, s in zip(lowered, sent, strict=True)):
        # ("İ" lower-cased is two characters): placed as in the text joined, as before
        return _gate_sentences_joined("\n".join(lowered), sent, code)
    if code not in _TRIES and sum(map(len, lowered)) < _SEARCH_PER_WORD_BELOW:
        return _gate_sentences_searched(lowered, code)
    pattern, prefixes = _gate_trie(code), _gate_index(code)[1]
    at: dict[str, list[int]] = {}
    for index, low in enumerate(lowered):
        found = pattern.findall(low)
        if found:
            for word in {g for w in set(found) for g in prefixes[w]}:
                at.setdefault(word, []).append(index)
    return at


def _gate_sentences_searched(lowered: list[str], code: str) -> dict[str, list[int]]:
    """_gate_sentences of a short text, without the trie: each gate word looked for in the
    sentences joined, then in the sentences that hold it (no gate word holds a newline)."""
    joined = "\n".join(lowered)
    at: dict[str, list[int]] = {}
    for word in _gate_index(code)[0]:
        if word in joined:
            holding = [index for index, low in enumerate(lowered) if word in low]
            if holding:
                at[word] = holding
    return at


def _gate_sentences_joined(lowered: str, sent: list[str], code: str) -> dict[str, list[int]]:
    """_gate_sentences, read from the lower-cased sentences joined by newlines: a gate word is
    in the sentence whose place in the joined original its place falls in."""
    starts: list[int] = []
    offset = 0
    for sentence in sent:
        starts.append(offset)
        offset += len(sentence) + 1
    pattern, prefixes = _gate_trie(code), _gate_index(code)[1]
    at: dict[str, list[int]] = {}
    index = 0
    for match in pattern.finditer(lowered):
        if match.start() >= starts[min(index + 1, len(starts) - 1)]:
            index = bisect.bisect_right(starts, match.start()) - 1
        for word in prefixes[match.group(1)]:
            indexes = at.setdefault(word, [])
            if not indexes or indexes[-1] != index:
                indexes.append(index)
    return at


def _holding(
    at: dict[str, list[int]], words: tuple[str, ...], count: int, present: AbstractSet[str]
) -> list[int]:
    """Indexes of the sentences (of `count`) that hold one of `words` (at most 200, the first
    of each word's); `present` are those of `words` found at all."""
    if count <= 200 or not present:  # (the limit cannot bind)
        if len(present) == 1:
            return at[next(iter(present))]
        return sorted({i for word in present for i in at[word]})
    hits: set[int] = set()
    for word in words:
        for index in at.get(word, ()):
            if len(hits) >= 200:
                break
            hits.add(index)
    return sorted(hits)


# The two below are compiled on first use: only a hand-off or a copy found needs them.
_KEEPER = Lazy(r"(?i:\b(?:we|i)(?:'ll|'d|\s(?:can|will|could|should|shall|would))?\s*$)")


_ASKED_OF_OTHERS = Lazy(
    r"(?i:\b(?:him|her|them|you)\sto\s|\bplease\s|\b(?:can|could|would|will)\syou\s(?:please\s)?)$"
)


# A third party's absence given as a reason: "as Mr. Lay is on vacation until the 5th, …",
# "since she is away until Monday" (in a reply that goes on to something else). A notice of
# someone's absence ("Mark Haedicke will be out of the office…") stays a look-alike.
_OTHER_ABSENT = Lazy(
    r"\b(?i:as|since|because|while|whilst|now\sthat)\s"
    r"(?:(?i:he|she|they)|(?:Mr|Mrs|Ms|Dr|Prof)\.?\s[A-Z][\w'-]+|[A-Z][a-z'-]+(?:\s[A-Z][a-z'-]+)?)"
    r"(?:'s|'ll\sbe|\s(?i:is|are|was|were|will\sbe|has\sbeen|have\sbeen))\s"
    r"(?i:(?:currently|still|now|also|just)\s)?$"
)


def _someone_else_away(before: str) -> bool:
    """The absence found is a third party's, given as a reason (English)."""
    return bool(_OTHER_ABSENT().search(before[-60:]))


def _keeps_it(before: str) -> bool:
    """The author keeps the matter: "We can take it from here" (no one else is handed it)."""
    return bool(_KEEPER().search(before[-30:]))


def _first_match(
    name: str, matches: Iterator[re.Match[str]], sentence: str, accept: Accept | None = None
) -> str:
    for match in matches:
        if accept is not None and not accept(name, sentence, match):
            continue
        words = " ".join(match.group(0).split())
        if name == "cue_copy_in" and _ASKED_OF_OTHERS().search(sentence[: match.start()][-30:]):
            continue  # "I'd like him to pull in the right people": asked of someone, not done
        if name == "neg_out_of_office" and _someone_else_away(sentence[: match.start()]):
            continue  # "as Mr. Lay is on vacation until the 5th": not the author's auto-reply
        if name == "cue_hand_off" and (
            words.split(" ")[0].lower() in _NOT_SOMEONE or _keeps_it(sentence[: match.start()])
        ):
            continue  # "We will be in touch" is a promise, not a hand-off to someone else
        return words[:100]
    return ""
