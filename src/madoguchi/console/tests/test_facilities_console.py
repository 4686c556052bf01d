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
    assert "ほかの方の予約が先に入りました" in again.content.decode()
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
