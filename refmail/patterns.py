"""Regular expressions compiled on first use (`Lazy`), and the address pattern that more than one
module applies to running text (`ADDRESS`).

A pattern compiled at import costs every process that loads its module (issue 15); one that only
some mail needs (a command line's details, an owner's ask) is a `Lazy`: compiled the first time
it is called, then kept. tests/test_linear_patterns.py times every module-level `Lazy` (also in
tuples, lists and dicts) as it times compiled patterns. Pure: no I/O.

>>> ADDRESS().findall("Ask ann@example.com, or bob.o'neil@mail.example.org.")
['ann@example.com', "bob.o'neil@mail.example.org"]
"""

from __future__ import annotations

import re


class Lazy:
    """A pattern compiled on its first call; each call returns the same `re.Pattern`.

    >>> word = Lazy(r"\\w+", re.IGNORECASE)
    >>> word().findall("two words") == ["two", "words"] and word() is word()
    True
    """

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern, self.flags)
        return compiled

    def __repr__(self) -> str:
        return f"Lazy({self.pattern!r}, {self.flags!r})"


# An address in running text (a command line, an owner's note). Starts only where a run of
# address characters starts, and never gives back: linear.
ADDRESS = Lazy(r"(?<![\w.+'-])[\w.+'-]++@[\w-]++(?:\.[\w-]++)+")
