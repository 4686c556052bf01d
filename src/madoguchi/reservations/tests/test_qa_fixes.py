"""Regressions from the QA pass of issue 13 at the service and command level: confirming a
lottery win marks the entry confirmed; verifying an undrawn lottery says it is not drawn yet
(not a mismatch)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from madoguchi.core.time import now
from madoguchi.reservations.lottery import lottery_draw, lottery_enter
from madoguchi.reservations.lottery_testing import (
    lottery_facility,
    lottery_make,
    target_month,
    weekday_in,
)
from madoguchi.reservations.models import Booking, EntryStatus, LotteryEntry
from madoguchi.reservations.services import booking_confirm
from madoguchi.reservations.testing import registration_make, slot_of
from madoguchi.testing import resident_create


@pytest.fixture
def lottery_and_facility(organisation, admin_staff):
    at = now()
    facility = lottery_facility(organisation, target_month(at))
    return lottery_make(organisation, admin_staff, facility, at=at), facility


def test_verify_before_the_draw_says_not_drawn_yet(lottery_and_facility, capsys):
    lottery, _facility = lottery_and_facility
    with pytest.raises(SystemExit) as before:
        call_command("lottery", "verify", str(lottery.pk))
    assert before.value.code == 1
    out = capsys.readouterr().out
    assert "まだ抽選していません（シードは抽選のときに公開します）" in out
    assert "不一致" not in out


def test_confirming_a_won_booking_confirms_the_entry(organisation, lottery_and_facility):
    lottery, facility = lottery_and_facility
    user = resident_create("hanako@example.jp", verified=True)
    registration = registration_make(organisation, user)
    slot = slot_of(facility, "テニスコート1", weekday_in(target_month()))
    lottery_enter(
        organisation=organisation,
        lottery_id=lottery.pk,
        registration=registration,
        user=user,
        choices=[[slot.pk]],
        idempotency_key="q" * 20,
        now=now(),
    )
    lottery_draw(organisation=organisation, lottery_id=lottery.pk, now=now() + timedelta(days=2))
    entry = LotteryEntry.objects.get()
    assert entry.status == EntryStatus.WON
    booking = Booking.objects.get()
    booking_confirm(organisation=organisation, booking_id=booking.pk, user=user)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CONFIRMED
    # confirming again changes nothing
    booking_confirm(organisation=organisation, booking_id=booking.pk, user=user)
    entry.refresh_from_db()
    assert entry.status == EntryStatus.CONFIRMED


def test_demo_tennis_event_is_not_on_the_centres_closed_day(organisation, admin_staff):
    from madoguchi.core.time import to_tokyo
    from madoguchi.ops.demo_reservations import demo_reservations
    from madoguchi.reservations.models import ClosedDay, Event

    yokohama = organisation
    assert yokohama.lg_code == "141003"
    resident = resident_create("demo-resident@example.jp", verified=True)
    demo_reservations(yokohama, resident, now=now())
    event = Event.objects.get(organisation=yokohama, title__startswith="親子テニス体験会")
    closed = set(ClosedDay.objects.filter(organisation=yokohama).values_list("date", flat=True))
    assert closed  # the demo still has its 休館日
    assert to_tokyo(event.starts_at).date() not in closed
