"""Phone numbers: E.164 validation for everything that dials, and masking for everything that
logs or shows a number."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """The number can't be called; the message says why, in words a person understands."""


def normalize_phone_number(raw: str) -> str:
    """Return the E.164 form of `raw`, or raise `InvalidPhoneNumber` saying what is wrong."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("Enter the phone number to call, e.g. +14155550100.")
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            "Phone number must include the country code, starting with +, e.g. +14155550100."
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(
            f"'{text[:32]}' is not a phone number. Use the international format, e.g. +14155550100."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            "This phone number is not valid: check the digits and the country code."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone_number(number: str | None) -> str:
    """`+14155550100` → `+1•••••••0100`: enough to recognise, not enough to misuse."""
    if not number:
        return ""
    visible = 4
    if len(number) <= visible + 2:
        return "•" * len(number)
    return number[:2] + "•" * (len(number) - 2 - visible) + number[-visible:]
