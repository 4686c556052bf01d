"""The calendar rules of facilities (pure functions): which day type a date is, and whether a
facility is closed on a date by its closed weekdays (定休日) with the holiday rule.

**The holiday rule (祝日の振替).** A facility closed on, say, Mondays opens on a Monday that is
a national holiday (祝日) and closes instead on the next weekday that is not a holiday (翌平日)
— the common rule of Japanese public facilities. A closed weekday that falls on a Saturday or
Sunday that is not a holiday simply closes; one that is a holiday moves to the next weekday.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

import jpholiday

from madoguchi.reservations.constants import DayType

WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")

#: The dates the staff pages show: a date outside is a typo (and arithmetic near
#: ``date.max`` or ``date.min`` would overflow), so a page refuses it and shows today.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def day_in_range(day: date) -> bool:
    """Whether ``day`` is one the staff pages show (:data:`FIRST_DAY` … :data:`LAST_DAY`)."""
    return FIRST_DAY <= day <= LAST_DAY


def is_holiday(day: date) -> bool:
    """A national holiday (国民の祝日, 振替休日, 国民の休日)."""
    return bool(jpholiday.is_holiday(day))


def day_type_of(day: date) -> DayType:
    """土日祝 (Saturday, Sunday, national holiday) or 平日."""
    if day.weekday() >= 5 or is_holiday(day):
        return DayType.HOLIDAY
    return DayType.WEEKDAY


def _is_working_weekday(day: date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def closed_by_weekday(closed_weekdays: Collection[int], day: date) -> bool:
    """Whether a facility with ``closed_weekdays`` (0 = Monday … 6 = Sunday) is closed on
    ``day`` by them, with the holiday rule of the module docstring."""
    if not closed_weekdays or is_holiday(day):
        return False
    if day.weekday() in closed_weekdays:
        return True
    if not _is_working_weekday(day):
        return False
    # The first working weekday after a closed weekday that was a holiday closes instead.
    back = day - timedelta(days=1)
    while not _is_working_weekday(back):
        if back.weekday() in closed_weekdays and is_holiday(back):
            return True
        back -= timedelta(days=1)
    return False


def month_days(first: date) -> list[date]:
    """Every date of the month of ``first``."""
    start = first.replace(day=1)
    days = []
    day = start
    while day.month == start.month:
        days.append(day)
        day += timedelta(days=1)
    return days


def next_month(first: date) -> date:
    first = first.replace(day=1)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def previous_month(first: date) -> date:
    first = first.replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )
