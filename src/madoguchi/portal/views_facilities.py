"""施設の予約 (resident side): published facilities, a facility's week calendar, holding a
free slot (first come), confirming it with the fee and reduction shown, the 使用許可書, the
resident's bookings with cancellation (the refund shown first), and the waitlist.

Every view makes one domain call; the rules live in :mod:`madoguchi.reservations`. Another
organisation's facility, slot or booking and someone else's booking answer 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.request import client_address
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.assurance import (
    LEVEL_NAMES,
    Shortfall,
    assurance_shortfall,
    identity_current,
)
from madoguchi.identity.models import Staff, User
from madoguchi.portal.access import resident_of, resident_required
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    HOLD_DURATION,
    WAITLIST_MAX,
    BookingStatus,
    Eligibility,
    PaymentStatus,
    RegistrationStatus,
    SlotState,
    WaitlistStatus,
)
from madoguchi.reservations.models import (
    Booking,
    Facility,
    Lottery,
    Registration,
    Slot,
    WaitlistEntry,
)
from madoguchi.reservations.permits import (
    PermitUnavailable,
    booking_permit_issue,
    payment_text,
    slot_when_text,
)
from madoguchi.reservations.refunds import refund_quote, refund_schedule_lines
from madoguchi.reservations.residents import (
    booking_of_user,
    bookings_of_user_by_use,
    lotteries_shown,
    lottery_of_slot,
    own_bookings_on,
    reduction_choices,
    registrations_of_user,
    slot_of_facility,
    user_waits_for,
    waitlist_entry_of_user,
)
from madoguchi.reservations.selectors import (
    SlotView,
    facilities_published,
    facility_get,
    slots_between,
)
from madoguchi.reservations.services import (
    CANCEL_REASON_MAX,
    ReservationError,
    booking_cancel,
    booking_confirm,
    booking_hold,
)
from madoguchi.reservations.waitlist import (
    slot_is_taken,
    waitlist_join,
    waitlist_leave,
    waitlist_of_user,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

#: How far ahead the calendar goes (weeks from this week).
MAX_WEEKS_AHEAD = 60
_WEEKDAYS = "月火水木金土日"
#: The registration page of an organisation (built by the registrations area).
REGISTRATION_PATH = "/o/{code}/registration/"


# --- Look-ups (404 for anything not the resident's or not this organisation's) --------------

#: Ids in addresses are database integers: anything larger is no row of ours (and would
#: overflow SQLite's integer before the query could say so).
_MAX_ID = 2**63 - 1


def _ids_checked(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 for an id in the address that cannot be a row (0, or beyond 64 bits)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        for name, value in kwargs.items():
            if name.endswith("_id") and not 0 < value <= _MAX_ID:
                raise Http404("そのページはありません。")
        return view(request, *args, **kwargs)

    return wrapped


def _organisation(code: str) -> Organisation:
    try:
        org = organisation_get(code=code[:16])
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404("その団体コードの団体はありません。") from None
    if not org.is_tenant:
        raise Http404("その団体は施設の予約を受け付けていません。")
    return org


def _facility(org: Organisation, facility_id: int) -> Facility:
    try:
        return facility_get(org, facility_id)
    except Facility.DoesNotExist:
        raise Http404("その施設はありません。") from None


def _slot(facility: Facility, slot_id: int) -> Slot:
    try:
        return slot_of_facility(facility, slot_id)
    except Slot.DoesNotExist:
        raise Http404("その枠はありません。") from None


def _own_booking(request: HttpRequest, booking_id: int, org: Organisation | None = None) -> Booking:
    try:
        return booking_of_user(
            booking_id=booking_id, user_id=resident_of(request).pk, organisation=org
        )
    except Booking.DoesNotExist:
        raise Http404("その予約はありません。") from None


def _logged_in_resident(request: HttpRequest) -> User | None:
    """The visitor's account when it may book (a verified resident, not staff), else None."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    if user.email_verified_at is None or Staff.objects.filter(user_id=user.pk).exists():
        return None
    return user


