"""Whether an introduction that sync records may plan mail (its standing): the owner's own mail,
or a referral addressed to the owner, authenticated as its From address when the account requires
it (`require_authentication`); the owner's notice when it may not.

The authentication checks (refmail.authn) are imported when a message is first judged: a sync
that finds nothing new does not load them (issue 15). Pure: no I/O.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from refmail.config import Account

if TYPE_CHECKING:
    from refmail.authn import Trust, Verdict
    from refmail.detect import Classification, Identity
    from refmail.parse import ParsedMessage

log = logging.getLogger("refmail.sync")  # the warnings sync gave before this module was apart


def trust_for(account: Account) -> Trust | None:
    """Whose Authentication-Results count for this account (None when the check is off)."""
    if not account.require_authentication:
        return None
    from refmail.authn import Trust

    return Trust(frozenset(account.trusted_authserv_ids), frozenset(account.trusted_arc_ids))


def authenticate(trust: Trust | None, msg: ParsedMessage, raw: bytes) -> Verdict | None:
    """Does the mail authenticate as its From address? None when the account does not check."""
    if trust is None:
        return None  # (before the import: an account that does not check never loads authn)
    from refmail.authn import headers_of, verify

    sender = msg.sender.email if msg.sender else ""
    return verify(headers_of(raw), sender, trust)


def of_introduction(
    identity: Identity, msg: ParsedMessage, verdict: Classification, auth: Verdict | None
) -> Verdict:
    """Whether an introduction may plan mail: the owner's (authenticated) own, or a referral
    addressed to the owner by an (authenticated) sender; never a stranger's mail to refmail."""
    from refmail.authn import Verdict

    sender = msg.sender
    to_owner = any(identity.is_owner(a) for a in msg.envelope.recipients)
    if not identity.is_owner(sender) and not to_owner:
        return Verdict(False, f"{verdict.introducer} is not the owner and did not write to them")
    if auth is None:
        return Verdict(True, "authentication not required for this account")
    return auth


def unverified_notice(intro_id: int, msg: ParsedMessage, standing: Verdict) -> str:
    """The owner's notice of an introduction recorded unverified: nothing is planned for it
    until the owner confirms it."""
    sender = msg.sender.email if msg.sender else "(no sender)"
    log.warning("introduction %s from %s is unverified: %s", msg.message_id, sender, standing.why)
    return (
        f"introduction #{intro_id} ({msg.subject[:80]!r} from {sender}) is unverified: "
        f"{standing.why}; nothing is planned until `refmail intros confirm {intro_id}`"
    )
