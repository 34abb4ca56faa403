"""The patterns refmail compiles on first use rather than at import, compiled here at module level
so that tests/test_linear_patterns.py times them as it times refmail's module-level ones."""

from __future__ import annotations

import re

from refmail import commands, optin

COMMAND_DETAILS = {name: commands._detail(name) for name in commands._DETAILS}
OPTIN_ADDRESS = re.compile(optin._ADDRESS)
OPTIN_TO_NAME = re.compile(optin._TO_NAME)
