"""Console pages of lotteries (抽選): the list with entry counts, creating one (admins), a
lottery's status and results, and running its draw once it is due (admins).

The scheduled task draws and releases on its own; the button is for a worker that was down.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.console.access import can_manage, staff_required
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.reservations.calendar import FIRST_DAY, LAST_DAY, day_in_range
from madoguchi.reservations.constants import FacilityCategory
from madoguchi.reservations.lottery import (
    lotteries_of,
    lottery_create,
    lottery_draw,
    lottery_entry_counts,
    lottery_get,
    lottery_results,
)
from madoguchi.reservations.models import EntryStatus, Lottery, LotteryStatus, ReleaseRule
from madoguchi.reservations.selectors import facilities_published
from madoguchi.reservations.services import ReservationError

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class LotteryForm(forms.Form):
    name = forms.CharField(label="名称（例: 2027年4月分 体育室・テニスコート）", max_length=100)
    month = forms.CharField(
        label="利用月（例: 2027-04）",
        max_length=7,
        error_messages={"required": "利用月を入力してください。"},
    )
    facilities = forms.TypedMultipleChoiceField(
        label="対象の施設", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    category = forms.ChoiceField(
        label="分類ごとまとめて対象にする（任意）",
        choices=[("", "指定しない"), *FacilityCategory.choices],
        required=False,
        widget=forms.RadioSelect,
    )
    entry_opens_at = forms.DateTimeField(label="受付開始", widget=_DATETIME)
    entry_closes_at = forms.DateTimeField(label="受付終了", widget=_DATETIME)
    draw_at = forms.DateTimeField(label="抽選日時", widget=_DATETIME)
    confirm_deadline = forms.DateTimeField(label="当選の確定期限", widget=_DATETIME)
    release_rule = forms.ChoiceField(
        label="残った枠の扱い", choices=ReleaseRule.choices, widget=forms.RadioSelect
    )
    release_at = forms.DateTimeField(label="先着受付の開始（二次抽選の確定期限）", widget=_DATETIME)
    cap_per_month = forms.IntegerField(
        label="1か月の応募数の上限", min_value=1, max_value=31, initial=4
    )
    cap_weekend = forms.IntegerField(label="うち土日祝の上限", min_value=0, max_value=31, initial=2)
    max_choices = forms.IntegerField(label="希望の数", min_value=1, max_value=5, initial=2)

    def clean_month(self) -> date:
        raw = self.cleaned_data["month"].strip()
        try:
            year, month = (int(part) for part in raw.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise forms.ValidationError("利用月は 2027-04 の形で入力してください。") from None
        if not day_in_range(first):
            raise forms.ValidationError(
                f"利用月は{FIRST_DAY:%Y-%m}から{LAST_DAY:%Y-%m}までの月を入力してください。"
            )
        return first


TIME_FIELDS = ("entry_opens_at", "entry_closes_at", "draw_at", "confirm_deadline", "release_at")
CAP_FIELDS = ("cap_per_month", "cap_weekend", "max_choices")


def _counts(lottery: Lottery) -> list[tuple[str, int]]:
    """The entries per status, labelled in Japanese (応募中, 落選 …), in the statuses' order."""
    counts = lottery_entry_counts(lottery)
    return [(label, counts[value]) for value, label in EntryStatus.choices if counts.get(value)]


@require_GET
@staff_required()
def lottery_list(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    rows = [
        {"lottery": lottery, "counts": _counts(lottery)}
        for lottery in lotteries_of(staff.organisation)[:100]
    ]
    return render(
        request,
        "console/lotteries/list.html",
        {"staff": staff, "rows": rows, "may_manage": can_manage(staff)},
    )


@require_http_methods(["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def lottery_new(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = LotteryForm(request.POST or None)
    facilities = form.fields["facilities"]
    assert isinstance(facilities, forms.TypedMultipleChoiceField)
    facilities.choices = [
        (facility.pk, facility.name) for facility in facilities_published(staff.organisation)
    ]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            lottery = lottery_create(
                organisation=staff.organisation,
                staff=staff,
                name=data["name"],
                month=data["month"],
                entry_opens_at=data["entry_opens_at"],
                entry_closes_at=data["entry_closes_at"],
                draw_at=data["draw_at"],
                confirm_deadline=data["confirm_deadline"],
                release_at=data["release_at"],
                release_rule=data["release_rule"],
                category=data["category"] or "",
                facility_ids=data["facilities"],
                cap_per_month=data["cap_per_month"],
                cap_weekend=data["cap_weekend"],
                max_choices=data["max_choices"],
                now=now(),
            )
        except ReservationError as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(
                request, f"抽選「{lottery.name}」を作りました。コミットメントを公開しています。"
            )
            return redirect("console:lottery", lottery.pk)
    return render(
        request,
        "console/lotteries/new.html",
        {
            "staff": staff,
            "form": form,
            # Each field once, by its exact name (a substring test matched 利用月 twice).
            "time_fields": [form[name] for name in TIME_FIELDS],
            "cap_fields": [form[name] for name in CAP_FIELDS],
        },
        status=422 if request.method == "POST" else 200,
    )


def _lottery(staff: Staff, lottery_id: int) -> Lottery:
    try:
        return lottery_get(pk=lottery_id, organisation=staff.organisation)
    except Lottery.DoesNotExist:
        raise Http404("その抽選はありません。") from None


@require_GET
@staff_required()
def lottery_detail(request: HttpRequest, lottery_id: int, *, staff: Staff) -> HttpResponse:
    lottery = _lottery(staff, lottery_id)
    at = now()
    return render(
        request,
        "console/lotteries/detail.html",
        {
            "staff": staff,
            "lottery": lottery,
            "counts": _counts(lottery),
            "results": lottery_results(lottery)[:500] if lottery.drawn_at else [],
            "may_draw": can_manage(staff)
            and lottery.status == LotteryStatus.ACCEPTING
            and lottery.draw_at <= at,
        },
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def lottery_draw_run(request: HttpRequest, lottery_id: int, *, staff: Staff) -> HttpResponse:
    lottery = _lottery(staff, lottery_id)
    try:
        lottery_draw(organisation=staff.organisation, lottery_id=lottery.pk, staff=staff, now=now())
    except ReservationError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request, "抽選を実施し、結果を公開しました。当選・落選をメールで知らせます。"
        )
    return redirect("console:lottery", lottery.pk)
