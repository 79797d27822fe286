"""Phone numbers and address lists as SMS Backup & Restore writes them, made into stable chat keys."""

from __future__ import annotations

import re

# SMS Backup & Restore writes the literal string "null" for a missing attribute value.
NULL = "null"
# What the app writes as contact_name when the number is not in the person's contacts.
UNKNOWN_NAME = "(Unknown)"
# The placeholder Android stores as the sender ("from", type 137) of an MMS the owner sent.
OWN_ADDRESS_TOKEN = "insert-address-token"
# Separator of the several numbers in a group MMS's `address` attribute (and of some SMS).
ADDRESS_SEPARATOR = "~"

_DIGITS_PUNCT = re.compile(r"[\s\-.()/\u00a0\u2010-\u2015]")
_PHONE = re.compile(r"\+?[0-9*#]+")


def clean(value: str | None) -> str | None:
    """An attribute value, or None for a missing one (absent, empty or "null")."""
    if value is None:
        return None
    value = value.strip()
    if not value or value == NULL:
        return None
    return value


def normalise(address: str) -> str:
    """One address as a stable id: a phone number without spaces, dashes, dots or brackets (a
    leading "00" becomes "+"), an e-mail address lower-cased, anything else (an alphanumeric sender
    such as a bank's name) as it is with its spaces squeezed.

    Numbers are not given a country code: "+49 151 …" and "0151 …" stay two ids, because the
    backup does not say which country the phone was in.
    """
    address = address.strip()
    squeezed = _DIGITS_PUNCT.sub("", address)
    if _PHONE.fullmatch(squeezed):
        if squeezed.startswith("00") and len(squeezed) > 4:
            squeezed = "+" + squeezed[2:]
        return squeezed
    if "@" in address:
        return address.casefold()
    return " ".join(address.split())


def split_addresses(value: str | None) -> list[str]:
    """The normalised, de-duplicated addresses of an `address` attribute ("a~b~c"), in order."""
    value = clean(value)
    if value is None:
        return []
    out: dict[str, None] = {}
    for part in value.split(ADDRESS_SEPARATOR):
        part = part.strip()
        if part and part != NULL and part != OWN_ADDRESS_TOKEN:
            out[normalise(part)] = None
    return list(out)


def chat_key(addresses: list[str]) -> str:
    """The chat key of a conversation: its participants' ids, sorted (so a group is one chat
    whatever order each message lists them in)."""
    return "sms:" + ",".join(sorted(set(addresses)))


def display_name(contact_name: str | None, number: str) -> str:
    """The name the phone showed, or the number when the contact is unknown."""
    name = clean(contact_name)
    if name is None or name == UNKNOWN_NAME:
        return number
    return name
