"""Staff acts on bookings and slots: a counter booking (never a double booking), an override
with its reason (public log without personal data), closing and reopening a slot, a no-show
with its suspension; the calendar grid and the usage figures that staff read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.notifications.models import OutboxMessage
from madoguchi.reservations.constants import (
    BookingSource,
    BookingStatus,
    Channel,
    LogKind,
    SlotState,
)
from madoguchi.reservations.facilities import reduction_save
from madoguchi.reservations.models import Booking, Claim, FacilityLogEntry, Registration, Slot
from madoguchi.reservations.services import ReservationError, SlotTaken, booking_hold
from madoguchi.reservations.staff import (
    booking_counter_create,
    booking_no_show,
    booking_override,
    slot_close,
    slot_open,
)
from madoguchi.reservations.staff_selectors import facility_log, staff_grid, usage_stats
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
    return registration_make(organisation, user)


def counter(staff, slot, **kw):
    return booking_counter_create(
        organisation=staff.organisation, actor=staff, now=now(), slot_id=slot.pk, **kw
    )


def test_a_counter_booking_is_confirmed_at_once_and_never_doubles(
    staff_member, facility, day, hanako
):
    court = slot_of(facility, "テニスコート1", day)
    booking = counter(staff_member, court, registration_id=hanako.pk, purpose="練習")
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.source == BookingSource.COUNTER
    assert booking.channel == Channel.COUNTER
    assert booking.booked_by == staff_member
    assert booking.confirmed_at is not None
    with pytest.raises(SlotTaken):
        counter(staff_member, court, contact="電話 次郎 090-0000-0000")
    assert Booking.objects.count() == 1
    # The whole hall is taken when a half is.
    half = slot_of(facility, "大ホールA", day)
    counter(staff_member, half, contact="電話 次郎 090-0000-0000")
    with pytest.raises(SlotTaken):
        counter(staff_member, slot_of(facility, "大ホール", day), registration_id=hanako.pk)
    event = AuditEvent.objects.filter(action="booking.counter_created").first()
    assert event is not None
    assert "次郎" not in str(event.detail)


def test_a_counter_booking_carries_the_reduction(admin_staff, facility, day, hanako):
    reduction_save(
        organisation=admin_staff.organisation,
        actor=admin_staff,
        now=now(),
        facility_id=facility.pk,
        code="disability",
        name="障害者減免",
        percent=50,
    )
    booking = counter(
        admin_staff, slot_of(facility, "テニスコート1", day), contact="窓口", reduction="disability"
    )
    assert (booking.fee, booking.reduction, booking.fee_due) == (2000, "disability", 1000)
    with pytest.raises(ReservationError, match="その減免の区分はありません"):
        counter(
            admin_staff,
            slot_of(facility, "テニスコート1", day, "午後"),
            contact="x",
            reduction="no",
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "利用者番号を選ぶか"),
        ({"contact": "   "}, "利用者番号を選ぶか"),
        ({"contact": "x" * 201}, "200文字以内"),
        ({"contact": 5}, "文字で入力"),
        ({"contact": "x", "purpose": "y" * 201}, "200文字以内"),
    ],
)
def test_hostile_counter_input_is_refused(staff_member, facility, day, fields, message):
    with pytest.raises(ReservationError, match=message):
        counter(staff_member, slot_of(facility, "テニスコート1", day), **fields)
    assert not Booking.objects.exists()


def test_counter_bookings_are_refused_for_closed_started_or_foreign_slots(
    staff_member, other_staff, facility, day, hanako, other_organisation
):
    court = slot_of(facility, "テニスコート1", day)
    Slot.objects.filter(pk=court.pk).update(state=SlotState.LOTTERY)
    with pytest.raises(ReservationError, match="先着順の予約を受け付けていません"):
        counter(staff_member, court, contact="x")
    started = slot_of(facility, "テニスコート1", day, "午後")
    Slot.objects.filter(pk=started.pk).update(
        starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1)
    )
    with pytest.raises(ReservationError, match="開始時刻を過ぎた"):
        counter(staff_member, started, contact="x")
    with pytest.raises(Slot.DoesNotExist):
        counter(other_staff, slot_of(facility, "テニスコート1", day, "夜間"), contact="x")
    theirs = registration_make(other_organisation, None, number="K000001")
    with pytest.raises(Registration.DoesNotExist):
        counter(
            staff_member, slot_of(facility, "テニスコート1", day, "夜間"), registration_id=theirs.pk
        )
    hanako.suspended_until = now() + timedelta(days=3)
    hanako.save()
    with pytest.raises(ReservationError, match="利用停止中"):
        counter(
            staff_member, slot_of(facility, "テニスコート1", day, "夜間"), registration_id=hanako.pk
        )
    assert not Booking.objects.exists()


def test_a_viewer_may_not_act(organisation, facility, day):
    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import staff_create

    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    with pytest.raises(ReservationError, match="予約を扱う職員だけ"):
        counter(viewer, slot_of(facility, "テニスコート1", day), contact="x")


def test_an_override_frees_the_slot_and_logs_without_personal_data(
    staff_member, facility, day, hanako
):
    user = hanako.user
    court = slot_of(facility, "テニスコート1", day)
    held = booking_hold(
        organisation=facility.organisation,
        slot_id=court.pk,
        registration=hanako,
        user=user,
        identity=None,
    ).booking
    with pytest.raises(ReservationError, match="取消しの理由を入力"):
        booking_override(
            organisation=facility.organisation,
            actor=staff_member,
            now=now(),
            booking_id=held.pk,
            category="facility",
            reason=" ",
        )
    with pytest.raises(ReservationError, match="区分を一覧から"):
        booking_override(
            organisation=facility.organisation,
            actor=staff_member,
            now=now(),
            booking_id=held.pk,
            category="because",
            reason="照明の故障",
        )
    done = booking_override(
        organisation=facility.organisation,
        actor=staff_member,
        now=now(),
        booking_id=held.pk,
        category="facility",
        reason="予約 花子さんの利用日に照明の故障",
    )
    assert done.status == BookingStatus.CANCELLED
    assert not Claim.objects.filter(booking=done).exists()
    entry = FacilityLogEntry.objects.get(kind=LogKind.OVERRIDE)
    assert entry.rule == "職員による取消し: 施設の都合（点検・工事・故障など）"
    assert "花子" not in entry.rule
    event = AuditEvent.objects.get(action="booking.overridden")
    assert event.reason == "予約 花子さんの利用日に照明の故障"
    [mail] = [m.payload for m in OutboxMessage.objects.all() if m.payload["to"] == user.email]
    assert held.number in mail["subject"]
    assert "施設の都合" in mail["body"]
    assert "照明の故障" not in mail["body"]
    # The slot can be booked again; the override cannot be repeated.
    counter(staff_member, court, contact="次の方")
    with pytest.raises(ReservationError, match="すでに終わっています"):
        booking_override(
            organisation=facility.organisation,
            actor=staff_member,
            now=now(),
            booking_id=done.pk,
            category="facility",
            reason="x",
        )


def test_another_organisations_booking_is_not_found(other_staff, staff_member, facility, day):
    booking = counter(staff_member, slot_of(facility, "テニスコート1", day), contact="x")
    with pytest.raises(Booking.DoesNotExist):
        booking_override(
            organisation=other_staff.organisation,
            actor=other_staff,
            now=now(),
            booking_id=booking.pk,
            category="other",
            reason="x",
        )
    with pytest.raises(ReservationError, match="予約を扱う職員だけ"):
        booking_override(
            organisation=staff_member.organisation,
            actor=other_staff,
            now=now(),
            booking_id=booking.pk,
            category="other",
            reason="x",
        )


def test_closing_and_reopening_a_slot(staff_member, facility, day):
    organisation = facility.organisation
    court = slot_of(facility, "テニスコート1", day)
    with pytest.raises(ReservationError, match="理由を一覧から"):
        slot_close(
            organisation=organisation, actor=staff_member, now=now(), slot_id=court.pk, reason="?"
        )
    closed = slot_close(
        organisation=organisation,
        actor=staff_member,
        now=now(),
        slot_id=court.pk,
        reason="maintenance",
    )
    assert closed.state == SlotState.CLOSED
    with pytest.raises(ReservationError, match="先着順の予約を受け付けていません"):
        counter(staff_member, court, contact="x")
    opened = slot_open(organisation=organisation, actor=staff_member, now=now(), slot_id=court.pk)
    assert opened.state == SlotState.OPEN
    kinds = list(facility_log(facility).values_list("kind", flat=True))
    assert kinds == [LogKind.RELEASED, LogKind.CLOSED]
    with pytest.raises(ReservationError, match="受付停止になっていません"):
        slot_open(organisation=organisation, actor=staff_member, now=now(), slot_id=court.pk)
    lottery = slot_of(facility, "テニスコート1", day, "午後")
    Slot.objects.filter(pk=lottery.pk).update(state=SlotState.LOTTERY)
    with pytest.raises(ReservationError, match="抽選の対象の枠"):
        slot_close(
            organisation=organisation,
            actor=staff_member,
            now=now(),
            slot_id=lottery.pk,
            reason="event",
        )
    counter(staff_member, court, contact="x")
    with pytest.raises(ReservationError, match="予約が入っている枠"):
        slot_close(
            organisation=organisation,
            actor=staff_member,
            now=now(),
            slot_id=court.pk,
            reason="event",
        )


def test_a_no_show_suspends_the_registration(staff_member, facility, day, hanako):
    court = slot_of(facility, "テニスコート1", day)
    booking = counter(staff_member, court, registration_id=hanako.pk)
    organisation = facility.organisation
    with pytest.raises(ReservationError, match="利用開始の時刻を過ぎてから"):
        booking_no_show(
            organisation=organisation, actor=staff_member, now=now(), booking_id=booking.pk
        )
    later = court.starts_at + timedelta(minutes=30)
    marked = booking_no_show(
        organisation=organisation, actor=staff_member, now=later, booking_id=booking.pk
    )
    assert marked.status == BookingStatus.NO_SHOW
    hanako.refresh_from_db()
    assert hanako.suspended_until == later + timedelta(days=30)
    with pytest.raises(ReservationError, match="確定した予約だけ"):
        booking_no_show(
            organisation=organisation, actor=staff_member, now=later, booking_id=booking.pk
        )
    stats = usage_stats(facility, month=day.replace(day=1))
    assert stats.no_shows == 1


def test_the_grid_and_the_usage_figures(staff_member, facility, day, hanako):
    counter(staff_member, slot_of(facility, "大ホール", day), registration_id=hanako.pk)
    online = booking_hold(
        organisation=facility.organisation,
        slot_id=slot_of(facility, "テニスコート1", day).pk,
        registration=hanako,
        user=hanako.user,
        identity=None,
    ).booking
    slot_close(
        organisation=facility.organisation,
        actor=staff_member,
        now=now(),
        slot_id=slot_of(facility, "テニスコート1", day, "夜間").pk,
        reason="weather",
    )
    [grid] = staff_grid(facility, start=day, end=day)
    assert len(grid.times) == 3
    cells = {row.resource.name: [c.kind for c in row.cells] for row in grid.rows}
    assert cells["大ホール"] == ["booked", "free", "free"]
    assert cells["大ホールA"] == ["booked", "free", "free"]  # a part of the whole booking
    assert cells["テニスコート1"] == ["booked", "free", "closed"]
    part = next(r for r in grid.rows if r.resource.name == "大ホールA").cells[0]
    assert part.via_whole
    stats = usage_stats(facility, month=day.replace(day=1))
    assert stats.offered == 11
    assert stats.closed == 1
    assert stats.by_channel == {"online": 1, "counter": 1}
    assert stats.booked == 2
    assert stats.occupancy == round(100 * 4 / 11, 1)  # whole + 2 halves + the court
    booking_override(
        organisation=facility.organisation,
        actor=staff_member,
        now=now(),
        booking_id=online.pk,
        category="request",
        reason="電話で取消しの申出",
    )
    assert usage_stats(facility, month=day.replace(day=1)).cancellations == 1


def test_staff_record_a_payment_and_a_refund_once_each(staff_member, other_staff, facility, day):
    from madoguchi.reservations.constants import PaymentStatus
    from madoguchi.reservations.staff import booking_payment_record

    booking = counter(staff_member, slot_of(facility, "テニスコート1", day), contact="電話 山田")
    assert booking.fee_due > 0
    assert booking.payment == PaymentStatus.UNPAID

    def record(payment, actor=staff_member, booking_id=booking.pk):
        return booking_payment_record(
            organisation=actor.organisation,
            actor=actor,
            now=now(),
            booking_id=booking_id,
            payment=payment,
        )

    with pytest.raises(ReservationError, match="還付を記録できる"):
        record(PaymentStatus.REFUNDED)
    for hostile in ("paid_online", "exempt", "<script>", None, 5, "x" * 10_000):
        with pytest.raises(ReservationError):
            record(hostile)
    with pytest.raises(Booking.DoesNotExist):
        record(PaymentStatus.PAID_COUNTER, actor=other_staff)
    assert Booking.objects.get(pk=booking.pk).payment == PaymentStatus.UNPAID
    paid = record(PaymentStatus.PAID_COUNTER)
    assert paid.payment == PaymentStatus.PAID_COUNTER
    with pytest.raises(ReservationError, match="すでに記録"):
        record(PaymentStatus.PAID_COUNTER)
    with pytest.raises(ReservationError, match="未納の使用料がありません"):
        record(PaymentStatus.PAID_TRANSFER)
    # Cancelled with a refund due (set as the refund schedule would): the refund is recorded once.
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED, refund=800)
    with pytest.raises(ReservationError, match="確定した予約だけ"):
        record(PaymentStatus.PAID_TRANSFER)
    refunded = record(PaymentStatus.REFUNDED)
    assert refunded.payment == PaymentStatus.REFUNDED
    events = AuditEvent.objects.filter(action="booking.payment_recorded", target_id=str(booking.pk))
    assert [e.detail["after"] for e in events.order_by("id")] == ["paid_counter", "refunded"]
