"""The booking rules as a state machine (hypothesis): two residents hold, confirm, cancel,
join and leave waitlists and let the clock run on a few slots — a tennis court and a hall
divisible into halves — and after every step:

- no two active bookings occupy the same part of a slot (a whole hall occupies both halves);
- a booking has claims exactly while it is active (held, offered, confirmed), and they are
  the claims of the parts it occupies;
- a whole hall and one of its halves are never both active at the same time;
- every offered booking came from a waiting entry (that entry offered, pointing at it).

Each example gets a facility of its own (the examples share one test transaction).
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from madoguchi.core.time import now
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    BookingSource,
    BookingStatus,
    WaitlistStatus,
)
from madoguchi.reservations.models import Booking, Claim, Slot, WaitlistEntry
from madoguchi.reservations.services import (
    ReservationError,
    booking_cancel,
    booking_confirm,
    booking_hold,
    bookings_expire,
)
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slots_make,
)
from madoguchi.reservations.waitlist import waitlist_join, waitlist_leave
from madoguchi.testing import resident_create

_examples = itertools.count()
RESOURCES = ("大ホール", "大ホールA", "大ホールB", "テニスコート1")
BANDS = ("午前", "午後")


class BookingRules(RuleBasedStateMachine):
    organisation: ClassVar[Any] = None
    users: ClassVar[list[Any]] = []

    def __init__(self) -> None:
        super().__init__()
        organisation = type(self).organisation
        n = next(_examples)
        self.facility = facility_make(organisation, name=f"規則の館{n}")
        self.day = next_weekday()
        slots_make(self.facility, self.day)
        self.slots = [
            Slot.objects.select_related("resource").get(
                facility=self.facility, resource__name=name, band__name=band
            )
            for name in RESOURCES
            for band in BANDS
        ]
        self.people = [(user, registration_make(organisation, user)) for user in type(self).users]
        self.now = now()
        self._band_ids = {
            band.name: band.pk for band in self.facility.time_bands.filter(day_type="weekday")
        }

    # --- rules ----------------------------------------------------------------------------

    @rule(person=st.integers(0, 1), slot=st.integers(0, len(RESOURCES) * len(BANDS) - 1))
    def hold(self, person: int, slot: int) -> None:
        user, registration = self.people[person]
        with contextlib.suppress(ReservationError):
            booking_hold(
                organisation=self.facility.organisation,
                slot_id=self.slots[slot].pk,
                registration=registration,
                user=user,
                identity=None,
                now=self.now,
            )

    def _bookings_of(self, person: int) -> list[Booking]:
        user, _ = self.people[person]
        return list(Booking.objects.filter(facility=self.facility, user=user).order_by("pk"))

    @rule(person=st.integers(0, 1), index=st.integers(0, 7))
    def confirm(self, person: int, index: int) -> None:
        mine = self._bookings_of(person)
        if not mine:
            return
        booking = mine[index % len(mine)]
        with contextlib.suppress(ReservationError):
            booking_confirm(
                organisation=self.facility.organisation,
                booking_id=booking.pk,
                user=self.people[person][0],
                now=self.now,
            )

    @rule(person=st.integers(0, 1), index=st.integers(0, 7))
    def cancel(self, person: int, index: int) -> None:
        mine = self._bookings_of(person)
        if not mine:
            return
        booking = mine[index % len(mine)]
        with contextlib.suppress(ReservationError):
            booking_cancel(
                organisation=self.facility.organisation,
                booking_id=booking.pk,
                user=self.people[person][0],
                now=self.now,
            )

    @rule(person=st.integers(0, 1), slot=st.integers(0, len(RESOURCES) * len(BANDS) - 1))
    def join(self, person: int, slot: int) -> None:
        user, registration = self.people[person]
        with contextlib.suppress(ReservationError):
            waitlist_join(
                organisation=self.facility.organisation,
                slot_id=self.slots[slot].pk,
                registration=registration,
                user=user,
                identity=None,
                now=self.now,
            )

    @rule(person=st.integers(0, 1), index=st.integers(0, 7))
    def leave(self, person: int, index: int) -> None:
        user, _ = self.people[person]
        entries = list(
            WaitlistEntry.objects.filter(slot__facility=self.facility, user=user).order_by("pk")
        )
        if not entries:
            return
        with contextlib.suppress(ReservationError):
            waitlist_leave(
                organisation=self.facility.organisation,
                entry_id=entries[index % len(entries)].pk,
                user=user,
                now=self.now,
            )

    @rule(minutes=st.sampled_from([1, 11, 60 * 25]))
    def clock(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def expire(self) -> None:
        bookings_expire(now=self.now)

    # --- invariants -----------------------------------------------------------------------

    def _parts(self, slot: Slot) -> set[int]:
        """The leaf slots a booking of ``slot`` occupies."""
        by_name = {(s.resource.name, s.starts_at): s.pk for s in self.slots}
        if slot.resource.name == "大ホール":
            return {
                by_name[("大ホールA", slot.starts_at)],
                by_name[("大ホールB", slot.starts_at)],
            }
        return {slot.pk}

    def _bookings(self) -> list[Booking]:
        return list(
            Booking.objects.filter(facility=self.facility).select_related("slot", "slot__resource")
        )

    @invariant()
    def no_part_is_occupied_twice(self) -> None:
        taken: set[int] = set()
        for booking in self._bookings():
            if booking.status in ACTIVE_STATUSES:
                parts = self._parts(booking.slot)
                assert not taken & parts, booking
                taken |= parts

    @invariant()
    def claims_exist_iff_active(self) -> None:
        claimed: dict[int, set[int]] = {}
        for booking_id, slot_id in Claim.objects.filter(slot__facility=self.facility).values_list(
            "booking_id", "slot_id"
        ):
            claimed.setdefault(booking_id, set()).add(slot_id)
        for booking in self._bookings():
            if booking.status in ACTIVE_STATUSES:
                assert self._parts(booking.slot) <= claimed.get(booking.pk, set()), booking
            else:
                assert booking.pk not in claimed, booking

    @invariant()
    def whole_and_part_never_both_active(self) -> None:
        active = [b for b in self._bookings() if b.status in ACTIVE_STATUSES]
        for band in BANDS:
            names = {b.slot.resource.name for b in active if b.slot.band_id == self._band_ids[band]}
            assert not ("大ホール" in names and names & {"大ホールA", "大ホールB"})

    @invariant()
    def every_offer_came_from_a_waiting_entry(self) -> None:
        for booking in self._bookings():
            if booking.status == BookingStatus.OFFERED:
                assert booking.source == BookingSource.WAITLIST
                assert WaitlistEntry.objects.filter(
                    booking=booking, status=WaitlistStatus.OFFERED, slot=booking.slot
                ).exists()
        for entry in WaitlistEntry.objects.filter(
            slot__facility=self.facility, status=WaitlistStatus.OFFERED
        ):
            assert entry.booking is not None
            assert entry.booking.status == BookingStatus.OFFERED


@pytest.mark.django_db
def test_booking_rules(organisation):
    BookingRules.organisation = organisation
    BookingRules.users = [
        resident_create("rules-a@example.jp", verified=True),
        resident_create("rules-b@example.jp", verified=True),
    ]
    run_state_machine_as_test(
        BookingRules,
        settings=settings(max_examples=30, deadline=None, stateful_step_count=20, database=None),
    )
