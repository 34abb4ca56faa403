"""detect_text's first-character gates stay in step with the patterns they guard.

`_own_lines` tries `_HARD_STOP` and `_HEADER_FROM` only on lines whose first character (after
spaces and tabs) is in `_STOP_FIRST` / `_FROM_FIRST`: a new alternative starting with another
letter would silently never fire. The characters each pattern can start with are read from the
pattern itself (its parse tree), with every character its case-insensitive match accepts.
"""

from __future__ import annotations

import re
import sys

import pytest

from refmail import detect_text

_parser = re._parser  # type: ignore[attr-defined]  # (the parse tree is not public API)
_c = re._constants.__dict__  # type: ignore[attr-defined]


def _first(items: list[tuple[object, object]]) -> set[str] | None:
    """The characters a sequence of parsed items can start with (None: it can be empty)."""
    out: set[str] = set()
    for op, arg in items:
        if op in (_c["ASSERT"], _c["ASSERT_NOT"], _c["AT"]):
            continue  # zero width
        if op is _c["LITERAL"]:
            return out | {chr(arg)}  # type: ignore[arg-type]
        if op is _c["IN"]:
            chars = set()
            for kind, value in arg:  # type: ignore[attr-defined]
                if kind is _c["LITERAL"]:
                    chars.add(chr(value))
                elif kind is _c["RANGE"]:
                    chars |= {chr(x) for x in range(value[0], value[1] + 1)}
                else:
                    raise AssertionError(f"a class the test cannot list: {kind}")
            return out | chars
        if op is _c["SUBPATTERN"]:
            inner = _first(list(arg[-1]))  # type: ignore[index]
        elif op is _c["BRANCH"]:
            parts = [_first(list(b)) for b in arg[1]]  # type: ignore[index]
            inner = None if None in parts else set().union(*parts)  # type: ignore[arg-type]
            if None in parts:
                out |= set().union(*(p for p in parts if p is not None))
        elif op in (_c["MAX_REPEAT"], _c["MIN_REPEAT"], _c["POSSESSIVE_REPEAT"]):
            low, _, body = arg  # type: ignore[misc]
            inner = _first(list(body))
            if low == 0:
                out |= inner or set()
                continue
        else:
            raise AssertionError(f"an item the test cannot read: {op}")
        if inner is not None:
            return out | inner
    return None


def first_characters(pattern: re.Pattern[str]) -> set[str]:
    """Every character a match of `pattern` can start with, spaces and tabs left out (the
    gate is read after them), case-folded as the pattern's flags say."""
    found = _first(list(_parser.parse(pattern.pattern, pattern.flags)))
    assert found is not None, "the pattern can match the empty string"
    found -= {" ", "\t"}
    if not pattern.flags & re.IGNORECASE:
        return found
    one_of = re.compile("[" + "".join(map(re.escape, sorted(found))) + "]", pattern.flags)
    return {chr(x) for x in range(sys.maxunicode + 1) if one_of.match(chr(x))}


@pytest.mark.parametrize(
    ("pattern", "gate"),
    [("_HARD_STOP", "_STOP_FIRST"), ("_HEADER_FROM", "_FROM_FIRST")],
)
def test_every_start_of_a_gated_pattern_passes_its_gate(pattern: str, gate: str) -> None:
    starts = first_characters(getattr(detect_text, pattern))
    assert starts <= getattr(detect_text, gate), sorted(starts - getattr(detect_text, gate))


def test_the_reader_of_first_characters_sees_a_new_alternative() -> None:
    grown = re.compile(detect_text._HARD_STOP.pattern + "|Weitergeleitet", re.IGNORECASE)
    assert {"W", "w"} <= first_characters(grown)
    assert not first_characters(grown) <= detect_text._STOP_FIRST
