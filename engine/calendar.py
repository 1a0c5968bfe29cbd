"""Calendar arithmetic for expressions and timers: ISO-8601 values, calendar durations, working days.

Moments inside callgov are timezone-aware UTC, and arithmetic on them (adding a duration, adding
months) is done in UTC. Two questions are about the local calendar and are answered in
Europe/London: which day a moment falls on, and whether that day is a working day. A working day
is Monday to Friday and not an England and Wales bank holiday (from the ``holidays`` package,
``GB``/``ENG``, which includes one-off days such as a coronation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "LONDON",
    "FIRST_YEAR",
    "LAST_YEAR",
    "LONDON",
    "Duration",
    "add_months",
    "add_working_days",
    "as_utc",
    "bank_holidays",
    "is_working_day",
    "london_date",
    "parse_iso_date",
    "parse_iso_datetime",
    "working_days_between",
]

LONDON = ZoneInfo("Europe/London")
FIRST_YEAR, LAST_YEAR = 1971, 2199  # the years for which bank holidays are known
MAX_DURATION_DAYS = 3_660_000  # about 10,000 years
MAX_WORKING_DAYS = 50_000  # about 190 years of working days

_D = TypeVar("_D", bound=date)
_DAY = timedelta(days=1)
_DURATION = re.compile(
    r"P(?!$)(?:(\d{1,18})Y)?(?:(\d{1,18})M)?(?:(\d{1,18})W)?(?:(\d{1,18})D)?"
    r"(?:T(?=\d)(?:(\d{1,18})H)?(?:(\d{1,18})M)?(?:(\d{1,18})S)?)?"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


@dataclass(frozen=True, eq=False)
class Duration:
    """An ISO-8601 duration such as ``P1Y2M`` or ``PT72H``: calendar months plus an exact time span.

    Years and months have no fixed length, so a ``Duration`` is not a ``timedelta``: adding one
    moves the calendar month and clamps the day to the month's end (31 Jan + P1M = 28/29 Feb), then
    adds the days and seconds exactly. Weeks are stored as days. Durations without months or years
    compare with each other and with ``timedelta`` (a day is 24 hours); ``P1Y == P12M``.
    """

    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        for part in (self.years, self.months, self.days, self.seconds):
            if type(part) is not int:
                raise TypeError("the parts of a duration must be whole numbers")
        approx_days = abs(self.years) * 366 + abs(self.months) * 31 + abs(self.days) + abs(self.seconds) // 86400
        if approx_days > MAX_DURATION_DAYS:
            raise ValueError("a duration may not be longer than 10,000 years")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read an ISO-8601 duration (``P5D``, ``PT72H``, ``P1Y2M``, ``P2W``); ValueError if it is not one."""
        match = _DURATION.fullmatch(text.strip()) if len(text) <= 100 else None
        if match is None:
            raise ValueError(f"not a valid ISO-8601 duration: {text[:40]!r} (examples: P5D, PT72H, P1Y2M)")
        years, months, weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return cls(years, months, weeks * 7 + days, hours * 3600 + minutes * 60 + seconds)

    @property
    def total_months(self) -> int:
        """The calendar part of the duration, in months."""
        return self.years * 12 + self.months

    def to_timedelta(self) -> timedelta:
        """The exact time span; raises ValueError if the duration has months or years."""
        if self.total_months:
            raise ValueError("a duration with months or years has no fixed length")
        return timedelta(days=self.days, seconds=self.seconds)

    def add_to(self, when: _D) -> _D:
        """``when`` moved by this duration: calendar months first (clamped), then days and seconds.

        A date-time comes back as aware UTC (a naive one is taken to be UTC). A date stays a date,
        so only whole days may be added to it.
        """
        if isinstance(when, datetime):
            moved: Any = add_months(as_utc(when), self.total_months)
            return moved + timedelta(days=self.days, seconds=self.seconds)
        if self.seconds % 86400:
            raise ValueError(f"a date has no time of day, so {self.isoformat()} cannot be added to it")
        return add_months(when, self.total_months) + timedelta(days=self.days + self.seconds // 86400)

    def isoformat(self) -> str:
        """The ISO-8601 text of the duration, e.g. ``P1Y2M`` or ``-PT1H``."""
        parts = (self.years, self.months, self.days, self.seconds)
        if any(p < 0 for p in parts) and not any(p > 0 for p in parts):
            return "-" + (-self).isoformat()
        hours, rest = divmod(self.seconds, 3600) if self.seconds >= 0 else (0, self.seconds)
        minutes, seconds = divmod(rest, 60) if rest >= 0 else (0, rest)
        dates = ((self.years, "Y"), (self.months, "M"), (self.days, "D"))
        day_part = "".join(f"{n}{u}" for n, u in dates if n)
        time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
        if not (day_part or time_part):
            return "PT0S"
        return "P" + day_part + ("T" + time_part if time_part else "")

    def __str__(self) -> str:
        return self.isoformat()

    def __neg__(self) -> Duration:
        return Duration(-self.years, -self.months, -self.days, -self.seconds)

    def __add__(self, other: object) -> Any:
        if isinstance(other, Duration):
            return Duration(
                self.years + other.years,
                self.months + other.months,
                self.days + other.days,
                self.seconds + other.seconds,
            )
        if isinstance(other, date):
            return self.add_to(other)
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Any:
        return self + (-other) if isinstance(other, Duration) else NotImplemented

    def __rsub__(self, other: object) -> Any:
        return (-self).add_to(other) if isinstance(other, date) else NotImplemented

    def _fixed(self, other: object) -> tuple[timedelta, timedelta] | None:
        if isinstance(other, Duration):
            return self.to_timedelta(), other.to_timedelta()
        if isinstance(other, timedelta):
            return self.to_timedelta(), other
        return None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Duration):
            return (self.total_months, self.days * 86400 + self.seconds) == (
                other.total_months,
                other.days * 86400 + other.seconds,
            )
        if isinstance(other, timedelta):
            return not self.total_months and self.to_timedelta() == other
        return NotImplemented

    def __hash__(self) -> int:
        if self.total_months:
            return hash((self.total_months, self.days * 86400 + self.seconds))
        return hash(self.to_timedelta())

    def __lt__(self, other: object) -> bool:
        pair = self._fixed(other)
        return NotImplemented if pair is None else pair[0] < pair[1]

    def __le__(self, other: object) -> bool:
        pair = self._fixed(other)
        return NotImplemented if pair is None else pair[0] <= pair[1]

    def __gt__(self, other: object) -> bool:
        pair = self._fixed(other)
        return NotImplemented if pair is None else pair[0] > pair[1]

    def __ge__(self, other: object) -> bool:
        pair = self._fixed(other)
        return NotImplemented if pair is None else pair[0] >= pair[1]


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC; a naive date-time is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def london_date(when: date) -> date:
    """The Europe/London calendar day of a date-time (a date is returned unchanged)."""
    return as_utc(when).astimezone(LONDON).date() if isinstance(when, datetime) else when


