"""施設予約 in the console: admins configure, every staff member of the organisation views,
reviewers act on bookings, another organisation's facility is not found, and a refused
input is shown in Japanese without a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.reservations.calendar import next_month
from madoguchi.reservations.constants import BookingStatus, LogKind, SlotState
from madoguchi.reservations.models import (
    Booking,
    ClosedDay,
    Facility,
    FacilityLogEntry,
    Fee,
    Reduction,
    Resource,
    Slot,
    TimeBand,
)
from madoguchi.reservations.staff import OVERRIDE_REASON_LIMIT
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slot_of,
    slots_make,
)
from madoguchi.testing import console_login, resident_create, staff_create

BASE = "/console/facilities/"


@pytest.fixture
def day():
    return next_weekday()


@pytest.fixture
def facility(organisation, day):
    facility = facility_make(organisation)
    slots_make(facility, day)
    return facility


@pytest.fixture
def viewer_client(organisation):
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    return console_login(Client(), viewer.user)


@pytest.fixture
def other_client(other_admin):
    return console_login(Client(), other_admin.user)


def test_the_pages_need_a_console_login(client, facility):
    response = client.get(BASE)
    assert response.status_code == 302
    assert "/console/login/" in response["Location"]


def test_every_staff_member_views_and_only_admins_configure(
    admin_client, staff_client, viewer_client, facility, day
):
    for who in (admin_client, staff_client, viewer_client):
        listing = who.get(BASE)
        assert listing.status_code == 200
        assert "市民体育館" in listing.content.decode()
        assert who.get(f"{BASE}{facility.pk}/").status_code == 200
        assert who.get(f"{BASE}{facility.pk}/calendar/?date={day:%Y-%m-%d}").status_code == 200
        assert who.get(f"{BASE}{facility.pk}/calendar/?view=week").status_code == 200
        assert who.get(f"{BASE}{facility.pk}/statistics/").status_code == 200
    admin_page = admin_client.get(f"{BASE}{facility.pk}/").content.decode()
    generate = f'action="{BASE}{facility.pk}/slots/"'
    assert generate in admin_page
    assert generate not in staff_client.get(f"{BASE}{facility.pk}/").content.decode()
    assert "施設予約" in admin_client.get("/console/").content.decode()
    # Configuration is refused to a reviewer (403) and nothing is stored.
    assert staff_client.get(f"{BASE}new/").status_code == 403
    assert staff_client.post(f"{BASE}new/", {"name": "x"}).status_code == 403
    assert staff_client.get(f"{BASE}{facility.pk}/edit/").status_code == 403
    for path, data in (
        (
            "bands/",
            {
                "band-day_type": "weekday",
                "band-name": "早朝",
                "band-start": "6:00",
                "band-end": "8:00",
            },
        ),
        ("slots/", {"generate-month": f"{next_month(day):%Y-%m}"}),
        ("closed-days/", {"closed-day": f"{day:%Y-%m-%d}"}),
        ("reductions/", {"reduction-code": "a", "reduction-name": "x", "reduction-percent": "5"}),
    ):
        assert staff_client.post(f"{BASE}{facility.pk}/{path}", data).status_code == 403
    assert TimeBand.objects.count() == 6
    assert not ClosedDay.objects.exists()
    assert not Reduction.objects.exists()


def test_another_organisations_facility_is_not_found(other_client, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    assert "市民体育館" not in other_client.get(BASE).content.decode()
    for path in (
        f"{BASE}{facility.pk}/",
        f"{BASE}{facility.pk}/edit/",
        f"{BASE}{facility.pk}/calendar/",
        f"{BASE}{facility.pk}/statistics/",
        f"{BASE}slots/{slot.pk}/",
    ):
        assert other_client.get(path).status_code == 404, path
    response = other_client.post(
        f"{BASE}{facility.pk}/slots/", {"generate-month": f"{next_month(day):%Y-%m}"}
    )
    assert response.status_code == 404
    assert (
        other_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "x"}).status_code
        == 404
    )
    assert not Booking.objects.exists()


def test_an_admin_creates_a_facility_and_configures_it(admin_client, admin_staff):
    response = admin_client.post(
        f"{BASE}new/",
        {
            "name": "北公民館",
            "category": "community",
            "eligibility": "local",
            "min_group_members": "0",
            "ial": "1",
            "aal": "1",
            "closed_weekdays": ["0"],
            "no_show_suspension_days": "30",
            "rules": "9時から21時まで使えます。",
        },
    )
    assert response.status_code == 302
    facility = Facility.objects.get(name="北公民館")
    assert facility.closed_weekdays == [0]
    page = f"{BASE}{facility.pk}/"
    assert (
        admin_client.post(
            f"{page}resources/",
            {
                "resource-name": "会議室1",
                "resource-kind": "room",
                "resource-capacity": "20",
                "resource-order": "1",
                "resource-active": "on",
            },
        ).status_code
        == 302
    )
    room = Resource.objects.get(facility=facility)
    assert (
        admin_client.post(
            f"{page}bands/",
            {
                "band-day_type": "weekday",
                "band-name": "午前",
                "band-start": "9:00",
                "band-end": "12:00",
            },
        ).status_code
        == 302
    )
    band = TimeBand.objects.get(facility=facility)
    assert (
        admin_client.post(
            f"{page}fees/",
            {"fee-resource": str(room.pk), "fee-band": str(band.pk), "fee-amount": "800"},
        ).status_code
        == 302
    )
    assert Fee.objects.get(resource=room).amount == 800
    assert (
        admin_client.post(
            f"{page}reductions/",
            {
                "reduction-code": "disability",
                "reduction-name": "障害者減免",
                "reduction-percent": "100",
                "reduction-active": "on",
            },
        ).status_code
        == 302
    )
    month = next_month(to_tokyo(now()).date())
    response = admin_client.post(f"{page}slots/", {"generate-month": f"{month:%Y-%m}"})
    assert response.status_code == 302
    assert Slot.objects.filter(facility=facility).exists()
    assert set(Slot.objects.filter(facility=facility).values_list("fee", flat=True)) == {800}
    shown = admin_client.get(page).content.decode()
    assert "会議室1" in shown
    assert "障害者減免" in shown
    assert "800円" in shown
    # Edit pages.
    assert admin_client.get(f"{page}resources/{room.pk}/").status_code == 200
    reduction = Reduction.objects.get()
    assert (
        admin_client.post(
            f"{page}reductions/{reduction.pk}/",
            {"code": "disability", "name": "障害者減免", "percent": "50", "active": "on"},
        ).status_code
        == 302
    )
    assert Reduction.objects.get().percent == 50


def test_refused_input_is_shown_in_japanese(admin_client, facility, day):
    page = f"{BASE}{facility.pk}/"
    before = TimeBand.objects.count()
    response = admin_client.post(
        f"{page}bands/",
        {
            "band-day_type": "weekday",
            "band-name": "深夜",
            "band-start": "22:00",
            "band-end": "1:00",
        },
    )
    assert response.status_code == 422
    assert "日付をまたぐコマ" in response.content.decode()
    response = admin_client.post(
        f"{page}bands/",
        {"band-day_type": "weekday", "band-name": "朝", "band-start": "8:00", "band-end": "10:00"},
    )
    assert response.status_code == 422
    assert "重なっています" in response.content.decode()
    response = admin_client.post(
        f"{page}bands/",
        {"band-day_type": "sunday", "band-name": "朝", "band-start": "x", "band-end": "y"},
    )
    assert response.status_code == 422
    assert TimeBand.objects.count() == before
    for month in ("2020-01", "2026-13", "abc", "9" * 50):
        response = admin_client.post(f"{page}slots/", {"generate-month": month})
        assert response.status_code == 422, month
    response = admin_client.post(
        f"{BASE}new/",
        {"name": "", "category": "castle", "eligibility": "local", "ial": "9", "aal": "1"},
    )
    assert response.status_code == 422
    assert "施設名を入力してください" in response.content.decode()
    # Another organisation's resource as a parent, or ids that do not exist: 404 or refusal.
    response = admin_client.post(
        f"{page}fees/", {"fee-resource": "999999", "fee-band": "1", "fee-amount": "1"}
    )
    assert response.status_code == 422
    assert admin_client.get(f"{BASE}{facility.pk}/resources/999999/").status_code == 404
    assert admin_client.get(f"{BASE}999999/").status_code == 404
    # A malformed date or month in a query string falls back to today.
    assert admin_client.get(f"{page}calendar/?date=2026-02-30").status_code == 200
    assert admin_client.get(f"{page}statistics/?month=x").status_code == 200


def test_staff_book_at_the_counter_override_and_mark_no_shows(
    staff_client, viewer_client, organisation, facility, day
):
    registration = registration_make(organisation, resident_create("hanako@example.jp"))
    slot = slot_of(facility, "テニスコート1", day)
    assert (
        viewer_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "x"}).status_code
        == 403
    )
    response = staff_client.post(
        f"{BASE}slots/{slot.pk}/book/", {"counter-registration_number": "NOPE"}
    )
    assert response.status_code == 422
    assert "その利用者番号の登録はありません" in response.content.decode()
    response = staff_client.post(
        f"{BASE}slots/{slot.pk}/book/",
        {"counter-registration_number": registration.number, "counter-purpose": "練習"},
    )
    assert response.status_code == 302
    booking = Booking.objects.get()
    calendar = staff_client.get(f"{BASE}{facility.pk}/calendar/?date={day:%Y-%m-%d}")
    text = calendar.content.decode()
    assert booking.number in text
    assert registration.number in text
    assert "予約 花子" in text
    week = staff_client.get(f"{BASE}{facility.pk}/calendar/?view=week&date={day:%Y-%m-%d}")
    assert booking.number in week.content.decode()
    again = staff_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "x"})
    assert again.status_code == 422
    assert "この枠（または同じ時間の部屋の一部）はすでに予約されています" in again.content.decode()
    detail = staff_client.get(f"{BASE}bookings/{booking.pk}/")
    assert detail.status_code == 200
    assert "予約を取り消す" in detail.content.decode()
    refused = staff_client.post(
        f"{BASE}bookings/{booking.pk}/override/", {"override-category": "facility"}
    )
    assert refused.status_code == 422
    done = staff_client.post(
        f"{BASE}bookings/{booking.pk}/override/",
        {"override-category": "facility", "override-reason": "照明の故障"},
    )
    assert done.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert FacilityLogEntry.objects.filter(kind=LogKind.OVERRIDE).count() == 1
    # No-show is refused before the slot starts.
    other = slot_of(facility, "テニスコート1", day, "午後")
    staff_client.post(f"{BASE}slots/{other.pk}/book/", {"counter-contact": "電話の方"})
    second = Booking.objects.get(slot=other)
    response = staff_client.post(f"{BASE}bookings/{second.pk}/no-show/")
    assert response.status_code == 422
    assert "利用開始の時刻を過ぎてから" in response.content.decode()
    Slot.objects.filter(pk=other.pk).update(
        starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1)
    )
    assert staff_client.post(f"{BASE}bookings/{second.pk}/no-show/").status_code == 302
    assert Booking.objects.get(pk=second.pk).status == BookingStatus.NO_SHOW


def test_staff_close_and_reopen_a_slot(staff_client, other_client, facility, day):
    slot = slot_of(facility, "大ホールB", day)
    assert (
        staff_client.post(f"{BASE}slots/{slot.pk}/close/", {"close-reason": "bogus"}).status_code
        == 422
    )
    assert (
        other_client.post(
            f"{BASE}slots/{slot.pk}/close/", {"close-reason": "maintenance"}
        ).status_code
        == 404
    )
    assert (
        staff_client.post(
            f"{BASE}slots/{slot.pk}/close/", {"close-reason": "maintenance"}
        ).status_code
        == 302
    )
    assert Slot.objects.get(pk=slot.pk).state == SlotState.CLOSED
    page = staff_client.get(f"{BASE}{facility.pk}/calendar/?date={day:%Y-%m-%d}")
    assert "受付停止" in page.content.decode()
    assert staff_client.post(f"{BASE}slots/{slot.pk}/open/").status_code == 302
    assert Slot.objects.get(pk=slot.pk).state == SlotState.OPEN
    assert staff_client.post(f"{BASE}slots/{slot.pk}/open/").status_code == 422


# --- Regressions found by QA ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("date=9999-12-31&view=week", "指定された週は表示できない"),
        ("date=9999-12-31&view=day", "指定された日は表示できない"),
        ("date=0001-01-01&view=day", "指定された日は表示できない"),
        ("date=0001-01-01&view=week", "指定された週は表示できない"),
        ("date=1999-12-31", "指定された日は表示できない"),
        ("date=2101-01-01&view=week", "指定された週は表示できない"),
    ],
)
def test_a_calendar_date_out_of_range_shows_today_never_a_500(
    staff_client, facility, query, refusal
):
    response = staff_client.get(f"{BASE}{facility.pk}/calendar/?{query}")
    assert response.status_code == 200
    text = response.content.decode()
    assert refusal in text
    today = to_tokyo(now()).date()
    assert f"date={today:%Y-%m-%d}" in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("date=2100-12-31&view=day", "前の日", "次の日"),
        ("date=2100-12-31&view=week", "前の週", "次の週"),
        ("date=2000-01-01&view=day", "次の日", "前の日"),
        ("date=2000-01-01&view=week", "次の週", "前の週"),
    ],
)
def test_the_calendar_links_stop_at_the_limits(staff_client, facility, query, shown, hidden):
    response = staff_client.get(f"{BASE}{facility.pk}/calendar/?{query}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "表示できない" not in text
    assert shown in text
    assert hidden not in text
    if "2000-01-01&view=day" in query:
        assert "date=2000-01-02" in text


def test_the_week_link_before_the_first_week_goes_to_the_first_day(staff_client, facility):
    """The week of 2000-01-01 begins on 1999-12-27: 前の週 from the next week goes to
    2000-01-01 (shown), never to a date the page refuses."""
    text = staff_client.get(f"{BASE}{facility.pk}/calendar/?date=2000-01-05&view=week")
    assert "view=week&amp;date=2000-01-01" in text.content.decode()


@pytest.mark.parametrize("month", ["9999-12", "2101-01", "1999-12", "0001-01", "x"])
def test_statistics_of_a_month_out_of_range_are_refused_in_japanese(staff_client, facility, month):
    response = staff_client.get(f"{BASE}{facility.pk}/statistics/?month={month}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "指定された月は表示できない" in text
    assert f"{to_tokyo(now()):%Y年%-m月}" in text


def test_statistics_links_stop_at_the_limits(staff_client, facility):
    last = staff_client.get(f"{BASE}{facility.pk}/statistics/?month=2100-12").content.decode()
    assert "前の月" in last
    assert "次の月" not in last
    assert "表示できない" not in last
    first = staff_client.get(f"{BASE}{facility.pk}/statistics/?month=2000-01").content.decode()
    assert "次の月" in first
    assert "前の月" not in first


def test_a_whole_hall_is_occupied_while_a_part_is_booked(staff_client, facility, day):
    part = slot_of(facility, "大ホールA", day)
    whole = slot_of(facility, "大ホール", day)
    assert (
        staff_client.post(f"{BASE}slots/{part.pk}/book/", {"counter-contact": "電話の方"})
    ).status_code == 302
    for view in ("day", "week"):
        text = staff_client.get(
            f"{BASE}{facility.pk}/calendar/?view={view}&date={day:%Y-%m-%d}"
        ).content.decode()
        assert "大ホールAの予約あり" in text, view
        # The whole's cell links to its slot page and says so (not 空き with a fee).
        cell = text[text.index(f'href="{BASE}slots/{whole.pk}/"') :]
        assert cell.index("大ホールAの予約あり") < cell.index("</td>"), view
    page = staff_client.get(f"{BASE}slots/{whole.pk}/").content.decode()
    assert "大ホールAの予約あり" in page
    assert "窓口・電話で予約する" not in page  # no counter booking offered there
    assert "受付を停止する" in page  # the whole can still be closed
    # Booking it anyway (a stale page) is refused in staff's words, nothing stored.
    refused = staff_client.post(f"{BASE}slots/{whole.pk}/book/", {"counter-contact": "別の方"})
    assert refused.status_code == 422
    text = refused.content.decode()
    assert "この枠（または同じ時間の部屋の一部）はすでに予約されています" in text
    assert "ほかの方の予約が先に入りました" not in text
    assert Booking.objects.count() == 1
    # The other part and the other times of the whole stay free.
    other = slot_of(facility, "大ホールB", day)
    assert "窓口・電話で予約する" in staff_client.get(f"{BASE}slots/{other.pk}/").content.decode()
    afternoon = slot_of(facility, "大ホール", day, "午後")
    page = staff_client.get(f"{BASE}slots/{afternoon.pk}/").content.decode()
    assert "窓口・電話で予約する" in page


def test_a_booking_shows_its_reduction_by_name_and_its_channel_once(
    staff_client, organisation, facility, day
):
    Reduction.objects.create(
        organisation=organisation,
        facility=facility,
        code="city-group",
        name="市内団体減免",
        percent=20,
    )
    slot = slot_of(facility, "テニスコート1", day)
    response = staff_client.post(
        f"{BASE}slots/{slot.pk}/book/",
        {"counter-contact": "電話の方", "counter-reduction": "city-group"},
    )
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.reduction == "city-group"
    text = staff_client.get(f"{BASE}bookings/{booking.pk}/").content.decode()
    assert "市内団体減免" in text
    assert "city-group" not in text
    assert "窓口・電話・窓口" not in text
    assert "<dt>受付方法</dt><dd>窓口・電話" in text
    assert "<dt>経路</dt><dd>窓口</dd>" in text


def test_long_text_is_refused_in_japanese_never_cut(staff_client, admin_client, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    page = staff_client.get(f"{BASE}slots/{slot.pk}/").content.decode()
    assert 'name="counter-contact" maxlength="200"' in page
    assert 'name="counter-purpose" maxlength="200"' in page
    response = staff_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "あ" * 430})
    assert response.status_code == 422
    assert "200文字以内で入力してください（いまは430文字です）" in response.content.decode()
    response = staff_client.post(
        f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "x", "counter-purpose": "い" * 201}
    )
    assert response.status_code == 422
    assert "200文字以内で入力してください" in response.content.decode()
    assert not Booking.objects.exists()
    # 200 characters are kept whole.
    staff_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "う" * 200})
    booking = Booking.objects.get()
    assert booking.contact == "う" * 200
    # The override's reason fits the booking's 取消しの理由 whole, after its category.
    detail = staff_client.get(f"{BASE}bookings/{booking.pk}/").content.decode()
    assert f'name="override-reason" maxlength="{OVERRIDE_REASON_LIMIT}"' in detail
    too_long = staff_client.post(
        f"{BASE}bookings/{booking.pk}/override/",
        {"override-category": "facility", "override-reason": "え" * (OVERRIDE_REASON_LIMIT + 1)},
    )
    assert too_long.status_code == 422
    assert f"{OVERRIDE_REASON_LIMIT}文字以内で入力してください" in too_long.content.decode()
    assert Booking.objects.get().status == BookingStatus.CONFIRMED
    done = staff_client.post(
        f"{BASE}bookings/{booking.pk}/override/",
        {"override-category": "facility", "override-reason": "え" * OVERRIDE_REASON_LIMIT},
    )
    assert done.status_code == 302
    assert Booking.objects.get().cancel_reason.endswith("え" * OVERRIDE_REASON_LIMIT)
    # A closed day's reason: 100 characters at most, said in Japanese.
    facility_page = admin_client.get(f"{BASE}{facility.pk}/").content.decode()
    assert 'name="closed-reason" maxlength="100"' in facility_page
    refused = admin_client.post(
        f"{BASE}{facility.pk}/closed-days/",
        {"closed-day": f"{day:%Y-%m-%d}", "closed-reason": "お" * 101},
    )
    assert refused.status_code == 422
    assert "100文字以内で入力してください" in refused.content.decode()
    assert not ClosedDay.objects.exists()


def test_staff_record_a_payment_from_the_booking_page(
    staff_client, viewer_client, other_client, facility, day
):
    slot = slot_of(facility, "テニスコート1", day)
    staff_client.post(f"{BASE}slots/{slot.pk}/book/", {"counter-contact": "電話の方"})
    booking = Booking.objects.get()
    page = staff_client.get(f"{BASE}bookings/{booking.pk}/").content.decode()
    assert "納付・還付の記録" in page
    assert "窓口で納付済み" in page
    url = f"{BASE}bookings/{booking.pk}/payment/"
    assert viewer_client.post(url, {"payment": "paid_counter"}).status_code == 403
    assert other_client.post(url, {"payment": "paid_counter"}).status_code == 404
    refused = staff_client.post(url, {"payment": "<b>paid</b>"})
    assert refused.status_code == 422
    assert "納付の状況を一覧から選んでください" in refused.content.decode()
    assert staff_client.post(url, {"payment": "paid_transfer"}).status_code == 302
    booking.refresh_from_db()
    assert booking.payment == "paid_transfer"
    assert (
        "納付・還付の記録" not in staff_client.get(f"{BASE}bookings/{booking.pk}/").content.decode()
    )
    twice = staff_client.post(url, {"payment": "paid_counter"})
    assert twice.status_code == 422
