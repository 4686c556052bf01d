"""予約の読み出し (reads): facilities, slots with whether they can be booked, bookings, and
the counts of confirmed bookings for the channel statistics."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, QuerySet

from madoguchi.core.time import TOKYO
from madoguchi.identity.models import User
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus, SlotState
from madoguchi.reservations.models import Booking, Facility, Registration, Slot
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


def facility_public_get(facility_id: int) -> Facility:
    """A published facility of any organisation by id (the public API's look-up);
    ``Facility.DoesNotExist`` otherwise."""
    return Facility.objects.select_related("organisation").get(pk=facility_id, published=True)


def slot_public_get(slot_id: int) -> Slot:
    """A slot of a published facility by id, with its organisation and facility (the API names
    a slot by id alone); ``Slot.DoesNotExist`` otherwise."""
    return Slot.objects.select_related("organisation", "facility").get(
        pk=slot_id, facility__published=True
    )


def registration_of(organisation: Organisation, user: User) -> Registration:
    """The registration ``user`` books with at ``organisation``: an approved one first (an
    individual registration before a group's, then the oldest), otherwise the newest of any
    status (so that the booking service can say why it cannot be used).
    ``Registration.DoesNotExist`` when the user has none there."""
    found = list(Registration.objects.filter(organisation=organisation, user=user))
    if not found:
        raise Registration.DoesNotExist
    approved = [r for r in found if r.status == RegistrationStatus.APPROVED]
    if approved:
        return min(
            approved,
            key=lambda r: (r.kind != RegistrationKind.INDIVIDUAL, r.created_at, r.pk),
        )
    return max(found, key=lambda r: (r.created_at, r.pk))


def booking_of_user(user: User, booking_id: int) -> Booking:
    """One booking made by ``user`` (of any organisation), with its slot, facility and
    organisation; ``Booking.DoesNotExist`` for someone else's (404, never 403)."""
    return Booking.objects.select_related("organisation", "facility", "slot", "slot__resource").get(
        pk=booking_id, user=user
    )


@dataclass(frozen=True)
class SlotView:
    slot: Slot
    #: Seats taken (0 or 1 for a room; up to ``capacity`` for a slot sold by the seat).
    taken: int
    #: Can be held first come now (open, offered already, not started, not taken, every part free).
    bookable: bool


def claimed_parts(
    claimed: Collection[tuple[int, datetime]],
    children: Mapping[int, Sequence[int]],
    resource_id: int,
    at: datetime,
) -> list[int]:
    """The parts of ``resource_id`` (at any depth; ``children`` maps a resource to its parts)
    with a claim at ``at`` (``claimed`` holds (resource id, start) pairs). A whole hall is
    occupied while any of these is: the rule of :func:`slots_between` and of the staff
    calendar."""
    found = []
    for child in children.get(resource_id, ()):
        if (child, at) in claimed:
            found.append(child)
        found.extend(claimed_parts(claimed, children, child, at))
    return found


def slots_between(facility: Facility, *, start: date, end: date, now: datetime) -> list[SlotView]:
    """The facility's slots from ``start`` to ``end`` (inclusive, dates in Japan), each with
    whether it can be booked first come now. A whole hall is not bookable while a part is
    taken, and a part not while the whole is (the same rule the claims enforce)."""
    slots = list(
        Slot.objects.filter(facility=facility, date__gte=start, date__lte=end)
        .select_related("resource", "band")
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
        return bool(claimed_parts(claimed, children, resource_id, at))

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
    "booking_of_user",
    "bookings_of_user",
    "claimed_parts",
    "event_signup_counts",
    "facilities_published",
    "facility_get",
    "facility_public_get",
    "registration_of",
    "slot_public_get",
    "slots_between",
]
