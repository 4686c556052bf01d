"""The booking core: holds, confirmation, cancellation and expiry, with the database as the
only judge of who got a slot (a divisible hall and its halves never both booked)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.reservations.constants import BookingStatus, LogKind, RegistrationStatus, SlotState
from madoguchi.reservations.models import Booking, Claim, FacilityLogEntry, Slot
from madoguchi.reservations.selectors import booking_counts, slots_between
from madoguchi.reservations.services import (
    ReservationError,
    SlotTaken,
    booking_cancel,
    booking_confirm,
    booking_hold,
    bookings_expire,
)
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slot_of,
    slots_make,
)
from madoguchi.testing import resident_create


@pytest.fixture
def day():
    return next_weekday()


@pytest.fixture
def facility(organisation, day):
    facility = facility_make(organisation)
    slots_make(facility, day)
    return facility


@pytest.fixture
def hanako(organisation):
    user = resident_create("hanako@example.jp", verified=True)
    return user, registration_make(organisation, user)


@pytest.fixture
def taro(organisation):
    user = resident_create("taro@example.jp", verified=True)
    return user, registration_make(organisation, user)


def hold(organisation, slot, who, **kw):
    user, registration = who
    return booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=registration,
        user=user,
        identity=None,
        **kw,
    ).booking


def test_hold_then_confirm_counts_as_an_online_procedure(organisation, facility, day, hanako):
    booking = hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    assert booking.status == BookingStatus.HELD
    assert booking.expires_at is not None
    confirmed = booking_confirm(organisation=organisation, booking_id=booking.pk, user=hanako[0])
    assert confirmed.status == BookingStatus.CONFIRMED
    again = booking_confirm(organisation=organisation, booking_id=booking.pk, user=hanako[0])
    assert again.confirmed_at == confirmed.confirmed_at
    [row] = booking_counts(organisation_ids=[organisation.pk])
    assert (row.channel, row.count) == ("online", 1)


def test_second_hold_of_the_same_slot_is_refused(organisation, facility, day, hanako, taro):
    slot = slot_of(facility, "テニスコート1", day)
    hold(organisation, slot, hanako)
    with pytest.raises(SlotTaken, match="ほかの方の予約が先に"):
        hold(organisation, slot, taro)
    assert Booking.objects.count() == 1


def test_whole_hall_and_its_half_exclude_each_other(organisation, facility, day, hanako, taro):
    hold(organisation, slot_of(facility, "大ホールA", day), hanako)
    with pytest.raises(SlotTaken):
        hold(organisation, slot_of(facility, "大ホール", day), taro)
    # The other half is still free; then the whole is blocked both ways.
    hold(organisation, slot_of(facility, "大ホールB", day, "午後"), taro)
    views = {
        (v.slot.resource.name, v.slot.band.name if v.slot.band else ""): v.bookable
        for v in slots_between(facility, start=day, end=day, now=now())
    }
    assert views[("大ホール", "午前")] is False
    assert views[("大ホールB", "午前")] is True
    assert views[("大ホール", "午後")] is False
    assert views[("大ホールA", "午後")] is True


def test_whole_hall_blocks_halves(organisation, facility, day, hanako, taro):
    hold(organisation, slot_of(facility, "大ホール", day), hanako)
    with pytest.raises(SlotTaken):
        hold(organisation, slot_of(facility, "大ホールB", day), taro)
    with pytest.raises(SlotTaken):
        hold(organisation, slot_of(facility, "大ホール", day), taro)


def test_replay_with_the_same_key_returns_the_same_booking(organisation, facility, day, hanako):
    slot = slot_of(facility, "テニスコート1", day)
    first = hold(organisation, slot, hanako, idempotency_key="k-1")
    result = booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=hanako[1],
        user=hanako[0],
        identity=None,
        idempotency_key="k-1",
    )
    assert result.replayed
    assert result.booking.pk == first.pk
    with pytest.raises(ReservationError, match="別の予約"):
        hold(
            organisation,
            slot_of(facility, "テニスコート1", day, "午後"),
            hanako,
            idempotency_key="k-1",
        )


def test_cancel_frees_the_slot_and_logs_without_personal_data(
    organisation, facility, day, hanako, taro
):
    slot = slot_of(facility, "テニスコート1", day)
    booking = hold(organisation, slot, hanako)
    booking_cancel(organisation=organisation, booking_id=booking.pk, user=hanako[0])
    assert not Claim.objects.exists()
    entry = FacilityLogEntry.objects.get()
    assert entry.kind == LogKind.CANCELLED
    assert "花子" not in entry.rule
    assert booking.number not in entry.rule
    hold(organisation, slot, taro)
    with pytest.raises(ReservationError, match="すでに終わって"):
        booking_cancel(organisation=organisation, booking_id=booking.pk, user=hanako[0])


def test_confirm_after_the_hold_expired_is_refused_and_frees(organisation, facility, day, hanako):
    booking = hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    later = now() + timedelta(minutes=11)
    with pytest.raises(ReservationError, match="期限を過ぎた"):
        booking_confirm(organisation=organisation, booking_id=booking.pk, user=hanako[0], now=later)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert not Claim.objects.exists()


def test_expiry_task_frees_held_slots(organisation, facility, day, hanako):
    hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    assert bookings_expire(now=now()) == 0
    assert bookings_expire(now=now() + timedelta(minutes=11)) == 1
    assert not Claim.objects.exists()


def test_refusals(organisation, other_organisation, facility, day, hanako):
    user, registration = hanako
    slot = slot_of(facility, "テニスコート1", day)
    with pytest.raises(Slot.DoesNotExist):
        booking_hold(
            organisation=other_organisation,
            slot_id=slot.pk,
            registration=registration,
            user=user,
            identity=None,
        )
    Slot.objects.filter(pk=slot.pk).update(state=SlotState.LOTTERY)
    with pytest.raises(ReservationError, match="先着順の予約を受け付けていません"):
        hold(organisation, slot, hanako)
    Slot.objects.filter(pk=slot.pk).update(state=SlotState.OPEN)
    registration.suspended_until = now() + timedelta(days=30)
    registration.save()
    with pytest.raises(ReservationError, match="利用停止中"):
        hold(organisation, slot, hanako)
    registration.suspended_until = None
    registration.status = RegistrationStatus.PENDING
    registration.save()
    with pytest.raises(ReservationError, match="利用者登録の確認"):
        hold(organisation, slot, hanako)
    with pytest.raises(ReservationError, match="長すぎ"):
        hold(organisation, slot, hanako, idempotency_key="x" * 101)
    assert not Booking.objects.exists()


def test_identity_level_of_the_facility(organisation, facility, day, hanako):
    facility.ial = 2
    facility.save()
    with pytest.raises(ReservationError) as refused:
        hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    assert refused.value.code == "identity"


def test_booking_counts_ignore_bookings_never_confirmed(organisation, facility, day, hanako, taro):
    held = hold(organisation, slot_of(facility, "テニスコート1", day), hanako)
    expired = hold(organisation, slot_of(facility, "大ホールA", day), taro)
    Booking.objects.filter(pk=expired.pk).update(expires_at=now() - timedelta(seconds=1))
    bookings_expire()
    cancelled = hold(organisation, slot_of(facility, "大ホールB", day), taro)
    booking_cancel(organisation=organisation, booking_id=cancelled.pk, user=taro[0])
    assert Booking.objects.get(pk=held.pk).status == BookingStatus.HELD
    assert booking_counts(organisation_ids=[organisation.pk]) == []
    booking_confirm(organisation=organisation, booking_id=held.pk, user=hanako[0])
    [row] = booking_counts(organisation_ids=[organisation.pk])
    assert row.count == 1
