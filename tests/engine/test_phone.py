"""Telephone numbers typed by people, normalised to E.164 (region GB) or refused with a reason."""

from __future__ import annotations

import pytest

from engine.phone import InvalidPhoneNumber, normalise_number, parse_number

BANGOR = "+441248123456"
DRAMA_MOBILE = "+447700900123"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("01248 123456", BANGOR),
        ("01248123456", BANGOR),
        ("+44 1248 123456", BANGOR),
        ("+441248123456", BANGOR),
        ("0044 1248 123456", BANGOR),
        ("00441248123456", BANGOR),
        ("(01248) 123-456", BANGOR),
        ("+44 (0)1248 123456", BANGOR),
        ("01248-123-456", BANGOR),
        ("  01248 123456  ", BANGOR),
        ("441248123456", BANGOR),
        ("07700900123", DRAMA_MOBILE),
        ("07700 900123", DRAMA_MOBILE),
        ("07700 900 123", DRAMA_MOBILE),
        ("+44 7700 900123", DRAMA_MOBILE),
        ("+44 07700 900123", DRAMA_MOBILE),
        ("020 7946 0123", "+442079460123"),
        ("0113 496 0123", "+441134960123"),
        ("0800 123 4567", "+448001234567"),
        ("+1 650 253 0000", "+16502530000"),
        ("+33 1 23 45 67 89", "+33123456789"),
    ],
)
def test_common_formats_normalise_to_e164(typed: str, e164: str) -> None:
    assert normalise_number(typed) == e164
    assert parse_number(typed) == e164


@pytest.mark.parametrize(
    "typed",
    ["01248 123456 ext. 12", "01248 123456 x12", "01248 123456 extension 101", "+44 1248 123456 #12"],
)
def test_an_extension_after_the_number_is_left_out(typed: str) -> None:
    assert normalise_number(typed) == BANGOR


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "no telephone number"),
        ("   ", "no telephone number"),
        ("abc", "does not look like"),
        ("123456", "area code"),
        ("101", "too short"),
        ("999", "too short"),
        ("44", "too short"),
        ("+44", "does not look like"),
        ("+999 123456789", "does not look like"),
        ("01248 1234567890123", "too long"),
        ("0" * 80, "longer than"),
    ],
)
def test_incomplete_numbers_are_refused_with_a_reason(typed: str, reason: str) -> None:
    assert normalise_number(typed) is None
    with pytest.raises(InvalidPhoneNumber, match=reason):
        parse_number(typed)


def test_nothing_normalises_to_none() -> None:
    assert normalise_number(None) is None
    assert normalise_number("") is None


def test_the_same_bad_input_gives_a_fresh_error_each_time() -> None:
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidPhoneNumber) as caught:
            parse_number("123")
        errors.append(caught.value)
    assert errors[0] is not errors[1]
