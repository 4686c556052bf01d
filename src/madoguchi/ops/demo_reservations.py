"""Demo data of reservations (issue 13): a Yokohama sports centre with a divisible hall and
tennis courts, its コマ, two months of slots, and the demo resident's approved registration.
Each area adds its own part below (lottery already drawn, waitlist, events …). Idempotent."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import jpholiday

from madoguchi.core.time import TOKYO, to_tokyo
from madoguchi.identity.models import User
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

DEMO_FACILITY = "みなと市民スポーツセンター（デモ）"
#: (name, start, end, weekday fee, holiday fee) of the demo centre's コマ.
_BANDS = (
    ("午前", time(9), time(12), 2400, 3000),
    ("午後", time(13), time(17), 3200, 4000),
    ("夜間", time(18), time(21), 3200, 4000),
)


def demo_reservations(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    _demo_facility(yokohama, now=now)
    _demo_registration(yokohama, resident)
    _demo_booking(yokohama, resident, now=now)


def _demo_facility(yokohama: Organisation, *, now: datetime) -> Facility:
    facility, created = Facility.objects.get_or_create(
        organisation=yokohama,
        name=DEMO_FACILITY,
        defaults={
            "kana": "みなとしみんすぽーつせんたー",
            "category": FacilityCategory.SPORTS,
            "address": "横浜市中区本町1-1（デモ）",
            "phone": "045-000-0100",
            "description": "体育室（半面ずつでも利用できます）とテニスコート2面があります。",
            "rules": (
                "利用できるのは、市内に住んでいる方、通勤・通学している方と、その団体です。\n"
                "毎月1日から10日まで、翌々月分の抽選を受け付けます。抽選の結果は15日に公開します。\n"
                "当選した方は、25日までに確定してください。確定しないと当選は無効になります。\n"
                "抽選で残った枠は、翌月1日の9時から先着順で予約できます。"
            ),
            "published": True,
        },
    )
    if not created:
        return facility
    hall = Resource.objects.create(
        organisation=yokohama,
        facility=facility,
        name="体育室（全面）",
        kind=ResourceKind.HALL,
        capacity=200,
        order=1,
        equipment="バスケットボール2面・バレーボール2面・バドミントン6面",
    )
    for order, part in enumerate(("体育室（A面）", "体育室（B面）"), start=2):
        Resource.objects.create(
            organisation=yokohama,
            facility=facility,
            parent=hall,
            name=part,
            kind=ResourceKind.HALL,
            capacity=100,
            order=order,
        )
    for number in (1, 2):
        Resource.objects.create(
            organisation=yokohama,
            facility=facility,
            name=f"テニスコート{number}",
            kind=ResourceKind.COURT,
            capacity=8,
            order=10 + number,
            equipment="砂入り人工芝・夜間照明",
        )
    bands: dict[tuple[DayType, str], tuple[TimeBand, int]] = {}
    for name, start, end, weekday_fee, holiday_fee in _BANDS:
        for day_type, fee in ((DayType.WEEKDAY, weekday_fee), (DayType.HOLIDAY, holiday_fee)):
            band = TimeBand.objects.create(
                organisation=yokohama,
                facility=facility,
                day_type=day_type,
                name=name,
                start=start,
                end=end,
            )
            bands[(day_type, name)] = (band, fee)
    today = to_tokyo(now).date()
    for offset in range(1, 62):
        day = today + timedelta(days=offset)
        day_type = _day_type(day)
        for resource in facility.resources.all():
            for name, start, end, *_ in _BANDS:
                band, fee = bands[(day_type, name)]
                half = resource.parent_id is not None
                Slot.objects.create(
                    organisation=yokohama,
                    facility=facility,
                    resource=resource,
                    band=band,
                    date=day,
                    starts_at=datetime.combine(day, start, TOKYO),
                    ends_at=datetime.combine(day, end, TOKYO),
                    state=SlotState.OPEN,
                    fee=fee // 2
                    if half
                    else (fee // 4 if resource.kind == ResourceKind.COURT else fee),
                )
    return facility


def _day_type(day: date) -> DayType:
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return DayType.HOLIDAY
    return DayType.WEEKDAY


def _demo_registration(yokohama: Organisation, resident: User) -> Registration:
    registration, _ = Registration.objects.get_or_create(
        organisation=yokohama,
        user=resident,
        kind=RegistrationKind.INDIVIDUAL,
        defaults={
            "number": "Y000001",
            "name": "デモ 花子",
            "status": RegistrationStatus.APPROVED,
        },
    )
    return registration


#: The neighbour whose booking the demo resident waits for (an account nobody logs in to).
DEMO_NEIGHBOUR = "neighbour@yokohama.demo.madoguchi.jp"


def _demo_booking(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """The demo resident's confirmed booking (with its 使用許可書), a slot taken by a
    neighbour on whose waitlist the resident is, and the centre's refund schedule. Made
    through the same services as in the portal; skipped when already there."""
    from madoguchi.reservations.models import RefundRule, WaitlistEntry
    from madoguchi.reservations.services import booking_confirm, booking_hold
    from madoguchi.reservations.waitlist import waitlist_join

    facility = Facility.objects.get(organisation=yokohama, name=DEMO_FACILITY)
    for days_before, percent in ((7, 100), (1, 50), (0, 0)):
        RefundRule.objects.get_or_create(
            organisation=yokohama,
            facility=facility,
            days_before=days_before,
            defaults={"percent": percent},
        )
    registration = _demo_registration(yokohama, resident)
    if WaitlistEntry.objects.filter(organisation=yokohama, registration=registration).exists():
        return
    neighbour = User.objects.filter(email=DEMO_NEIGHBOUR).first()
    if neighbour is None:
        neighbour = User.objects.create_user(DEMO_NEIGHBOUR, None, display_name="デモ 近所")
    neighbour_registration, _ = Registration.objects.get_or_create(
        organisation=yokohama,
        user=neighbour,
        kind=RegistrationKind.GROUP,
        defaults={
            "number": "Y000002",
            "name": "みなとバスケットボールクラブ（デモ）",
            "status": RegistrationStatus.APPROVED,
        },
    )
    today = to_tokyo(now).date()

    def slot(resource: str, days: int, band: str) -> Slot:
        day = today + timedelta(days=days)
        while _day_type(day) != DayType.WEEKDAY:
            day += timedelta(days=1)
        return Slot.objects.get(
            facility=facility, resource__name=resource, date=day, band__name=band
        )

    for who, registration_, taken in (
        (resident, registration, slot("テニスコート1", 10, "午前")),
        (neighbour, neighbour_registration, slot("体育室（全面）", 12, "夜間")),
    ):
        held = booking_hold(
            organisation=yokohama,
            slot_id=taken.pk,
            registration=registration_,
            user=who,
            identity=None,
            now=now,
        ).booking
        booking_confirm(organisation=yokohama, booking_id=held.pk, user=who, now=now)
    waitlist_join(
        organisation=yokohama,
        slot_id=slot("体育室（全面）", 12, "夜間").pk,
        registration=registration,
        user=resident,
        identity=None,
        now=now,
    )