def parse_iso_date(text: str) -> date:
    """Read ``YYYY-MM-DD``; raise ValueError otherwise."""
    match = _DATE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(f"not a valid date: {text[:40]!r} (write YYYY-MM-DD)") from None


def parse_iso_datetime(text: str) -> datetime:
    """Read an ISO-8601 date or date-time as aware UTC; no offset (or a bare date) means UTC."""
    match = _DATETIME.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[:6])
        micro = int(match[7].ljust(6, "0")) if match[7] else 0
        zone = _offset(match[8])
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise ValueError(f"not a valid date-time: {text[:40]!r} (write e.g. 2026-01-31T09:00:00Z)") from None


def _offset(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-delta if text[0] == "-" else delta)


def add_months(when: _D, months: int) -> _D:
    """``when`` moved by whole calendar months, the day clamped to the month's end; time is kept."""
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError("the result would be outside the years 1 to 9999")
    month += 1
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last_day = (following - _DAY).day
    return when.replace(year=year, month=month, day=min(when.day, last_day))


@cache
def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays in ``year`` (including substitute days)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"bank holidays are only known for the years {FIRST_YEAR} to {LAST_YEAR}")
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    """Whether the London calendar day of ``day`` is Monday to Friday and not a bank holiday."""
    day = london_date(day)
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def working_days_between(start: date, end: date) -> int:
    """How many working days you step from ``start`` to reach ``end``, by London calendar day.

    Going forward it counts working days after ``start`` up to and including ``end``; going back it
    is minus the working days from ``end`` up to but excluding ``start``. So, when ``end`` is a
    working day, ``add_working_days(start, working_days_between(start, end))`` is ``end``.
    """
    first, last = london_date(start), london_date(end)
    if last < first:
        return -_working_days_in(last - _DAY, first - _DAY)
    return _working_days_in(first, last)


def add_working_days(start: _D, count: int) -> _D:
    """The ``count``-th working day after ``start`` (before it if ``count`` is negative).

    ``start`` itself is never counted, and 0 returns ``start`` unchanged. For a date-time the step
    is made on its London calendar day and the London time of day is kept; the result is UTC.
    """
    if abs(count) > MAX_WORKING_DAYS:
        raise ValueError(f"at most {MAX_WORKING_DAYS:,} working days can be added at once")
    if count == 0:
        return start
    if isinstance(start, datetime):
        local = as_utc(start).astimezone(LONDON)
        day = _step_working_days(local.date(), count)
        moved: Any = datetime.combine(day, local.time(), tzinfo=LONDON).astimezone(UTC)
        return moved
    return _step_working_days(start, count)  # type: ignore[return-value]


def _step_working_days(day: date, count: int) -> date:
    # Jump over weekends arithmetically, then walk on by the number of bank holidays jumped over,
    # until a jump crosses none.
    remaining = abs(count)
    while remaining:
        target = _shift_weekdays(day, remaining if count > 0 else -remaining)
        if count > 0:
            remaining = _weekday_holidays_in(day, target)
        else:
            remaining = _weekday_holidays_in(target - _DAY, day - _DAY)
        day = target
    return day


def _shift_weekdays(day: date, count: int) -> date:
    """``day`` moved by ``count`` (non-zero) Monday-to-Friday days, ignoring bank holidays."""
    weekday = day.weekday()
    if count > 0:
        if weekday > 4:  # count from the Friday before
            day, weekday = day - timedelta(days=weekday - 4), 4
        weeks, rest = divmod(count, 5)
        extra = 2 if weekday + rest > 4 else 0
        return day + timedelta(days=7 * weeks + rest + extra)
    if weekday > 4:  # count from the Monday after
        day, weekday = day + timedelta(days=7 - weekday), 0
    weeks, rest = divmod(-count, 5)
    extra = 2 if weekday - rest < 0 else 0
    return day - timedelta(days=7 * weeks + rest + extra)


def _working_days_in(after: date, through: date) -> int:
    """Working days d with after < d <= through."""
    return _weekdays_through(through) - _weekdays_through(after) - _weekday_holidays_in(after, through)


def _weekdays_through(day: date) -> int:
    """Monday-to-Friday days from 1 January of year 1 (a Monday) up to and including ``day``."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


def _weekday_holidays_in(after: date, through: date) -> int:
    """Bank holidays falling Monday to Friday with after < d <= through."""
    return sum(
        1
        for year in range((after + _DAY).year, through.year + 1)
        for holiday in bank_holidays(year)
        if after < holiday <= through and holiday.weekday() < 5
    )
