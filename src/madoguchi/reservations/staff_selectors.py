"""Reads for staff and the public log: a facility's configuration, the staff calendar grid
(resources × コマ with who booked), a booking for staff, a month's usage figures, and the
public log of a facility (no personal data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

from django.db.models import Count, Q, QuerySet

from madoguchi.core.time import TOKYO
from madoguchi.reservations.calendar import month_days, next_month
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    BookingStatus,
    Channel,
    LogKind,
    SlotState,
)
from madoguchi.reservations.models import (
    Booking,
    Claim,
    ClosedDay,
    Facility,
    FacilityLogEntry,
    Fee,
    Reduction,
    Registration,
    Resource,
    Slot,
    TimeBand,
)
from madoguchi.reservations.selectors import claimed_parts
from madoguchi.tenants.models import Organisation

CellKind = Literal["free", "booked", "part_booked", "lottery", "closed", "none"]


def facilities_of(organisation: Organisation) -> QuerySet[Facility]:
    """Every facility of the organisation (published or not), by name."""
    return Facility.objects.filter(organisation=organisation).order_by("name", "id")


def facility_of(organisation: Organisation, facility_id: int) -> Facility:
    """One facility of the organisation (``Facility.DoesNotExist`` otherwise: 404)."""
    return Facility.objects.select_related("procedure").get(
        organisation=organisation, pk=facility_id
    )


@dataclass(frozen=True)
class FacilitySetup:
    resources: list[Resource]
    bands: list[TimeBand]
    closed_days: list[ClosedDay]
    fees: dict[tuple[int, int], int]
    reductions: list[Reduction]


def facility_setup(facility: Facility, *, today: date) -> FacilitySetup:
    """Everything an admin configures for a facility (closed days from ``today`` on)."""
    return FacilitySetup(
        resources=list(facility.resources.select_related("parent").order_by("order", "id")),
        bands=list(facility.time_bands.order_by("day_type", "start")),
        closed_days=list(facility.closed_days.filter(date__gte=today).order_by("date")),
        fees={
            (f.resource_id, f.band_id): f.amount
            for f in Fee.objects.filter(resource__facility=facility)
        },
        reductions=list(facility.reductions.order_by("code")),
    )


@dataclass
class Cell:
    slot: Slot | None
    kind: CellKind
    booking: Booking | None = None
    #: The booking holds this slot as a part of a whole hall (booked on another resource).
    via_whole: bool = False
    #: For a slot sold by the seat: seats taken.
    taken: int = 0
    #: For a whole hall not booked itself: the names of its parts booked at that time (the
    #: whole is then occupied, as :func:`~madoguchi.reservations.selectors.slots_between` says).
    parts: list[str] = field(default_factory=list)


@dataclass
class Row:
    resource: Resource
    cells: list[Cell] = field(default_factory=list)


@dataclass
class DayGrid:
    day: date
    times: list[tuple[time, time, str]]
    rows: list[Row]
    closed_reason: str | None = None


def staff_grid(facility: Facility, *, start: date, end: date) -> list[DayGrid]:
    """The staff calendar from ``start`` to ``end`` (inclusive): for each date, a grid of the
    facility's resources × that date's slot times, each cell 空き / 予約 (with the booking)
    / 抽選 / 受付停止 (or none when the resource has no slot at that time)."""
    slots = list(
        Slot.objects.filter(facility=facility, date__gte=start, date__lte=end).select_related(
            "band"
        )
    )
    claims = (
        Claim.objects.filter(slot__in=[s.pk for s in slots])
        .select_related("booking__registration", "booking__slot")
        .order_by("seat")
    )
    booking_of: dict[int, Booking] = {}
    taken: dict[int, int] = {}
    slot_by_pk = {s.pk: s for s in slots}
    claimed: set[tuple[int, datetime]] = set()
    for claim in claims:
        booking_of.setdefault(claim.slot_id, claim.booking)
        taken[claim.slot_id] = taken.get(claim.slot_id, 0) + 1
        claimed_slot = slot_by_pk[claim.slot_id]
        claimed.add((claimed_slot.resource_id, claimed_slot.starts_at))
    resources = list(facility.resources.order_by("order", "id"))
    name_of = {r.pk: r.name for r in resources}
    children: dict[int, list[int]] = {}
    for r in resources:
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(r.pk)

    def parts_booked(slot: Slot) -> list[str]:
        if slot.capacity != 1:
            return []
        found = claimed_parts(claimed, children, slot.resource_id, slot.starts_at)
        return [name_of[p] for p in found]

    closed = dict(
        ClosedDay.objects.filter(facility=facility, date__gte=start, date__lte=end).values_list(
            "date", "reason"
        )
    )
    by_day: dict[date, dict[tuple[int, datetime], Slot]] = {}
    for slot in slots:
        by_day.setdefault(slot.date, {})[(slot.resource_id, slot.starts_at)] = slot
    grids = []
    day = start
    while day <= end:
        day_slots = by_day.get(day, {})
        times_seen: dict[datetime, tuple[time, time, str]] = {}
        for slot in day_slots.values():
            local_start = slot.starts_at.astimezone(TOKYO)
            times_seen.setdefault(
                slot.starts_at,
                (
                    local_start.time(),
                    slot.ends_at.astimezone(TOKYO).time(),
                    slot.band.name if slot.band else "",
                ),
            )
        ordered = sorted(times_seen)
        rows = []
        for resource in resources:
            row = Row(resource=resource)
            for at in ordered:
                found = day_slots.get((resource.pk, at))
                cell = _cell(found, booking_of, taken)
                if found is not None and cell.kind == "free":
                    parts = parts_booked(found)
                    if parts:
                        cell = Cell(slot=found, kind="part_booked", parts=parts)
                row.cells.append(cell)
            rows.append(row)
        grids.append(
            DayGrid(
                day=day,
                times=[times_seen[t] for t in ordered],
                rows=rows,
                closed_reason=(closed[day] or "休館日") if day in closed else None,
            )
        )
        day = date.fromordinal(day.toordinal() + 1)
    return grids


def _cell(slot: Slot | None, booking_of: dict[int, Booking], taken: dict[int, int]) -> Cell:
    if slot is None:
        return Cell(slot=None, kind="none")
    booking = booking_of.get(slot.pk)
    if booking is not None:
        return Cell(
            slot=slot,
            kind="booked",
            booking=booking,
            via_whole=booking.slot_id != slot.pk,
            taken=taken.get(slot.pk, 0),
        )
    if slot.state in (SlotState.LOTTERY, SlotState.PENDING):
        return Cell(slot=slot, kind="lottery")
    if slot.state == SlotState.CLOSED:
        return Cell(slot=slot, kind="closed")
    return Cell(slot=slot, kind="free")


def slot_of_staff(organisation: Organisation, slot_id: int) -> Slot:
    """One slot of the organisation, with its facility and resource (404 otherwise)."""
    return Slot.objects.select_related("facility", "resource", "band").get(
        organisation=organisation, pk=slot_id
    )


def booking_of_staff(organisation: Organisation, booking_id: int) -> Booking:
    """One booking of the organisation for staff, with its slot and registration."""
    return Booking.objects.select_related(
        "slot__resource", "slot__band", "facility", "registration", "booked_by__user"
    ).get(organisation=organisation, pk=booking_id)


def registration_by_number(organisation: Organisation, number: str) -> Registration:
    """The registration with 利用者番号 ``number`` (``Registration.DoesNotExist`` otherwise)."""
    return Registration.objects.get(organisation=organisation, number=number.strip()[:16])


def facility_log(facility: Facility) -> QuerySet[FacilityLogEntry]:
    """The public log of a facility, newest first, with each entry's slot (what, when)."""
    return (
        FacilityLogEntry.objects.filter(organisation_id=facility.organisation_id, facility=facility)
        .exclude(kind=LogKind.BOOKED)
        .select_related("slot__resource", "slot__band")
        .order_by("-at", "-id")
    )


