"""Working days in mainland China (holidays and swapped weekends) and when deadlines pass."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.engine.calendar import LOCAL, add_working_days, due_at, is_working_day


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 13), True),    # Friday before the Spring Festival
    (date(2026, 2, 14), True),    # Saturday worked in exchange (调休)
    (date(2026, 2, 16), False),   # 除夕
    (date(2026, 2, 23), False),   # Monday, still the holiday
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday worked in exchange
    (date(2026, 3, 1), False),    # an ordinary Sunday
    (date(2026, 10, 1), False),   # National Day
    (date(2026, 10, 8), True),
])
def test_working_days_follow_the_official_calendar(day, working):
    assert is_working_day(day) is working


def test_adding_working_days_skips_the_spring_festival():
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert add_working_days(date(2026, 6, 1), 5) == date(2026, 6, 8)  # Mon + 5 = next Mon


def test_a_deadline_ends_with_its_last_day_in_beijing_time():
    # Entered on Monday 1 June 2026 at 17:30 Beijing time (09:30 UTC).
    since = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    closes = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    five_working = due_at({"kind": "working_days", "value": 5}, since, closes)
    assert five_working == datetime(2026, 6, 9, 0, 0, tzinfo=LOCAL)  # after Monday 8 June
    assert due_at({"kind": "days", "value": 7}, since, closes) == datetime(
        2026, 6, 9, 0, 0, tzinfo=LOCAL)
    assert due_at({"kind": "date", "value": "2026-06-20"}, since, closes) == datetime(
        2026, 6, 21, 0, 0, tzinfo=LOCAL)
    assert due_at({"kind": "call_closes", "value": True}, since, closes) == closes
