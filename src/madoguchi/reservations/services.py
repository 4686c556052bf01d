"""予約の書き込み (the write path of bookings): hold, confirm, cancel, expire.

Each public service owns its transaction (``transaction.atomic(durable=True)``), checks who
may act, records its audit event and public log entry, and raises :class:`ReservationError`
with a Japanese message when it refuses (nothing stored). Another organisation's slot or
booking raises ``DoesNotExist`` (404). The console, the portal, the API and tasks call these
services — never the private steps below them.

No double booking is decided by the database, not by a check before an insert: see
:mod:`madoguchi.reservations.models.bookings`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.time import now as _now
from madoguchi.core.time import to_tokyo
from madoguchi.identity.assurance import VerifiedIdentity, assurance_shortfall
from madoguchi.identity.models import User
from madoguchi.notifications.services import outbox_enqueue_email
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    HOLD_DURATION,
    BookingSource,
    BookingStatus,
    Channel,
    LogKind,
    PaymentStatus,
    RegistrationStatus,
    SlotState,
    WaitlistStatus,
)
from madoguchi.reservations.fees import fee_quote
from madoguchi.reservations.models import (
    Booking,
    Claim,
    EntryStatus,
    Facility,
    FacilityLogEntry,
    LotteryChoice,
    LotteryEntry,
    Registration,
    Slot,
    WaitlistEntry,
)
from madoguchi.reservations.ratelimit import PER_ADDRESS, PER_USER, booking_attempt_admit
from madoguchi.reservations.refunds import refund_quote
from madoguchi.tenants.models import Organisation

#: At most this many first-come holds at once per registration (a hold is minutes long).
MAX_HOLDS: Final = 2
#: A key longer than this is refused before it is looked up.
MAX_IDEMPOTENCY_KEY: Final = 100


class ReservationError(ValueError):
    """A reservation act was refused; ``str()`` says why, in Japanese. Nothing was stored.

    ``code`` names the reason for the API (``slot_taken``, ``not_open``, ``expired`` …);
    ``retry_after`` the seconds after which trying again can succeed (``rate``, ``cap``)."""

    def __init__(
        self, message: str, *, code: str = "refused", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class SlotTaken(ReservationError):
    """Another booking holds the slot (or its last seat)."""

    def __init__(self) -> None:
        super().__init__(
            "この枠は、ほかの方の予約が先に入りました。別の枠をお選びください。", code="slot_taken"
        )


# --- Private steps (join the caller's transaction) ----------------------------------------


def _log(*, slot: Slot, kind: LogKind, rule: str, now: datetime) -> None:
    """Append a public log entry (no personal data, no booking number)."""
    FacilityLogEntry.objects.create(
        organisation_id=slot.organisation_id,
        facility_id=slot.facility_id,
        slot=slot,
        at=now,
        kind=kind,
        rule=rule[:300],
    )


def _part_slots(slot: Slot) -> list[Slot]:
    """The slots a booking of ``slot`` occupies: its own, or for a resource with parts, the
    slot at the same time of every leaf part (a whole hall occupies both halves)."""
    from madoguchi.reservations.models import Resource

    leaves: list[int] = []
    frontier = [slot.resource_id]
    while frontier:
        children = list(
            Resource.objects.filter(parent_id__in=frontier).values_list("id", "parent_id")
        )
        parents_with_children = {parent for _, parent in children}
        leaves.extend(r for r in frontier if r not in parents_with_children)
        frontier = [child for child, _ in children]
    if leaves == [slot.resource_id]:
        return [slot]
    parts = list(
        Slot.objects.filter(
            organisation_id=slot.organisation_id, resource_id__in=leaves, starts_at=slot.starts_at
        )
    )
    if len(parts) != len(leaves):  # a part has no slot at that time: it cannot be booked whole
        raise ReservationError(
            "この枠は、部屋の一部が利用できないため予約できません。", code="not_open"
        )
    # A whole hall also claims its own slot, so that two bookings of the whole collide too.
    return [slot, *parts]


def _claim(booking: Booking, slot: Slot) -> None:
    """Insert the claims of ``booking`` on ``slot`` (every part, or the next free seat).
    Raises :class:`SlotTaken` when the database refuses (someone else was first)."""
    parts = _part_slots(slot)
    if slot.capacity > 1:
        taken = set(Claim.objects.filter(slot=slot).values_list("seat", flat=True))
        for seat in range(slot.capacity):
            if seat in taken:
                continue
            try:
                with transaction.atomic():
                    Claim.objects.create(
                        organisation_id=slot.organisation_id, slot=slot, seat=seat, booking=booking
                    )
                return
            except IntegrityError:
                continue  # raced for this seat: try the next one
        raise SlotTaken
    try:
        with transaction.atomic():
            Claim.objects.bulk_create(
                [
                    Claim(organisation_id=slot.organisation_id, slot=part, seat=0, booking=booking)
                    for part in parts
                ]
            )
    except IntegrityError:
        raise SlotTaken from None


def _release(booking: Booking) -> None:
    """Delete the claims of ``booking``: its slot is free again (the caller logs why)."""
    Claim.objects.filter(booking=booking).delete()


def _new_number(now: datetime) -> str:
    return f"{to_tokyo(now):%y%m%d}-{secrets.token_hex(4).upper()}"


class _KeyRaced(Exception):
    """A concurrent request with the same Idempotency-Key committed its booking first."""


def _insert_booking(**fields: object) -> Booking:
    """Insert a booking with a fresh 予約番号 (retried on the rare collision of numbers).
    Raises :class:`_KeyRaced` when the refusal was the user's Idempotency-Key, taken by a
    concurrent replay of the same request that committed first."""
    now = fields["now"]
    assert isinstance(now, datetime)
    values = {k: v for k, v in fields.items() if k != "now"}
    for _ in range(5):
        try:
            with transaction.atomic():
                return Booking.objects.create(number=_new_number(now), **values)
        except IntegrityError:
            key, user = values.get("idempotency_key"), values.get("user")
            if (
                key
                and isinstance(user, User)
                and Booking.objects.filter(user=user, idempotency_key=key).exists()
            ):
                raise _KeyRaced from None
            continue
    raise ReservationError("予約番号を発行できませんでした。もう一度お試しください。")


def _registration_usable(
    registration: Registration,
    organisation: Organisation,
    now: datetime,
    facility: Facility | None = None,
) -> None:
    """Refuse a registration that may not book now (or, given ``facility``, not there)."""
    if registration.organisation_id != organisation.pk:
        raise Registration.DoesNotExist
    if registration.status != RegistrationStatus.APPROVED:
        raise ReservationError(
            "利用者登録の確認が終わっていません。確認が済むと予約できます。", code="registration"
        )
    if registration.suspended_until is not None and registration.suspended_until > now:
        until = to_tokyo(registration.suspended_until)
        raise ReservationError(
            f"利用停止中のため、{until:%Y年%m月%d日}まで予約できません。", code="suspended"
        )
    if facility is not None:
        from madoguchi.reservations.eligibility import registration_may_book

        refusal = registration_may_book(facility, registration)
        if refusal is not None:
            raise ReservationError(refusal, code="eligibility")


def _check_identity(slot: Slot, identity: VerifiedIdentity | None) -> None:
    facility = slot.facility
    shortfall = assurance_shortfall(
        ial=facility.ial,
        aal=facility.aal,
        signature_required=False,
        identity=identity,
        signed=False,
    )
    if shortfall is not None:
        raise ReservationError(shortfall.message, code="identity")


# --- Public services ------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    booking: Booking
    #: True when a replayed request (same Idempotency-Key) returned the earlier booking.
    replayed: bool


def booking_hold(
    *,
    organisation: Organisation,
    slot_id: int,
    registration: Registration,
    user: User | None,
    identity: VerifiedIdentity | None,
    idempotency_key: str = "",
    now: datetime | None = None,
    client_address: str | None = None,
) -> HoldResult:
    """先着予約の仮押さえ: hold a free slot for :data:`HOLD_DURATION` for ``registration``.

    Guarantees: at most one active booking per part slot and seat (database constraint); a
    replay with the same ``idempotency_key`` by the same user returns the same booking; the
    registration is approved and not suspended; the facility's identity level is met; the slot
    is open to first come, has begun to be offered, and has not started; the attempt is within
    the limits per account and per ``client_address`` (:mod:`madoguchi.reservations.ratelimit`,
    every attempt counts, replays and refusals included). Raises :class:`SlotTaken` when
    someone else was first, :class:`ReservationError` otherwise (``rate`` and ``cap`` with
    ``retry_after``), ``Slot.DoesNotExist`` for another organisation's slot.
    """
    now = now or _now()
    key = (idempotency_key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ReservationError("Idempotency-Key が長すぎます（100文字まで）。", code="invalid")
    wait = booking_attempt_admit(
        user_id=user.pk if user is not None else None, client_address=client_address, now=now
    )
    if wait is not None:
        raise ReservationError(
            "予約の操作が短い時間に続いたため、いったん受付を止めています。"
            f"{wait}秒後にもう一度お試しください（予約の操作は1分間に、お一人{PER_USER[0]}回、"
            f"同じ接続元から{PER_ADDRESS[0]}回までです）。",
            code="rate",
            retry_after=wait,
        )
    try:
        return _hold(
            organisation=organisation,
            slot_id=slot_id,
            registration=registration,
            user=user,
            identity=identity,
            key=key,
            now=now,
        )
    except _KeyRaced:
        # Two copies of one request raced (a client retrying before the first answer came):
        # the first committed; this one answers with its booking, as a later replay would.
        with transaction.atomic(durable=True):
            replay = _replay(organisation=organisation, slot_id=slot_id, user=user, key=key)
        if replay is None:  # pragma: no cover (the row that refused us exists)
            raise ReservationError(
                "予約番号を発行できませんでした。もう一度お試しください。"
            ) from None
        return replay


def _replay(
    *, organisation: Organisation, slot_id: int, user: User | None, key: str
) -> HoldResult | None:
    if not key or user is None:
        return None
    earlier = Booking.objects.filter(user=user, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.organisation_id != organisation.pk or earlier.slot_id != slot_id:
        raise ReservationError(
            "この Idempotency-Key は別の予約に使われています。", code="idempotency"
        )
    return HoldResult(booking=earlier, replayed=True)


def _hold(
    *,
    organisation: Organisation,
    slot_id: int,
    registration: Registration,
    user: User | None,
    identity: VerifiedIdentity | None,
    key: str,
    now: datetime,
) -> HoldResult:
    with transaction.atomic(durable=True):
        replay = _replay(organisation=organisation, slot_id=slot_id, user=user, key=key)
        if replay is not None:
            return replay
        slot = Slot.objects.select_related("facility").get(pk=slot_id, organisation=organisation)
        _registration_usable(registration, organisation, now, slot.facility)
        if not slot.facility.published:
            raise Slot.DoesNotExist
        if slot.state != SlotState.OPEN or (slot.opens_at is not None and slot.opens_at > now):
            raise ReservationError(
                "この枠は、いまは先着順の予約を受け付けていません。", code="not_open"
            )
        if slot.starts_at <= now:
            raise ReservationError("開始時刻を過ぎた枠は予約できません。", code="past")
        _check_identity(slot, identity)
        holds = list(
            Booking.objects.filter(
                organisation=organisation,
                registration=registration,
                status=BookingStatus.HELD,
                expires_at__gt=now,
            ).values_list("expires_at", flat=True)[: MAX_HOLDS + 1]
        )
        if len(holds) >= MAX_HOLDS:
            first_end = min(end for end in holds if end is not None)
            raise ReservationError(
                f"仮押さえは同時に{MAX_HOLDS}件までです。確定するか取り消してから、次の枠をお選びください。",
                code="cap",
                retry_after=max(1, int((first_end - now).total_seconds()) + 1),
            )
        booking = _insert_booking(
            now=now,
            organisation=organisation,
            facility_id=slot.facility_id,
            slot=slot,
            registration=registration,
            user=user,
            status=BookingStatus.HELD,
            source=BookingSource.FIRST_COME,
            channel=Channel.ONLINE,
            expires_at=now + HOLD_DURATION,
            fee=slot.fee,
            fee_due=slot.fee,
            idempotency_key=key if user is not None else "",
        )
        _claim(booking, slot)  # SlotTaken rolls the booking row back with the transaction
        return HoldResult(booking=booking, replayed=False)


def booking_confirm(
    *,
    organisation: Organisation,
    booking_id: int,
    user: User,
    reduction: str = "",
    now: datetime | None = None,
) -> Booking:
    """予約の確定: the holder confirms a held (first-come) or offered (lottery, waitlist)
    booking before its deadline, with the reduction (減免) chosen on the confirmation page.

    Guarantees: only the booking's own user confirms; the fee, the reduction and the amount
    due are stored from :func:`~madoguchi.reservations.fees.fee_quote` (an amount due of 0 is
    recorded as 免除); a booking offered from the waitlist marks its entry accepted; a mail
    with the booking number, the slot and the link to the 使用許可書 is queued in the same
    transaction; a booking won in a lottery marks its entry confirmed (当選→確定) once every
    booking that entry won is confirmed (a grouped win of consecutive コマ stays 当選 until its
    last booking is confirmed; at the deadline the release step settles partial groups as
    before: confirmed if any slot was confirmed). Confirming twice returns the confirmed booking unchanged (no second audit
    event, no second mail). After the deadline the booking is expired, its slot freed (and
    offered to the waitlist), and :class:`ReservationError` (``expired``) raised; an unknown
    reduction raises :class:`ReservationError` (``reduction``) and stores nothing.
    ``Booking.DoesNotExist`` for another organisation's or another user's booking.
    """
    now = now or _now()
    with transaction.atomic(durable=True):
        booking = Booking.objects.select_for_update().get(
            pk=booking_id, organisation=organisation, user=user
        )
        if booking.status == BookingStatus.CONFIRMED:
            return booking
        if booking.status not in (BookingStatus.HELD, BookingStatus.OFFERED):
            raise ReservationError(
                "この予約は確定できません（取消し済みか期限切れです）。", code="state"
            )
        late = booking.expires_at is not None and booking.expires_at <= now
        if late:  # the expiry is stored (the slot freed) before the refusal is raised
            _expire(booking, now)
        else:
            try:
                quote = fee_quote(slot=booking.slot, reduction=(reduction or "").strip()[:32])
            except ValueError as unknown:
                raise ReservationError(str(unknown), code="reduction") from None
            booking.status = BookingStatus.CONFIRMED
            booking.confirmed_at = now
            booking.expires_at = None
            booking.fee = quote.fee
            booking.reduction = quote.reduction
            booking.fee_due = quote.due
            if quote.due == 0:
                booking.payment = PaymentStatus.EXEMPT
            booking.save(
                update_fields=[
                    "status",
                    "confirmed_at",
                    "expires_at",
                    "fee",
                    "reduction",
                    "fee_due",
                    "payment",
                    "updated_at",
                ]
            )
            if booking.source == BookingSource.WAITLIST:
                WaitlistEntry.objects.filter(booking=booking, status=WaitlistStatus.OFFERED).update(
                    status=WaitlistStatus.ACCEPTED
                )
            if booking.source == BookingSource.LOTTERY:
                _lottery_entry_confirmed(booking, now)
            _confirmation_mail(booking, user, now)
            audit_record(
                action=AuditAction.BOOKING_CONFIRMED,
                now=now,
                organisation=organisation,
                actor=user,
                target_type="booking",
                target_id=booking.pk,
                detail={"slot": booking.slot_id, "source": booking.source},
            )
    if late:
        raise ReservationError(
            "確定の期限を過ぎたため、この予約は無効になりました。", code="expired"
        )
    return booking


def _lottery_entry_confirmed(booking: Booking, now: datetime) -> None:
    """Inside booking_confirm's transaction: the won entry whose bookings are now all
    confirmed becomes 確定 (``EntryStatus.CONFIRMED``)."""
    entry_ids = LotteryChoice.objects.filter(booking=booking).values("entry_id")
    for entry in LotteryEntry.objects.select_for_update().filter(
        pk__in=entry_ids, organisation=booking.organisation, status=EntryStatus.WON
    ):
        pending = (
            LotteryChoice.objects.filter(entry=entry, booking__isnull=False)
            .exclude(booking__status=BookingStatus.CONFIRMED)
            .exists()
        )
        if not pending:
            entry.status = EntryStatus.CONFIRMED
            entry.save(update_fields=["status", "updated_at"])


#: The longest cancel reason (the column's length; a longer one is refused, not cut).
CANCEL_REASON_MAX: Final = 200


def booking_cancel(
    *,
    organisation: Organisation,
    booking_id: int,
    user: User,
    reason: str = "",
    now: datetime | None = None,
) -> Booking:
    """予約の取消し by the resident who made it (declining an offer from the waitlist too).

    Guarantees, in one transaction: the slot is freed and the public log says so (利用者による
    取消し); ``refund`` is stored by the facility's refund schedule for a paid fee (0 when
    nothing was paid: nothing is due); the booking's 使用許可書, if one was issued, is withdrawn
    (:func:`~madoguchi.reservations.permits.booking_permit_withdraw`); the freed slot is
    offered to one random waiting entry (:func:`_slot_freed`). Raises :class:`ReservationError` when the booking has ended or its
    slot has started, or a reason longer than :data:`CANCEL_REASON_MAX` characters (``reason``;
    never cut silently); ``Booking.DoesNotExist`` for someone else's."""
    now = now or _now()
    reason = (reason or "").strip()
    if len(reason) > CANCEL_REASON_MAX:
        raise ReservationError(
            f"取消しの理由は{CANCEL_REASON_MAX}文字以内で入力してください"
            f"（いまは{len(reason):,}文字です）。",
            code="reason",
        )
    with transaction.atomic(durable=True):
        booking = (
            Booking.objects.select_for_update()
            .select_related("slot")
            .get(pk=booking_id, organisation=organisation, user=user)
        )
        if booking.status not in ACTIVE_STATUSES:
            raise ReservationError("この予約はすでに終わっています。", code="state")
        if booking.slot.starts_at <= now:
            raise ReservationError(
                "利用開始後の予約は取り消せません。窓口にご相談ください。", code="past"
            )
        refund = refund_quote(booking, now=now)
        _release(booking)
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.cancel_reason = reason
        booking.refund = refund.amount
        booking.save(
            update_fields=["status", "cancelled_at", "cancel_reason", "refund", "updated_at"]
        )
        if booking.source == BookingSource.WAITLIST:
            WaitlistEntry.objects.filter(booking=booking, status=WaitlistStatus.OFFERED).update(
                status=WaitlistStatus.WITHDRAWN
            )
        _log(slot=booking.slot, kind=LogKind.CANCELLED, rule="利用者による取消し", now=now)
        _permit_withdraw(booking, PERMIT_LAPSED_CANCELLED, now, actor=user)
        audit_record(
            action=AuditAction.BOOKING_CANCELLED,
            now=now,
            organisation=organisation,
            actor=user,
            target_type="booking",
            target_id=booking.pk,
            detail={"slot": booking.slot_id, "refund": refund.amount},
        )
        _slot_freed(booking.slot, now)
        return booking


