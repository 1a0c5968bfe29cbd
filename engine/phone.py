"""Telephone numbers, normalised to E.164 once, at the edge, with ``phonenumbers`` (region GB).

People type numbers every way: ``01248 123456``, ``+44 1248 123456``, ``0044 1248 123456``,
``(01248) 123-456``, ``07700 900123``, ``+44 (0)1248 123456``. The catalogue stores and searches
only the E.164 form (``+441248123456``), so every one of those finds the same calls.

A number is accepted when it is *possible* (the right length for its country), not only when it is
*valid* by the library's metadata: Ofcom's drama ranges (``07700 900xxx``) and newly allocated
ranges are not "valid" there, yet are real numbers to search for. An extension typed after a
number (``01248 123456 ext 12``) is dropped: E.164 has no extensions, and internal extensions
(``101``) are searched separately.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

__all__ = ["DEFAULT_REGION", "InvalidPhoneNumber", "normalise_number", "parse_number"]

DEFAULT_REGION = "GB"
MAX_INPUT_LENGTH = 64

_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "the country code is not one in use",
    ValidationResult.TOO_SHORT: "it is too short to be a telephone number",
    ValidationResult.TOO_LONG: "it is too long to be a telephone number",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "it lacks the area code (write it as 01248 123456)",
}


class InvalidPhoneNumber(ValueError):
    """Text that is not a complete telephone number; the message says why, for a person."""


def parse_number(text: str) -> str:
    """The E.164 form of ``text`` (``"01248 123456"`` -> ``"+441248123456"``).

    Raises :class:`InvalidPhoneNumber` with a reason a person can act on when ``text`` is not a
    complete number (no digits, too short, missing the area code, an unknown country code).
    """
    if not isinstance(text, str):
        raise InvalidPhoneNumber("a telephone number must be text")
    cleaned = text.strip()
    if not cleaned:
        raise InvalidPhoneNumber("no telephone number was given")
    if len(cleaned) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(f"it is longer than {MAX_INPUT_LENGTH} characters")
    e164, reason = _parse(cleaned)
    if e164 is None:
        raise InvalidPhoneNumber(reason)
    return e164


def normalise_number(text: str | None) -> str | None:
    """The E.164 form of ``text``, or ``None`` when it is empty or not a complete telephone number.

    Results are cached: call-log records repeat the same few thousand numbers many times.
    """
    if not text or len(text) > MAX_INPUT_LENGTH:
        return None
    return _parse(text.strip())[0]


@lru_cache(maxsize=65_536)
def _parse(text: str) -> tuple[str | None, str]:
    """``(e164, "")`` or ``(None, why not)``; returned, not raised, so the cache remembers bad input."""
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        return None, "it does not look like a telephone number"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != ValidationResult.IS_POSSIBLE:
        return None, _REASONS.get(reason, "it is not a complete telephone number")
    number.extension = None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), ""