# --- The calendar --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    #: What a resident reads: 予約できます / 予約済み / 抽選受付中 / 受付停止 …
    label: str
    #: A class modifier for the colour (open, taken, lottery, closed, past, none).
    kind: str
    url: str = ""
    slot: Slot | None = None


@dataclass
class Row:
    resource_name: str
    band_label: str
    cells: list[Cell] = field(default_factory=list)
    first_of_resource: bool = False
    band_count: int = 0


@dataclass(frozen=True)
class Seen:
    """What the calendar knows of its visitor and the organisation: the visitor's own active
    bookings (by slot id) and the lotteries residents can reach."""

    own: dict[int, Booking] = field(default_factory=dict)
    lotteries: list[Lottery] = field(default_factory=list)


def _seen(org: Organisation, user: User | None, slot_ids: list[int]) -> Seen:
    return Seen(
        own=own_bookings_on(user.pk, slot_ids) if user is not None else {},
        lotteries=lotteries_shown(org),
    )


def _own_booking_url(booking: Booking) -> str:
    """Where the visitor's own booking is: its confirmation page while held or offered, else
    its row in 予約の確認."""
    if booking.status in (BookingStatus.HELD, BookingStatus.OFFERED):
        return reverse("portal:facilities:confirm", args=[booking.organisation.lg_code, booking.pk])
    return reverse("portal:facilities:mine") + f"#booking-{booking.pk}"


def _cell(org: Organisation, view: SlotView, now_: datetime, seen: Seen | None = None) -> Cell:
    slot = view.slot
    seen = seen or Seen()
    url = reverse("portal:facilities:slot", args=[org.lg_code, slot.facility_id, slot.pk])
    if slot.starts_at <= now_:
        return Cell("受付終了", "past", slot=slot)
    own = seen.own.get(slot.pk)
    if own is not None:
        return Cell("あなたの予約", "mine", _own_booking_url(own), slot)
    if slot.state == SlotState.LOTTERY:
        lottery = lottery_of_slot(seen.lotteries, slot)
        lottery_url = (
            reverse("portal:lotteries:detail", args=[org.lg_code, lottery.pk])
            if lottery is not None
            else ""
        )
        return Cell("抽選受付中", "lottery", lottery_url, slot)
    if slot.state == SlotState.PENDING:
        return Cell("抽選結果の確定待ち", "closed", slot=slot)
    if slot.state == SlotState.CLOSED:
        return Cell("受付停止", "closed", slot=slot)
    if slot.opens_at is not None and slot.opens_at > now_:
        opens = to_tokyo(slot.opens_at)
        return Cell(f"{opens.month}月{opens.day}日 {opens:%H:%M}から受付", "closed", slot=slot)
    if view.bookable:
        return Cell("予約できます", "open", url, slot)
    return Cell("予約済み", "taken", url, slot)


def _band_key(slot: Slot) -> tuple[str, str]:
    start = to_tokyo(slot.starts_at)
    end = to_tokyo(slot.ends_at)
    name = slot.band.name if slot.band is not None else ""
    return name, f"{start.hour}:{start.minute:02d}〜{end.hour}:{end.minute:02d}"


