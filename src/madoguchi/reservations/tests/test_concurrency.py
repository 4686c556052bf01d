"""Racing for a slot with real threads and real transactions (SQLite and PostgreSQL alike):
the database decides who got it, exactly once, and every loser is told the slot is taken."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from madoguchi.reservations.constants import ACTIVE_STATUSES
from madoguchi.reservations.models import Booking, Claim, Slot
from madoguchi.reservations.services import SlotTaken, booking_hold
from madoguchi.reservations.testing import (
    facility_make,
    next_weekday,
    registration_make,
    slot_of,
    slots_make,
)
from madoguchi.testing import resident_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def day():
    return next_weekday()


@pytest.fixture
def facility(organisation, day):
    facility = facility_make(organisation)
    slots_make(facility, day)
    return facility


def racers(organisation, count: int) -> list[tuple[Any, Any]]:
    people = []
    for n in range(count):
        user = resident_create(f"racer{n}@example.jp", verified=True)
        people.append((user, registration_make(organisation, user)))
    return people


def race(organisation, targets: list[tuple[Slot, tuple[Any, Any]]]) -> list[str]:
    """Every racer tries to hold its slot at the same instant; returns each outcome: the
    resource name it won, "taken", or the unexpected exception's name."""
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(slot: Slot, who: tuple[Any, Any]) -> None:
        user, registration = who
        try:
            barrier.wait(timeout=30)
            result = booking_hold(
                organisation=organisation,
                slot_id=slot.pk,
                registration=registration,
                user=user,
                identity=None,
            )
            outcome = Slot.objects.select_related("resource").get(pk=result.booking.slot_id)
            text = outcome.resource.name
        except SlotTaken:
            text = "taken"
        except Exception as error:
            text = type(error).__name__ + ": " + str(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(text)

    threads = [threading.Thread(target=run, args=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(targets), "a racer did not finish"
    return outcomes


def active(slot: Slot) -> int:
    return Booking.objects.filter(slot=slot, status__in=ACTIVE_STATUSES).count()


def assert_only(outcomes: list[str], allowed: Callable[[str], bool]) -> None:
    unexpected = [o for o in outcomes if not allowed(o)]
    assert not unexpected, unexpected


def test_twenty_racers_for_one_court_make_exactly_one_booking(organisation, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    outcomes = race(organisation, [(slot, who) for who in racers(organisation, 20)])
    assert Counter(outcomes) == {"テニスコート1": 1, "taken": 19}
    assert active(slot) == 1
    assert Claim.objects.filter(slot=slot).count() == 1
    assert Booking.objects.count() == 1  # the losers' rows rolled back with them


def test_the_whole_hall_and_its_halves_are_never_both_booked(organisation, facility, day):
    whole = slot_of(facility, "大ホール", day)
    half_a = slot_of(facility, "大ホールA", day)
    half_b = slot_of(facility, "大ホールB", day)
    people = racers(organisation, 21)
    targets = [((whole, half_a, half_b)[n % 3], who) for n, who in enumerate(people)]
    outcomes = race(organisation, targets)
    assert_only(outcomes, lambda o: o in {"大ホール", "大ホールA", "大ホールB", "taken"})
    won = Counter(o for o in outcomes if o != "taken")
    assert all(n == 1 for n in won.values())
    assert won in (
        {"大ホール": 1},
        {"大ホールA": 1, "大ホールB": 1},
        {"大ホールA": 1},
        {"大ホールB": 1},
    )
    if "大ホール" in won:
        assert active(half_a) == active(half_b) == 0
    assert Booking.objects.count() == sum(won.values())


def test_a_slot_of_three_seats_and_ten_racers_makes_exactly_three(organisation, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    Slot.objects.filter(pk=slot.pk).update(capacity=3)
    outcomes = race(organisation, [(slot, who) for who in racers(organisation, 10)])
    assert Counter(outcomes) == {"テニスコート1": 3, "taken": 7}
    assert active(slot) == 3
    assert sorted(Claim.objects.filter(slot=slot).values_list("seat", flat=True)) == [0, 1, 2]


def test_one_racer_replaying_its_request_gets_one_booking(organisation, facility, day):
    slot = slot_of(facility, "テニスコート1", day)
    [(user, registration)] = racers(organisation, 1)
    barrier = threading.Barrier(8)
    numbers: list[str] = []

    def replay() -> None:
        try:
            barrier.wait(timeout=30)
            result = booking_hold(
                organisation=organisation,
                slot_id=slot.pk,
                registration=registration,
                user=user,
                identity=None,
                idempotency_key="same-key-for-every-retry",
            )
            numbers.append(result.booking.number)
        except Exception as error:
            numbers.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # Every copy of the request, however they interleaved, answers with the one booking.
    assert numbers == [Booking.objects.get().number] * 8