@dataclass(frozen=True)
class UsageStats:
    month: date
    offered: int
    booked: int
    by_channel: dict[str, int]
    occupancy: float | None
    cancellations: int
    no_shows: int
    closed: int


def usage_stats(facility: Facility, *, month: date) -> UsageStats:
    """A month's figures of a facility: slots offered (not closed), slots booked now (by the
    channel of their booking), the occupancy, cancellations (by residents and staff) and
    no-shows of bookings of that month's slots. A whole hall's booking counts once."""
    days = month_days(month)
    slots = Slot.objects.filter(facility=facility, date__gte=days[0], date__lte=days[-1])
    total = slots.count()
    closed = slots.filter(state=SlotState.CLOSED).count()
    bookings = Booking.objects.filter(
        facility=facility, slot__date__gte=days[0], slot__date__lte=days[-1]
    )
    held = bookings.filter(Q(status__in=ACTIVE_STATUSES) | Q(status=BookingStatus.NO_SHOW))
    channel_rows = held.values_list("channel").annotate(n=Count("id")).order_by()
    by_channel = {str(c): 0 for c in Channel.values}
    for channel, n in channel_rows:
        by_channel[channel] = n
    booked = sum(by_channel.values())
    offered = total - closed
    # Occupancy counts the slots occupied (a whole hall occupies its parts too).
    occupied = (
        Claim.objects.filter(slot__in=slots).values("slot_id").distinct().count()
        + bookings.filter(status=BookingStatus.NO_SHOW).count()
    )
    return UsageStats(
        month=month,
        offered=offered,
        booked=booked,
        by_channel=by_channel,
        occupancy=(round(100 * occupied / offered, 1) if offered else None),
        cancellations=bookings.filter(status=BookingStatus.CANCELLED).count(),
        no_shows=bookings.filter(status=BookingStatus.NO_SHOW).count(),
        closed=closed,
    )


def month_bounds(month: date) -> tuple[date, date]:
    return month, date.fromordinal(next_month(month).toordinal() - 1)


__all__ = [
    "Cell",
    "DayGrid",
    "FacilitySetup",
    "UsageStats",
    "booking_of_staff",
    "facilities_of",
    "facility_log",
    "facility_of",
    "facility_setup",
    "month_bounds",
    "registration_by_number",
    "slot_of_staff",
    "staff_grid",
    "usage_stats",
]
