"""Reads for the resident's booking pages (portal): their registrations, one of their
bookings, the reductions a facility offers and what each would make due. Every read is scoped
to the resident (and, where given, the organisation): anything else is ``DoesNotExist``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist

from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    WAITLIST_OPEN_STATUSES,
    RegistrationStatus,
)
from madoguchi.reservations.fees import FeeQuote, fee_quote
from madoguchi.reservations.models import (
    Booking,
    Facility,
    Lottery,
    LotteryStatus,
    Registration,
    Slot,
    WaitlistEntry,
)
from madoguchi.tenants.models import Organisation


def registrations_of_user(organisation: Organisation, user_id: int) -> list[Registration]:
    """The user's registrations with ``organisation`` (any status), approved first."""
    found = list(
        Registration.objects.filter(organisation=organisation, user_id=user_id).order_by("number")
    )
    found.sort(key=lambda r: r.status != RegistrationStatus.APPROVED)
    return found


def booking_of_user(
    *, booking_id: int, user_id: int, organisation: Organisation | None = None
) -> Booking:
    """One of the user's own bookings (``Booking.DoesNotExist`` for anyone else's)."""
    found = Booking.objects.select_related(
        "organisation", "facility", "slot", "slot__resource", "slot__band", "registration"
    ).filter(pk=booking_id, user_id=user_id)
    if organisation is not None:
        found = found.filter(organisation=organisation)
    return found.get()


@dataclass(frozen=True)
class ReductionChoice:
    code: str
    name: str
    #: What proof staff will ask for (障害者手帳の提示 …).
    note: str
    quote: FeeQuote


def reduction_choices(facility: Facility, slot: Slot) -> list[ReductionChoice]:
    """「減免なし」 and each active reduction of the facility, with what would be due.

    Reductions are managed in the console (a ``reductions`` relation of the facility); a
    facility without them offers none. A reduction the fee quote refuses is left out."""
    choices = [ReductionChoice(code="", name="減免なし", note="", quote=fee_quote(slot=slot))]
    relation = "reductions"  # added by the console's facility configuration
    try:
        Facility._meta.get_field(relation)
    except FieldDoesNotExist:
        return choices
    for reduction in getattr(facility, relation).filter(active=True).order_by("code"):
        code = str(reduction.code)
        try:
            quote = fee_quote(slot=slot, reduction=code)
        except ValueError:
            continue
        choices.append(
            ReductionChoice(
                code=code,
                name=str(reduction.name),
                note=str(getattr(reduction, "note", "")),
                quote=quote,
            )
        )
    return choices


def slot_of_facility(facility: Facility, slot_id: int) -> Slot:
    """One slot of ``facility`` (``Slot.DoesNotExist`` for any other)."""
    return (
        Slot.objects.select_related("resource", "band", "facility")
        .filter(organisation_id=facility.organisation_id, facility=facility)
        .get(pk=slot_id)
    )


def user_waits_for(slot: Slot, user_id: int) -> bool:
    """Whether the user has an open waitlist entry for ``slot``."""
    return WaitlistEntry.objects.filter(
        slot=slot, user_id=user_id, status__in=WAITLIST_OPEN_STATUSES
    ).exists()


def waitlist_entry_of_user(*, entry_id: int, user_id: int) -> WaitlistEntry:
    """One of the user's waitlist entries (``WaitlistEntry.DoesNotExist`` for anyone else's)."""
    return WaitlistEntry.objects.select_related("organisation").get(pk=entry_id, user_id=user_id)


#: A lottery residents can still reach from the facility pages: taking entries or drawn (its
#: winners are confirming), not yet closed.
LOTTERY_SHOWN_STATUSES = (LotteryStatus.ACCEPTING, LotteryStatus.DRAWN, LotteryStatus.SECOND_DRAWN)


def lotteries_shown(organisation: Organisation) -> list[Lottery]:
    """The organisation's lotteries taking entries or drawn (not closed), newest month first,
    with their facilities."""
    return list(
        Lottery.objects.filter(organisation=organisation, status__in=LOTTERY_SHOWN_STATUSES)
        .prefetch_related("facilities")
        .order_by("-month", "-id")
    )


def lottery_of_slot(lotteries: list[Lottery], slot: Slot) -> Lottery | None:
    """Which of ``lotteries`` (from :func:`lotteries_shown`) covers ``slot``: one of its
    facilities, in its month."""
    month = slot.date.replace(day=1)
    for lottery in lotteries:
        if lottery.month.replace(day=1) == month and any(
            f.pk == slot.facility_id for f in lottery.facilities.all()
        ):
            return lottery
    return None


def own_bookings_on(user_id: int, slot_ids: Collection[int]) -> dict[int, Booking]:
    """The user's active (held, offered or confirmed) bookings of these slots, by slot id."""
    return {
        booking.slot_id: booking
        for booking in Booking.objects.filter(
            user_id=user_id, slot_id__in=list(slot_ids), status__in=ACTIVE_STATUSES
        )
    }


def slots_by_id(organisation: Organisation, slot_ids: Collection[int]) -> dict[int, Slot]:
    """The organisation's slots with these ids (with facility, resource and コマ), by id; ids
    of other organisations' slots are simply absent."""
    return {
        slot.pk: slot
        for slot in Slot.objects.filter(
            organisation=organisation, pk__in=list(slot_ids)
        ).select_related("facility", "resource", "band")
    }


def bookings_of_user_by_use(
    user_id: int, *, now: datetime, limit: int = 100
) -> tuple[list[Booking], list[Booking]]:
    """A resident's bookings (every organisation) split by the slot's start: those still to
    come, soonest first; and those whose slot has started, latest first (at most ``limit`` of
    each)."""
    found = Booking.objects.filter(user_id=user_id).select_related(
        "slot", "slot__resource", "facility", "organisation"
    )
    upcoming = list(found.filter(slot__starts_at__gt=now).order_by("slot__starts_at", "id")[:limit])
    past = list(found.filter(slot__starts_at__lte=now).order_by("-slot__starts_at", "-id")[:limit])
    return upcoming, past
