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
    _demo_lottery(yokohama, resident, now=now)


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


# --- 抽選 (lottery) ---------------------------------------------------------------------------

#: Invented entrants of the drawn demo lottery (accounts that cannot log in).
_DEMO_ENTRANTS = 12


def _month_after(day: date, months: int) -> date:
    first = day.replace(day=1)
    for _ in range(months):
        first = (first + timedelta(days=32)).replace(day=1)
    return first


def _demo_month_slots(facility: Facility, month: date) -> None:
    """Slots for every day of ``month`` (the 61 days of the centre may end inside it)."""
    bands = {(b.day_type, b.name): b for b in facility.time_bands.all()}
    fees = {name: (weekday, holiday) for name, _, _, weekday, holiday in _BANDS}
    following = _month_after(month, 1)
    existing = set(
        Slot.objects.filter(facility=facility, date__gte=month, date__lt=following).values_list(
            "resource_id", "starts_at"
        )
    )
    rows = []
    day = month
    while day < following:
        day_type = _day_type(day)
        for resource in facility.resources.all():
            for name, start, end, *_ in _BANDS:
                starts_at = datetime.combine(day, start, TOKYO)
                if (resource.pk, starts_at) in existing:
                    continue
                fee = fees[name][0 if day_type == DayType.WEEKDAY else 1]
                half = resource.parent_id is not None
                rows.append(
                    Slot(
                        organisation_id=facility.organisation_id,
                        facility=facility,
                        resource=resource,
                        band=bands[(day_type, name)],
                        date=day,
                        starts_at=starts_at,
                        ends_at=datetime.combine(day, end, TOKYO),
                        state=SlotState.OPEN,
                        fee=fee // 2
                        if half
                        else (fee // 4 if resource.kind == ResourceKind.COURT else fee),
                    )
                )
        day += timedelta(days=1)
    Slot.objects.bulk_create(rows)


def _demo_lottery(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """One lottery already drawn (next month: the demo resident won and confirms by a
    deadline still ahead; invented entrants lost or won too) and one open now (the month
    after next) that the demo resident can enter. ``madoguchi lottery verify <id>`` passes
    on the drawn one."""
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.models import Staff
    from madoguchi.reservations.lottery import lottery_create
    from madoguchi.reservations.models import Lottery

    facility = Facility.objects.get(organisation=yokohama, name=DEMO_FACILITY)
    admin = Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN, active=True).first()
    registration = Registration.objects.filter(organisation=yokohama, user=resident).first()
    if admin is None or registration is None:
        return
    today = to_tokyo(now).date()
    drawn_month = _month_after(today, 1)
    open_month = _month_after(today, 2)
    if not Lottery.objects.filter(
        organisation=yokohama, facilities=facility, month=drawn_month
    ).exists():
        _demo_drawn_lottery(yokohama, facility, admin, registration, drawn_month, now=now)
    if not Lottery.objects.filter(
        organisation=yokohama, facilities=facility, month=open_month
    ).exists():
        _demo_month_slots(facility, open_month)
        lottery_create(
            organisation=yokohama,
            staff=admin,
            name=f"{open_month:%Y年%-m月}分 体育室・テニスコートの抽選（デモ）",
            month=open_month,
            entry_opens_at=now - timedelta(days=1),
            entry_closes_at=now + timedelta(days=7),
            draw_at=now + timedelta(days=8),
            confirm_deadline=now + timedelta(days=15),
            release_at=datetime.combine(open_month, time(9), TOKYO),
            facility_ids=[facility.pk],
            now=now,
        )


def _demo_drawn_lottery(
    yokohama: Organisation,
    facility: Facility,
    admin: object,
    registration: Registration,
    month: date,
    *,
    now: datetime,
) -> None:
    from madoguchi.identity.models import Staff
    from madoguchi.reservations.lottery import lottery_create, lottery_draw, lottery_enter

    assert isinstance(admin, Staff)
    created = now - timedelta(days=10)
    entering = now - timedelta(days=8)
    confirm_deadline = now + timedelta(days=3)
    release_at = max(confirm_deadline, datetime.combine(month, time(9), TOKYO))
    lottery = lottery_create(
        organisation=yokohama,
        staff=admin,
        name=f"{month:%Y年%-m月}分 体育室・テニスコートの抽選（デモ・抽選済み）",
        month=month,
        entry_opens_at=created,
        entry_closes_at=now - timedelta(days=3),
        draw_at=now - timedelta(days=2),
        confirm_deadline=confirm_deadline,
        release_at=release_at,
        facility_ids=[facility.pk],
        now=created,
    )
    day = month + timedelta(days=9)
    while _day_type(day) != DayType.WEEKDAY:
        day += timedelta(days=1)

    def slot(resource: str, band: str, on: date = day) -> int:
        return Slot.objects.get(
            facility=facility, resource__name=resource, date=on, band__name=band
        ).pk

    # The demo resident alone asks for テニスコート2 on the evening: a sure win to confirm.
    assert registration.user is not None
    lottery_enter(
        organisation=yokohama,
        lottery_id=lottery.pk,
        registration=registration,
        user=registration.user,
        choices=[[slot("テニスコート2", "夜間")]],
        now=entering,
    )
    contested = [slot("体育室（全面）", "午後"), slot("体育室（A面）", "午後")]
    for number in range(_DEMO_ENTRANTS):
        user = User.objects.create_user(f"lottery-entrant-{number + 1}@example.jp", None)
        entrant, _ = Registration.objects.get_or_create(
            organisation=yokohama,
            number=f"YL{number + 1:05d}",
            defaults={
                "user": user,
                "kind": RegistrationKind.GROUP if number % 3 == 0 else RegistrationKind.INDIVIDUAL,
                "name": f"抽選デモ利用者{number + 1}",
                "status": RegistrationStatus.APPROVED,
            },
        )
        first = contested[number % 2]
        second = slot("テニスコート1", "午前" if number % 2 else "午後")
        lottery_enter(
            organisation=yokohama,
            lottery_id=lottery.pk,
            registration=entrant,
            user=user,
            choices=[[first], [second]],
            now=entering + timedelta(minutes=number),
        )
    lottery_draw(organisation=yokohama, lottery_id=lottery.pk, now=now - timedelta(days=2))
