"""Jinja filters: times in Europe/London, ages, role names, and values as people read them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask

from engine.calendar import LONDON
from engine.roles import ROLES

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def init_app(app: Flask) -> None:
    """Register the filters and the role labels."""
    app.jinja_env.filters.update(london=london, london_date=london_date, age=age, role_label=role_label,
                                 answer=answer, iso_london=iso_london, starter=starter)
    app.jinja_env.globals["ROLES"] = ROLES


def london(value: datetime | None) -> str:
    """``27 Mar 2026, 14:30`` in London time ("" for None)."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def london_date(value: date | datetime | None) -> str:
    """``27 Mar 2026`` (a datetime is first put in London time)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def iso_london(value: datetime) -> str:
    """Machine-readable time for ``<time datetime>``, with the London offset."""
    return value.astimezone(LONDON).isoformat(timespec="minutes")


def age(since: datetime, now: datetime) -> str:
    """How long ago, roughly: ``3 days``, ``5 hours``, ``12 minutes``, ``just now``."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return "just now"


SYSTEM_STARTERS = {
    "system:anonymous-report": "Anonymous report",
    "system:playback": "The system (a refused playback)",
    "system:disclosure": "The system (a delivery link misused)",
    "system:breach-trigger": "The system (a breach trigger)",
    "system:timers": "The system (a timer)",
}


def starter(value: str) -> str:
    """Who started a case as people read it: an anonymous report never names its reporter."""
    return SYSTEM_STARTERS.get(value, "The system" if value.startswith("system:") else value)


def role_label(key: str) -> str:
    """The label people know a role by."""
    return ROLES.get(key, key)


def answer(value: Any, kind: str = "string") -> str:
    """A stored form value as a sentence fragment: Yes/No, dates in London, "Not given" for blanks."""
    if value is None or value == "":
        return "Not given"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str) and kind in ("date", "datetime"):
        try:
            value = datetime.fromisoformat(value) if kind == "datetime" else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return london(value) if value.tzinfo else f"{london_date(value)}, {value:%H:%M}"
    if isinstance(value, date):
        return london_date(value)
    return str(value)
