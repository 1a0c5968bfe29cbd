"""Generated call-log data for the simulator: deterministic by seed, realistic enough to demo on.

The organisation answers on ``+44 1248 1234xx`` (extensions 101-140 and a main line); callers
use Ofcom's drama ranges (mobiles ``07700 900xxx``, landlines such as ``0113 496 0xxx``,
``020 7946 0xxx``, ``01632 960xxx``), so no generated number belongs to a real person. Calls fall
mostly in UK office hours over the 90 days before ``now``; most answered calls are recorded,
and some are transferred, giving two records that share a ``sessionId``.
"""

from __future__ import annotations

import bisect
import math
import operator
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
ACCOUNT_ID = "401234567008"
MAIN_NUMBER = "+441248123456"

_FIRST = (
    "Gareth",
    "Siân",
    "Rhys",
    "Catrin",
    "Dafydd",
    "Elin",
    "Owain",
    "Nia",
    "Huw",
    "Ffion",
    "Iwan",
    "Manon",
    "Aled",
    "Lowri",
    "Emyr",
    "Mared",
    "Sarah",
    "James",
    "Emma",
    "David",
    "Rachel",
    "Tom",
    "Helen",
    "Mark",
    "Claire",
    "Paul",
    "Anna",
    "Ian",
)
_LAST = (
    "Jones",
    "Williams",
    "Davies",
    "Evans",
    "Roberts",
    "Hughes",
    "Thomas",
    "Lewis",
    "Morgan",
    "Griffiths",
    "Owen",
    "Parry",
    "Pritchard",
    "Edwards",
    "Price",
    "Lloyd",
    "Ellis",
    "Rees",
)
_LANDLINES = (  # Ofcom drama ranges: (prefix without "+", first number, place)
    ("44113496", 0, "Leeds"),
    ("44114496", 0, "Sheffield"),
    ("44115496", 0, "Nottingham"),
    ("44117496", 0, "Bristol"),
    ("44121496", 0, "Birmingham"),
    ("44131496", 0, "Edinburgh"),
    ("44141496", 0, "Glasgow"),
    ("44151496", 0, "Liverpool"),
    ("44161496", 0, "Manchester"),
    ("44191498", 0, "Tyneside"),
    ("44207946", 0, "London"),
    ("44289649", 6000, "Belfast"),
    ("44292018", 0, "Cardiff"),
    ("4416329", 60000, None),
)
_HOURS = (8, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 13, 14, 14, 14, 15, 15, 15, 16, 16, 17, 18, 19)
_INBOUND_RESULTS = (("Accepted", 82), ("Missed", 8), ("Voicemail", 6), ("Abandoned", 4))
_OUTBOUND_RESULTS = (("Call connected", 86), ("No Answer", 8), ("Busy", 4), ("Wrong Number", 2))
ANSWERED = frozenset({"Accepted", "Call connected"})


@dataclass(frozen=True, slots=True)
class Staff:
    """An extension: its short number, internal id, direct-dial number and holder."""

    number: str
    id: int
    ddi: str
    name: str


@dataclass(slots=True)
class SimCall:
    """One call-log record (one leg); mutable only where deletion changes it."""

    id: str
    session_id: str
    telephony_session_id: str
    start_ms: int
    duration: int
    direction: str
    external: str
    external_location: str | None
    staff: Staff
    result: str
    action: str
    recording_id: str | None
    recording_type: str | None
    modified_ms: int
    change_seq: int = 0
    transferred: bool = False

    def numbers(self) -> tuple[str, str]:
        """Both parties' numbers as E.164 digits without ``+``."""
        return self.external[1:], self.staff.ddi[1:]


def make_staff(rng: random.Random) -> list[Staff]:
    """Extensions 101-140 with generated names and direct-dial numbers."""
    names: dict[str, None] = {}
    while len(names) < 40:
        names[f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"] = None
    ordered = list(names)
    return [Staff(str(100 + n), 62_100_000_000 + n * 17, f"+4412481234{n:02d}", ordered[n - 1]) for n in range(1, 41)]


def make_callers(rng: random.Random, count: int) -> list[tuple[str, str | None]]:
    """``count`` distinct external numbers (E.164 with ``+``) and their places, in drama ranges."""
    callers: dict[str, str | None] = {}
    while len(callers) < count:
        if rng.random() < 0.45:
            callers[f"+447700900{rng.randrange(1000):03d}"] = None
        else:
            prefix, first, place = rng.choice(_LANDLINES)
            width = 12 - len(prefix)
            callers[f"+{prefix}{first + rng.randrange(1000):0{width}d}"] = place
    return list(callers.items())


class CallGenerator:
    """Produces :class:`SimCall` records in a time window, reproducibly for a given seed."""

    def __init__(self, seed: int, callers: int = 1500) -> None:
        self.rng = random.Random(seed)
        self.staff = make_staff(self.rng)
        self.callers = make_callers(self.rng, callers)
        self._serial = self.rng.randrange(10**6, 10**7)

    def calls(self, count: int, start: datetime, end: datetime) -> list[SimCall]:
        """``count`` records starting in ``[start, end)``, sorted by start time (oldest first)."""
        days, weights = _office_days(start, end)
        window = (int(start.timestamp()), int(end.timestamp()) - 1200)
        out: list[SimCall] = []
        while len(out) < count:
            self._add_call(out, self._start_second(days, weights, window), count - len(out))
        out.sort(key=operator.attrgetter("start_ms"))
        return out

    def _start_second(self, days: list[int], weights: list[float], window: tuple[int, int]) -> int:
        rng = self.rng
        first, last = window
        for _ in range(20):
            day = days[bisect.bisect(weights, rng.random() * weights[-1])]
            moment = day + _HOURS[int(rng.random() * len(_HOURS))] * 3600 + int(rng.random() * 3600)
            if first <= moment < last:
                return moment
        return first + int((last - first) * rng.random())

    def _add_call(self, out: list[SimCall], start_second: int, room: int) -> None:
        rng = self.rng
        inbound = rng.random() < 0.65
        result = _weighted(rng, _INBOUND_RESULTS if inbound else _OUTBOUND_RESULTS)
        answered = result in ANSWERED
        duration = _duration(rng, answered, result)
        external, location = self.callers[int(len(self.callers) * rng.random() ** 1.6)]
        staff = self.staff[int(rng.random() * len(self.staff))]
        session, telephony = str(self._next_serial(5)), f"s-a{rng.getrandbits(64):016x}"
        transfer = inbound and answered and room >= 2 and duration > 60 and rng.random() < 0.08
        legs = [(start_second, duration // 3 if transfer else duration, staff, result, False)]
        if transfer:
            other = rng.choice([s for s in self.staff if s is not staff])
            legs.append((start_second + legs[0][1], duration - legs[0][1], other, "Accepted", True))
        for leg_start, leg_duration, leg_staff, leg_result, transferred in legs:
            recording_type = None
            if answered:
                roll = rng.random()
                recording_type = "Automatic" if roll < 0.9 else "OnDemand" if roll < 0.94 else None
            start_ms = leg_start * 1000 + int(rng.random() * 1000)
            out.append(
                SimCall(
                    id=_base62(rng.getrandbits(40) << 24 | self._next_serial(1) & 0xFFFFFF),
                    session_id=session,
                    telephony_session_id=telephony,
                    start_ms=start_ms,
                    duration=leg_duration,
                    direction="Inbound" if inbound else "Outbound",
                    external=external,
                    external_location=location,
                    staff=leg_staff,
                    result=leg_result,
                    action="Transfer" if transferred else "Phone Call" if inbound else "VoIP Call",
                    recording_id=str(self._next_serial(3) * 1000 + 7) if recording_type else None,
                    recording_type=recording_type,
                    modified_ms=start_ms + (leg_duration + 2 + int(rng.random() * 30)) * 1000,
                    transferred=transferred,
                )
            )

    def _next_serial(self, step: int) -> int:
        self._serial += step
        return self._serial


def _office_days(start: datetime, end: datetime) -> tuple[list[int], list[float]]:
    """Local midnights (epoch seconds) of the window's days, with cumulative weights favouring weekdays."""
    days: list[int] = []
    weights: list[float] = []
    day, total = start.astimezone(LONDON).date(), 0.0
    while True:
        midnight = datetime.combine(day, time(0), tzinfo=LONDON)
        if midnight >= end:
            break
        total += 1.0 if day.weekday() < 5 else 0.08
        days.append(int(midnight.timestamp()))
        weights.append(total)
        day += timedelta(days=1)
    return days, weights


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    roll = rng.randrange(sum(weight for _, weight in table))
    for value, weight in table:
        if roll < weight:
            return value
        roll -= weight
    return table[-1][0]


def _duration(rng: random.Random, answered: bool, result: str) -> int:
    if answered:
        return max(8, min(3600, int(math.exp(rng.gauss(5.0, 0.8)))))
    if result == "Voicemail":
        return rng.randrange(20, 90)
    return rng.randrange(0, 40)


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]


def _base62(value: int) -> str:
    out = []
    while value:
        value, rest = divmod(value, 3844)
        out.append(_PAIRS[rest])
    return "".join(reversed(out)).lstrip("0") or "0"
