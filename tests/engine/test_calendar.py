"""Working days (England and Wales), calendar months, ISO-8601 values and the Duration type."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from engine.calendar import (
    MAX_WORKING_DAYS,
    Duration,
    add_months,
    add_working_days,
    bank_holidays,
    is_working_day,
    parse_iso_date,
    parse_iso_datetime,
    working_days_between,
)

# ---------------------------------------------------------------- bank holidays

ENGLAND_AND_WALES_2026_2027 = [
    date(2026, 1, 1),  # New Year's Day
    date(2026, 4, 3),  # Good Friday
    date(2026, 4, 6),  # Easter Monday
    date(2026, 5, 4),  # Early May
    date(2026, 5, 25),  # Spring
    date(2026, 8, 31),  # Summer
    date(2026, 12, 25),  # Christmas Day
    date(2026, 12, 28),  # Boxing Day (substitute day)
    date(2027, 1, 1),
    date(2027, 3, 26),  # Good Friday
    date(2027, 3, 29),  # Easter Monday
    date(2027, 5, 3),
    date(2027, 5, 31),
    date(2027, 8, 30),
    date(2027, 12, 27),  # Christmas Day (substitute day)
    date(2027, 12, 28),  # Boxing Day (substitute day)
]


@pytest.mark.parametrize("holiday", ENGLAND_AND_WALES_2026_2027, ids=str)
def test_england_and_wales_bank_holidays_are_not_working_days(holiday: date) -> None:
    assert holiday.weekday() < 5
    assert not is_working_day(holiday)


def test_the_bank_holiday_list_matches_gov_uk_exactly() -> None:
    weekday_holidays = {d for y in (2026, 2027) for d in bank_holidays(y) if d.weekday() < 5}
    assert weekday_holidays == set(ENGLAND_AND_WALES_2026_2027)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 2),  # 2 January: Scotland only
        date(2026, 8, 3),  # first Monday in August: Scotland only
        date(2026, 11, 30),  # St Andrew's Day: Scotland only
        date(2026, 3, 17),  # St Patrick's Day: Northern Ireland only
        date(2027, 7, 12),  # Battle of the Boyne: Northern Ireland only
        date(2026, 12, 29),
    ],
    ids=str,
)
def test_scottish_and_northern_irish_holidays_are_working_days_in_england(day: date) -> None:
    assert is_working_day(day)


@pytest.mark.parametrize("day", [date(2022, 9, 19), date(2023, 5, 8), date(2022, 6, 3)], ids=str)
def test_one_off_bank_holidays_are_included(day: date) -> None:
    assert not is_working_day(day)


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 1, 3))
    assert not is_working_day(date(2026, 1, 4))
    assert is_working_day(date(2026, 1, 5))


def test_a_date_time_is_judged_by_its_london_calendar_day() -> None:
    assert is_working_day(datetime(2026, 7, 3, 22, 30, tzinfo=UTC))  # Friday 23:30 in London
    assert not is_working_day(datetime(2026, 7, 3, 23, 30, tzinfo=UTC))  # Saturday 00:30 in London


def test_bank_holidays_outside_the_supported_years_are_refused() -> None:
    with pytest.raises(ValueError, match="1971 to 2199"):
        bank_holidays(1900)
    with pytest.raises(ValueError):
        working_days_between(date(1960, 1, 1), date(1960, 2, 1))


# ---------------------------------------------------------------- adding working days


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 24), 1, date(2026, 12, 29)),  # Christmas, weekend, Boxing Day substitute
        (date(2026, 12, 24), 3, date(2026, 12, 31)),
        (date(2026, 12, 24), 4, date(2027, 1, 4)),  # over New Year's Day and a weekend
        (date(2027, 12, 24), 1, date(2027, 12, 29)),  # two substitute days in 2027
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Easter 2026
        (date(2027, 3, 25), 1, date(2027, 3, 30)),  # Easter 2027
        (date(2026, 5, 1), 1, date(2026, 5, 5)),  # early May 2026
        (date(2027, 4, 30), 1, date(2027, 5, 4)),  # early May 2027
        (date(2026, 5, 22), 1, date(2026, 5, 26)),  # spring 2026
        (date(2027, 5, 28), 1, date(2027, 6, 1)),  # spring 2027
        (date(2026, 8, 28), 1, date(2026, 9, 1)),  # summer 2026
        (date(2027, 8, 27), 1, date(2027, 8, 31)),  # summer 2027
        (date(2026, 1, 5), 5, date(2026, 1, 12)),
        (date(2026, 1, 3), 1, date(2026, 1, 5)),  # from a Saturday
        (date(2026, 1, 3), 0, date(2026, 1, 3)),  # zero leaves the day alone
        (date(2026, 12, 29), -1, date(2026, 12, 24)),
        (date(2027, 1, 4), -1, date(2026, 12, 31)),
        (date(2026, 4, 7), -1, date(2026, 4, 2)),
        (date(2026, 1, 4), -1, date(2026, 1, 2)),  # back from a Sunday
        (date(2026, 1, 1), 20, date(2026, 1, 29)),
    ],
    ids=str,
)
def test_add_working_days(start: date, count: int, expected: date) -> None:
    assert add_working_days(start, count) == expected


def _step_one_by_one(start: date, count: int) -> date:
    day, step = start, (1 if count > 0 else -1)
    for _ in range(abs(count)):
        day += timedelta(days=step)
        while not is_working_day(day):
            day += timedelta(days=step)
    return day


@pytest.mark.parametrize("first", [date(2026, 3, 16), date(2026, 12, 1), date(2027, 3, 15), date(2027, 12, 6)])
def test_add_working_days_agrees_with_stepping_day_by_day(first: date) -> None:
    for offset in range(35):
        start = first + timedelta(days=offset)
        for count in [*range(-12, 13), 65, -65]:
            assert add_working_days(start, count) == _step_one_by_one(start, count), (start, count)


def test_add_working_days_keeps_the_london_time_of_day_across_a_clock_change() -> None:
    friday = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # 09:00 GMT
    assert add_working_days(friday, 1) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 09:00 BST


def test_add_working_days_uses_the_london_day_of_a_date_time() -> None:
    saturday_in_london = datetime(2026, 7, 3, 23, 30, tzinfo=UTC)
    assert add_working_days(saturday_in_london, 1) == datetime(2026, 7, 5, 23, 30, tzinfo=UTC)


def test_add_working_days_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most"):
        add_working_days(date(2026, 1, 1), MAX_WORKING_DAYS + 1)


# ---------------------------------------------------------------- counting working days


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 12, 24), date(2026, 12, 29), 1),
        (date(2026, 12, 24), date(2027, 1, 4), 4),
        (date(2026, 1, 2), date(2026, 1, 5), 1),  # Friday to Monday
        (date(2026, 1, 5), date(2026, 1, 5), 0),
        (date(2026, 1, 3), date(2026, 1, 4), 0),  # a weekend
        (date(2026, 1, 5), date(2026, 1, 2), -1),
        (date(2026, 4, 2), date(2026, 4, 7), 1),  # Easter
        (date(2026, 1, 1), date(2026, 12, 31), 253),  # 261 weekdays less 8 bank holidays
    ],
    ids=str,
)
def test_working_days_between(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected


def test_working_days_between_is_the_inverse_of_add_working_days() -> None:
    start = date(2026, 12, 1)
    for offset in range(-40, 41):
        end = start + timedelta(days=offset)
        if is_working_day(end):
            assert add_working_days(start, working_days_between(start, end)) == end


def test_working_days_between_date_times_counts_london_days() -> None:
    assert (
        working_days_between(datetime(2026, 7, 2, 23, 30, tzinfo=UTC), datetime(2026, 7, 6, 8, 0, tzinfo=UTC)) == 1
    )  # Friday 00:30 London to Monday


# ---------------------------------------------------------------- calendar months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 31), 13, date(2027, 2, 28)),
        (date(2026, 5, 15), -17, date(2024, 12, 15)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2026, 1, 15), 0, date(2026, 1, 15)),
    ],
    ids=str,
)
def test_add_months_clamps_to_the_end_of_the_month(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_months_keeps_the_time_of_day() -> None:
    moment = datetime(2026, 1, 31, 17, 45, tzinfo=UTC)
    assert add_months(moment, 1) == datetime(2026, 2, 28, 17, 45, tzinfo=UTC)


@pytest.mark.parametrize("months", [10**12, -(10**12), 12 * 8000])
def test_add_months_refuses_results_outside_the_calendar(months: int) -> None:
    with pytest.raises(ValueError, match="years 1 to 9999"):
        add_months(date(2026, 1, 1), months)


# ---------------------------------------------------------------- ISO-8601 values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T09:00", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("2026-01-31T09:00Z", datetime(2026, 1, 31, 9, tzinfo=UTC)),
        ("2026-07-01T09:00:30+01:00", datetime(2026, 7, 1, 8, 0, 30, tzinfo=UTC)),
        ("2026-07-01T09:00:30-0530", datetime(2026, 7, 1, 14, 30, 30, tzinfo=UTC)),
        ("2026-07-01T09:00:30.25Z", datetime(2026, 7, 1, 9, 0, 30, 250000, tzinfo=UTC)),
    ],
)
def test_parse_iso_datetime(text: str, expected: datetime) -> None:
    parsed = parse_iso_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13-01", "26-01-01", "2026-01-01T25:00", "2026-01-01 09:00", "20260101", ""]
)
def test_parse_iso_datetime_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid date-time"):
        parse_iso_datetime(text)


def test_parse_iso_date() -> None:
    assert parse_iso_date("2026-01-31") == date(2026, 1, 31)
    for text in ["2026-02-29", "2026-1-31", "2026-01-31T00:00", "2026-W05-6"]:
        with pytest.raises(ValueError, match="not a valid date"):
            parse_iso_date(text)


# ---------------------------------------------------------------- Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P5D", Duration(days=5)),
        ("PT72H", Duration(seconds=72 * 3600)),
        ("P1Y2M", Duration(years=1, months=2)),
        ("P2W", Duration(days=14)),
        ("P1DT2H3M4S", Duration(days=1, seconds=2 * 3600 + 3 * 60 + 4)),
        ("PT0S", Duration()),
        ("P3Y6M4DT12H30M5S", Duration(3, 6, 4, 12 * 3600 + 30 * 60 + 5)),
    ],
)
def test_duration_parse(text: str, expected: Duration) -> None:
    parsed = Duration.parse(text)
    assert (parsed.years, parsed.months, parsed.days, parsed.seconds) == (
        expected.years,
        expected.months,
        expected.days,
        expected.seconds,
    )


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "5D", "P0.5D", "PT1.5H", "P-1D", "-P1D", "p5d", "P1H", "P1D2Y", "P" + "9" * 19 + "D"],
)
def test_duration_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid ISO-8601 duration"):
        Duration.parse(text)


@pytest.mark.parametrize("text", ["P99999999999D", "P20000Y", "PT999999999999H"])
def test_durations_are_bounded(text: str) -> None:
    with pytest.raises(ValueError, match="10,000 years"):
        Duration.parse(text)


def test_duration_add_to_uses_calendar_months_then_exact_time() -> None:
    assert Duration(months=1).add_to(date(2026, 1, 31)) == date(2026, 2, 28)
    assert Duration.parse("P1M1D").add_to(date(2026, 1, 31)) == date(2026, 3, 1)
    moment = datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert Duration.parse("P1MT1H").add_to(moment) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert Duration.parse("P1D").add_to(datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 12, tzinfo=UTC
    )  # a day is 24 hours of UTC, even over the clock change


def test_duration_add_to_converts_and_assumes_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert Duration(days=1).add_to(datetime(2026, 1, 1, 10, tzinfo=paris)) == datetime(2026, 1, 2, 9, tzinfo=UTC)
    assert Duration(days=1).add_to(datetime(2026, 1, 1, 10)) == datetime(2026, 1, 2, 10, tzinfo=UTC)


def test_a_time_of_day_cannot_be_added_to_a_date() -> None:
    with pytest.raises(ValueError, match="no time of day"):
        Duration.parse("PT1H").add_to(date(2026, 1, 1))
    assert Duration.parse("PT24H").add_to(date(2026, 1, 1)) == date(2026, 1, 2)


def test_duration_arithmetic() -> None:
    start = datetime(2026, 3, 31, tzinfo=UTC)
    month = Duration(months=1)
    assert start + month == datetime(2026, 4, 30, tzinfo=UTC)
    assert month + start == datetime(2026, 4, 30, tzinfo=UTC)
    assert start - month == datetime(2026, 2, 28, tzinfo=UTC)
    assert date(2026, 3, 31) - month == date(2026, 2, 28)
    assert month + Duration(days=2) == Duration(months=1, days=2)
    assert Duration(days=2) - Duration(days=3) == -Duration(days=1)
    with pytest.raises(TypeError):
        _ = month - start


def test_duration_equality_and_ordering() -> None:
    assert Duration.parse("P1Y") == Duration.parse("P12M")
    assert Duration.parse("P1D") == Duration.parse("PT24H") == timedelta(days=1)
    assert hash(Duration.parse("P1D")) == hash(timedelta(days=1))
    assert hash(Duration.parse("P1Y")) == hash(Duration.parse("P12M"))
    assert Duration.parse("P5D") < timedelta(days=6)
    assert timedelta(days=6) > Duration.parse("P5D")
    assert Duration.parse("PT1H") <= Duration.parse("PT60M")
    assert Duration.parse("P1M") != timedelta(days=30)
    with pytest.raises(ValueError, match="no fixed length"):
        _ = Duration.parse("P1M") > timedelta(days=30)


@pytest.mark.parametrize("text", ["P5D", "PT72H", "P1Y2M", "P1DT2H3M4S", "PT0S", "PT1M"])
def test_duration_isoformat(text: str) -> None:
    assert Duration.parse(text).isoformat() == text
    assert str(-Duration.parse("P5D")) == "-P5D"


def test_duration_parts_must_be_whole_numbers() -> None:
    with pytest.raises(TypeError):
        Duration(days=1.5)  # type: ignore[arg-type]
