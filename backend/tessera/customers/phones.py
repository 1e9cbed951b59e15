"""Phone numbers in one form, E.164 (``+36301234567``), so that a number typed at registration,
at sign-in and in a mail merge's list is the same contact however it was written."""

from __future__ import annotations

import phonenumbers

from tessera.core.errors import InvalidValue


def e164(raw: str, region: str | None) -> str | None:
    """``raw`` in E.164, or None when it is not a possible number. A number without its
    country code (``06 30 123 4567``) is read in ``region``; without one it is not a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalized_phone(raw: str, region: str | None) -> str:
    """``raw`` in E.164; refused (400) when it is not a possible number."""
    number = e164(raw, region)
    if number is None:
        hint = "" if region else " with its country code (+…)"
        raise InvalidValue(f"This is not a phone number; give it{hint} as digits", field="phone")
    return number


def is_known_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS
