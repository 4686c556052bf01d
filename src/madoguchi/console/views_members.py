"""利用者登録 (registrations waiting for the counter or flagged) and イベント・講座 (events and
courses, their attendees and the door check-in) in the staff console. Every query is scoped to
the staff member's organisation: another organisation's registration or event is a 404."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.console.access import staff_required
from madoguchi.core.text import parse_int
from madoguchi.core.time import TOKYO, now, to_tokyo
from madoguchi.identity.models import Staff
from madoguchi.reservations.constants import RegistrationStatus
from madoguchi.reservations.events import event_check_in, event_draw, event_save
from madoguchi.reservations.models import Event, Facility, Registration
from madoguchi.reservations.models.events import EventMode
from madoguchi.reservations.models.registrations import CounterDocument
from madoguchi.reservations.registrations import (
    registration_approve,
    registration_close,
    registration_confirm_at_counter,
    registration_reject,
)
from madoguchi.reservations.selectors import facilities_published
from madoguchi.reservations.selectors_members import (
    event_get,
    events_for_staff,
    registration_for_staff,
    registrations_for_staff,
    signups_of_event,
)
from madoguchi.reservations.services import ReservationError

PAGE_SIZE = 200
_LOCAL_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


@require_GET
@staff_required()
def registrations(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    status = str(request.GET.get("status", ""))[:20]
    found = list(registrations_for_staff(staff.organisation, status=status)[: PAGE_SIZE + 1])
    return render(
        request,
        "console/reservations/registrations.html",
        {
            "staff": staff,
            "registrations": found[:PAGE_SIZE],
            "more": len(found) > PAGE_SIZE,
            "statuses": RegistrationStatus.choices,
            "status": status,
        },
    )


def _registration(staff: Staff, registration_id: int) -> Registration:
    try:
        return registration_for_staff(staff.organisation, registration_id)
    except Registration.DoesNotExist:
        raise Http404("その利用者登録はありません。") from None


@require_http_methods(["GET", "POST"])
@staff_required()
def registration_detail(
    request: HttpRequest, registration_id: int, *, staff: Staff
) -> HttpResponse:
    """One registration with its members; POST ``act`` = confirm | approve | reject | close."""
    error = ""
    if request.method == "POST":
        act = request.POST.get("act")
        reason = str(request.POST.get("reason", ""))[:2000]
        common: dict[str, Any] = {
            "organisation": staff.organisation,
            "registration_id": registration_id,
            "now": now(),
        }
        try:
            if act == "confirm":
                registration_confirm_at_counter(
                    staff=staff, document=str(request.POST.get("document", ""))[:40], **common
                )
                done = "窓口での確認を記録し、登録を承認しました。"
            elif act == "approve":
                registration_approve(staff=staff, reason=reason, **common)
                done = "登録を承認しました。"
            elif act == "reject":
                registration_reject(staff=staff, reason=reason, **common)
                done = "登録を不承認にしました。"
            elif act == "close":
                registration_close(staff=staff, **common)
                done = "登録を廃止しました。"
            else:
                raise ReservationError("操作を選んでください。")
        except Registration.DoesNotExist:
            raise Http404("その利用者登録はありません。") from None
        except ReservationError as refused:
            error = str(refused)
        else:
            messages.success(request, done)
            return redirect("console:registration", registration_id=registration_id)
    registration = _registration(staff, registration_id)
    return render(
        request,
        "console/reservations/registration.html",
        {
            "staff": staff,
            "registration": registration,
            "members": list(registration.members.all()),
            "documents": CounterDocument.choices,
            "error": error,
        },
        status=400 if error else 200,
    )


# --- Events --------------------------------------------------------------------------------


@require_GET
@staff_required()
def events(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return render(
        request,
        "console/reservations/events.html",
        {"staff": staff, "events": list(events_for_staff(staff.organisation)[:PAGE_SIZE])},
    )


def _local(value: object) -> datetime | None:
    if not isinstance(value, str) or not _LOCAL_DATETIME.fullmatch(value.strip()):
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=TOKYO)
    except ValueError:
        return None


def _local_text(value: datetime | None) -> str:
    return f"{to_tokyo(value):%Y-%m-%dT%H:%M}" if value is not None else ""


_TIMES = (
    ("starts_at", "開始日時"),
    ("ends_at", "終了日時"),
    ("signup_opens_at", "申込の受付開始"),
    ("signup_closes_at", "申込の締切"),
)


@require_http_methods(["GET", "POST"])
@staff_required()
def event_edit(request: HttpRequest, event_id: int | None = None, *, staff: Staff) -> HttpResponse:
    """Create (no id) or edit an event."""
    event = None
    if event_id is not None:
        try:
            event = event_get(staff.organisation, event_id, published_only=False)
        except Event.DoesNotExist:
            raise Http404("そのイベント・講座はありません。") from None
    values: dict[str, Any] = {
        "title": event.title if event else "",
        "description": event.description if event else "",
        "rules": event.rules if event else "",
        "venue": event.venue if event else "",
        "facility": str(event.facility_id or "") if event else "",
        "capacity": str(event.capacity) if event else "",
        "mode": event.mode if event else EventMode.FIRST_COME,
        "waitlist": event.waitlist if event else False,
        "fee": str(event.fee) if event else "0",
        "published": event.published if event else False,
        **{key: _local_text(getattr(event, key)) if event else "" for key, _ in _TIMES},
    }
    error = ""
    if request.method == "POST":
        values = {
            key: str(request.POST.get(key, ""))[:6000]
            for key in (
                "title",
                "description",
                "rules",
                "venue",
                "facility",
                "capacity",
                "mode",
                "fee",
            )
        }
        values["waitlist"] = bool(request.POST.get("waitlist"))
        values["published"] = bool(request.POST.get("published"))
        times: dict[str, datetime] = {}
        for key, label in _TIMES:
            values[key] = str(request.POST.get(key, ""))[:20]
            parsed = _local(values[key])
            if parsed is None:
                error = error or f"{label}を、正しい日時で入力してください。"
            else:
                times[key] = parsed
        capacity = parse_int(values["capacity"], minimum=0, maximum=10**9)
        fee = parse_int(values["fee"] or "0", maximum=10**9)
        facility_id = parse_int(values["facility"], minimum=1) if values["facility"] else None
        if capacity is None and not error:
            error = "定員を、半角数字で入力してください。"
        if fee is None and not error:
            error = "参加費を、半角数字で入力してください（無料は0）。"
        if values["facility"] and facility_id is None and not error:
            error = "会場の施設を選び直してください。"
        if not error:
            assert capacity is not None
            assert fee is not None
            try:
                saved = event_save(
                    organisation=staff.organisation,
                    staff=staff,
                    event_id=event_id,
                    title=values["title"],
                    description=values["description"],
                    rules=values["rules"],
                    venue=values["venue"],
                    facility_id=facility_id,
                    capacity=capacity,
                    mode=values["mode"],
                    waitlist=values["waitlist"],
                    fee=fee,
                    published=values["published"],
                    now=now(),
                    **times,
                )
            except (Event.DoesNotExist, Facility.DoesNotExist):
                raise Http404("そのイベント・講座（または施設）はありません。") from None
            except ReservationError as refused:
                error = str(refused)
            else:
                messages.success(request, f"「{saved.title}」を保存しました。")
                return redirect("console:event", event_id=saved.pk)
    return render(
        request,
        "console/reservations/event_form.html",
        {
            "staff": staff,
            "event": event,
            "values": values,
            "error": error,
            "modes": EventMode.choices,
            "facilities": list(facilities_published(staff.organisation)),
        },
        status=400 if error else 200,
    )


@require_GET
@staff_required()
def event_detail(request: HttpRequest, event_id: int, *, staff: Staff) -> HttpResponse:
    try:
        event = event_get(staff.organisation, event_id, published_only=False)
    except Event.DoesNotExist:
        raise Http404("そのイベント・講座はありません。") from None
    return render(
        request,
        "console/reservations/event.html",
        {
            "staff": staff,
            "event": event,
            "signups": list(signups_of_event(event)[:2000]),
            "lottery": event.mode == EventMode.LOTTERY,
        },
    )


@require_POST
@staff_required()
def event_action(request: HttpRequest, event_id: int, *, staff: Staff) -> HttpResponse:
    """POST ``act`` = check_in (with ``code``) | draw."""
    act = request.POST.get("act")
    try:
        event_get(staff.organisation, event_id, published_only=False)  # 404 before any message
        if act == "check_in":
            signup = event_check_in(
                organisation=staff.organisation,
                staff=staff,
                event_id=event_id,
                code=str(request.POST.get("code", ""))[:40],
                now=now(),
            )
            messages.success(request, f"受付番号 {signup.code} を受け付けました。")
        elif act == "draw":
            drawn = event_draw(
                organisation=staff.organisation, staff=staff, event_id=event_id, now=now()
            )
            messages.success(request, f"抽選しました（申込み一覧の値 {drawn.draw_digest[:12]}…）。")
        else:
            messages.error(request, "操作を選んでください。")
    except Event.DoesNotExist:
        raise Http404("そのイベント・講座はありません。") from None
    except ReservationError as refused:
        messages.error(request, str(refused))
    return redirect("console:event", event_id=event_id)
