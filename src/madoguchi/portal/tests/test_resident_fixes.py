"""Regressions from the QA pass of the resident side of reservations (issue 13): lotteries
reachable by navigation, the resident's own slot shown as theirs, long text refused with a
message instead of cut, the public winners listed by slot, my bookings' order and the amount
shown for a cancelled booking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.reservations.constants import BookingStatus
from madoguchi.reservations.lottery import lottery_draw, lottery_enter
from madoguchi.reservations.lottery_testing import (
    lottery_facility,
    lottery_make,
    target_month,
    weekday_in,
)
from madoguchi.reservations.models import Booking, Registration, WaitlistEntry
from madoguchi.reservations.services import booking_cancel, booking_confirm, booking_hold
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slot_of,
    slots_make,
)
from madoguchi.testing import resident_create


@pytest.fixture
def hanako(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    return user, registration_make(organisation, user)


@pytest.fixture
def lottery_setup(organisation, admin_staff):
    at = now()
    facility = lottery_facility(organisation, target_month(at), name="抽選の館")
    return lottery_make(organisation, admin_staff, facility, at=at), facility


def test_lotteries_are_linked_from_the_organisation_and_facility_pages(
    client, organisation, lottery_setup
):
    lottery, facility = lottery_setup
    code = organisation.lg_code
    other = facility_make(organisation, name="抽選のない館")
    link = f'href="/o/{code}/lotteries/"'
    assert link in client.get(f"/o/{code}/").content.decode()
    listing = client.get(f"/o/{code}/facilities/").content.decode()
    assert listing.count("抽選の受付") >= 1
    assert link in listing
    detail = client.get(f"/o/{code}/facilities/{facility.pk}/").content.decode()
    assert f'href="/o/{code}/lotteries/{lottery.pk}/"' in detail
    assert "抽選の受付" in client.get(f"/o/{code}/facilities/{facility.pk}/").content.decode()
    assert "抽選の受付" not in client.get(f"/o/{code}/facilities/{other.pk}/").content.decode()
    # the week calendar's 抽選受付中 cells link to the lottery
    slot = facility.slots.order_by("date").first()
    week = client.get(
        f"/o/{code}/facilities/{facility.pk}/?week={slot.date.isoformat()}"
    ).content.decode()
    assert "抽選受付中" in week
    assert f'class="slot-cell slot-cell--lottery" href="/o/{code}/lotteries/{lottery.pk}/"' in week


def test_my_own_slot_says_it_is_mine_with_a_link_not_the_waitlist(client, organisation, hanako):
    user, registration = hanako
    day = next_weekday()
    facility = facility_make(organisation)
    slots_make(facility, day)
    slot = slot_of(facility, "テニスコート1", day)
    booking = booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking
    client.force_login(user)
    base = f"/o/{organisation.lg_code}/facilities/{facility.pk}/"
    week = client.get(base + f"?week={day.isoformat()}").content.decode()
    assert "あなたの予約" in week
    page = client.get(base + f"slots/{slot.pk}/").content.decode()
    assert "あなたが予約しています" in page
    assert f"/account/reservations/#booking-{booking.pk}" in page
    assert "キャンセル待ちに登録" not in page
    assert f'id="booking-{booking.pk}"' in client.get("/account/reservations/").content.decode()
    # someone else still sees it as taken, with the waitlist
    other = resident_create("taro@example.jp", verified=True)
    registration_make(organisation, other)
    client.force_login(other)
    page = client.get(base + f"slots/{slot.pk}/").content.decode()
    assert "あなたの予約" not in page
    assert "キャンセル待ちに登録" in page
    assert not WaitlistEntry.objects.exists()
    assert Booking.objects.count() == 1


def test_an_overlong_cancel_reason_is_refused_not_cut(client, organisation, hanako):
    user, registration = hanako
    day = next_weekday()
    facility = facility_make(organisation)
    slots_make(facility, day)
    slot = slot_of(facility, "テニスコート1", day)
    booking = booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking
    client.force_login(user)
    page = client.get(f"/account/reservations/{booking.pk}/cancel/").content.decode()
    assert 'maxlength="200"' in page
    assert "200文字以内" in page
    response = client.post(
        f"/account/reservations/{booking.pk}/cancel/", {"reason": "あ" * 100_000}
    )
    assert response.status_code == 409
    assert "200文字以内" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.HELD
    assert booking.cancel_reason == ""
    response = client.post(f"/account/reservations/{booking.pk}/cancel/", {"reason": "い" * 200})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancel_reason == "い" * 200


def test_overlong_registration_and_event_fields_are_refused_with_a_message(client, organisation):
    user = resident_create("jiro@example.jp", verified=True)
    client.force_login(user)
    url = f"/o/{organisation.lg_code}/registration/"
    form = client.get(url).content.decode()
    assert 'maxlength="50"' in form
    assert 'maxlength="100"' in form
    response = client.post(
        url,
        {
            "kind": "individual",
            "name": "山" * 5000,
            "kana": "やま",
            "birth": "1990-01-01",
            "residency": "resident",
        },
    )
    assert response.status_code == 400
    assert "50文字以内" in response.content.decode()
    assert not Registration.objects.filter(user=user).exists()


def test_public_winners_show_the_slot_not_only_its_id(client, organisation, lottery_setup, hanako):
    lottery, facility = lottery_setup
    user, registration = hanako
    day = weekday_in(target_month())
    slot = slot_of(facility, "テニスコート1", day)
    lottery_enter(
        organisation=organisation,
        lottery_id=lottery.pk,
        registration=registration,
        user=user,
        choices=[[slot.pk]],
        idempotency_key="w" * 20,
        now=now(),
    )
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=now() + timedelta(days=2))
    page = client.get(f"/o/{organisation.lg_code}/lotteries/{lottery.pk}/").content.decode()
    assert f"{day.month}月{day.day}日" in page
    assert "テニスコート1" in page
    assert f"（枠の番号 {slot.pk}）" in page


def test_my_bookings_upcoming_soonest_first_then_past_and_cancelled_shows_nothing_due(
    client, organisation, hanako
):
    user, registration = hanako
    facility = facility_make(organisation)
    later, sooner = next_weekday() + timedelta(days=7), next_weekday()
    numbers = {}
    for day in (later, sooner):  # booked in this order: the later day first
        slots_make(facility, day)
        slot = slot_of(facility, "テニスコート1", day)
        booking = booking_hold(
            organisation=organisation,
            slot_id=slot.pk,
            registration=registration,
            user=user,
            identity=None,
        ).booking
        booking_confirm(organisation=organisation, booking_id=booking.pk, user=user)
        numbers[day] = Booking.objects.get(pk=booking.pk)
    booking_cancel(organisation=organisation, booking_id=numbers[later].pk, user=user)
    cancelled = Booking.objects.get(pk=numbers[later].pk)
    assert cancelled.fee_due > 0  # the unpaid fee is kept on the row, but not shown as due
    client.force_login(user)
    page = client.get("/account/reservations/").content.decode()
    assert "これからの予約（利用日の近い順）" in page
    assert page.index(numbers[sooner].number) < page.index(numbers[later].number)
    row = page[page.index(f'id="booking-{cancelled.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "納付は不要です" in row
    assert "未納" not in row
