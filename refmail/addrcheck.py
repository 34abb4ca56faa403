"""Plain addresses checked without email_validator, with the answer it would give.

Importing email_validator compiles patterns over all of Unicode: about a tenth of the work of a
cron command that reads a config (issue 15). Most addresses are plain ASCII — a dot-atom local
part, then letter-digit-hyphen labels under a top-level domain of letters — and for those its
answer is known: valid, as written. `plain` answers for them alone; anything else (non-ASCII,
quoted, a display name, too long, Punycode or "--", a special-use domain, no dot) is left to
email_validator, exactly as before. tests/test_addrcheck.py holds the two equal. Pure: no I/O.
"""

from __future__ import annotations

import re

_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"  # RFC 5322 3.2.3, as email_validator reads it
_PLAIN = re.compile(
    rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z]+)\Z"
)
# email_validator.SPECIAL_USE_DOMAIN_NAMES (tests/test_addrcheck.py holds them equal): mail to
# these is refused in one mode or the other, so it is always left to email_validator.
SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
EMAIL_MAX = 254
LOCAL_MAX = 64
DOMAIN_MAX = 253
LABEL_MAX = 63


def plain(address: str) -> str | None:
    """`address` lower-cased when it is a plain address email_validator accepts as written
    (without deliverability checks, in its strict default mode and in refmail's lenient one);
    None when email_validator must be asked."""
    if len(address) > EMAIL_MAX or not address.isascii():
        return None
    match = _PLAIN.match(address)
    if match is None:
        return None
    domain = match.group(1).lower()
    if match.start(1) - 1 > LOCAL_MAX or len(domain) > DOMAIN_MAX or "--" in domain:
        return None
    if any(len(label) > LABEL_MAX for label in domain.split(".")):
        return None
    if any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE):
        return None
    return address.lower()
