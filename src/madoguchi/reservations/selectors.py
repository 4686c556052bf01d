"""予約の読み出し (reads): facilities, slots with whether they can be booked, bookings, and
the counts of confirmed bookings for the channel statistics."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, QuerySet

from madoguchi.core.time import TOKYO
from madoguchi.reservations.constants import SlotState
from madoguchi.reservations.models import Booking, Facility, Slot
from madoguchi.tenants.models import Organisation


def facilities_published(organisation: Organisation) -> QuerySet[Facility]:
    """The organisation's published facilities, by name."""
    return Facility.objects.filter(organisation=organisation, published=True).order_by("name", "id")


def facility_get(
    organisation: Organisation, facility_id: int, *, published_only: bool = True
) -> Facility:
    """One facility of ``organisation`` (``Facility.DoesNotExist`` otherwise: 404)."""
    found = Facility.objects.filter(organisation=organisation, pk=facility_id)
    if published_only:
        found = found.filter(published=True)
    return found.get()


@dataclass(frozen=True)
class SlotView:
    slot: Slot
    #: Seats taken (0 or 1 for a room; up to ``capacity`` for a slot sold by the seat).
    taken: int
    #: Can be held first come now (open, offered already, not started, not taken, every part free).
    bookable: bool


def slots_between(facility: Facility, *, start: date, end: date, now: datetime) -> list[SlotView]:
    """The facility's slots from ``start`` to ``end`` (inclusive, dates in Japan), each with
    whether it can be booked first come now. A whole hall is not bookable while a part is
    taken, and a part not while the whole is (the same rule the claims enforce)."""
    slots = list(
        Slot.objects.filter(facility=facility, date__gte=start, date__lte=end)
        .select_related("resource")
        .annotate(taken=Count("claims"))
        .order_by("starts_at", "resource__order", "resource_id")
    )
    # Every slot claimed at a time, by resource: a part claimed makes its whole unbookable.
    claimed = {(s.resource_id, s.starts_at) for s in slots if s.taken}
    parent_of = {s.resource_id: s.resource.parent_id for s in slots}
    children: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)

    def busy(resource_id: int, at: datetime) -> bool:
        if (resource_id, at) in claimed:
            return True
        return any(busy(c, at) for c in children.get(resource_id, ()))

    views = []
    for slot in slots:
        parent = parent_of.get(slot.resource_id)
        blocked = (
            busy(slot.resource_id, slot.starts_at)
            if slot.capacity == 1
            else slot.taken >= slot.capacity
        )
        while parent is not None and not blocked:
            blocked = (parent, slot.starts_at) in claimed
            parent = parent_of.get(parent)
        open_now = (
            slot.state == SlotState.OPEN
            and (slot.opens_at is None or slot.opens_at <= now)
            and slot.starts_at > now
        )
        views.append(SlotView(slot=slot, taken=slot.taken, bookable=open_now and not blocked))
    return views


def bookings_of_user(organisation: Organisation | None, user_id: int) -> QuerySet[Booking]:
    """A resident's bookings, newest first (of one organisation, or of all)."""
    found = Booking.objects.filter(user_id=user_id).select_related(
        "slot", "facility", "slot__resource"
    )
    if organisation is not None:
        found = found.filter(organisation=organisation)
    return found.order_by("-created_at")


@dataclass(frozen=True)
class BookingCount:
    organisation_id: int
    procedure_id: int | None
    month: date
    channel: str
    count: int


def booking_counts(
    *,
    organisation_ids: Collection[int] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[BookingCount]:
    """Confirmed bookings by organisation × facility procedure × month (of confirmation, in
    Japan) × channel, for the channel statistics: each confirmed booking is one procedure.
    A booking confirmed and later cancelled still counts (the procedure happened)."""
    from django.db.models.functions import TruncMonth

    found = Booking.objects.filter(confirmed_at__isnull=False)
    if organisation_ids is not None:
        found = found.filter(organisation_id__in=list(organisation_ids))
    if since is not None:
        found = found.filter(
            confirmed_at__gte=datetime.combine(since.replace(day=1), datetime.min.time(), TOKYO)
        )
    if until is not None:
        first = until.replace(day=1)
        nxt = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else first.replace(month=first.month + 1)
        )
        found = found.filter(confirmed_at__lt=datetime.combine(nxt, datetime.min.time(), TOKYO))
    rows = (
        found.annotate(month=TruncMonth("confirmed_at", tzinfo=TOKYO))
        .values_list("organisation_id", "facility__procedure_id", "month", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    out = []
    for organisation_id, procedure_id, month, channel, n in rows:
        month_date = month.date() if isinstance(month, datetime) else month
        out.append(BookingCount(organisation_id, procedure_id, month_date, channel, n))
    return out


def event_signup_counts(
    *,
    organisation_ids: Collection[int] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[BookingCount]:
    """Confirmed event signups by organisation × month (of confirmation, in Japan), as
    :func:`booking_counts` gives bookings: each is one online procedure (``procedure_id`` is
    None: events have no procedure of their own). A signup confirmed and later cancelled
    still counts."""
    from django.db.models.functions import TruncMonth

    from madoguchi.reservations.constants import Channel
    from madoguchi.reservations.models import EventSignup

    found = EventSignup.objects.filter(confirmed_at__isnull=False)
    if organisation_ids is not None:
        found = found.filter(organisation_id__in=list(organisation_ids))
    if since is not None:
        found = found.filter(
            confirmed_at__gte=datetime.combine(since.replace(day=1), datetime.min.time(), TOKYO)
        )
    if until is not None:
        first = until.replace(day=1)
        nxt = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else first.replace(month=first.month + 1)
        )
        found = found.filter(confirmed_at__lt=datetime.combine(nxt, datetime.min.time(), TOKYO))
    rows = (
        found.annotate(month=TruncMonth("confirmed_at", tzinfo=TOKYO))
        .values_list("organisation_id", "month")
        .annotate(n=Count("id"))
        .order_by()
    )
    out = []
    for organisation_id, month, n in rows:
        month_date = month.date() if isinstance(month, datetime) else month
        out.append(BookingCount(organisation_id, None, month_date, Channel.ONLINE, n))
    return out


__all__ = [
    "BookingCount",
    "SlotView",
    "booking_counts",
    "bookings_of_user",
    "event_signup_counts",
    "facilities_published",
    "facility_get",
    "slots_between",
]