def _week_calendar(
    org: Organisation, facility: Facility, monday: date, now_: datetime, user: User | None = None
) -> dict[str, Any]:
    days = [monday + timedelta(days=i) for i in range(7)]
    views = slots_between(facility, start=days[0], end=days[-1], now=now_)
    seen = _seen(org, user, [view.slot.pk for view in views])
    resources = list(facility.resources.filter(active=True).order_by("order", "id"))
    bands: list[str] = []
    band_labels: dict[str, str] = {}
    cells: dict[tuple[int, date, str], Cell] = {}
    for view in views:
        name, times = _band_key(view.slot)
        if name not in band_labels:
            bands.append(name)
            band_labels[name] = f"{name} {times}".strip()
        cells[(view.slot.resource_id, view.slot.date, name)] = _cell(org, view, now_, seen)
    bands.sort(key=lambda b: band_labels[b].split(" ")[-1].zfill(12))
    none = Cell("—", "none")
    rows: list[Row] = []
    for resource in resources:
        for index, band in enumerate(bands):
            rows.append(
                Row(
                    resource_name=resource.name,
                    band_label=band_labels[band],
                    cells=[cells.get((resource.pk, day, band), none) for day in days],
                    first_of_resource=index == 0,
                    band_count=len(bands),
                )
            )
    by_day = []
    for day in days:
        entries = []
        for resource in resources:
            items = [
                (band_labels[band], cells[(resource.pk, day, band)])
                for band in bands
                if (resource.pk, day, band) in cells
            ]
            if items:
                entries.append({"resource": resource.name, "items": items})
        by_day.append({"day": day, "label": _day_label(day), "resources": entries})
    return {
        "days": [{"day": d, "label": _day_label(d)} for d in days],
        "rows": rows,
        "by_day": by_day,
        "empty": not views,
    }


def _day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（{_WEEKDAYS[day.weekday()]}）"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_param(raw: object, today: date) -> tuple[date, bool]:
    """The Monday of the asked week, and whether the parameter was refused (then: this week).
    Anything but a date from this week to :data:`MAX_WEEKS_AHEAD` weeks ahead is refused."""
    this_monday = _monday(today)
    if not raw:
        return this_monday, False
    if not isinstance(raw, str) or len(raw) != 10:
        return this_monday, True
    try:
        asked = _monday(date.fromisoformat(raw))
    except ValueError:
        return this_monday, True
    if asked < this_monday or asked > this_monday + timedelta(weeks=MAX_WEEKS_AHEAD):
        return this_monday, True
    return asked, False


def _fees(facility: Facility, today: date) -> list[dict[str, Any]]:
    """使用料 per resource and コマ, weekday and holiday, from the coming slots."""
    table: dict[tuple[int, str], dict[str, Any]] = {}
    slots = (
        Slot.objects.filter(
            facility=facility, date__gte=today, date__lte=today + timedelta(days=31)
        )
        .select_related("resource", "band")
        .order_by("resource__order", "resource_id", "starts_at")
    )
    for slot in slots:
        name, times = _band_key(slot)
        row = table.setdefault(
            (slot.resource_id, name),
            {"resource": slot.resource.name, "band": f"{name} {times}".strip(), "fees": {}},
        )
        day_type = slot.band.get_day_type_display() if slot.band is not None else ""
        row["fees"].setdefault(day_type, set()).add(slot.fee)
    out = []
    for row in table.values():
        by_type: dict[str, set[int]] = row["fees"]
        if len({fee for fees in by_type.values() for fee in fees}) == 1:
            row["text"] = f"{next(iter(next(iter(by_type.values())))):,}円"
        else:
            row["text"] = "・".join(
                f"{day_type} {'、'.join(f'{fee:,}円' for fee in sorted(fees))}".strip()
                for day_type, fees in sorted(by_type.items(), key=lambda item: item[0] != "平日")
            )
        out.append(row)
    return out


def _who_may_use(facility: Facility) -> list[str]:
    lines = [f"{Eligibility(facility.eligibility).label}が利用できます。"]
    if facility.group_only:
        lines.append("団体での利用に限ります。")
    if facility.min_group_members:
        lines.append(f"団体で利用するときは、{facility.min_group_members}人以上の団体が必要です。")
    lines.append("予約には、この団体の利用者登録（確認済み）が必要です。")
    if facility.ial > 1 or facility.aal > 1:
        lines.append(
            f"予約には、本人確認の身元確認{LEVEL_NAMES.get(facility.ial, '')}・"
            f"当人認証{LEVEL_NAMES.get(facility.aal, '')}以上が必要です。"
        )
    return lines


# --- Pages ---------------------------------------------------------------------------------


