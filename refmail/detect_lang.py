"""Language data for detection: stop words, cue and look-alike phrases, keyed by language.

Each language maps feature names to regular-expression sources; `detect_features` joins one
language's table into a single alternation (one pass over the text) and counts which feature
matched. Each language's table is a module of its own (`detect_lang_en`, `detect_lang_es`);
`detect_languages.LANGUAGES` lists them, so adding a language is adding a table module with the
same feature names (a language may leave features out) and one entry there. Every pattern is
bounded: no nested quantifiers over unbounded input, explicit {m,n} limits on gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def words(text: str) -> frozenset[str]:
    """The distinct words of a space-separated list (the tables' stop words)."""
    return frozenset(text.split())


@dataclass(frozen=True)
class LanguageData:
    """The words detection needs in one language."""

    stop_words: frozenset[str]
    cues: dict[str, str]  # feature name -> pattern source (matched on the author's text)
    describes: str  # words that describe a person: "runs", "is a", "who", "founder"
    greeting: str  # words that open a greeting line: "hi", "hello", "dear"
    # Per cue, lower-case words without which its pattern cannot match: a substring test is far
    # cheaper than the pattern, and most mail has none of them. A cue without gates always runs.
    gates: dict[str, tuple[str, ...]]
    # After a copy-in, what opens its purpose ("so she can…", "to ask…", "asking her to…"),
    # the words for the one addressed ("you", "us") and the acts that say it reaches them.
    purpose: str = r"(?!)"
    toward: str = r"(?!)"
    contact: str = r"(?!)"  # acts of reaching someone: "call", "coordinate", "set it up"
    # a role said of someone not on the mail: "John Wodraska, managing director of Azurix"
    roles: str = r"(?!)"
    reason: str = r"(?!)"  # words that give a reason, not a purpose: "because", "who"
    # a copy's purpose that is the author's own arrangements: "to find a date", "to print"
    logistics: str = r"(?!)"
    # Per cue, per top-level alternative of its pattern, the words without which it cannot
    # match on an ASCII sentence (`detect_cues.cue_matches`); a cue not here runs whole.
    alternative_gates: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)


# A person named in running text: one or two capitalised words ("Kirk Ellis", "Jen").
NAME = r"[A-ZÁÉÍÓÚÑ][\w'’-]{1,30}(?:\s[A-ZÁÉÍÓÚÑ][\w'’-]{1,30})?"
