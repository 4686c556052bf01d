"""Every confirmed facility booking counts as a procedure in the channel figures: online when
the resident booked online, counter when staff booked it at the counter or by phone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from madoguchi.reservations.constants import BookingStatus, Channel
from madoguchi.reservations.models import Booking
from madoguchi.reservations.services import booking_confirm, booking_hold
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slots_make,
)
from madoguchi.stats.categories import category_list
from madoguchi.stats.figures import organisation_table
from madoguchi.testing import procedure_classified, resident_create

pytestmark = pytest.mark.django_db

JUNE_2025 = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)


def booked(organisation, facility, user, registration, slot, *, confirm: bool) -> Booking:
    booking = booking_hold(
        organisation=organisation,
        slot_id=slot.pk,
        registration=registration,
        user=user,
        identity=None,
    ).booking
    if confirm:
        booking = booking_confirm(organisation=organisation, booking_id=booking.pk, user=user)
        Booking.objects.filter(pk=booking.pk).update(confirmed_at=JUNE_2025)
    return booking


def test_confirmed_bookings_count_in_their_facilitys_procedure(organisation):
    g21 = category_list("guideline-21")
    assert g21 is not None
    procedure = procedure_classified(organisation, "facility-reservation")
    facility = facility_make(organisation, procedure=procedure)
    unlinked = facility_make(organisation, name="手続の設定がない施設")
    day = next_weekday()
    slots = slots_make(facility, day) + slots_make(unlinked, day)
    courts = [s for s in slots if s.facility_id == facility.pk and s.resource.parent_id is None]
    people = []
    for n in range(5):
        user = resident_create(f"player{n}@example.jp", verified=True)
        people.append((user, registration_make(organisation, user)))
    # Three confirmed online; one of them then cancelled (the procedure happened all the same).
    for (user, registration), slot in zip(people[:3], courts[:3], strict=True):
        booked(organisation, facility, user, registration, slot, confirm=True)
    cancelled = Booking.objects.filter(facility=facility).first()
    assert cancelled is not None
    Booking.objects.filter(pk=cancelled.pk).update(status=BookingStatus.CANCELLED)
    # One booked at the counter (confirmed, counter channel).
    counter = booked(organisation, facility, *people[3], courts[3], confirm=True)
    Booking.objects.filter(pk=counter.pk).update(channel=Channel.COUNTER)
    # One only held (never confirmed): not a procedure.
    booked(organisation, facility, *people[4], courts[4], confirm=False)
    # A confirmed booking of a facility without a procedure: counted nowhere.
    other_slot = next(s for s in slots if s.facility_id == unlinked.pk)
    booked(organisation, unlinked, *people[4], other_slot, confirm=True)

    table = organisation_table(organisation=organisation, category_list=g21, fiscal_year=2025)

    row = next(r for r in table.rows if r.category and r.category.code == "facility-reservation")
    assert (row.current.total, row.current.online) == (4, 3)
    assert row.current.breakdown.platform_counter == 1
    assert table.total.current.total == 4