@require_GET
def facility_list(request: HttpRequest, code: str) -> HttpResponse:
    org = _organisation(code)
    return render(
        request,
        "portal/facilities/list.html",
        {
            "org": org,
            "facilities": list(facilities_published(org)),
            "lottery_facilities": {
                f.pk for lottery in lotteries_shown(org) for f in lottery.facilities.all()
            },
        },
    )


@require_GET
@_ids_checked
def facility_detail(request: HttpRequest, code: str, facility_id: int) -> HttpResponse:
    org = _organisation(code)
    facility = _facility(org, facility_id)
    now_ = now()
    today = to_tokyo(now_).date()
    monday, refused = _week_param(request.GET.get("week", ""), today)
    this_monday = _monday(today)
    prev_week = monday - timedelta(weeks=1)
    next_week = monday + timedelta(weeks=1)
    return render(
        request,
        "portal/facilities/detail.html",
        {
            "org": org,
            "facility": facility,
            "week_refused": refused,
            "week_label": f"{_day_label(monday)}〜{_day_label(monday + timedelta(days=6))}",
            "prev_week": prev_week.isoformat() if prev_week >= this_monday else "",
            "next_week": next_week.isoformat()
            if next_week <= this_monday + timedelta(weeks=MAX_WEEKS_AHEAD)
            else "",
            "calendar": _week_calendar(org, facility, monday, now_, _logged_in_resident(request)),
            "lottery": next(
                (lot for lot in lotteries_shown(org) if facility in lot.facilities.all()), None
            ),
            "fees": _fees(facility, today),
            "who": _who_may_use(facility),
            "rules": [line for line in facility.rules.splitlines() if line.strip()],
            "refunds": refund_schedule_lines(facility),
            "log_url": f"/o/{org.lg_code}/facilities/{facility.pk}/log/",
            "hold_minutes": int(HOLD_DURATION.total_seconds() // 60),
        },
    )


def _slot_context(
    request: HttpRequest, org: Organisation, facility: Facility, slot: Slot
) -> dict[str, Any]:
    """What the slot page shows: the slot, whether it can be held or waited for, and what the
    visitor still needs (a login, a registration, an identity level)."""
    now_ = now()
    view = next(
        (
            v
            for v in slots_between(facility, start=slot.date, end=slot.date, now=now_)
            if v.slot.pk == slot.pk
        ),
        None,
    )
    user = _logged_in_resident(request)
    seen = _seen(org, user, [slot.pk])
    cell = _cell(org, view, now_, seen) if view is not None else Cell("—", "none")
    registrations: list[Registration] = []
    usable: list[Registration] = []
    shortfall: Shortfall | None = None
    if user is not None:
        registrations = registrations_of_user(org, user.pk)
        usable = [r for r in registrations if r.status == RegistrationStatus.APPROVED]
        shortfall = assurance_shortfall(
            ial=facility.ial,
            aal=facility.aal,
            signature_required=False,
            identity=identity_current(user=user, session=request.session),
            signed=False,
        )
    waiting = user is not None and user_waits_for(slot, user.pk)
    return {
        "org": org,
        "facility": facility,
        "slot": slot,
        "when": slot_when_text(slot),
        "cell": cell,
        "bookable": cell.kind == "open",
        "waitable": cell.kind == "taken" and slot_is_taken(slot, now=now_),
        "own_booking": seen.own.get(slot.pk),
        "user_ok": user is not None,
        "registrations": registrations,
        "usable": usable,
        "pending": any(r.status == RegistrationStatus.PENDING for r in registrations),
        "registration_url": REGISTRATION_PATH.format(code=org.lg_code),
        "shortfall": shortfall,
        "already_waiting": waiting,
        "waitlist_max": WAITLIST_MAX,
        "hold_minutes": int(HOLD_DURATION.total_seconds() // 60),
        "idempotency_key": secrets.token_urlsafe(16),
        "login_url": reverse("portal:account:login") + "?next=" + request.path,
    }


@require_GET
@_ids_checked
def slot_page(request: HttpRequest, code: str, facility_id: int, slot_id: int) -> HttpResponse:
    org = _organisation(code)
    facility = _facility(org, facility_id)
    slot = _slot(facility, slot_id)
    return render(
        request, "portal/facilities/slot.html", _slot_context(request, org, facility, slot)
    )


def _chosen_registration(request: HttpRequest, org: Organisation, user: User) -> Registration:
    """The approved registration the resident chose (the only one, when they have one).
    Raises ReservationError with the way to register when there is none."""
    usable = [
        r for r in registrations_of_user(org, user.pk) if r.status == RegistrationStatus.APPROVED
    ]
    if not usable:
        if any(r.status == RegistrationStatus.PENDING for r in registrations_of_user(org, user.pk)):
            raise ReservationError(
                "利用者登録の確認が終わっていません。確認が済むと予約できます。",
                code="registration",
            )
        raise ReservationError(
            "予約には、この団体の利用者登録が必要です。先に利用者登録をしてください。",
            code="registration",
        )
    raw = request.POST.get("registration", "")
    if not raw or len(usable) == 1:
        return usable[0]
    for registration in usable:
        if str(registration.pk) == raw[:20]:
            return registration
    raise Http404("その利用者登録はありません。")


def _refused(
    request: HttpRequest,
    org: Organisation,
    facility: Facility,
    slot: Slot,
    error: ReservationError,
) -> HttpResponse:
    context = _slot_context(request, org, facility, slot)
    context["error"] = str(error)
    context["error_code"] = error.code
    status = 409 if error.code in ("slot_taken", "twice", "own") else 422
    return render(request, "portal/facilities/slot.html", context, status=status)


@require_POST
@resident_required
@_ids_checked
def slot_hold(request: HttpRequest, code: str, facility_id: int, slot_id: int) -> HttpResponse:
    """仮押さえ: hold the slot for a few minutes and go to the confirmation page."""
    org = _organisation(code)
    facility = _facility(org, facility_id)
    slot = _slot(facility, slot_id)
    user = resident_of(request)
    try:
        registration = _chosen_registration(request, org, user)
        result = booking_hold(
            organisation=org,
            slot_id=slot.pk,
            registration=registration,
            user=user,
            identity=identity_current(user=user, session=request.session),
            idempotency_key=request.POST.get("idempotency_key", "")[:200],
            client_address=client_address(request),
            now=now(),
        )
    except ReservationError as error:
        return _refused(request, org, facility, slot, error)
    except (Slot.DoesNotExist, Registration.DoesNotExist):
        raise Http404("その枠はありません。") from None
    return redirect("portal:facilities:confirm", org.lg_code, result.booking.pk)


@require_POST
@resident_required
@_ids_checked
def slot_waitlist(request: HttpRequest, code: str, facility_id: int, slot_id: int) -> HttpResponse:
    """キャンセル待ちに登録."""
    org = _organisation(code)
    facility = _facility(org, facility_id)
    slot = _slot(facility, slot_id)
    user = resident_of(request)
    try:
        registration = _chosen_registration(request, org, user)
        waitlist_join(
            organisation=org,
            slot_id=slot.pk,
            registration=registration,
            user=user,
            identity=identity_current(user=user, session=request.session),
            now=now(),
        )
    except ReservationError as error:
        return _refused(request, org, facility, slot, error)
    except (Slot.DoesNotExist, Registration.DoesNotExist):
        raise Http404("その枠はありません。") from None
    messages.success(
        request,
        "キャンセル待ちに登録しました。枠が空くと、登録している方から抽選で1名にメールでご案内します。",
    )
    return redirect("portal:facilities:mine")


@require_http_methods(["GET", "POST"])
@resident_required
@_ids_checked
def booking_confirm_page(request: HttpRequest, code: str, booking_id: int) -> HttpResponse:
    """予約の確定: the slot, the fee with the reduction chosen, the time left, the rules of
    cancellation and refunds, and the button that confirms."""
    org = _organisation(code)
    booking = _own_booking(request, booking_id, org)
    if booking.status == BookingStatus.CONFIRMED:
        return redirect("portal:facilities:done", org.lg_code, booking.pk)
    now_ = now()
    error = ""
    chosen = ""
    if request.method == "POST":
        chosen = request.POST.get("reduction", "")[:64]
        try:
            booking_confirm(
                organisation=org,
                booking_id=booking.pk,
                user=resident_of(request),
                reduction=chosen,
                now=now_,
            )
        except ReservationError as refused:
            error = str(refused)
            booking = _own_booking(request, booking_id, org)
        except Booking.DoesNotExist:
            raise Http404("その予約はありません。") from None
        else:
            messages.success(request, "予約が確定しました。")
            return redirect("portal:facilities:done", org.lg_code, booking.pk)
    active = booking.status in (BookingStatus.HELD, BookingStatus.OFFERED)
    remaining = (
        max(0, int((booking.expires_at - now_).total_seconds() // 60))
        if active and booking.expires_at is not None
        else 0
    )
    return render(
        request,
        "portal/facilities/confirm.html",
        {
            "org": org,
            "booking": booking,
            "facility": booking.facility,
            "when": slot_when_text(booking.slot),
            "active": active,
            "error": error,
            "choices": reduction_choices(booking.facility, booking.slot) if active else [],
            "chosen": chosen,
            "remaining": remaining,
            "expires_at": to_tokyo(booking.expires_at) if booking.expires_at else None,
            "refunds": refund_schedule_lines(booking.facility),
            "rules": [line for line in booking.facility.rules.splitlines() if line.strip()],
        },
        status=409 if error else 200,
    )


@require_GET
@resident_required
@_ids_checked
def booking_done(request: HttpRequest, code: str, booking_id: int) -> HttpResponse:
    org = _organisation(code)
    booking = _own_booking(request, booking_id, org)
    if booking.status != BookingStatus.CONFIRMED:
        return redirect("portal:facilities:confirm", org.lg_code, booking.pk)
    return render(
        request,
        "portal/facilities/done.html",
        {
            "org": org,
            "booking": booking,
            "when": slot_when_text(booking.slot),
            "payment": payment_text(booking),
        },
    )


def _amount_text(booking: Booking) -> tuple[str, str]:
    """The amount column of 予約の確認 and its note: what is due, or for a cancelled booking
    what is refunded (or that nothing is due), never the unpaid fee of a cancelled booking."""
    if booking.status == BookingStatus.CANCELLED:
        if booking.refund:
            return f"還付額 {booking.refund:,}円", "取消し済み"
        if booking.payment in (
            PaymentStatus.PAID_COUNTER,
            PaymentStatus.PAID_TRANSFER,
            PaymentStatus.PAID_ONLINE,
        ):
            return "還付はありません", "取消しの時期により還付の対象外です"
        return "納付は不要です", "取消し済み"
    if booking.status in (BookingStatus.EXPIRED, BookingStatus.HELD, BookingStatus.OFFERED):
        if booking.status == BookingStatus.EXPIRED:
            return "納付は不要です", "期限切れ"
        return "確定の画面で表示します", ""
    return f"{booking.fee_due:,}円", payment_text(booking)


def _booking_row(booking: Booking, now_: datetime) -> dict[str, Any]:
    active = booking.status in ACTIVE_STATUSES
    amount, note = _amount_text(booking)
    return {
        "booking": booking,
        "when": slot_when_text(booking.slot),
        "status": BookingStatus(booking.status).label,
        "to_confirm": booking.status in (BookingStatus.HELD, BookingStatus.OFFERED)
        and (booking.expires_at is None or booking.expires_at > now_),
        "cancellable": active and booking.slot.starts_at > now_,
        "permit": booking.status == BookingStatus.CONFIRMED,
        "amount": amount,
        "payment": note,
        "expires_at": to_tokyo(booking.expires_at)
        if booking.expires_at and booking.status in (BookingStatus.HELD, BookingStatus.OFFERED)
        else None,
    }


@require_GET
@resident_required
def my_bookings(request: HttpRequest) -> HttpResponse:
    """予約の確認: the resident's bookings (every organisation) and waitlist entries."""
    user = resident_of(request)
    now_ = now()
    upcoming, past = bookings_of_user_by_use(user.pk, now=now_)
    entries = [
        {
            "entry": entry,
            "when": slot_when_text(entry.slot),
            "status": WaitlistStatus(entry.status).label,
        }
        for entry in waitlist_of_user(user_id=user.pk)
    ]
    return render(
        request,
        "portal/facilities/mine.html",
        {
            "upcoming": [_booking_row(booking, now_) for booking in upcoming],
            "past": [_booking_row(booking, now_) for booking in past],
            "entries": entries,
            "waitlist_max": WAITLIST_MAX,
        },
    )


@require_GET
@resident_required
@_ids_checked
def permit(request: HttpRequest, booking_id: int) -> HttpResponse:
    """The 使用許可書 of the resident's own confirmed booking (404 for anyone else's): the
    issued document as stored (issued on the first download, reissued when what it says has
    changed — see :func:`madoguchi.reservations.permits.booking_permit_issue`)."""
    try:
        booking, document = booking_permit_issue(
            booking_id=booking_id, user_id=resident_of(request).pk, now=now()
        )
    except Booking.DoesNotExist:
        raise Http404("その使用許可書はありません。") from None
    except PermitUnavailable as failed:
        messages.error(request, str(failed))
        return redirect("portal:facilities:mine")
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="permit-{booking.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@resident_required
@_ids_checked
def booking_cancel_page(request: HttpRequest, booking_id: int) -> HttpResponse:
    """予約の取消し, after a page that shows what would be refunded."""
    booking = _own_booking(request, booking_id)
    error = ""
    now_ = now()
    if request.method == "POST":
        try:
            cancelled = booking_cancel(
                organisation=booking.organisation,
                booking_id=booking.pk,
                user=resident_of(request),
                reason=request.POST.get("reason", ""),
                now=now_,
            )
        except ReservationError as refused:
            error = str(refused)
        except Booking.DoesNotExist:
            raise Http404("その予約はありません。") from None
        else:
            text = f"予約 {cancelled.number} を取り消しました。"
            if cancelled.refund:
                text += f"還付額は{cancelled.refund:,}円です。還付の手続は施設からご案内します。"
            messages.success(request, text)
            return redirect("portal:facilities:mine")
    active = booking.status in ACTIVE_STATUSES and booking.slot.starts_at > now_
    return render(
        request,
        "portal/facilities/cancel.html",
        {
            "booking": booking,
            "when": slot_when_text(booking.slot),
            "active": active,
            "error": error,
            "refund": refund_quote(booking, now=now_) if active else None,
            "refunds": refund_schedule_lines(booking.facility),
            "reason": request.POST.get("reason", "")[:CANCEL_REASON_MAX] if error else "",
            "reason_max": CANCEL_REASON_MAX,
        },
        status=409 if error else 200,
    )


@require_POST
@resident_required
@_ids_checked
def waitlist_leave_page(request: HttpRequest, entry_id: int) -> HttpResponse:
    user = resident_of(request)
    try:
        entry = waitlist_entry_of_user(entry_id=entry_id, user_id=user.pk)
    except WaitlistEntry.DoesNotExist:
        raise Http404("そのキャンセル待ちはありません。") from None
    try:
        waitlist_leave(organisation=entry.organisation, entry_id=entry.pk, user=user, now=now())
    except ReservationError as refused:
        messages.error(request, str(refused))
    except WaitlistEntry.DoesNotExist:
        raise Http404("そのキャンセル待ちはありません。") from None
    else:
        messages.success(request, "キャンセル待ちを取りやめました。")
    return redirect("portal:facilities:mine")
