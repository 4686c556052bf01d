"""使用許可書 (the permit) of a confirmed booking, and the words that describe a booking in
mails and on pages. Reads only; the PDF itself is drawn by :mod:`madoguchi.documents.permit`."""

from __future__ import annotations

from datetime import datetime

from madoguchi.core.time import to_tokyo
from madoguchi.documents.permit import PermitData, permit_pdf
from madoguchi.forms.japanese import wareki
from madoguchi.reservations.constants import BookingStatus, PaymentStatus
from madoguchi.reservations.models import Booking, Slot

_WEEKDAYS = "月火水木金土日"


def slot_when_text(slot: Slot) -> str:
    """「令和8年12月18日（金） 9:00〜12:00」: the day in 和暦 with its weekday, and the times."""
    start, end = to_tokyo(slot.starts_at), to_tokyo(slot.ends_at)
    day = start.date()
    return (
        f"{wareki(day)}（{_WEEKDAYS[day.weekday()]}） "
        f"{start.hour}:{start.minute:02d}〜{end.hour}:{end.minute:02d}"
    )


def reduction_name_of(booking: Booking) -> str:
    """The name of the booking's reduction (減免), or "" for none. Reads the facility's
    reductions where the facility has them (the console manages them)."""
    if not booking.reduction:
        return ""
    facility = booking.facility
    reductions = getattr(facility, "reductions", None)
    if reductions is None:
        return booking.reduction
    found = reductions.filter(code=booking.reduction).first()
    return str(getattr(found, "name", "")) or booking.reduction


def payment_text(booking: Booking) -> str:
    if booking.fee_due == 0:
        return "納付は不要です"
    return PaymentStatus(booking.payment).label


def booking_mail_lines(booking: Booking) -> list[str]:
    """The lines of a mail that say which booking it is (no personal data beyond the slot)."""
    slot = booking.slot
    return [
        f"予約番号: {booking.number}",
        f"施設: {booking.facility.name}",
        f"部屋・コート: {slot.resource.name}",
        f"日時: {slot_when_text(slot)}",
        f"納付額: {booking.fee_due:,}円",
    ]


def permit_data(booking: Booking, *, now: datetime) -> PermitData:
    """The content of the booking's 使用許可書 (issued today, by the organisation)."""
    slot = booking.slot
    facility = booking.facility
    registration = booking.registration
    issued = to_tokyo(booking.confirmed_at or now).date()
    return PermitData(
        organisation_name=booking.organisation.name,
        number=booking.number,
        issued_on_text=f"{wareki(issued)}（{issued.year}年{issued.month}月{issued.day}日）",
        facility_name=facility.name,
        resource_name=slot.resource.name,
        when_text=slot_when_text(slot),
        registration_number=registration.number if registration is not None else "",
        registration_name=registration.name if registration is not None else booking.contact,
        purpose=booking.purpose,
        fee=booking.fee,
        reduction_name=reduction_name_of(booking),
        fee_due=booking.fee_due,
        payment_text=payment_text(booking),
        conditions=tuple(line for line in facility.rules.splitlines() if line.strip()),
        facility_address=facility.address,
    )


def booking_permit_pdf(*, booking_id: int, user_id: int, now: datetime) -> tuple[Booking, bytes]:
    """The 使用許可書 of the user's own confirmed booking. ``Booking.DoesNotExist`` for
    someone else's booking and for one that is not confirmed (there is no permit yet, or any
    more): the portal answers 404 either way."""
    booking = (
        Booking.objects.select_related(
            "organisation", "facility", "slot", "slot__resource", "registration"
        )
        .filter(status=BookingStatus.CONFIRMED)
        .get(pk=booking_id, user_id=user_id)
    )
    return booking, permit_pdf(permit_data(booking, now=now), generated_at=to_tokyo(now))
