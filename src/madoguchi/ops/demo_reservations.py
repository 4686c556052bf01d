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


#: The demo centre's 休館日 (days from today), and the day of the demo's 親子テニス体験会 on
#: its courts: another day, so that the event is not held on a day the centre is closed.
DEMO_CLOSED_DAY = 20
DEMO_TENNIS_EVENT_DAY = 22


def demo_reservations(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    _demo_facility(yokohama, now=now)
    _demo_registration(yokohama, resident)
    _demo_facilities_staff(yokohama, resident, now=now)
    _demo_members(yokohama, resident, now=now)
    _demo_booking(yokohama, resident, now=now)
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


def _demo_facilities_staff(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """施設の設定と職員の操作: the centre's fees and reductions (減免), a 休館日, two counter
    bookings and one staff override with its reason, so that the console's calendar and the
    public log have something to show. Done through the services, once (idempotent)."""
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.models import Staff
    from madoguchi.reservations.facilities import (
        closed_day_save,
        fee_save,
        reduction_save,
    )
    from madoguchi.reservations.models import Reduction
    from madoguchi.reservations.services import ReservationError
    from madoguchi.reservations.staff import booking_counter_create, booking_override

    facility = Facility.objects.filter(organisation=yokohama, name=DEMO_FACILITY).first()
    admin = (
        Staff.objects.filter(organisation=yokohama, role=StaffRole.ADMIN, active=True)
        .order_by("id")
        .first()
    )
    if facility is None or admin is None or Reduction.objects.filter(facility=facility).exists():
        return
    for resource in facility.resources.all():
        for band in facility.time_bands.all():
            weekday_fee, holiday_fee = next((w, h) for n, _, _, w, h in _BANDS if n == band.name)
            fee = weekday_fee if band.day_type == DayType.WEEKDAY else holiday_fee
            if resource.parent_id is not None:
                fee //= 2
            elif resource.kind == ResourceKind.COURT:
                fee //= 4
            fee_save(
                organisation=yokohama,
                actor=admin,
                now=now,
                resource_id=resource.pk,
                band_id=band.pk,
                amount=fee,
            )
    for code, name, percent, note in (
        ("disability", "障害者減免", 100, "障害者手帳などを窓口でお見せください。"),
        ("city-group", "市内団体減免", 50, "市に登録した団体の登録証を窓口でお見せください。"),
    ):
        reduction_save(
            organisation=yokohama,
            actor=admin,
            now=now,
            facility_id=facility.pk,
            code=code,
            name=name,
            percent=percent,
            note=note,
        )
    today = to_tokyo(now).date()
    closed_day_save(
        organisation=yokohama,
        actor=admin,
        now=now,
        facility_id=facility.pk,
        day=today + timedelta(days=DEMO_CLOSED_DAY),
        reason="設備点検のため",
    )
    registration = _demo_registration(yokohama, resident)

    def slot_id(offset: int, resource: str, band: str) -> int | None:
        found = Slot.objects.filter(
            facility=facility,
            date=today + timedelta(days=offset),
            resource__name=resource,
            band__name=band,
        ).first()
        return found.pk if found is not None else None

    wanted = (
        (9, "テニスコート2", "夜間", registration.pk if registration else None, ""),
        (10, "体育室（A面）", "午後", None, "電話予約 みなと卓球クラブ 代表 山田"),
        (11, "体育室（全面）", "午前", None, "窓口予約 みなと体操教室 代表 鈴木"),
    )
    made = []
    for offset, resource_name, band_name, registration_id, contact in wanted:
        target = slot_id(offset, resource_name, band_name)
        if target is None:
            continue
        try:
            made.append(
                booking_counter_create(
                    organisation=yokohama,
                    actor=admin,
                    now=now,
                    slot_id=target,
                    registration_id=registration_id,
                    contact=contact,
                    purpose="練習",
                    reduction="city-group" if contact else "",
                )
            )
        except ReservationError:
            continue  # another part of the demo took the slot: leave it
    if len(made) == 3:
        booking_override(
            organisation=yokohama,
            actor=admin,
            now=now,
            booking_id=made[2].pk,
            category="facility",
            reason="床の補修工事が入ったため、代表の鈴木さんに電話で連絡済み",
        )


#: The demo badminton club's people: (name, kana, birth date, residency).
_DEMO_CLUB = (
    ("港 一郎", "みなと いちろう", date(1970, 5, 1), "resident"),
    ("港 二郎", "みなと じろう", date(1975, 6, 2), "resident"),
    ("本町 三郎", "ほんちょう さぶろう", date(1980, 7, 3), "worker"),
    ("本町 四郎", "ほんちょう しろう", date(1985, 8, 4), "resident"),
    ("桜木 五郎", "さくらぎ ごろう", date(1990, 9, 5), "student"),
)


def _demo_members(yokohama: Organisation, resident: User, *, now: datetime) -> None:
    """利用者登録 and イベント・講座: an approved club (registered at the counter), the demo
    resident's second group of mostly the same people — pending the counter and flagged for
    staff as an overlap — a first-come course the resident signed up to, and a lottery event
    whose window is open."""
    from madoguchi.reservations.constants import Residency
    from madoguchi.reservations.draw import commitment_of
    from madoguchi.reservations.models import Event, EventSignup, RegistrationMember
    from madoguchi.reservations.models.events import EventMode, SignupStatus
    from madoguchi.reservations.models.registrations import identity_key_of
    from madoguchi.reservations.registrations import MemberInput, registration_apply

    club, created = Registration.objects.get_or_create(
        organisation=yokohama,
        number="Y000101",
        defaults={
            "kind": RegistrationKind.GROUP,
            "name": "みなとバドミントン会（デモ）",
            "status": RegistrationStatus.APPROVED,
            "confirmed_at": now,
        },
    )
    if created:
        RegistrationMember.objects.bulk_create(
            [
                RegistrationMember(
                    organisation=yokohama,
                    registration=club,
                    representative=order == 0,
                    name=name,
                    kana=kana,
                    birth_date=born,
                    residency=residency,
                    identity_key=identity_key_of(kana=kana, name=name, birth_date=born),
                    order=order,
                )
                for order, (name, kana, born, residency) in enumerate(_DEMO_CLUB)
            ]
        )
    if not Registration.objects.filter(
        organisation=yokohama, user=resident, kind=RegistrationKind.GROUP
    ).exists():
        registration_apply(
            organisation=yokohama,
            user=resident,
            identity=None,  # level 1: waits for the counter
            kind=RegistrationKind.GROUP,
            group_name="みなとバドミントン会 火曜組（デモ）",
            applicant=MemberInput(
                "山田 花子", "やまだ はなこ", date(1988, 3, 14), Residency.RESIDENT
            ),
            members=[MemberInput(n, k, b, r) for n, k, b, r in _DEMO_CLUB[:4]],
            now=now,
        )
    local = to_tokyo(now)
    course, created = Event.objects.get_or_create(
        organisation=yokohama,
        title="はじめてのバドミントン教室（デモ）",
        defaults={
            "description": "ラケットの握り方から、かんたんな試合まで。ラケットは貸し出します。",
            "rules": "運動できる服装と室内用の靴をお持ちください。",
            "venue": DEMO_FACILITY + " 体育室",
            "starts_at": datetime.combine(local.date() + timedelta(days=12), time(10), TOKYO),
            "ends_at": datetime.combine(local.date() + timedelta(days=12), time(12), TOKYO),
            "capacity": 20,
            "signup_opens_at": now - timedelta(days=3),
            "signup_closes_at": datetime.combine(
                local.date() + timedelta(days=10), time(17), TOKYO
            ),
            "mode": EventMode.FIRST_COME,
            "waitlist": True,
            "fee": 500,
            "published": True,
        },
    )
    if created:
        people = [resident] + [
            User.objects.filter(email=f"demo-participant{n}@example.jp").first()
            or User.objects.create_user(f"demo-participant{n}@example.jp", None)
            for n in range(1, 4)
        ]
        for seat, (user, name) in enumerate(
            zip(people, ("山田 花子", "参加 一郎", "参加 二郎", "参加 三郎"), strict=True)
        ):
            EventSignup.objects.create(
                organisation=yokohama,
                event=course,
                user=user,
                name=name,
                email=user.email,
                status=SignupStatus.CONFIRMED,
                seat=seat,
                code=f"DEMO{seat + 1:04d}",
                confirmed_at=now,
            )
    seed = "demo-seed-" + "0" * 54
    lottery, created = Event.objects.get_or_create(
        organisation=yokohama,
        title="親子テニス体験会（デモ・抽選）",
        defaults={
            "description": "小学生とその保護者の方が対象です。コーチがていねいに教えます。",
            "venue": DEMO_FACILITY + " テニスコート1・2",
            "starts_at": datetime.combine(
                local.date() + timedelta(days=DEMO_TENNIS_EVENT_DAY), time(9), TOKYO
            ),
            "ends_at": datetime.combine(
                local.date() + timedelta(days=DEMO_TENNIS_EVENT_DAY), time(11), TOKYO
            ),
            "capacity": 8,
            "signup_opens_at": now - timedelta(days=1),
            "signup_closes_at": datetime.combine(local.date() + timedelta(days=7), time(17), TOKYO),
            "mode": EventMode.LOTTERY,
            "published": True,
            "draw_seed": seed,
            "draw_commitment": commitment_of(seed),
        },
    )
    if created:
        for n in range(1, 4):
            user = User.objects.get(email=f"demo-participant{n}@example.jp")
            EventSignup.objects.create(
                organisation=yokohama,
                event=lottery,
                user=user,
                name=f"参加 {n}",
                email=user.email,
                status=SignupStatus.ENTERED,
                code=f"LOT{n:05d}",
            )


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
    registration = _demo_registration(yokohama, resident)
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