def _expire(booking: Booking, now: datetime) -> None:
    _release(booking)
    booking.status = BookingStatus.EXPIRED
    booking.save(update_fields=["status", "updated_at"])
    # Only held and offered bookings expire, and they have no permit; kept so that every path
    # that ends a booking withdraws its permit (the lottery's release expires through here).
    _permit_withdraw(booking, PERMIT_LAPSED_EXPIRED, now, actor_label="予約の期限切れ")
    if booking.source == BookingSource.WAITLIST:
        WaitlistEntry.objects.filter(booking=booking, status=WaitlistStatus.OFFERED).update(
            status=WaitlistStatus.EXPIRED
        )
    rule = (
        "仮押さえの時間内に確定されなかったため"
        if booking.source == BookingSource.FIRST_COME
        else "確定の期限までに確定されなかったため"
    )
    _log(slot=booking.slot, kind=LogKind.EXPIRED, rule=rule, now=now)
    audit_record(
        action=AuditAction.BOOKING_EXPIRED,
        now=now,
        organisation=booking.organisation,
        target_type="booking",
        target_id=booking.pk,
        detail={"slot": booking.slot_id, "source": booking.source},
    )
    _slot_freed(booking.slot, now)


#: Why a booking's 使用許可書 stopped standing, as /verify/ shows it.
PERMIT_LAPSED_CANCELLED: Final = "予約の取消しにより失効しました。"
PERMIT_LAPSED_OVERRIDDEN: Final = "施設による予約の取消しにより失効しました。"
PERMIT_LAPSED_NO_SHOW: Final = "無断不使用の記録により失効しました。"
PERMIT_LAPSED_EXPIRED: Final = "予約が確定の期限を過ぎたため失効しました。"


