"""The plain-address shortcut (refmail.addrcheck) gives email_validator's answer: every address it
takes, email_validator accepts, in both modes refmail asks, normalised to the same lower-cased
text; what it leaves (non-ASCII, quoted, Punycode, special-use, too long, …) goes to
email_validator as before. Also: the addresses of real mail mostly take the shortcut."""

from __future__ import annotations

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from refmail.addrcheck import SPECIAL_USE, plain
from refmail.config import ConfigError, _email
from refmail.parse import normalise_address


def strict(address: str) -> str | None:
    """What config asked of email_validator: its default mode, no DNS."""
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def lenient(address: str) -> str | None:
    """What the parser asked: test domains allowed, not necessarily deliverable."""
    try:
        return validate_email(
            address, check_deliverability=False, globally_deliverable=False, test_environment=True
        ).normalized.lower()
    except EmailNotValidError:
        return None


def test_the_special_use_domains_are_email_validators() -> None:
    assert set(SPECIAL_USE) == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)


# Built from the characters that matter at each place: atext, dots, hyphens, digits, case.
LOCAL = st.text(alphabet="aZ09._-+!#$%&'*/=?^`{|}~\"( )\\é", min_size=0, max_size=70)
LABEL = st.text(alphabet="aZ09-xnéß", min_size=0, max_size=66)
TLD = st.sampled_from(["com", "ORG", "de", "x1", "1com", "test", "local", "arpa", "onion", ""])
DOMAIN = st.builds(lambda ls, tld: ".".join([*ls, tld]), st.lists(LABEL, max_size=5), TLD)
# Mostly plain ones too, so that the shortcut is taken often and its edges (lengths, hyphens,
# dots, digits, special-use names) are reached.
PLAIN_LOCAL = st.text(alphabet="aZ9.-_+'", min_size=1, max_size=70)
PLAIN_LABEL = st.text(alphabet="aZ9-", min_size=1, max_size=66)
PLAIN_DOMAIN = st.builds(
    lambda ls, tld: ".".join([*ls, tld]), st.lists(PLAIN_LABEL, min_size=1, max_size=4), TLD
)
ADDRESSES = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN),
    st.builds(lambda local, domain: f"{local}@{domain}", PLAIN_LOCAL, PLAIN_DOMAIN),
)


@settings(max_examples=3000, deadline=None)
@given(ADDRESSES)
@example("Jane.Doe+tag@Mail.Example.COM")
@example("a@b.co")
@example("x@xn--bcher-kva.example")
@example("ab--cd@ab--cd.example")
@example("a@localhost")
@example("a@mail.test")
@example("a" * 64 + "@example.com")
@example("a" * 65 + "@example.com")
@example("a@" + "b" * 63 + ".com")
@example("a@" + "b" * 64 + ".com")
@example("a@" + ".".join(["b" * 60] * 4) + ".com")
@example(".a@example.com")
@example("a..b@example.com")
@example("a@-b.com")
@example("a@b-.com")
@example("a@123.com")
def test_a_plain_address_is_what_email_validator_says(address: str) -> None:
    fast = plain(address)
    if fast is not None:
        assert fast == strict(address) == lenient(address), address


@pytest.mark.parametrize(
    "address",
    ["olivia@example.com", "Pat.Lee@PartnerLaw.example", "sam+refmail@mail.acme.co.uk"],
)
def test_common_addresses_take_the_shortcut(address: str) -> None:
    assert plain(address) == address.lower()
    assert normalise_address(address) == address.lower()
    assert _email(address, "owners[0]") == address.lower()


@pytest.mark.parametrize("address", ["a@b", "x@mail.test", "jörg@example.com", '"a b"@example.com'])
def test_the_rest_is_left_to_email_validator(address: str) -> None:
    assert plain(address) is None
    assert normalise_address(address) == lenient(address)
    if strict(address) is None:
        with pytest.raises(ConfigError):
            _email(address, "owners[0]")
    else:
        assert _email(address, "owners[0]") == strict(address)
