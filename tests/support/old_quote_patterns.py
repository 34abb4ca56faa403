"""Three patterns of the old `parse.split_quoted` (before issue 12), kept only to prove that
tests/test_linear_patterns.py catches super-linear patterns: 1,000 '@' took 30-68 s, 80,000 blank
lines over 120 s, a quoted line of 3 KB of spaces 27 s."""

import re

NOTES_AT_LINE = re.compile(
    r"^.*\S+@\S+.* on \d{1,2}/\d{1,2}/\d{2,4}.*\n\s*To:", re.IGNORECASE | re.MULTILINE
)
UNDERSCORE_LINE = re.compile(r"^\s*_{10,}\s*$", re.MULTILINE)
NOTES_FROM = re.compile(r"^\s*(.+?)\s+on\s+\d{1,2}/\d{1,2}/\d{2,4}", re.IGNORECASE)
