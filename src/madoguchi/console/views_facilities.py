"""Console pages of 施設予約: facility configuration by organisation admins (facilities,
rooms and courts with their parts, コマ, 休館日, 使用料, 減免, a month's slots), the staff
calendar (day and week), a slot's and a booking's page with the staff acts (counter booking,
override, 受付停止, no-show), and each facility's monthly usage.

Every staff member of the organisation can view; configuration is for admins (others: 403);
the acts on bookings for admins and reviewers. Another organisation's facility, slot or
booking is not found (404). Each POST makes one call to a public service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.catalog.selectors import procedures_of
from madoguchi.console.access import can_manage, staff_required
from madoguchi.console.forms_facilities import (
    BandForm,
    ClosedDayForm,
    CloseForm,
    CounterBookingForm,
    FacilityForm,
    FeeForm,
    GenerateForm,
    OverrideForm,
    ReductionForm,
    ResourceForm,
)
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.reservations import facilities as config
from madoguchi.reservations import staff as acts
from madoguchi.reservations import staff_selectors as reads
from madoguchi.reservations.calendar import (
    FIRST_DAY,
    LAST_DAY,
    WEEKDAY_NAMES,
    day_in_range,
    next_month,
    previous_month,
)
from madoguchi.reservations.constants import (
    ACTIVE_STATUSES,
    BookingStatus,
    PaymentStatus,
    SlotState,
)
from madoguchi.reservations.models import Booking, Facility, Registration, Slot
from madoguchi.reservations.services import ReservationError, SlotTaken

WORKERS = (StaffRole.ADMIN, StaffRole.REVIEWER)
#: A counter booking refused because the slot, its whole hall or a part of it is claimed.
STAFF_SLOT_TAKEN = (
    "この枠（または同じ時間の部屋の一部）はすでに予約されています。予約の状況を確かめてください。"
)


def _facility(staff: Staff, facility_id: int) -> Facility:
    try:
        return reads.facility_of(staff.organisation, facility_id)
    except Facility.DoesNotExist:
        raise Http404 from None


def _admin(staff: Staff) -> None:
    if not can_manage(staff):
        raise PermissionDenied("施設の設定を変更できるのは団体管理者だけです。")


def _worker(staff: Staff) -> None:
    if staff.role not in WORKERS:
        raise PermissionDenied("この操作は、予約を扱う職員だけができます。")


def _today() -> date:
    return to_tokyo(now()).date()


def _try(call: Callable[[], Any]) -> tuple[Any, str]:
    """Run one service call: its result, or its refusal in Japanese."""
    try:
        return call(), ""
    except ReservationError as error:
        return None, str(error)
    except ObjectDoesNotExist:  # another organisation's id (or one that is gone): 404
        raise Http404 from None


def _attempt(form: forms.Form, call: Callable[[], Any]) -> Any:
    """Run one service call on a validated form; a refusal becomes the form's error."""
    result, error = _try(call)
    if error:
        form.add_error(None, error)
    return result


def _int_or_none(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# --- List, create, edit -------------------------------------------------------------------


@require_GET
@staff_required()
def facilities(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return render(
        request,
        "console/facilities/list.html",
        {
            "staff": staff,
            "facilities": list(reads.facilities_of(staff.organisation)),
            "manage": can_manage(staff),
        },
    )


def _procedures(staff: Staff) -> list[tuple[int, str]]:
    return [
        (p.pk, p.name)
        for p in procedures_of(organisation=staff.organisation, published_only=False)[:500]
    ]


def _facility_form_page(
    request: HttpRequest, staff: Staff, facility: Facility | None
) -> HttpResponse:
    _admin(staff)
    initial: dict[str, object] = {}
    if facility is not None:
        initial = {
            "name": facility.name,
            "kana": facility.kana,
            "category": facility.category,
            "address": facility.address,
            "phone": facility.phone,
            "description": facility.description,
            "rules": facility.rules,
            "eligibility": facility.eligibility,
            "min_group_members": facility.min_group_members,
            "group_only": facility.group_only,
            "ial": str(facility.ial),
            "aal": str(facility.aal),
            "procedure": str(facility.procedure_id or ""),
            "closed_weekdays": [str(d) for d in facility.closed_weekdays],
            "no_show_suspension_days": facility.no_show_suspension_days,
            "published": facility.published,
        }
    form = FacilityForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        procedures=_procedures(staff),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = _attempt(
            form,
            lambda: config.facility_save(
                organisation=staff.organisation,
                actor=staff,
                now=now(),
                facility_id=facility.pk if facility else None,
                name=data["name"],
                kana=data["kana"],
                category=data["category"],
                address=data["address"],
                phone=data["phone"],
                description=data["description"],
                rules=data["rules"],
                eligibility=data["eligibility"],
                min_group_members=data["min_group_members"],
                group_only=data["group_only"],
                ial=data["ial"],
                aal=data["aal"],
                procedure_id=_int_or_none(data["procedure"]),
                published=data["published"],
                closed_weekdays=data["closed_weekdays"],
                no_show_suspension_days=data["no_show_suspension_days"],
            ),
        )
        if saved is not None:
            messages.success(request, f"施設「{saved.name}」を保存しました。")
            return redirect("console:facility", facility_id=saved.pk)
    return render(
        request,
        "console/facilities/facility_form.html",
        {"staff": staff, "form": form, "facility": facility},
        status=422 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def facility_new(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return _facility_form_page(request, staff, None)


@require_http_methods(["GET", "POST"])
@staff_required()
def facility_edit(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    return _facility_form_page(request, staff, _facility(staff, facility_id))


# --- A facility's configuration page -----------------------------------------------------


def _resource_choices(facility: Facility, exclude: int | None = None) -> list[tuple[int, str]]:
    return [(r.pk, r.name) for r in facility.resources.order_by("order", "id") if r.pk != exclude]


def _band_choices(facility: Facility) -> list[tuple[int, str]]:
    return [
        (b.pk, f"{b.get_day_type_display()} {b.name} {b.start:%H:%M}〜{b.end:%H:%M}")
        for b in facility.time_bands.order_by("day_type", "start")
    ]


def _facility_page(
    request: HttpRequest,
    staff: Staff,
    facility: Facility,
    *,
    forms_bound: dict[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    today = _today()
    setup = reads.facility_setup(facility, today=today)
    bound = forms_bound or {}
    page_forms = {
        "resource_form": bound.get("resource")
        or ResourceForm(prefix="resource", parents=_resource_choices(facility)),
        "band_form": bound.get("band") or BandForm(prefix="band"),
        "closed_form": bound.get("closed") or ClosedDayForm(prefix="closed"),
        "fee_form": bound.get("fee")
        or FeeForm(
            prefix="fee",
            resources=_resource_choices(facility),
            bands=_band_choices(facility),
        ),
        "reduction_form": bound.get("reduction") or ReductionForm(prefix="reduction"),
        "generate_form": bound.get("generate")
        or GenerateForm(prefix="generate", initial={"month": f"{next_month(today):%Y-%m}"}),
    }
    fee_rows = [
        (
            resource,
            [(band, setup.fees.get((resource.pk, band.pk))) for band in setup.bands],
        )
        for resource in setup.resources
    ]
    return render(
        request,
        "console/facilities/facility.html",
        {
            "staff": staff,
            "facility": facility,
            "setup": setup,
            "fee_rows": fee_rows,
            "manage": can_manage(staff),
            "weekday_names": [f"{WEEKDAY_NAMES[d]}曜日" for d in facility.closed_weekdays],
            **page_forms,
        },
        status=status,
    )


@require_GET
@staff_required()
def facility(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    return _facility_page(request, staff, _facility(staff, facility_id))


def _config_post(
    request: HttpRequest,
    staff: Staff,
    facility: Facility,
    key: str,
    form: forms.Form,
    call: Callable[[dict[str, Any]], Any],
    done: Callable[[Any], str],
    anchor: str,
) -> HttpResponse:
    if form.is_valid():
        result = _attempt(form, lambda: call(form.cleaned_data))
        if not form.errors:
            messages.success(request, done(result))
            url = reverse("console:facility", kwargs={"facility_id": facility.pk})
            return redirect(f"{url}#{anchor}")
    return _facility_page(request, staff, facility, forms_bound={key: form}, status=422)


@require_POST
@staff_required(StaffRole.ADMIN)
def resource_add(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = ResourceForm(request.POST, prefix="resource", parents=_resource_choices(facility))
    return _config_post(
        request,
        staff,
        facility,
        "resource",
        form,
        lambda d: config.resource_save(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            name=d["name"],
            kind=d["kind"],
            capacity=d["capacity"],
            equipment=d["equipment"],
            order=d["order"],
            active=d["active"],
            parent_id=_int_or_none(d["parent"]),
        ),
        lambda r: f"「{r.name}」を登録しました。",
        "resources",
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def resource_edit(
    request: HttpRequest, facility_id: int, resource_id: int, *, staff: Staff
) -> HttpResponse:
    _admin(staff)
    facility = _facility(staff, facility_id)
    resource = facility.resources.filter(pk=resource_id).first()
    if resource is None:
        raise Http404
    form = ResourceForm(
        request.POST if request.method == "POST" else None,
        initial={
            "name": resource.name,
            "kind": resource.kind,
            "parent": str(resource.parent_id or ""),
            "capacity": resource.capacity,
            "equipment": resource.equipment,
            "order": resource.order,
            "active": resource.active,
        },
        parents=_resource_choices(facility, exclude=resource.pk),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        saved = _attempt(
            form,
            lambda: config.resource_save(
                organisation=staff.organisation,
                actor=staff,
                now=now(),
                facility_id=facility.pk,
                resource_id=resource.pk,
                name=d["name"],
                kind=d["kind"],
                capacity=d["capacity"],
                equipment=d["equipment"],
                order=d["order"],
                active=d["active"],
                parent_id=_int_or_none(d["parent"]),
            ),
        )
        if saved is not None:
            messages.success(request, f"「{saved.name}」を保存しました。")
            return redirect(reverse("console:facility", args=[facility.pk]) + "#resources")
    return render(
        request,
        "console/facilities/item_form.html",
        {
            "staff": staff,
            "facility": facility,
            "form": form,
            "title": f"部屋・コートの変更: {resource.name}",
        },
        status=422 if request.method == "POST" else 200,
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def band_add(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = BandForm(request.POST, prefix="band")
    return _config_post(
        request,
        staff,
        facility,
        "band",
        form,
        lambda d: config.time_band_save(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            day_type=d["day_type"],
            name=d["name"],
            start=d["start"],
            end=d["end"],
        ),
        lambda b: f"コマ「{b.name}」を登録しました。",
        "bands",
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def band_delete(
    request: HttpRequest, facility_id: int, band_id: int, *, staff: Staff
) -> HttpResponse:
    facility = _facility(staff, facility_id)
    _try(
        lambda: config.time_band_delete(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            band_id=band_id,
        ),
    )
    messages.success(request, "コマを削除しました。作成済みの予約枠はそのまま残ります。")
    return redirect(reverse("console:facility", args=[facility.pk]) + "#bands")


@require_POST
@staff_required(StaffRole.ADMIN)
def closed_day_add(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = ClosedDayForm(request.POST, prefix="closed")
    return _config_post(
        request,
        staff,
        facility,
        "closed",
        form,
        lambda d: config.closed_day_save(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            day=d["day"],
            reason=d["reason"],
        ),
        lambda c: (
            f"{c.date:%Y年%m月%d日}を休館日にしました。空いている予約枠は受付停止にしました。"
        ),
        "closed-days",
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def closed_day_delete(
    request: HttpRequest, facility_id: int, closed_day_id: int, *, staff: Staff
) -> HttpResponse:
    facility = _facility(staff, facility_id)
    _try(
        lambda: config.closed_day_delete(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            closed_day_id=closed_day_id,
        ),
    )
    messages.success(
        request, "休館日を取り消しました。受付停止にした枠は、必要なら個別に再開してください。"
    )
    return redirect(reverse("console:facility", args=[facility.pk]) + "#closed-days")


@require_POST
@staff_required(StaffRole.ADMIN)
def fee_set(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = FeeForm(
        request.POST,
        prefix="fee",
        resources=_resource_choices(facility),
        bands=_band_choices(facility),
    )
    return _config_post(
        request,
        staff,
        facility,
        "fee",
        form,
        lambda d: config.fee_save(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            resource_id=int(d["resource"]),
            band_id=int(d["band"]),
            amount=d["amount"],
        ),
        lambda f: f"使用料を{f.amount:,}円にしました（これから作る予約枠に使います）。",
        "fees",
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def reduction_add(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = ReductionForm(request.POST, prefix="reduction")
    return _config_post(
        request,
        staff,
        facility,
        "reduction",
        form,
        lambda d: config.reduction_save(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            facility_id=facility.pk,
            code=d["code"],
            name=d["name"],
            percent=d["percent"],
            note=d["note"],
            active=d["active"],
        ),
        lambda r: f"減免「{r.name}」を登録しました。",
        "reductions",
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def reduction_edit(
    request: HttpRequest, facility_id: int, reduction_id: int, *, staff: Staff
) -> HttpResponse:
    _admin(staff)
    facility = _facility(staff, facility_id)
    reduction = facility.reductions.filter(pk=reduction_id).first()
    if reduction is None:
        raise Http404
    form = ReductionForm(
        request.POST if request.method == "POST" else None,
        initial={
            "code": reduction.code,
            "name": reduction.name,
            "percent": reduction.percent,
            "note": reduction.note,
            "active": reduction.active,
        },
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        saved = _attempt(
            form,
            lambda: config.reduction_save(
                organisation=staff.organisation,
                actor=staff,
                now=now(),
                facility_id=facility.pk,
                reduction_id=reduction.pk,
                code=d["code"],
                name=d["name"],
                percent=d["percent"],
                note=d["note"],
                active=d["active"],
            ),
        )
        if saved is not None:
            messages.success(request, f"減免「{saved.name}」を保存しました。")
            return redirect(reverse("console:facility", args=[facility.pk]) + "#reductions")
    return render(
        request,
        "console/facilities/item_form.html",
        {
            "staff": staff,
            "facility": facility,
            "form": form,
            "title": f"減免の変更: {reduction.name}",
        },
        status=422 if request.method == "POST" else 200,
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def slots_generate(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    form = GenerateForm(request.POST, prefix="generate")
    return _config_post(
        request,
        staff,
        facility,
        "generate",
        form,
        lambda d: config.slots_generate(
            organisation=staff.organisation,
            facility_id=facility.pk,
            month=d["month"],
            actor=staff,
            now=now(),
        ),
        lambda r: (
            f"{r.month:%Y年%m月}の予約枠を{r.created}件作りました"
            f"（作成済み{r.existing}件はそのまま、休館日などで{r.skipped_days}日は作りません）。"
        ),
        "generate",
    )


# --- Staff calendar ---------------------------------------------------------------------


def _parse_day(value: str | None) -> tuple[date, bool]:
    """The date a query string names, or today; the flag says a date was refused (one the
    staff pages do not show, :func:`~madoguchi.reservations.calendar.day_in_range`)."""
    if value and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if day_in_range(day):
                return day, False
            return _today(), True
    return _today(), False


@require_GET
@staff_required()
def facility_calendar(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    day, refused = _parse_day(request.GET.get("date"))
    week = request.GET.get("view") == "week"
    if week:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=6)
        step = timedelta(days=7)
    else:
        start = end = day
        step = timedelta(days=1)
    # No link beyond the dates shown (and no date arithmetic near date.min / date.max).
    previous = max(start - step, FIRST_DAY) if start > FIRST_DAY else None
    following = start + step if end < LAST_DAY else None
    grids = reads.staff_grid(facility, start=start, end=end)
    return render(
        request,
        "console/facilities/calendar.html",
        {
            "staff": staff,
            "facility": facility,
            "grids": grids,
            "week": week,
            "start": start,
            "end": end,
            "previous": previous,
            "next": following,
            "refused": refused,
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
            "today": _today(),
            "view": "week" if week else "day",
            "weekday_names": WEEKDAY_NAMES,
        },
    )


# --- A slot and a booking, with the staff acts ------------------------------------------


def _slot(staff: Staff, slot_id: int) -> Slot:
    try:
        return reads.slot_of_staff(staff.organisation, slot_id)
    except Slot.DoesNotExist:
        raise Http404 from None


def _reductions(slot: Slot) -> list[tuple[str, str]]:
    return [
        (r.code, f"{r.name}（{r.percent}%）")
        for r in slot.facility.reductions.filter(active=True).order_by("code")
    ]


def _slot_page(
    request: HttpRequest,
    staff: Staff,
    slot: Slot,
    *,
    counter_form: CounterBookingForm | None = None,
    close_form: CloseForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    grid = reads.staff_grid(slot.facility, start=slot.date, end=slot.date)
    cell = next(
        (c for g in grid for row in g.rows for c in row.cells if c.slot and c.slot.pk == slot.pk),
        None,
    )
    return render(
        request,
        "console/facilities/slot.html",
        {
            "staff": staff,
            "slot": slot,
            "facility": slot.facility,
            "cell": cell,
            "history": list(slot.bookings.select_related("registration").order_by("-created_at")),
            "worker": staff.role in WORKERS,
            "started": slot.starts_at <= now(),
            "counter_form": counter_form
            or CounterBookingForm(prefix="counter", reductions=_reductions(slot)),
            "close_form": close_form or CloseForm(prefix="close"),
            "closed": slot.state == SlotState.CLOSED,
            "error": error,
        },
        status=status,
    )


@require_GET
@staff_required()
def slot_detail(request: HttpRequest, slot_id: int, *, staff: Staff) -> HttpResponse:
    return _slot_page(request, staff, _slot(staff, slot_id))


@require_POST
@staff_required(*WORKERS)
def slot_book(request: HttpRequest, slot_id: int, *, staff: Staff) -> HttpResponse:
    slot = _slot(staff, slot_id)
    form = CounterBookingForm(request.POST, prefix="counter", reductions=_reductions(slot))
    if form.is_valid():
        d = form.cleaned_data
        registration_id = None
        if d["registration_number"]:
            try:
                registration_id = reads.registration_by_number(
                    staff.organisation, d["registration_number"]
                ).pk
            except Registration.DoesNotExist:
                form.add_error("registration_number", "その利用者番号の登録はありません。")
        if not form.errors:

            def book() -> Booking:
                try:
                    return acts.booking_counter_create(
                        organisation=staff.organisation,
                        actor=staff,
                        now=now(),
                        slot_id=slot.pk,
                        registration_id=registration_id,
                        contact=d["contact"],
                        purpose=d["purpose"],
                        reduction=d["reduction"],
                    )
                except SlotTaken:  # the resident's wording ("ほかの方…") does not fit staff
                    raise ReservationError(STAFF_SLOT_TAKEN, code="slot_taken") from None

            booking = _attempt(form, book)
            if booking is not None:
                messages.success(request, f"予約しました（予約番号 {booking.number}）。")
                return redirect("console:facility_booking", booking_id=booking.pk)
    return _slot_page(request, staff, slot, counter_form=form, status=422)


@require_POST
@staff_required(*WORKERS)
def slot_close(request: HttpRequest, slot_id: int, *, staff: Staff) -> HttpResponse:
    slot = _slot(staff, slot_id)
    form = CloseForm(request.POST, prefix="close")
    if form.is_valid():
        done = _attempt(
            form,
            lambda: acts.slot_close(
                organisation=staff.organisation,
                actor=staff,
                now=now(),
                slot_id=slot.pk,
                reason=form.cleaned_data["reason"],
            ),
        )
        if done is not None:
            messages.success(request, "この枠を受付停止にしました。")
            return redirect("console:facility_slot", slot_id=slot.pk)
    return _slot_page(request, staff, slot, close_form=form, status=422)


@require_POST
@staff_required(*WORKERS)
def slot_open(request: HttpRequest, slot_id: int, *, staff: Staff) -> HttpResponse:
    slot = _slot(staff, slot_id)
    _, error = _try(
        lambda: acts.slot_open(
            organisation=staff.organisation, actor=staff, now=now(), slot_id=slot.pk
        ),
    )
    if not error:
        messages.success(request, "この枠の受付を再開しました。")
        return redirect("console:facility_slot", slot_id=slot.pk)
    return _slot_page(request, staff, slot, error=error, status=422)


def _booking(staff: Staff, booking_id: int) -> Booking:
    try:
        return reads.booking_of_staff(staff.organisation, booking_id)
    except Booking.DoesNotExist:
        raise Http404 from None


def _booking_page(
    request: HttpRequest,
    staff: Staff,
    booking: Booking,
    *,
    override_form: OverrideForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    moment = now()
    reduction = (
        booking.facility.reductions.filter(code=booking.reduction).first()
        if booking.reduction
        else None
    )
    return render(
        request,
        "console/facilities/booking.html",
        {
            "staff": staff,
            "booking": booking,
            # The reduction by its name (the booking keeps only the code).
            "reduction_name": reduction.name if reduction is not None else booking.reduction,
            "facility": booking.facility,
            "slot": booking.slot,
            "worker": staff.role in WORKERS,
            "active": booking.status in ACTIVE_STATUSES,
            "payments": _payment_choices(booking),
            "may_no_show": booking.status == BookingStatus.CONFIRMED
            and booking.slot.starts_at <= moment,
            "override_form": override_form or OverrideForm(prefix="override"),
            "error": error,
        },
        status=status,
    )


@require_GET
@staff_required()
def booking_detail(request: HttpRequest, booking_id: int, *, staff: Staff) -> HttpResponse:
    return _booking_page(request, staff, _booking(staff, booking_id))


@require_POST
@staff_required(*WORKERS)
def booking_override(request: HttpRequest, booking_id: int, *, staff: Staff) -> HttpResponse:
    booking = _booking(staff, booking_id)
    form = OverrideForm(request.POST, prefix="override")
    if form.is_valid():
        done = _attempt(
            form,
            lambda: acts.booking_override(
                organisation=staff.organisation,
                actor=staff,
                now=now(),
                booking_id=booking.pk,
                category=form.cleaned_data["category"],
                reason=form.cleaned_data["reason"],
            ),
        )
        if done is not None:
            messages.success(request, "予約を取り消しました。枠は空きに戻りました。")
            return redirect("console:facility_booking", booking_id=booking.pk)
    return _booking_page(request, staff, booking, override_form=form, status=422)


@require_POST
@staff_required(*WORKERS)
def booking_no_show(request: HttpRequest, booking_id: int, *, staff: Staff) -> HttpResponse:
    booking = _booking(staff, booking_id)
    _, error = _try(
        lambda: acts.booking_no_show(
            organisation=staff.organisation, actor=staff, now=now(), booking_id=booking.pk
        ),
    )
    if error:
        return _booking_page(request, staff, booking, error=error, status=422)
    days = booking.facility.no_show_suspension_days
    messages.success(request, f"無断不使用として記録しました。利用者は{days}日間予約できません。")
    return redirect("console:facility_booking", booking_id=booking.pk)


def _payment_choices(booking: Booking) -> list[tuple[str, str]]:
    """What staff may record about this booking's payment now (the service decides again)."""
    if booking.payment == PaymentStatus.UNPAID and booking.fee_due > 0:
        if booking.status in (BookingStatus.CONFIRMED, BookingStatus.NO_SHOW):
            return [(p.value, str(p.label)) for p in acts.PAYMENT_FOR_CONFIRMED]
    if booking.status == BookingStatus.CANCELLED and booking.payment in acts.PAID:
        if booking.refund > 0:
            return [(PaymentStatus.REFUNDED.value, str(PaymentStatus.REFUNDED.label))]
    return []


@require_POST
@staff_required(*WORKERS)
def booking_payment(request: HttpRequest, booking_id: int, *, staff: Staff) -> HttpResponse:
    booking = _booking(staff, booking_id)
    _, error = _try(
        lambda: acts.booking_payment_record(
            organisation=staff.organisation,
            actor=staff,
            now=now(),
            booking_id=booking.pk,
            payment=request.POST.get("payment", ""),
        ),
    )
    if error:
        return _booking_page(request, staff, booking, error=error, status=422)
    messages.success(request, "納付の状況を記録しました。")
    return redirect("console:facility_booking", booking_id=booking.pk)


# --- Usage statistics ---------------------------------------------------------------------


@require_GET
@staff_required()
def facility_stats(request: HttpRequest, facility_id: int, *, staff: Staff) -> HttpResponse:
    facility = _facility(staff, facility_id)
    raw = request.GET.get("month", "")
    refused = False
    try:
        month = config.month_parse(raw)
    except ReservationError:
        month = _today().replace(day=1)
        refused = bool(raw)
    stats = reads.usage_stats(facility, month=month)
    return render(
        request,
        "console/facilities/stats.html",
        {
            "staff": staff,
            "facility": facility,
            "stats": stats,
            "refused": refused,
            "first_day": FIRST_DAY,
            "last_day": LAST_DAY,
            "previous": previous_month(month) if month > FIRST_DAY else None,
            "next": next_month(month) if next_month(month) <= LAST_DAY else None,
        },
    )
