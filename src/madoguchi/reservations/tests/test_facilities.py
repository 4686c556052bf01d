"""Facility configuration by organisation admins: facilities, resources (a divisible hall),
コマ, 休館日, fees, reductions, and the generation of a month's slots with the Japanese
calendar (土日祝, and a closed weekday that falls on a holiday moving to the next weekday)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import TOKYO
from madoguchi.reservations.calendar import closed_by_weekday, day_type_of
from madoguchi.reservations.constants import DayType, LogKind, SlotState
from madoguchi.reservations.facilities import (
    closed_day_delete,
    closed_day_save,
    facility_save,
    fee_save,
    reduction_save,
    resource_save,
    slots_generate,
    time_band_delete,
    time_band_save,
)
from madoguchi.reservations.fees import fee_quote
from madoguchi.reservations.models import (
    ClosedDay,
    Facility,
    FacilityLogEntry,
    Fee,
    Reduction,
    Resource,
    Slot,
    TimeBand,
)
from madoguchi.reservations.services import ReservationError
from madoguchi.reservations.testing import facility_make

#: "Now" of these tests: 1 April 2026, 10:00 in Japan (slots of May are in the future).
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=TOKYO)


@pytest.fixture
def facility(organisation):
    return facility_make(organisation)


def save(admin, **kw):
    return facility_save(organisation=admin.organisation, actor=admin, now=NOW, **kw)


# --- Calendar rules ----------------------------------------------------------------------


def test_day_types_follow_weekends_and_national_holidays():
    assert day_type_of(date(2026, 5, 1)) == DayType.WEEKDAY  # Friday
    assert day_type_of(date(2026, 5, 2)) == DayType.HOLIDAY  # Saturday
    assert day_type_of(date(2026, 5, 4)) == DayType.HOLIDAY  # みどりの日 (Monday)
    assert day_type_of(date(2026, 5, 6)) == DayType.HOLIDAY  # 振替休日 (Wednesday)


def test_a_closed_monday_on_a_holiday_moves_to_the_next_weekday():
    mondays = [0]
    assert closed_by_weekday(mondays, date(2026, 5, 11))  # an ordinary Monday
    assert not closed_by_weekday(mondays, date(2026, 1, 12))  # 成人の日: open
    assert closed_by_weekday(mondays, date(2026, 1, 13))  # … and closed the Tuesday
    assert not closed_by_weekday(mondays, date(2026, 1, 14))
    # Golden Week: Mon 4, Tue 5, Wed 6 are holidays; Thursday 7 closes instead.
    assert not any(closed_by_weekday(mondays, date(2026, 5, d)) for d in (4, 5, 6))
    assert closed_by_weekday(mondays, date(2026, 5, 7))
    assert not closed_by_weekday(mondays, date(2026, 5, 8))
    assert not closed_by_weekday([], date(2026, 5, 11))


# --- Facilities and resources ----------------------------------------------------------


def test_an_admin_creates_and_edits_a_facility_with_its_procedure(admin_staff, procedure):
    facility = save(
        admin_staff,
        name="北公民館",
        rules="利用は9時から21時までです。",
        min_group_members=5,
        group_only=True,
        ial=2,
        procedure_id=procedure.pk,
        closed_weekdays=["0", 3],
    )
    assert facility.closed_weekdays == [0, 3]
    assert facility.procedure == procedure
    edited = save(admin_staff, facility_id=facility.pk, name="北公民館", ial=1, published=True)
    assert edited.ial == 1
    assert edited.published
    assert edited.procedure is None
    assert AuditEvent.objects.filter(action="facility.saved").count() == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "施設名を入力してください"),
        ({"name": "あ" * 101}, "100文字以内"),
        ({"name": 12}, "文字で入力"),
        ({"name": "x", "ial": 4}, "1から3まで"),
        ({"name": "x", "ial": "二"}, "半角の数字"),
        ({"name": "x", "category": "castle"}, "一覧から選んで"),
        ({"name": "x", "closed_weekdays": [7]}, "0から6まで"),
        ({"name": "x", "min_group_members": -1}, "0から1000まで"),
        ({"name": "x\x00"}, "使えない文字"),
        ({"name": "x", "closed_weekdays": 0}, "定休日の曜日は一覧から"),
        ({"name": "x", "closed_weekdays": "月"}, "定休日の曜日は一覧から"),
        ({"name": "x", "procedure_id": "1"}, "手続は一覧から"),
    ],
)
def test_hostile_facility_input_is_refused_in_japanese(admin_staff, fields, message):
    with pytest.raises(ReservationError, match=message):
        save(admin_staff, **fields)
    assert not Facility.objects.exists()


def test_only_an_admin_of_the_organisation_configures(staff_member, other_admin, facility):
    with pytest.raises(ReservationError, match="団体管理者だけ"):
        save(staff_member, name="新しい施設")
    with pytest.raises(ReservationError, match="団体管理者だけ"):
        facility_save(organisation=facility.organisation, actor=other_admin, now=NOW, name="x")
    with pytest.raises(Facility.DoesNotExist):
        save(other_admin, facility_id=facility.pk, name="乗っ取り")
    assert Facility.objects.get(pk=facility.pk).name == "市民体育館"


def test_a_procedure_of_another_organisation_is_not_found(admin_staff, other_organisation):
    from madoguchi.catalog.models import Procedure
    from madoguchi.testing import procedure_publish

    theirs = procedure_publish(other_organisation, "juminhyo")
    with pytest.raises(Procedure.DoesNotExist):
        save(admin_staff, name="x", procedure_id=theirs.pk)


def test_a_facility_name_is_unique(admin_staff, facility):
    with pytest.raises(ReservationError, match="同じ名前の施設"):
        save(admin_staff, name="市民体育館")


def test_parts_of_a_hall_never_form_a_cycle_or_cross_facilities(admin_staff, facility):
    organisation = admin_staff.organisation
    hall = Resource.objects.get(facility=facility, name="大ホール")
    part = Resource.objects.get(facility=facility, name="大ホールA")

    def res(**kw):
        return resource_save(
            organisation=organisation, actor=admin_staff, now=NOW, facility_id=facility.pk, **kw
        )

    with pytest.raises(ReservationError, match="それ自身やその一部"):
        res(resource_id=hall.pk, name="大ホール", kind="hall", parent_id=part.pk)
    with pytest.raises(ReservationError, match="それ自身やその一部"):
        res(resource_id=hall.pk, name="大ホール", kind="hall", parent_id=hall.pk)
    other = facility_make(organisation, name="別の体育館")
    theirs = Resource.objects.get(facility=other, name="大ホール")
    with pytest.raises(ReservationError, match="ほかの施設の部屋"):
        res(name="小部屋", kind="room", parent_id=theirs.pk)
    quarter = res(name="大ホールA-1", kind="hall", parent_id=part.pk, capacity="40")
    assert quarter.parent == part
    assert quarter.capacity == 40
    assert Resource.objects.get(pk=hall.pk).parent is None


def test_another_organisations_facility_is_not_found(admin_staff, other_organisation):
    theirs = facility_make(other_organisation)
    organisation = admin_staff.organisation
    with pytest.raises(Facility.DoesNotExist):
        resource_save(
            organisation=organisation, actor=admin_staff, now=NOW, facility_id=theirs.pk, name="x"
        )
    with pytest.raises(Facility.DoesNotExist):
        slots_generate(
            organisation=organisation,
            facility_id=theirs.pk,
            month="2026-05",
            actor=admin_staff,
            now=NOW,
        )
    band = theirs.time_bands.order_by("id")[0]
    resource = theirs.resources.order_by("id")[0]
    with pytest.raises(Resource.DoesNotExist):
        fee_save(
            organisation=organisation,
            actor=admin_staff,
            now=NOW,
            resource_id=resource.pk,
            band_id=band.pk,
            amount=100,
        )


# --- コマ ------------------------------------------------------------------------------------


def band(admin, facility, **kw):
    values: dict[str, Any] = {
        "day_type": "weekday",
        "name": "早朝",
        "start": "6:00",
        "end": "8:00",
    }
    values.update(kw)
    return time_band_save(
        organisation=admin.organisation, actor=admin, now=NOW, facility_id=facility.pk, **values
    )


def test_bands_never_overlap_within_a_day_type(admin_staff, facility):
    made = band(admin_staff, facility)
    assert (made.start, made.end) == (time(6), time(8))
    with pytest.raises(ReservationError, match=r"午前 09:00〜12:00.*重なって"):
        band(admin_staff, facility, name="朝", start="8:30", end="10:00")
    with pytest.raises(ReservationError, match="重なって"):
        band(admin_staff, facility, name="一日", start="7:00", end="23:00")
    # The same hours on holidays are another day type; touching ends are fine.
    band(admin_staff, facility, day_type="holiday", start="6:00", end="9:00")
    band(admin_staff, facility, name="朝2", start="8:00", end="9:00")
    # Editing a band may keep its own hours.
    band(admin_staff, facility, band_id=made.pk, name="早朝（変更）", start="6:00", end="7:30")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("22:00", "1:00", "日付をまたぐ"),
        ("21:00", "0:00", "日付をまたぐ"),
        ("10:00", "10:00", "終了時刻は開始時刻より後"),
        ("25:00", "26:00", "時と分で"),
        ("9時", "10時", "時と分で"),
        (None, "10:00", "時と分で"),
    ],
)
def test_bad_band_times_are_refused(admin_staff, facility, start, end, message):
    before = TimeBand.objects.count()
    with pytest.raises(ReservationError, match=message):
        band(admin_staff, facility, start=start, end=end)
    assert TimeBand.objects.count() == before


def test_a_band_is_deleted_with_its_fees(admin_staff, facility):
    made = band(admin_staff, facility)
    resource = facility.resources.order_by("id")[0]
    fee_save(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        resource_id=resource.pk,
        band_id=made.pk,
        amount="1500",
    )
    time_band_delete(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        facility_id=facility.pk,
        band_id=made.pk,
    )
    assert not TimeBand.objects.filter(pk=made.pk).exists()
    assert not Fee.objects.filter(band_id=made.pk).exists()


# --- Fees and reductions -----------------------------------------------------------------


def test_fees_and_reductions_make_the_quote(admin_staff, facility):
    organisation = admin_staff.organisation
    court = Resource.objects.get(facility=facility, name="テニスコート1")
    morning = facility.time_bands.get(day_type="weekday", name="午前")
    fee_save(
        organisation=organisation,
        actor=admin_staff,
        now=NOW,
        resource_id=court.pk,
        band_id=morning.pk,
        amount=1999,
    )
    for code, name, percent in (
        ("disability", "障害者減免", 100),
        ("city-group", "市内団体減免", 50),
    ):
        reduction_save(
            organisation=organisation,
            actor=admin_staff,
            now=NOW,
            facility_id=facility.pk,
            code=code,
            name=name,
            percent=percent,
            note="障害者手帳を窓口でお見せください。",
        )
    slots_generate(
        organisation=organisation,
        facility_id=facility.pk,
        month="2026-05",
        actor=admin_staff,
        now=NOW,
    )
    slot = Slot.objects.get(resource=court, date=date(2026, 5, 1), band=morning)
    assert slot.fee == 1999
    assert fee_quote(slot=slot).due == 1999
    half = fee_quote(slot=slot, reduction="city-group")
    assert (half.due, half.reduction_name) == (999, "市内団体減免")  # rounded down to the yen
    assert fee_quote(slot=slot, reduction="disability").due == 0
    with pytest.raises(ValueError, match="その減免の区分はありません"):
        fee_quote(slot=slot, reduction="unknown")
    with pytest.raises(ReservationError, match="同じ区分コード"):
        reduction_save(
            organisation=organisation,
            actor=admin_staff,
            now=NOW,
            facility_id=facility.pk,
            code="disability",
            name="x",
            percent=10,
        )


@pytest.mark.parametrize(
    ("code", "percent", "message"),
    [
        ("障害", 50, "半角の英数字"),
        ("a b", 50, "半角の英数字"),
        ("ok", 101, "0から100まで"),
        ("ok", -5, "0から100まで"),
        ("ok", "half", "半角の数字"),
        ("x" * 33, 10, "32文字以内"),
    ],
)
def test_bad_reductions_are_refused(admin_staff, facility, code, percent, message):
    with pytest.raises(ReservationError, match=message):
        reduction_save(
            organisation=admin_staff.organisation,
            actor=admin_staff,
            now=NOW,
            facility_id=facility.pk,
            code=code,
            name="減免",
            percent=percent,
        )
    assert not Reduction.objects.exists()


def test_a_fee_for_a_band_of_another_facility_is_refused(admin_staff, facility):
    other = facility_make(admin_staff.organisation, name="別館")
    with pytest.raises(ReservationError, match="ほかの施設のコマ"):
        fee_save(
            organisation=admin_staff.organisation,
            actor=admin_staff,
            now=NOW,
            resource_id=facility.resources.order_by("id")[0].pk,
            band_id=other.time_bands.order_by("id")[0].pk,
            amount=100,
        )
    with pytest.raises(ReservationError, match="0から10000000まで"):
        fee_save(
            organisation=admin_staff.organisation,
            actor=admin_staff,
            now=NOW,
            resource_id=facility.resources.order_by("id")[0].pk,
            band_id=facility.time_bands.order_by("id")[0].pk,
            amount=10**9,
        )


# --- Slot generation ---------------------------------------------------------------------


def generate(admin, facility, month="2026-05", now=NOW):
    return slots_generate(
        organisation=admin.organisation, facility_id=facility.pk, month=month, actor=admin, now=now
    )


def test_slots_of_a_month_follow_the_calendar(admin_staff, facility):
    facility.closed_weekdays = [0]
    facility.save()
    closed_day_save(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        facility_id=facility.pk,
        day="2026-05-20",
        reason="設備点検",
    )
    result = generate(admin_staff, facility)
    days = set(Slot.objects.filter(facility=facility).values_list("date", flat=True))
    assert date(2026, 5, 4) in days  # a Monday that is a holiday opens
    assert date(2026, 5, 7) not in days  # … and the next weekday closes
    assert date(2026, 5, 11) not in days  # an ordinary Monday
    assert date(2026, 5, 20) not in days  # 休館日
    assert date(2026, 5, 8) in days
    # Holiday コマ on a holiday, weekday コマ on a weekday; 4 resources × 3 bands a day.
    on_holiday = Slot.objects.filter(facility=facility, date=date(2026, 5, 5))
    assert set(on_holiday.values_list("band__day_type", flat=True)) == {DayType.HOLIDAY}
    assert on_holiday.count() == 12
    weekday = Slot.objects.filter(facility=facility, date=date(2026, 5, 8))
    assert set(weekday.values_list("band__day_type", flat=True)) == {DayType.WEEKDAY}
    assert result.created == len(days) * 12
    assert result.skipped_days == 31 - len(days)
    assert AuditEvent.objects.filter(action="facility.slots_generated").count() == 1


def test_generation_is_idempotent_and_never_touches_existing_slots(admin_staff, facility):
    generate(admin_staff, facility)
    slot = Slot.objects.filter(facility=facility).order_by("id")[0]
    slot.state = SlotState.CLOSED
    slot.fee = 123
    slot.save()
    count = Slot.objects.count()
    again = generate(admin_staff, facility)
    assert again.created == 0
    assert again.existing == count
    assert Slot.objects.count() == count
    slot.refresh_from_db()
    assert (slot.state, slot.fee) == (SlotState.CLOSED, 123)
    # A new resource gets its slots; the others stay.
    resource_save(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        facility_id=facility.pk,
        name="会議室",
        kind="room",
    )
    third = generate(admin_staff, facility)
    assert third.created == count // 4
    assert third.existing == count


def test_inactive_resources_get_no_slots_and_past_days_none(admin_staff, facility):
    Resource.objects.filter(facility=facility, name="テニスコート1").update(active=False)
    generate(admin_staff, facility, month="2026-04")
    assert not Slot.objects.filter(resource__name="テニスコート1").exists()
    assert not Slot.objects.filter(date__lte=date(2026, 4, 1)).exists()
    assert Slot.objects.filter(date=date(2026, 4, 2)).exists()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-03", "過ぎた月"),
        ("2028-05", "24か月先まで"),
        ("2026-13", "年-月で"),
        ("2026/05", "年-月で"),
        ("26-05", "年-月で"),
        ("２０２６-０５", "年-月で"),
        ("", "年-月で"),
        (None, "年-月で"),
        (202605, "年-月で"),
    ],
)
def test_bad_months_are_refused(admin_staff, facility, month, message):
    with pytest.raises(ReservationError, match=message):
        generate(admin_staff, facility, month=month)
    assert not Slot.objects.exists()


def test_a_closed_day_closes_free_slots_already_made(admin_staff, facility):
    generate(admin_staff, facility)
    closed = closed_day_save(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        facility_id=facility.pk,
        day=date(2026, 5, 8),
        reason="停電工事",
    )
    states = set(Slot.objects.filter(date=date(2026, 5, 8)).values_list("state", flat=True))
    assert states == {SlotState.CLOSED}
    assert FacilityLogEntry.objects.filter(kind=LogKind.CLOSED).count() == 12
    with pytest.raises(ReservationError, match="過ぎた日"):
        closed_day_save(
            organisation=admin_staff.organisation,
            actor=admin_staff,
            now=NOW,
            facility_id=facility.pk,
            day="2026-03-31",
        )
    with pytest.raises(ReservationError, match="年-月-日"):
        closed_day_save(
            organisation=admin_staff.organisation,
            actor=admin_staff,
            now=NOW,
            facility_id=facility.pk,
            day="2026-02-30",
        )
    closed_day_delete(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=NOW,
        facility_id=facility.pk,
        closed_day_id=closed.pk,
    )
    assert not ClosedDay.objects.exists()
