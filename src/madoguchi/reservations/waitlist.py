"""キャンセル待ち (waitlist): join a taken slot's waitlist, leave it, and the offer made when
the slot is freed.

Rules, as residents read them:

- Only a slot that someone else has taken can be waited for (a free slot is simply booked).
- A registration waits for at most :data:`WAITLIST_MAX` slots at once, and once per slot.
- When the slot is freed (a cancellation, an expired hold or offer, a staff override), **one**
  waiting entry is chosen at random (``secrets.SystemRandom``: the order of joining gives no
  advantage, so nobody gains by watching) and offered the slot: an OFFERED booking holds it
  until :data:`WAITLIST_OFFER_DURATION` later, but never later than
  :data:`WAITLIST_OFFER_MARGIN` before the slot starts. When less time than that is left, the
  slot is released to first come instead and the waiting entries end.
- An offer not confirmed in time expires (``bookings_expire``); the slot is then offered to
  the next random waiting entry.
- The public log records each offer (kind WAITLIST) without who received it.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.time import now as _now
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.identity.models import User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    WAITLIST_MAX,
    WAITLIST_OFFER_DURATION,
    WAITLIST_OFFER_MARGIN,
    WAITLIST_OPEN_STATUSES,
    BookingSource,
    BookingStatus,
    Channel,
    LogKind,
    RegistrationStatus,
    SlotState,
    WaitlistStatus,
)
from madoguchi.reservations.models import (
    Booking,
    Registration,
    Resource,
    Slot,
    WaitlistEntry,
)
from madoguchi.reservations.selectors import slots_between
from madoguchi.reservations.services import (
    ReservationError,
    SlotTaken,
    _check_identity,
    _claim,
    _insert_booking,
    _log,
    _registration_usable,
)
from madoguchi.tenants.models import Organisation

__all__ = [
    "WAITLIST_MAX",
    "slot_is_taken",
    "waitlist_join",
    "waitlist_leave",
    "waitlist_of_user",
]

_random = secrets.SystemRandom()


def slot_is_taken(slot: Slot, *, now: datetime) -> bool:
    """Whether ``slot`` is open to first come, not started, and taken by someone (so that it
    can be waited for) — the same reading as the calendar's."""
    if slot.state != SlotState.OPEN or slot.starts_at <= now:
        return False
    if slot.opens_at is not None and slot.opens_at > now:
        return False
    facility = slot.facility
    for view in slots_between(facility, start=slot.date, end=slot.date, now=now):
        if view.slot.pk == slot.pk:
            return not view.bookable
    return False


def waitlist_of_user(*, user_id: int) -> QuerySet[WaitlistEntry]:
    """A resident's waitlist entries that are still open (waiting or offered), soonest slot
    first."""
    return (
        WaitlistEntry.objects.filter(
            user_id=user_id, status__in=(WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
        )
        .select_related("slot", "slot__facility", "slot__resource", "organisation", "booking")
        .order_by("slot__starts_at", "id")
    )


def waitlist_join(
    *,
    organisation: Organisation,
    slot_id: int,
    registration: Registration,
    user: User,
    identity: VerifiedIdentity | None,
    now: datetime | None = None,
) -> WaitlistEntry:
    """キャンセル待ちに登録: wait for a taken slot.

    Guarantees: the slot is open to first come, has not started and is taken; the
    registration is the user's own, approved and not suspended, and meets the facility's
    identity level; it has no open entry for this slot (database constraint) and fewer than
    :data:`WAITLIST_MAX` waiting entries (counted under a lock on the registration); it has no
    active booking of the slot. Raises :class:`ReservationError` otherwise (nothing stored);
    ``Slot.DoesNotExist`` for another organisation's slot, ``Registration.DoesNotExist`` for
    someone else's registration.
    """
    now = now or _now()
    with transaction.atomic(durable=True):
        slot = Slot.objects.select_related("facility").get(pk=slot_id, organisation=organisation)
        if not slot.facility.published:
            raise Slot.DoesNotExist
        registration = Registration.objects.select_for_update().get(
            pk=registration.pk, organisation=organisation, user=user
        )
        _registration_usable(registration, organisation, now)
        if not slot_is_taken(slot, now=now):
            if slot.state == SlotState.OPEN and slot.starts_at > now:
                raise ReservationError(
                    "この枠は空いています。キャンセル待ちではなく、そのまま予約できます。",
                    code="not_taken",
                )
            raise ReservationError(
                "この枠は、いまはキャンセル待ちを受け付けていません。", code="not_open"
            )
        _check_identity(slot, identity)
        if Booking.objects.filter(
            organisation=organisation,
            registration=registration,
            slot=slot,
            status__in=ACTIVE_STATUSES,
        ).exists():
            raise ReservationError("この枠は、すでにあなたが予約しています。", code="own")
        if WaitlistEntry.objects.filter(
            slot=slot, registration=registration, status__in=WAITLIST_OPEN_STATUSES
        ).exists():  # said before the cap (the constraint below still decides a race)
            raise _twice()
        waiting = WaitlistEntry.objects.filter(
            organisation=organisation, registration=registration, status=WaitlistStatus.WAITING
        ).count()
        if waiting >= WAITLIST_MAX:
            raise ReservationError(
                f"キャンセル待ちは、同時に{WAITLIST_MAX}件までです。"
                "ほかのキャンセル待ちを取りやめてから登録してください。",
                code="cap",
            )
        try:
            with transaction.atomic():
                entry = WaitlistEntry.objects.create(
                    organisation=organisation,
                    slot=slot,
                    registration=registration,
                    user=user,
                    status=WaitlistStatus.WAITING,
                    created_at=now,
                )
        except IntegrityError:
            raise _twice() from None
        audit_record(
            action=AuditAction.WAITLIST_JOINED,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="waitlist_entry",
            target_id=entry.pk,
            detail={"slot": slot.pk},
        )
        return entry


def _twice() -> ReservationError:
    return ReservationError("この枠のキャンセル待ちには、すでに登録しています。", code="twice")


def waitlist_leave(
    *,
    organisation: Organisation,
    entry_id: int,
    user: User,
    now: datetime | None = None,
) -> WaitlistEntry:
    """キャンセル待ちの取りやめ: leave a waiting entry. Leaving twice returns the entry
    unchanged. An entry already offered is declined by cancelling its offered booking
    (:class:`ReservationError` ``offered`` says so). ``WaitlistEntry.DoesNotExist`` for another
    organisation's or another user's entry."""
    now = now or _now()
    with transaction.atomic(durable=True):
        entry = WaitlistEntry.objects.select_for_update().get(
            pk=entry_id, organisation=organisation, user=user
        )
        if entry.status == WaitlistStatus.WITHDRAWN:
            return entry
        if entry.status == WaitlistStatus.OFFERED:
            raise ReservationError(
                "この枠はすでにご案内しています。不要な場合は、案内中の予約を取り消してください。",
                code="offered",
            )
        if entry.status != WaitlistStatus.WAITING:
            raise ReservationError("このキャンセル待ちはすでに終わっています。", code="state")
        entry.status = WaitlistStatus.WITHDRAWN
        entry.save(update_fields=["status"])
        audit_record(
            action=AuditAction.WAITLIST_LEFT,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="waitlist_entry",
            target_id=entry.pk,
            detail={"slot": entry.slot_id},
        )
        return entry


# --- The offer (private: called by services._slot_freed inside the freeing transaction) -----


def _related_slots(slot: Slot) -> list[Slot]:
    """The slots whose availability changes when ``slot`` is freed: the slot, its parts and
    its wholes at the same time (freeing a half may free the whole hall, and the reverse)."""
    ids = {slot.resource_id}
    frontier = [slot.resource_id]
    while frontier:  # the parts, at any depth
        frontier = list(
            Resource.objects.filter(parent_id__in=frontier).values_list("id", flat=True)
        )
        ids.update(frontier)
    parent = (
        Resource.objects.filter(pk=slot.resource_id).values_list("parent_id", flat=True).first()
    )
    while parent is not None:  # the wholes
        ids.add(parent)
        parent = Resource.objects.filter(pk=parent).values_list("parent_id", flat=True).first()
    return list(
        Slot.objects.filter(
            organisation_id=slot.organisation_id, resource_id__in=ids, starts_at=slot.starts_at
        ).select_related("facility", "resource", "organisation")
    )


def _offer_freed(slot: Slot, now: datetime) -> None:
    """Offer the freed ``slot`` (and the parts or wholes it frees) to waiting entries chosen
    at random, one at a time, while an entry's slot can still be claimed. Joins the caller's
    transaction."""
    slots = {s.pk: s for s in _related_slots(slot) if s.state == SlotState.OPEN}
    if not slots:
        return
    entries = list(
        WaitlistEntry.objects.select_for_update()
        .filter(slot_id__in=list(slots), status=WaitlistStatus.WAITING)
        .select_related("registration", "user")
        .order_by("id")
    )
    if not entries:
        return
    starts_at = slot.starts_at
    deadline = min(now + WAITLIST_OFFER_DURATION, starts_at - WAITLIST_OFFER_MARGIN)
    if deadline <= now:
        # Too late to offer: the waiting entries end and the slot stays free for first come.
        WaitlistEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
            status=WaitlistStatus.EXPIRED
        )
        _log(
            slot=slot,
            kind=LogKind.RELEASED,
            rule="開始まで1時間を切っているため、キャンセル待ちの方への案内をせず先着順で受け付けます",
            now=now,
        )
        return
    while entries:
        entry = _random.choice(entries)
        entries.remove(entry)
        registration = entry.registration
        if registration.status != RegistrationStatus.APPROVED or (
            registration.suspended_until is not None and registration.suspended_until > now
        ):
            continue  # stays waiting: it may be offered once the registration is usable again
        target = slots[entry.slot_id]
        try:
            with transaction.atomic():
                booking = _insert_booking(
                    now=now,
                    organisation_id=target.organisation_id,
                    facility_id=target.facility_id,
                    slot=target,
                    registration=registration,
                    user=entry.user,
                    status=BookingStatus.OFFERED,
                    source=BookingSource.WAITLIST,
                    channel=Channel.ONLINE,
                    expires_at=deadline,
                    fee=target.fee,
                    fee_due=target.fee,
                )
                _claim(booking, target)
        except (SlotTaken, ReservationError):
            continue  # this entry's slot is still (partly) taken: try another entry
        entry.status = WaitlistStatus.OFFERED
        entry.offered_at = now
        entry.booking = booking
        entry.save(update_fields=["status", "offered_at", "booking"])
        _log(
            slot=target,
            kind=LogKind.WAITLIST,
            rule="空いた枠を、キャンセル待ちの方から抽選で選んだ1名にご案内しました",
            now=now,
        )
        audit_record(
            action=AuditAction.BOOKING_OFFERED,
            now=now,
            organisation=target.organisation,
            target_type="booking",
            target_id=booking.pk,
            detail={"slot": target.pk, "waitlist_entry": entry.pk},
        )
        _offer_mail(booking, entry, deadline, now)


def _offer_mail(booking: Booking, entry: WaitlistEntry, deadline: datetime, now: datetime) -> None:
    from madoguchi.core.time import to_tokyo
    from madoguchi.reservations.permits import booking_mail_lines
    from madoguchi.reservations.services import my_bookings_url

    email = entry.user.email
    if not email:
        return
    organisation = booking.slot.organisation
    until = to_tokyo(deadline)
    outbox_enqueue_email(
        to=email,
        subject=f"【{organisation.name}】キャンセル待ちの枠が空きました（予約番号 {booking.number}）",
        body="\n".join(
            [
                "キャンセル待ちに登録していた枠が空いたため、あなたにご案内します。",
                f"{until:%Y年%m月%d日 %H時%M分}までに確定してください。"
                "確定しないと、この案内は無効になり、次の方にご案内します。",
                "",
                *booking_mail_lines(booking),
                "",
                "確定・取消しは「予約の確認」のページでできます（ログインが必要です）。",
                my_bookings_url(),
                "",
                organisation.name,
            ]
        ),
        now=now,
        organisation=organisation,
    )
