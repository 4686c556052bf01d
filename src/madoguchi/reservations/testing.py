"""Factories for tests of reservations (a facility with a divisible hall and a court, its
コマ, slots on a day, an approved registration). Used by the tests of every entry app."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from madoguchi.core.time import TOKYO, now, to_tokyo
from madoguchi.reservations.constants import (
    DayType,
    FacilityCategory,
    RegistrationKind,
    RegistrationStatus,
    ResourceKind,
    SlotState,
)
from madoguchi.reservations.models import Facility, Registration, Resource, Slot, TimeBand
from madoguchi.tenants.models import Organisation

BANDS = (("午前", time(9), time(12)), ("午後", time(13), time(17)), ("夜間", time(18), time(21)))


def facility_make(
    organisation: Organisation, *, name: str = "市民体育館", published: bool = True, **extra: Any
) -> Facility:
    """A facility with 大ホール (divisible into 大ホールA and 大ホールB), テニスコート1, and
    three コマ on weekdays and on holidays."""
    facility = Facility.objects.create(
        organisation=organisation,
        name=name,
        kana="しみんたいいくかん",
        category=extra.pop("category", FacilityCategory.SPORTS),
        address="本町1-1",
        published=published,
        **extra,
    )
    hall = Resource.objects.create(
        organisation=organisation,
        facility=facility,
        name="大ホール",
        kind=ResourceKind.HALL,
        capacity=300,
        order=1,
    )
    for order, part in enumerate(("大ホールA", "大ホールB"), start=2):
        Resource.objects.create(
            organisation=organisation,
            facility=facility,
            parent=hall,
            name=part,
            kind=ResourceKind.HALL,
            capacity=150,
            order=order,
        )
    Resource.objects.create(
        organisation=organisation,
        facility=facility,
        name="テニスコート1",
        kind=ResourceKind.COURT,
        capacity=8,
        order=10,
    )
    for day_type in DayType:
        for band_name, start, end in BANDS:
            TimeBand.objects.create(
                organisation=organisation,
                facility=facility,
                day_type=day_type,
                name=band_name,
                start=start,
                end=end,
            )
    return facility


def slots_make(
    facility: Facility,
    day: date,
    *,
    state: SlotState = SlotState.OPEN,
    fee: int = 2000,
    opens_at: datetime | None = None,
) -> list[Slot]:
    """Slots of every resource for every weekday コマ of ``day`` (no calendar rules: the
    generation service of the console applies closed days and holidays)."""
    made = []
    for resource in facility.resources.all():
        for band in facility.time_bands.filter(day_type=DayType.WEEKDAY):
            made.append(
                Slot.objects.create(
                    organisation_id=facility.organisation_id,
                    facility=facility,
                    resource=resource,
                    band=band,
                    date=day,
                    starts_at=datetime.combine(day, band.start, TOKYO),
                    ends_at=datetime.combine(day, band.end, TOKYO),
                    state=state,
                    fee=fee,
                    opens_at=opens_at,
                )
            )
    return made


def slot_of(facility: Facility, resource_name: str, day: date, band: str = "午前") -> Slot:
    return Slot.objects.get(
        facility=facility, resource__name=resource_name, date=day, band__name=band
    )


def registration_make(
    organisation: Organisation,
    user: Any,
    *,
    number: str | None = None,
    kind: RegistrationKind = RegistrationKind.INDIVIDUAL,
    status: RegistrationStatus = RegistrationStatus.APPROVED,
) -> Registration:
    count = Registration.objects.filter(organisation=organisation).count()
    return Registration.objects.create(
        organisation=organisation,
        user=user,
        kind=kind,
        number=number or f"U{count + 1:06d}",
        name="予約 花子" if kind == RegistrationKind.INDIVIDUAL else "本町テニスクラブ",
        status=status,
    )


def next_weekday(start: date | None = None, days_ahead: int = 14) -> date:
    day = (start or to_tokyo(now()).date()) + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
