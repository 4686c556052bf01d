"""Downloading a permit at once from several tabs, or while the booking is being cancelled,
with real threads and real transactions: one permit is issued, and a cancelled booking is
never left with a valid one."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from madoguchi.core.time import now
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.models import Document
from madoguchi.reservations.constants import BookingStatus
from madoguchi.reservations.models import Booking
from madoguchi.reservations.permits import booking_permit_issue
from madoguchi.reservations.services import booking_cancel, booking_confirm, booking_hold
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
def booking(organisation):
    day = next_weekday()
    facility = facility_make(organisation)
    slots_make(facility, day)
    user = resident_create("hanako@example.jp", verified=True)
    held = booking_hold(
        organisation=organisation,
        slot_id=slot_of(facility, "テニスコート1", day).pk,
        registration=registration_make(organisation, user),
        user=user,
        identity=None,
    ).booking
    return booking_confirm(organisation=organisation, booking_id=held.pk, user=user)


def _together(acts: list[Callable[[], str]]) -> list[str]:
    """Run every act at the same instant, each in its own thread and connection; returns
    their outcomes (or the unexpected exception's name)."""
    barrier = threading.Barrier(len(acts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(act: Callable[[], str]) -> None:
        try:
            barrier.wait(timeout=30)
            text = act()
        except Booking.DoesNotExist:
            text = "404"
        except Exception as error:
            text = type(error).__name__ + ": " + str(error)
        finally:
            connection.close()
        with lock:
            outcomes.append(text)

    threads = [threading.Thread(target=run, args=(act,)) for act in acts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(acts), "an act did not finish"
    return outcomes


def _permits(booking: Booking) -> list[Document]:
    return list(
        Document.objects.filter(
            kind=DocumentKind.PERMIT, source_key__startswith=f"booking:{booking.pk}:permit:"
        )
    )


def test_six_downloads_at_once_issue_one_permit(booking):
    def download() -> str:
        _, document = booking_permit_issue(
            booking_id=booking.pk, user_id=booking.user_id or 0, now=now()
        )
        return document.code

    outcomes = _together([download] * 6)
    [permit] = _permits(booking)
    assert outcomes == [permit.code] * 6


def test_a_download_racing_the_cancellation_leaves_no_valid_permit(organisation, booking):
    user_id = booking.user_id or 0

    def download() -> str:
        booking_permit_issue(booking_id=booking.pk, user_id=user_id, now=now())
        return "issued"

    def cancel() -> str:
        assert booking.user is not None
        booking_cancel(organisation=organisation, booking_id=booking.pk, user=booking.user)
        return "cancelled"

    outcomes = _together([download, cancel, download])
    assert "cancelled" in outcomes
    assert set(outcomes) <= {"issued", "cancelled", "404"}
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert [p for p in _permits(booking) if p.status == DocumentStatus.VALID] == []
    assert len(_permits(booking)) <= 1