def _permit_withdraw(
    booking: Booking,
    reason: str,
    now: datetime,
    *,
    actor: User | None = None,
    actor_label: str = "",
) -> None:
    """The booking's current 使用許可書, if any, is withdrawn with ``reason`` (joins the
    caller's transaction; every path that ends a confirmed booking calls it)."""
    from madoguchi.reservations.permits import booking_permit_withdraw

    booking_permit_withdraw(
        booking=booking, reason=reason, now=now, actor=actor, actor_label=actor_label
    )


def _slot_freed(slot: Slot, now: datetime) -> None:
    """A slot was freed (a cancellation, an expired hold or offer, a staff override): offer it
    to one waiting entry chosen at random (see :mod:`madoguchi.reservations.waitlist`).
    Joins the caller's transaction; every path that frees a slot calls it."""
    from madoguchi.reservations.waitlist import _offer_freed

    _offer_freed(slot, now)


def _confirmation_mail(booking: Booking, user: User, now: datetime) -> None:
    """Queue the mail that tells the resident the booking is confirmed (number, slot, permit)."""
    from madoguchi.reservations.permits import booking_mail_lines

    if not user.email:
        return
    organisation = booking.organisation
    outbox_enqueue_email(
        to=user.email,
        subject=f"【{organisation.name}】施設の予約が確定しました（予約番号 {booking.number}）",
        body="\n".join(
            [
                "施設の予約が確定しました。",
                "",
                *booking_mail_lines(booking),
                "",
                "使用許可書は、次のページからダウンロードできます（ログインが必要です）。",
                permit_url(booking),
                "",
                "予約の確認・取消しは「予約の確認」のページでできます。",
                my_bookings_url(),
                "",
                f"{organisation.name}",
            ]
        ),
        now=now,
        organisation=organisation,
    )


def permit_url(booking: Booking) -> str:
    """The absolute address of the booking's 使用許可書 (behind the resident's login)."""
    return settings.PORTAL_URL.rstrip("/") + f"/account/reservations/{booking.pk}/permit.pdf"


def my_bookings_url() -> str:
    """The absolute address of the resident's list of bookings."""
    return settings.PORTAL_URL.rstrip("/") + "/account/reservations/"


def bookings_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire held and offered bookings past their deadline (a scheduled task): each in its
    own transaction, so a crash loses at most the one in flight and a rerun finishes the rest.
    Returns how many expired."""
    now = now or _now()
    due = list(
        Booking.objects.filter(
            Q(status=BookingStatus.HELD) | Q(status=BookingStatus.OFFERED), expires_at__lte=now
        )
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in due:
        with transaction.atomic(durable=True):
            booking = (
                Booking.objects.select_for_update()
                .select_related("slot", "organisation")
                .filter(
                    pk=pk,
                    status__in=(BookingStatus.HELD, BookingStatus.OFFERED),
                    expires_at__lte=now,
                )
                .first()
            )
            if booking is None:
                continue
            _expire(booking, now)
            done += 1
    return done
