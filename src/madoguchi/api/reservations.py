"""Facility reservations over HTTP: facilities and their slots (public), and a resident's
first-come bookings (hold, confirm, cancel, read).

Residents authenticate as for applications (``madoguchi.api.applications``): an API token
(``Authorization: Bearer mdg_…`` with the scope ``applications``) or the portal session (a
write then carries the CSRF token). The resident needs an approved 利用者登録 with the
facility's organisation.

Status codes of ``POST /reservations/`` (each means one thing):

- 201 held now (仮押さえ, confirm before ``expires_at``); 200 the same request again (same
  ``Idempotency-Key``): the same booking
- 400 no or malformed ``Idempotency-Key``, unreadable JSON; 413 body too large; 415 not JSON;
  422 ``slot`` missing or not an id
- 401 no or wrong credentials; 403 no approved 利用者登録 with the organisation, a suspended
  one, or an identity below the facility's level
- 404 no such slot (or its facility is not published)
- 409 ``slot_taken``: someone else was first; also a slot not open to first come now, a slot
  that has started, or a key used for another slot
- 429 too many attempts (per account and per client address) or too many holds at once;
  ``Retry-After`` says after how many seconds trying again can succeed

``POST /reservations/{id}/confirm/``: 200 confirmed (again: 200, unchanged); 410 the hold
expired (the slot was released); 409 cancelled or ended. ``DELETE /reservations/{id}/``: 200
cancelled; 409 ended already or started. Another person's booking is 404.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from pydantic import Field

from madoguchi.api.applications import (
    ResidentSession,
    ResidentToken,
    _idempotency_key,
    _json_body,
    _session_of,
)
from madoguchi.api.schemas import ErrorOut
from madoguchi.catalog.constants import AssuranceLevel
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.request import client_address
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.assurance import identity_current
from madoguchi.identity.models import User
from madoguchi.reservations.constants import BookingStatus, Eligibility, FacilityCategory
from madoguchi.reservations.models import Booking, Facility, Registration, Slot
from madoguchi.reservations.selectors import (
    booking_of_user,
    facilities_published,
    facility_public_get,
    registration_of,
    slot_public_get,
    slots_between,
)
from madoguchi.reservations.services import (
    ReservationError,
    booking_cancel,
    booking_confirm,
    booking_hold,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

router = Router(tags=["施設予約"])

#: The longest period one slot list covers (a month's calendar).
MAX_DAYS: Final = 31
#: Without ``to``: a week from ``from``.
DEFAULT_DAYS: Final = 7
MAX_ID: Final = 2**63 - 1

#: ReservationError.code → HTTP status.
STATUS_OF: Final = {
    "slot_taken": 409,
    "not_open": 409,
    "past": 409,
    "state": 409,
    "idempotency": 409,
    "expired": 410,
    "identity": 403,
    "registration": 403,
    "suspended": 403,
    "eligibility": 403,
    "rate": 429,
    "cap": 429,
    "invalid": 400,
}


# --- Schemas ----------------------------------------------------------------------------------


class ReservationErrorOut(ErrorOut):
    code: str | None = Field(
        None,
        description="断った理由の記号: slot_taken, not_open, past, state, idempotency, expired, "
        "identity, registration, suspended, rate, cap, invalid …",
    )


class FacilityOrganisation(Schema):
    lg_code: str
    name: str


class FacilityOut(Schema):
    id: int
    name: str
    kana: str
    category: str
    category_label: str
    address: str
    phone: str
    description: str
    rules: str = Field(description="利用の決まり（住民向けの説明）")
    eligibility: str
    eligibility_label: str = Field(description="利用できる人")
    ial: int = Field(description="予約に必要な身元確認レベル（1〜3）")
    ial_label: str
    organisation: FacilityOrganisation


class SlotOut(Schema):
    id: int
    resource: str = Field(description="部屋・コートの名称")
    resource_id: int
    date: date
    start: datetime = Field(description="開始（日本時間）")
    end: datetime = Field(description="終了（日本時間）")
    state: str
    state_label: str
    capacity: int
    taken: int = Field(description="埋まっている席数")
    fee: int = Field(description="使用料（円、減免前）")
    bookable: bool = Field(description="いま先着順で予約できるか")


class SlotList(Schema):
    facility: FacilityOut
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    slots: list[SlotOut]


class ReservationIn(Schema):
    slot: int = Field(description="予約する枠の id（GET /facilities/{id}/slots/）")


class BookingSlot(Schema):
    id: int
    resource: str
    start: datetime
    end: datetime


class BookingOut(Schema):
    id: int
    number: str = Field(description="予約番号")
    status: str
    status_label: str
    facility: FacilityOrganisationRef
    organisation: FacilityOrganisation
    slot: BookingSlot
    expires_at: datetime | None = Field(description="この時刻までに確定しないと無効（日本時間）")
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    fee: int
    fee_due: int = Field(description="納付額（円）")


class FacilityOrganisationRef(Schema):
    id: int
    name: str


BookingOut.model_rebuild()


def facility_out(facility: Facility, organisation: Organisation) -> dict[str, Any]:
    return {
        "id": facility.pk,
        "name": facility.name,
        "kana": facility.kana,
        "category": facility.category,
        "category_label": FacilityCategory(facility.category).label,
        "address": facility.address,
        "phone": facility.phone,
        "description": facility.description,
        "rules": facility.rules,
        "eligibility": facility.eligibility,
        "eligibility_label": Eligibility(facility.eligibility).label,
        "ial": facility.ial,
        "ial_label": AssuranceLevel(facility.ial).label
        if facility.ial in AssuranceLevel.values
        else str(facility.ial),
        "organisation": {"lg_code": organisation.lg_code, "name": organisation.name},
    }


def booking_out(booking: Booking) -> dict[str, Any]:
    slot = booking.slot
    return {
        "id": booking.pk,
        "number": booking.number,
        "status": booking.status,
        "status_label": BookingStatus(booking.status).label,
        "facility": {"id": booking.facility_id, "name": booking.facility.name},
        "organisation": {
            "lg_code": booking.organisation.lg_code,
            "name": booking.organisation.name,
        },
        "slot": {
            "id": slot.pk,
            "resource": slot.resource.name,
            "start": to_tokyo(slot.starts_at),
            "end": to_tokyo(slot.ends_at),
        },
        "expires_at": to_tokyo(booking.expires_at) if booking.expires_at else None,
        "confirmed_at": to_tokyo(booking.confirmed_at) if booking.confirmed_at else None,
        "cancelled_at": to_tokyo(booking.cancelled_at) if booking.cancelled_at else None,
        "fee": booking.fee,
        "fee_due": booking.fee_due,
    }


# --- Helpers ----------------------------------------------------------------------------------


def _resident(request: HttpRequest) -> User:
    auth = getattr(request, "auth", None)
    if not isinstance(auth, User):
        raise AuthenticationError
    return auth


def _refused(error: ReservationError, response: HttpResponse) -> Status[dict[str, Any]]:
    status = STATUS_OF.get(error.code, 409)
    if error.retry_after is not None and status == 429:
        response["Retry-After"] = str(error.retry_after)
    return Status(status, {"detail": str(error), "code": error.code})


def _day(raw: str, name: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise HttpError(
            400, f"{name} は YYYY-MM-DD の形の日付で指定してください（例: 2026-04-01）。"
        ) from None


def _booking(user: User, booking_id: int) -> Booking:
    try:
        if not 1 <= booking_id <= MAX_ID:
            raise Booking.DoesNotExist
        return booking_of_user(user, booking_id)
    except Booking.DoesNotExist:
        raise HttpError(404, "その予約は見つかりません。") from None


_NO_BOOKING: Final = "その予約は見つかりません。"
_AUTH = [ResidentToken(), ResidentSession()]


# --- Endpoints --------------------------------------------------------------------------------


@router.get(
    "/organisations/{code}/facilities/",
    auth=None,
    response={200: list[FacilityOut], 400: ErrorOut, 404: ErrorOut},
    summary="団体の予約できる施設（公開中のもの）",
)
def list_facilities(request: HttpRequest, code: str) -> list[dict[str, Any]]:
    try:
        organisation = organisation_get(code=code)
    except InvalidLgCode as error:
        raise HttpError(400, str(error)) from None
    except Organisation.DoesNotExist:
        raise HttpError(404, "その団体コードの団体は見つかりません。") from None
    return [facility_out(f, organisation) for f in facilities_published(organisation)]


@router.get(
    "/facilities/{facility_id}/slots/",
    auth=None,
    response={200: SlotList, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="施設の予約枠（期間は31日まで）",
    description=(
        "from から to まで（両端を含む、日本の日付）の枠を、いま先着順で予約できるか"
        "（bookable）とともに返します。from を省くと今日、to を省くと from から7日間です。"
    ),
    openapi_extra={
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
                "description": text,
            }
            for name, text in (("from", "最初の日（YYYY-MM-DD）"), ("to", "最後の日（YYYY-MM-DD）"))
        ]
    },
    by_alias=True,
)
def list_slots(request: HttpRequest, facility_id: int) -> dict[str, Any]:
    current = now()
    raw_from = request.GET.get("from", "")
    raw_to = request.GET.get("to", "")
    start = _day(raw_from, "from") if raw_from else to_tokyo(current).date()
    end = _day(raw_to, "to") if raw_to else start + timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise HttpError(400, "to は from と同じ日か、それより後の日にしてください。")
    if (end - start).days >= MAX_DAYS:
        raise HttpError(400, f"期間は{MAX_DAYS}日までにしてください。")
    try:
        if not 1 <= facility_id <= MAX_ID:
            raise Facility.DoesNotExist
        facility = facility_public_get(facility_id)
    except Facility.DoesNotExist:
        raise HttpError(404, "その施設は見つかりません（公開されていません）。") from None
    views = slots_between(facility, start=start, end=end, now=current)
    return {
        "facility": facility_out(facility, facility.organisation),
        "from": start,
        "to": end,
        "slots": [
            {
                "id": view.slot.pk,
                "resource": view.slot.resource.name,
                "resource_id": view.slot.resource_id,
                "date": view.slot.date,
                "start": to_tokyo(view.slot.starts_at),
                "end": to_tokyo(view.slot.ends_at),
                "state": view.slot.state,
                "state_label": view.slot.get_state_display(),
                "capacity": view.slot.capacity,
                "taken": view.taken,
                "fee": view.slot.fee,
                "bookable": view.bookable,
            }
            for view in views
        ],
    }


_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 410, 413, 415, 422, 429), ReservationErrorOut)


@router.post(
    "/reservations/",
    auth=_AUTH,
    response={201: BookingOut, 200: BookingOut, **_ERRORS},
    summary="先着順で予約する（仮押さえ。冪等: 同じ Idempotency-Key なら同じ予約）",
    description=__doc__.split("\n\n", 1)[1] if __doc__ else "",
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                "description": "予約ごとに一つ作る識別子（16〜64文字の英数字・-・_）。"
                "通信が途切れたら同じ値で送り直すと、同じ予約が返ります。",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReservationIn.model_json_schema()}},
        },
    },
)
def create_reservation(request: HttpRequest, response: HttpResponse) -> Status[dict[str, Any]]:
    user = _resident(request)
    key = _idempotency_key(request)
    body = _json_body(request)
    slot_id: Any = body.get("slot")
    errors = []
    if type(slot_id) is not int or not 1 <= slot_id <= MAX_ID:
        errors.append({"field": "slot", "message": "予約する枠の id（整数）を指定してください。"})
    errors.extend(
        {"field": str(name)[:100], "message": "指定できない項目です。"}
        for name in sorted(set(body) - {"slot"})[:20]
    )
    if errors:
        return Status(422, {"detail": "リクエストの値に誤りがあります。", "errors": errors})
    try:
        slot = slot_public_get(slot_id)
    except Slot.DoesNotExist:
        raise HttpError(404, "その枠は見つかりません。") from None
    organisation = slot.organisation
    try:
        registration = registration_of(organisation, user)
    except Registration.DoesNotExist:
        raise HttpError(
            403,
            f"{organisation.name}の施設を予約するには、利用者登録が必要です。"
            "ポータルの「施設予約」から登録してください。",
        ) from None
    try:
        result = booking_hold(
            organisation=organisation,
            slot_id=slot.pk,
            registration=registration,
            user=user,
            identity=identity_current(user=user, session=_session_of(request, user)),
            idempotency_key=key,
            now=now(),
            client_address=client_address(request),
        )
    except Slot.DoesNotExist:
        raise HttpError(404, "その枠は見つかりません。") from None
    except ReservationError as error:
        return _refused(error, response)
    booking = booking_of_user(user, result.booking.pk)
    return Status(200 if result.replayed else 201, booking_out(booking))


@router.get(
    "/reservations/{booking_id}/",
    auth=_AUTH,
    response={200: BookingOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="自分の予約。他人の予約は 404",
)
def get_reservation(request: HttpRequest, booking_id: int) -> dict[str, Any]:
    return booking_out(_booking(_resident(request), booking_id))


@router.post(
    "/reservations/{booking_id}/confirm/",
    auth=_AUTH,
    response={200: BookingOut, **_ERRORS},
    summary="仮押さえ・当選した予約を確定する（2回目も 200）",
)
def confirm_reservation(
    request: HttpRequest, booking_id: int, response: HttpResponse
) -> Status[dict[str, Any]]:
    user = _resident(request)
    booking = _booking(user, booking_id)
    try:
        booking_confirm(
            organisation=booking.organisation, booking_id=booking.pk, user=user, now=now()
        )
    except Booking.DoesNotExist:
        raise HttpError(404, _NO_BOOKING) from None
    except ReservationError as error:
        return _refused(error, response)
    return Status(200, booking_out(booking_of_user(user, booking.pk)))


@router.delete(
    "/reservations/{booking_id}/",
    auth=_AUTH,
    response={200: BookingOut, **_ERRORS},
    summary="予約を取り消す（利用開始前まで）",
)
def cancel_reservation(
    request: HttpRequest, booking_id: int, response: HttpResponse
) -> Status[dict[str, Any]]:
    user = _resident(request)
    booking = _booking(user, booking_id)
    try:
        booking_cancel(
            organisation=booking.organisation, booking_id=booking.pk, user=user, now=now()
        )
    except Booking.DoesNotExist:
        raise HttpError(404, _NO_BOOKING) from None
    except ReservationError as error:
        return _refused(error, response)
    return Status(200, booking_out(booking_of_user(user, booking.pk)))
