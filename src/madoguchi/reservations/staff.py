"""職員の操作 (staff acts on bookings and slots): a booking taken at the counter or by phone,
a staff override (取消し) with its reason, closing and reopening a slot, and a no-show.

Each public service owns its transaction, lets only staff of the organisation who may work
(団体管理者 and 審査担当; 閲覧のみ may not) act, records its audit event, writes the public log
where a slot changes hands (never with personal data), and raises :class:`ReservationError`
(Japanese) when it refuses, storing nothing. Another organisation's ids raise ``DoesNotExist``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.db import transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.time import to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.reservations import services
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    BookingSource,
    BookingStatus,
    Channel,
    LogKind,
    PaymentStatus,
    SlotState,
)
from madoguchi.reservations.fees import fee_quote
from madoguchi.reservations.models import Booking, Claim, Registration, Slot
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation

#: Why staff cancel a booking: the category goes to the public log (no personal data), the
#: reason in staff's words only to the audit record and the booking.
OVERRIDE_CATEGORIES: Final = {
    "facility": "施設の都合（点検・工事・故障など）",
    "event": "市の行事・災害対応のため",
    "request": "利用者からの申出（窓口・電話）",
    "violation": "利用の決まりに反するため",
    "mistake": "誤った登録の訂正",
    "other": "その他",
}
#: The longest reason in staff's words that the booking keeps whole: 取消しの理由 (200
#: characters) holds it after 「職員による取消し（<category>）: 」.
OVERRIDE_REASON_LIMIT: Final = 200 - max(
    len(f"職員による取消し（{category}）: ") for category in OVERRIDE_CATEGORIES.values()
)
#: Why staff stop taking bookings for a slot (shown in the public log).
CLOSE_REASONS: Final = {
    "maintenance": "施設の点検・工事のため",
    "event": "市の行事のため",
    "weather": "天候・災害のため",
    "other": "その他の施設の都合のため",
}


def _worker(actor: Staff, organisation: Organisation) -> None:
    if (
        actor.organisation_id != organisation.pk
        or not actor.active
        or actor.role not in (StaffRole.ADMIN, StaffRole.REVIEWER)
    ):
        raise ReservationError("この操作は、予約を扱う職員だけができます。", code="forbidden")


def _text(value: object, *, label: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise ReservationError(f"{label}は文字で入力してください。", code="invalid")
    text = value.strip()
    if len(text) > limit:
        raise ReservationError(f"{label}は{limit}文字以内で入力してください。", code="invalid")
    return text


def _category(value: object, choices: dict[str, str], *, label: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ReservationError(f"{label}を一覧から選んでください。", code="invalid")
    return value


def booking_counter_create(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    slot_id: int,
    registration_id: int | None = None,
    contact: object = "",
    purpose: object = "",
    reduction: object = "",
) -> Booking:
    """窓口・電話での予約: staff book ``slot_id`` for a registration of the organisation (or,
    without one, for a named contact), confirmed at once (source and channel 窓口).

    Guarantees: the slot is claimed through the same database constraint as online bookings,
    so a slot is never booked twice (:class:`~madoguchi.reservations.services.SlotTaken` when
    someone was first); the slot is open to first come and has not started; the registration
    is approved and not suspended; the reduction is one of the facility's; audited as
    ``booking.counter_created`` (no names in the record). Raises :class:`ReservationError`,
    ``Slot.DoesNotExist`` / ``Registration.DoesNotExist`` for another organisation's ids.
    """
    _worker(actor, organisation)
    who = _text(contact, label="利用者の氏名・連絡先", limit=200)
    why = _text(purpose, label="利用目的", limit=200)
    code = _text(reduction, label="減免", limit=32)
    if registration_id is None and not who:
        raise ReservationError(
            "利用者番号を選ぶか、利用者の氏名・連絡先を入力してください。", code="invalid"
        )
    with transaction.atomic(durable=True):
        slot = Slot.objects.select_related("facility").get(pk=slot_id, organisation=organisation)
        registration = None
        if registration_id is not None:
            registration = Registration.objects.get(pk=registration_id, organisation=organisation)
            services._registration_usable(registration, organisation, now)
        if slot.state != SlotState.OPEN or (slot.opens_at is not None and slot.opens_at > now):
            raise ReservationError(
                "この枠は、いまは先着順の予約を受け付けていません。", code="not_open"
            )
        if slot.starts_at <= now:
            raise ReservationError("開始時刻を過ぎた枠は予約できません。", code="past")
        try:
            quote = fee_quote(slot=slot, reduction=code)
        except ValueError as error:
            raise ReservationError(str(error), code="invalid") from None
        booking = services._insert_booking(
            now=now,
            organisation=organisation,
            facility_id=slot.facility_id,
            slot=slot,
            registration=registration,
            user=registration.user if registration is not None else None,
            status=BookingStatus.CONFIRMED,
            source=BookingSource.COUNTER,
            channel=Channel.COUNTER,
            booked_by=actor,
            contact=who,
            purpose=why,
            confirmed_at=now,
            fee=quote.fee,
            reduction=quote.reduction,
            fee_due=quote.due,
        )
        services._claim(booking, slot)  # SlotTaken rolls everything back
        audit_record(
            action=AuditAction.BOOKING_COUNTER_CREATED,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="booking",
            target_id=booking.pk,
            detail={
                "slot": slot.pk,
                "registration": registration.pk if registration else None,
                "reduction": quote.reduction,
            },
        )
        return booking


def booking_override(
    *,
    organisation: Organisation,
    actor: Staff,
    now: datetime,
    booking_id: int,
    category: object,
    reason: object,
) -> Booking:
    """職員による取消し: staff cancel an active booking (held, offered or confirmed) for a
    stated reason. The slot is freed in the same transaction and offered to the waitlist
    (``services._slot_freed``).

    Guarantees: the reason in staff's words (required) is kept in the audit record and on the
    booking; the public log shows only 「職員による取消し: <category>」, never who booked;
    the booking's 使用許可書, if one was issued, is withdrawn (its reason on /verify/ names no
    one and not staff's words); audited as ``booking.overridden``. Raises :class:`ReservationError` for an ended booking
    or a missing reason; ``Booking.DoesNotExist`` for another organisation's booking.
    """
    _worker(actor, organisation)
    kind = _category(category, OVERRIDE_CATEGORIES, label="取消しの理由の区分")
    why = _text(reason, label="取消しの理由", limit=OVERRIDE_REASON_LIMIT)
    if not why:
        raise ReservationError("取消しの理由を入力してください。", code="invalid")
    with transaction.atomic(durable=True):
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("slot__facility", "slot__resource", "organisation", "user")
            .get(pk=booking_id, organisation=organisation)
        )
        if booking.status not in ACTIVE_STATUSES:
            raise ReservationError("この予約はすでに終わっています。", code="state")
        services._release(booking)
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.cancel_reason = f"職員による取消し（{OVERRIDE_CATEGORIES[kind]}）: {why}"[:200]
        booking.expires_at = None
        booking.save(
            update_fields=["status", "cancelled_at", "cancel_reason", "expires_at", "updated_at"]
        )
        services._permit_withdraw(booking, services.PERMIT_LAPSED_OVERRIDDEN, now, actor=actor.user)
        services._log(
            slot=booking.slot,
            kind=LogKind.OVERRIDE,
            rule=f"職員による取消し: {OVERRIDE_CATEGORIES[kind]}",
            now=now,
        )
        audit_record(
            action=AuditAction.BOOKING_OVERRIDDEN,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="booking",
            target_id=booking.pk,
            reason=why,
            detail={"slot": booking.slot_id, "category": kind},
        )
        _override_mail(booking, OVERRIDE_CATEGORIES[kind], now)
        hook = getattr(services, "_slot_freed", None)
        if hook is not None and booking.slot.starts_at > now:
            hook(booking.slot, now)
        return booking


def _override_mail(booking: Booking, category: str, now: datetime) -> None:
    """Tell the person who booked online that staff cancelled their booking (the category,
    not staff's own words, which may name others)."""
    user = booking.user
    if user is None or not user.email:
        return
    slot = booking.slot
    facility = slot.facility
    starts = to_tokyo(slot.starts_at)
    ends = to_tokyo(slot.ends_at)
    body = (
        "施設の予約が、施設の職員によって取り消されました。\n\n"
        f"予約番号: {booking.number}\n"
        f"施設: {facility.name}\n"
        f"部屋・コート: {slot.resource.name}\n"
        f"利用日時: {starts:%Y年%m月%d日} {starts:%H:%M}〜{ends:%H:%M}\n"
        f"理由: {category}\n\n"
        "ご迷惑をおかけして申し訳ありません。"
        "使用料を納めている場合の還付などは、施設にお問い合わせください。\n"
        + (f"電話: {facility.phone}\n" if facility.phone else "")
    )
    outbox_enqueue_email(
        to=user.email,
        subject=f"【{booking.organisation.name}】施設の予約が取り消されました（{booking.number}）",
        body=body,
        now=now,
        organisation=booking.organisation,
    )


def slot_close(
    *, organisation: Organisation, actor: Staff, now: datetime, slot_id: int, reason: object
) -> Slot:
    """受付停止: stop taking bookings for a slot (点検, 行事 …). Only an open (first-come) slot
    that nobody holds can be closed (cancel its booking first; a lottery's slots are the
    lottery's). The public log says so with the reason's category. Closing a closed slot
    again changes nothing. Audited. Raises :class:`ReservationError`;
    ``Slot.DoesNotExist`` for another organisation's slot."""
    _worker(actor, organisation)
    kind = _category(reason, CLOSE_REASONS, label="受付停止の理由")
    with transaction.atomic(durable=True):
        slot = Slot.objects.select_for_update().get(pk=slot_id, organisation=organisation)
        if slot.state == SlotState.CLOSED:
            return slot
        if slot.state != SlotState.OPEN:
            raise ReservationError(
                "抽選の対象の枠は、ここでは受付停止にできません。抽選の設定で扱ってください。",
                code="state",
            )
        if Claim.objects.filter(slot=slot).exists():
            raise ReservationError(
                "予約が入っている枠は受付停止にできません。先に予約を取り消してください。",
                code="state",
            )
        if slot.starts_at <= now:
            raise ReservationError("開始時刻を過ぎた枠は変更できません。", code="past")
        slot.state = SlotState.CLOSED
        slot.save(update_fields=["state"])
        services._log(
            slot=slot,
            kind=LogKind.CLOSED,
            rule=f"職員による受付停止: {CLOSE_REASONS[kind]}",
            now=now,
        )
        audit_record(
            action=AuditAction.SLOT_CLOSED,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="slot",
            target_id=slot.pk,
            detail={"reason": kind},
        )
        return slot


def slot_open(*, organisation: Organisation, actor: Staff, now: datetime, slot_id: int) -> Slot:
    """受付再開: open a closed slot to first come again (public log 解放). Audited. Raises
    :class:`ReservationError` when the slot is not closed or has started."""
    _worker(actor, organisation)
    with transaction.atomic(durable=True):
        slot = Slot.objects.select_for_update().get(pk=slot_id, organisation=organisation)
        if slot.state != SlotState.CLOSED:
            raise ReservationError("この枠は受付停止になっていません。", code="state")
        if slot.starts_at <= now:
            raise ReservationError("開始時刻を過ぎた枠は変更できません。", code="past")
        slot.state = SlotState.OPEN
        slot.opens_at = None
        slot.save(update_fields=["state", "opens_at"])
        services._log(slot=slot, kind=LogKind.RELEASED, rule="職員による受付再開", now=now)
        audit_record(
            action=AuditAction.SLOT_OPENED,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="slot",
            target_id=slot.pk,
        )
        return slot


def booking_no_show(
    *, organisation: Organisation, actor: Staff, now: datetime, booking_id: int
) -> Booking:
    """無断不使用: mark a confirmed booking whose slot has started as a no-show, and suspend
    its registration (if any) from booking until ``now`` + the facility's
    ``no_show_suspension_days`` (a longer suspension already running is kept); its
    使用許可書, if one was issued, is withdrawn. Audited.
    Raises :class:`ReservationError` before the slot starts or for a booking not confirmed;
    ``Booking.DoesNotExist`` for another organisation's booking."""
    _worker(actor, organisation)
    with transaction.atomic(durable=True):
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("slot", "facility")
            .get(pk=booking_id, organisation=organisation)
        )
        if booking.status != BookingStatus.CONFIRMED:
            raise ReservationError("無断不使用にできるのは、確定した予約だけです。", code="state")
        if booking.slot.starts_at > now:
            raise ReservationError(
                "利用開始の時刻を過ぎてから、無断不使用にできます。", code="not_started"
            )
        services._release(booking)
        booking.status = BookingStatus.NO_SHOW
        booking.save(update_fields=["status", "updated_at"])
        services._permit_withdraw(booking, services.PERMIT_LAPSED_NO_SHOW, now, actor=actor.user)
        until = None
        if booking.registration_id is not None:
            registration = Registration.objects.select_for_update().get(
                pk=booking.registration_id, organisation=organisation
            )
            until = now + timedelta(days=booking.facility.no_show_suspension_days)
            if registration.suspended_until is None or registration.suspended_until < until:
                registration.suspended_until = until
                registration.save(update_fields=["suspended_until", "updated_at"])
        audit_record(
            action=AuditAction.BOOKING_NO_SHOW,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="booking",
            target_id=booking.pk,
            detail={
                "slot": booking.slot_id,
                "registration": booking.registration_id,
                "suspended_until": until.isoformat() if until else None,
            },
        )
        return booking


