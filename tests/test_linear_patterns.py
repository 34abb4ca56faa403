"""Every compiled pattern at module level in refmail (also inside tuples, lists and dicts of
patterns, and those compiled on first use: refmail.patterns.Lazy) runs in linear time: from
10 KB to 100 KB of adversarial input its CPU time grows at most 30-fold (10-fold is linear,
100-fold quadratic). A pattern that stays stuck is killed.
"""

from __future__ import annotations

import pkgutil

import refmail
from tests.support.regex_timing import measure

MODULES = sorted(
    f"refmail.{info.name}"
    for info in pkgutil.iter_modules(refmail.__path__)
    if not info.ispkg and not info.name.startswith("_")  # __main__ would run the CLI
)


# Patterns only ever applied to input of bounded length, said where they are applied: timing
# them on 100 KB says nothing about refmail.
BOUNDED = {
    "refmail.defang._LINKY": "defang applies it to runs without blanks of at most 500 characters",
    "refmail.addrlist._PLAIN_ITEM": "addrlist fullmatches it (never searches) on items of "
    "headers of at most PLAIN_LIST_LIMIT (4,000) characters; a test times that worst case",
    "refmail.addrcheck._PLAIN": "plain() matches it (anchored, never searches) only on addresses "
    "of at most EMAIL_MAX (254) characters: tens of microseconds at worst",
    "refmail.detect_copy_shape._CLOSING": "_vocatives searches it over the last "
    "_CLOSING_REACH (160) characters of a question only",
}


def describe(timings: list) -> str:  # type: ignore[type-arg]
    return "\n".join(
        f"{t.pattern} on {t.input}: {t.small * 1000:.2f} ms at 10 KB, "
        f"{t.large * 1000:.1f} ms at 100 KB"
        for t in timings
    )


def test_every_compiled_pattern_in_refmail_runs_in_linear_time() -> None:
    timings = measure(MODULES, leave_out=sorted(BOUNDED))
    patterns = {t.pattern for t in timings}
    # The collector sees the tables too (parse's quote starts, replies' rule tables).
    assert "refmail.quotes._QUOTE_STARTS[1]" in patterns
    assert any(p.startswith("refmail.replies._STOP_PATTERNS[") for p in patterns)
    # And those compiled on first use (refmail.patterns.Lazy).
    assert {"refmail.commands._LEADING", "refmail.optin._TO_NAME"} <= patterns
    assert "refmail.patterns.ADDRESS" in patterns
    slow = [t for t in timings if not t.linear]
    assert not slow, "super-linear patterns:\n" + describe(slow)


def test_the_old_split_quoted_patterns_are_caught() -> None:
    timings = measure(["tests.support.old_quote_patterns"], limit=1.0, only=["'@'", "'\\n'", "' '"])
    slow = {t.pattern.rsplit(".", 1)[-1] for t in timings if not t.linear}
    assert slow == {"NOTES_AT_LINE", "UNDERSCORE_LINE", "NOTES_FROM"}, describe(timings)
