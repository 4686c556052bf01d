"""Factories for tests of lotteries (a lottery over a facility for the month after next, open
now), used by the tests of reservations, the API, the portal and the console."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.reservations.models import Facility, Lottery
from madoguchi.reservations.testing import facility_make, slots_make
from madoguchi.tenants.models import Organisation


def target_month(at: datetime | None = None) -> date:
    """The first day of the month after next."""
    today = to_tokyo(at or _now()).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def weekday_in(month: date, nth: int = 0) -> date:
    day, found = month + timedelta(days=7), -1
    while True:
        if day.weekday() < 5:
            found += 1
            if found == nth:
                return day
        day += timedelta(days=1)


def saturday_in(month: date) -> date:
    day = month + timedelta(days=7)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return day


def lottery_facility(organisation: Organisation, month: date, **extra: Any) -> Facility:
    """A facility with slots on two weekdays and a Saturday of ``month``."""
    facility = facility_make(organisation, **extra)
    for day in (weekday_in(month, 0), weekday_in(month, 1), saturday_in(month)):
        slots_make(facility, day)
    return facility


def lottery_make(
    organisation: Organisation, staff: Any, facility: Facility, *, at: datetime, **kw: Any
) -> Lottery:
    """A lottery open from an hour before ``at``: closes a day after, drawn two days after,
    confirmed by five days after, first come from six days after."""
    from madoguchi.reservations.lottery import lottery_create

    values: dict[str, Any] = {
        "organisation": organisation,
        "staff": staff,
        "name": "テスト抽選",
        "month": target_month(at),
        "entry_opens_at": at - timedelta(hours=1),
        "entry_closes_at": at + timedelta(days=1),
        "draw_at": at + timedelta(days=2),
        "confirm_deadline": at + timedelta(days=5),
        "release_at": at + timedelta(days=6),
        "facility_ids": [facility.pk],
        "now": at,
    }
    values.update(kw)
    return lottery_create(**values)