#: What staff may record about a payment, by the booking's state.
PAYMENT_FOR_CONFIRMED: Final = (PaymentStatus.PAID_COUNTER, PaymentStatus.PAID_TRANSFER)
PAID: Final = (PaymentStatus.PAID_COUNTER, PaymentStatus.PAID_TRANSFER, PaymentStatus.PAID_ONLINE)


def booking_payment_record(
    *, organisation: Organisation, actor: Staff, now: datetime, booking_id: int, payment: object
) -> Booking:
    """納付・還付の記録: staff record that the fee of a confirmed (or used) booking was paid at
    the counter or by transfer, or that the refund of a cancelled, paid booking was paid back
    (還付済み). Audited with the amounts. Recording the state a booking already has is refused
    (nothing changes twice). Raises :class:`ReservationError` for a payment that does not fit
    the booking's state (an unpaid booking cannot be refunded, a cancelled one cannot be paid,
    nothing is due on an exempt one); ``Booking.DoesNotExist`` for another organisation's."""
    _worker(actor, organisation)
    choice = _category(
        payment,
        dict(PaymentStatus.choices),
        label="納付の状況",
    )
    with transaction.atomic(durable=True):
        booking = Booking.objects.select_for_update(of=("self",)).get(
            pk=booking_id, organisation=organisation
        )
        before = booking.payment
        if choice == before:
            raise ReservationError("その納付の状況は、すでに記録されています。", code="state")
        if choice in PAYMENT_FOR_CONFIRMED:
            if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.NO_SHOW):
                raise ReservationError("納付を記録できるのは、確定した予約だけです。", code="state")
            if booking.fee_due == 0 or before != PaymentStatus.UNPAID:
                raise ReservationError(
                    "この予約には、納付を記録できる未納の使用料がありません。", code="state"
                )
        elif choice == PaymentStatus.REFUNDED:
            if booking.status != BookingStatus.CANCELLED or before not in PAID:
                raise ReservationError(
                    "還付を記録できるのは、納付済みで取り消された予約だけです。", code="state"
                )
            if booking.refund == 0:
                raise ReservationError(
                    "この予約の還付額は0円です（還付の決まりによります）。", code="state"
                )
        else:
            raise ReservationError(
                "職員が記録できるのは、窓口・振込での納付と還付だけです。", code="invalid"
            )
        booking.payment = choice
        booking.save(update_fields=["payment", "updated_at"])
        audit_record(
            action=AuditAction.BOOKING_PAYMENT_RECORDED,
            now=now,
            organisation=organisation,
            actor=actor.user,
            target_type="booking",
            target_id=booking.pk,
            detail={
                "before": before,
                "after": choice,
                "fee_due": booking.fee_due,
                "refund": booking.refund,
            },
        )
        return booking


__all__ = [
    "CLOSE_REASONS",
    "OVERRIDE_CATEGORIES",
    "booking_counter_create",
    "booking_no_show",
    "booking_override",
    "booking_payment_record",
    "slot_close",
    "slot_open",
]
