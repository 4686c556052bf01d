"""抽選 (lotteries) for residents: the public page of each lottery (rules, commitment, and
after the draw everything to re-run it), the entry form, and my entries with a link to the
facility confirmation page (fee, 減免, refund rules) for what I won."""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.models import User
from madoguchi.portal.access import resident_of, resident_required
from madoguchi.reservations.lottery import (
    entries_of_resident,
    entries_of_user,
    entry_of_resident,
    lotteries_of,
    lottery_enter,
    lottery_get,
    lottery_open_slots,
    lottery_withdraw,
    month_usage,
    published,
    registration_of,
    slot_after,
)
from madoguchi.reservations.models import (
    Booking,
    EntryStatus,
    Lottery,
    LotteryEntry,
    LotteryStatus,
    Slot,
)
from madoguchi.reservations.residents import slots_by_id
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

_WEEKDAYS = "月火水木金土日"


def _organisation(code: str) -> Organisation:
    try:
        return organisation_get(code=code)
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404("その団体はありません。") from None


def _lottery(code: str, lottery_id: int) -> tuple[Organisation, Lottery]:
    organisation = _organisation(code)
    try:
        return organisation, lottery_get(pk=lottery_id, organisation=organisation)
    except Lottery.DoesNotExist:
        raise Http404("その抽選はありません。") from None


def _day(day: date) -> str:
    return f"{day.month}月{day.day}日（{_WEEKDAYS[day.weekday()]}）"


def slot_label(slot: Slot) -> str:
    band = slot.band.name if slot.band is not None else ""
    return (
        f"{_day(slot.date)} {band} {to_tokyo(slot.starts_at):%H:%M}〜{to_tokyo(slot.ends_at):%H:%M} "
        f"{slot.facility.name} {slot.resource.name}"
    )


def _with_slot_labels(organisation: Organisation, winners: list[Any]) -> list[dict[str, Any]]:
    """The published winners with each slot as 施設・部屋・日付・コマ (the id kept beside it,
    since the published data names slots by id)."""
    ids = {pk for w in winners for pk in w.get("slots", []) if isinstance(pk, int)}
    slots = slots_by_id(organisation, ids)
    return [
        {
            **w,
            "slot_labels": [
                (pk, slot_label(slots[pk]) if pk in slots else "") for pk in w.get("slots", [])
            ],
        }
        for w in winners
    ]


def _verify_command(request: HttpRequest, lottery: Lottery) -> str:
    base = request.build_absolute_uri("/").rstrip("/")
    return f"madoguchi lottery verify {lottery.pk} --url {base}"


@require_GET
def lottery_list(request: HttpRequest, code: str) -> HttpResponse:
    organisation = _organisation(code)
    return render(
        request,
        "portal/lotteries/list.html",
        {"org": organisation, "lotteries": list(lotteries_of(organisation)[:100])},
    )


@require_GET
def lottery_page(request: HttpRequest, code: str, lottery_id: int) -> HttpResponse:
    organisation, lottery = _lottery(code, lottery_id)
    at = now()
    data = published(lottery)
    mine: list[LotteryEntry] = []
    if isinstance(request.user, User):
        mine = list(entries_of_user(organisation, request.user, lottery))
    return render(
        request,
        "portal/lotteries/detail.html",
        {
            "org": organisation,
            "lottery": lottery,
            "data": data,
            "accepting": lottery.status == LotteryStatus.ACCEPTING
            and lottery.entry_opens_at <= at < lottery.entry_closes_at,
            "winners": _with_slot_labels(organisation, data["winners"] or []),
            "second_winners": (data["second"] or {}).get("winners", []),
            "verify_command": _verify_command(request, lottery),
            "facilities": list(lottery.facilities.all()),
            "mine": mine,
        },
    )


