"""Working days in mainland China and the moment a state's deadline passes.

Holidays and the weekend days worked in exchange (调休) come from the maintained ``holidays``
package, which follows the State Council's yearly notice; upgrade it after the notice for the next
year is published (usually in November). A year the package does not know in full is counted
with its statutory holidays and ordinary weekends.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

LOCAL = ZoneInfo("Asia/Shanghai")


@functools.lru_cache(maxsize=16)
def _calendar(year: int) -> Any:
    """The official holidays of one year (with the swapped working weekends)."""
    return holidays.China(years=year)


def is_working_day(day: date) -> bool:
    """Whether ``day`` is a working day: a weekday that is no holiday, or a swapped weekend."""
    calendar = _calendar(day.year)
    if day in getattr(calendar, "weekend_workdays", set()):
        return True
    return day.weekday() < 5 and day not in calendar


def holiday_name(day: date) -> str | None:
    """The holiday ``day`` belongs to, if any."""
    return _calendar(day.year).get(day)


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def end_of(day: date) -> datetime:
    """The moment ``day`` ends in Beijing time (its following midnight), as an aware datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL)


def due_at(deadline: dict[str, Any], since: datetime, call_closes: datetime) -> datetime:
    """When a state entered at ``since`` has its deadline ``deadline`` (validated shape).

    ``days`` and ``working_days`` count from the day of entry (not included) and end with the
    last counted day; ``date`` ends with that day; ``call_closes`` is the call's closing time.
    """
    kind, value = deadline["kind"], deadline["value"]
    entered = since.astimezone(LOCAL).date()
    if kind == "days":
        return end_of(entered + timedelta(days=int(value)))
    if kind == "working_days":
        return end_of(add_working_days(entered, int(value)))
    if kind == "date":
        return end_of(date.fromisoformat(str(value)))
    if kind == "call_closes":
        return call_closes
    raise ValueError(f"unknown deadline kind {kind!r}")