@require_GET
def lottery_json(request: HttpRequest, code: str, lottery_id: int) -> HttpResponse:
    """The published data (the same as the API), as a file to download."""
    _, lottery = _lottery(code, lottery_id)
    response = HttpResponse(
        json.dumps(published(lottery), ensure_ascii=False, indent=1),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="lottery-{lottery.pk}.json"'
    return response


def _group(raw: str, with_next: bool, allowed: dict[int, Slot]) -> list[int] | None:
    pk = parse_int(raw)
    if pk is None:
        return None
    slot = allowed.get(pk)
    if slot is None:
        return [pk]  # the service refuses it with its own message
    group = [pk]
    if with_next:
        following = slot_after(slot)
        if following is None:
            raise ReservationError("その日の最後のコマのため、次のコマと続けて希望できません。")
        group.append(following.pk)
    return group


@require_http_methods(["GET", "POST"])
@resident_required
def lottery_entry_form(request: HttpRequest, code: str, lottery_id: int) -> HttpResponse:
    organisation, lottery = _lottery(code, lottery_id)
    user = resident_of(request)
    registration = registration_of(organisation, user)
    slots = list(lottery_open_slots(lottery)) if registration is not None else []
    allowed = {slot.pk: slot for slot in slots}
    error = ""
    if request.method == "POST" and registration is not None:
        try:
            groups: list[list[int]] = []
            for rank in range(1, lottery.max_choices + 1):
                raw = str(request.POST.get(f"choice{rank}", ""))[:20]
                group = _group(raw, request.POST.get(f"next{rank}") == "1", allowed)
                if group is not None:
                    groups.append(group)
            result = lottery_enter(
                organisation=organisation,
                lottery_id=lottery.pk,
                registration=registration,
                user=user,
                choices=groups,
                idempotency_key=str(request.POST.get("idempotency_key", ""))[:100],
                now=now(),
            )
        except ReservationError as refused:
            error = str(refused)
        else:
            messages.success(
                request,
                f"応募を受け付けました。応募番号は {result.entry.code} です。"
                "抽選の結果はメールとマイページでお知らせします。",
            )
            return redirect("portal:lotteries:mine")
    used = month_usage(registration, lottery) if registration is not None else (0, 0)
    days: dict[date, list[tuple[int, str]]] = {}
    for slot in slots:
        days.setdefault(slot.date, []).append((slot.pk, slot_label(slot)))
    return render(
        request,
        "portal/lotteries/enter.html",
        {
            "org": organisation,
            "lottery": lottery,
            "registration": registration,
            "days": [(_day(day), options) for day, options in days.items()],
            "ranks": list(range(1, lottery.max_choices + 1)),
            "used": used[0],
            "used_weekend": used[1],
            "error": error,
            "posted": request.POST if request.method == "POST" else {},
            "idempotency_key": str(request.POST.get("idempotency_key", ""))[:100]
            if request.method == "POST"
            else secrets.token_urlsafe(24),
        },
        status=422 if error else 200,
    )


@require_GET
@resident_required
def my_entries(request: HttpRequest) -> HttpResponse:
    at = now()
    rows: list[dict[str, Any]] = []
    for entry in entries_of_resident(resident_of(request)):
        choices: dict[int, list[str]] = {}
        bookings: list[tuple[Booking, str]] = []
        for choice in entry.choices.all():
            choices.setdefault(choice.rank, []).append(slot_label(choice.slot))
            if choice.booking is not None:
                bookings.append((choice.booking, slot_label(choice.slot)))
        rows.append(
            {
                "entry": entry,
                "choices": [(rank, choices[rank]) for rank in sorted(choices)],
                "bookings": bookings,
                "withdrawable": entry.status == EntryStatus.ENTERED
                and entry.lottery.status == LotteryStatus.ACCEPTING
                and at < entry.lottery.entry_closes_at,
            }
        )
    return render(request, "portal/lotteries/mine.html", {"rows": rows})


@require_POST
@resident_required
def entry_withdraw(request: HttpRequest, entry_id: int) -> HttpResponseRedirect:
    user = resident_of(request)
    try:
        entry = entry_of_resident(pk=entry_id, user=user)
    except LotteryEntry.DoesNotExist:
        raise Http404("その応募はありません。") from None
    try:
        lottery_withdraw(organisation=entry.organisation, entry_id=entry.pk, user=user, now=now())
    except ReservationError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"応募番号 {entry.code} の応募を取り下げました。")
    return redirect("portal:lotteries:mine")
