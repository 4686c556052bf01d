"""Organisation admin pages for the documents the organisation issues (文書の設定):
the issuer, the number prefix and the 教示 (for the organisation and per procedure), the
number series with their 欠番, and the list of issued documents.

Every page is for the admin's own organisation only (another organisation's procedure is
404). Writes are :mod:`madoguchi.documents.notice_admin` services, which check, store and
audit; each view makes one call and opens no transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from madoguchi.applications.models import IssuedDocument
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedure_get, procedures_of
from madoguchi.console.access import staff_required
from madoguchi.console.forms_documents import NoticeSettingsForm, NumberVoidForm
from madoguchi.core.time import now as current_time
from madoguchi.documents.models import NumberSeries
from madoguchi.documents.notice_admin import (
    SETTINGS_FIELDS,
    NoticeSettingsRefused,
    NumberVoidRefused,
    document_number_void,
    document_settings_of,
    document_settings_save,
    documents_of,
    fiscal_year_now,
    number_series_of,
    procedure_notice_settings_keys,
    procedure_notice_settings_of,
    procedure_notice_settings_save,
)
from madoguchi.documents.notice_text import appeal_default, notice_settings
from madoguchi.forms.japanese import wareki
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

admin_required = staff_required(StaffRole.ADMIN)

DOCUMENTS_PER_PAGE = 50
_APPEALS = ("appeal_approve", "appeal_reject")


def _restore(request: HttpRequest) -> str:
    """The 教示 whose default the admin asked back (the button's value), or ""."""
    value = request.POST.get("restore", "")
    return value if value in _APPEALS else ""


@require_http_methods(["GET", "POST"])
@admin_required
def document_settings(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """発行者・文書番号の記号・教示 of the organisation, and the procedures with their own."""
    organisation = staff.organisation
    row = document_settings_of(organisation=organisation)
    current = {name: getattr(row, name) if row else "" for name in SETTINGS_FIELDS}
    if request.method == "POST":
        restore = _restore(request)
        # A restore button posts nothing but itself: the stored values, that one cleared.
        data: dict[str, Any] = (
            {**current, restore: ""} if restore else {n: request.POST.get(n, "") for n in current}
        )
        form = NoticeSettingsForm(data)
        if form.is_valid():
            try:
                document_settings_save(
                    organisation=organisation,
                    actor=staff.user,
                    data=form.cleaned_data,
                    now=current_time(),
                    procedure_names=_procedure_names(organisation),
                )
            except NoticeSettingsRefused as refused:
                for name, message in refused.errors.items():
                    form.add_error(name or None, message)
            else:
                messages.success(
                    request,
                    f"{SETTINGS_FIELDS[restore][0]}を既定の文に戻しました。"
                    if restore
                    else "文書の設定を保存しました。",
                )
                return redirect("console:documents_settings")
    else:
        form = NoticeSettingsForm(initial=current)
    effective = notice_settings(organisation)
    this_year = fiscal_year_now(now=current_time())
    running = next(
        (
            r.series
            for r in number_series_of(organisation=organisation)
            if r.series.key == "decision" and r.series.fiscal_year == this_year
        ),
        None,
    )
    own = procedure_notice_settings_keys(organisation=organisation)
    procedures = [
        {"procedure": p, "own": own.get(f"procedure:{p.pk}")}
        for p in procedures_of(organisation=organisation, published_only=False)
    ]
    return render(
        request,
        "console/documents/settings.html",
        {
            "form": form,
            "organisation": organisation,
            "effective": effective,
            "running": running,
            "defaults": _defaults(organisation, effective.issuer_title),
            "procedures": procedures,
        },
        status=400 if form.errors else 200,
    )


def _defaults(organisation: Organisation, issuer_title: str) -> dict[str, str]:
    return {
        "appeal_approve": appeal_default(
            issuer_title=issuer_title, organisation_name=organisation.name, refusal=False
        ),
        "appeal_reject": appeal_default(
            issuer_title=issuer_title, organisation_name=organisation.name, refusal=True
        ),
    }


@require_http_methods(["GET", "POST"])
@admin_required
def procedure_settings(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    """One procedure's own 文書番号・発行者・教示 (each empty field: the organisation's)."""
    organisation = staff.organisation
    try:
        procedure = procedure_get(organisation=organisation, procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise Http404 from None
    key = f"procedure:{procedure.pk}"
    row = procedure_notice_settings_of(organisation=organisation, procedure_key=key)
    current: dict[str, Any] = {n: getattr(row, n) if row else "" for n in SETTINGS_FIELDS}
    current["own_series"] = bool(row and row.own_series)
    if request.method == "POST":
        restore = _restore(request)
        # As on the organisation's page: a restore posts the stored values, that one cleared.
        source = {**current, restore: ""} if restore else request.POST
        data: dict[str, Any] = {n: source.get(n, "") for n in SETTINGS_FIELDS}
        if source.get("own_series"):
            data["own_series"] = "on"
        form = NoticeSettingsForm(data, procedure=True)
        if form.is_valid():
            try:
                procedure_notice_settings_save(
                    organisation=organisation,
                    actor=staff.user,
                    procedure_key=key,
                    data=form.cleaned_data,
                    now=current_time(),
                    procedure_names=_procedure_names(organisation),
                )
            except NoticeSettingsRefused as refused:
                for name, message in refused.errors.items():
                    form.add_error(name or None, message)
            else:
                messages.success(
                    request,
                    f"{SETTINGS_FIELDS[restore][0]}を団体の設定に戻しました。"
                    if restore
                    else f"「{procedure.name}」の文書の設定を保存しました。",
                )
                return redirect("console:documents_procedure_settings", procedure_id=procedure.pk)
    else:
        form = NoticeSettingsForm(initial=current, procedure=True)
    organisation_wide = notice_settings(organisation)
    return render(
        request,
        "console/documents/procedure_settings.html",
        {
            "form": form,
            "procedure": procedure,
            "organisation": organisation,
            "organisation_wide": organisation_wide,
            "effective": notice_settings(organisation, procedure_key=key),
        },
        status=400 if form.errors else 200,
    )


def _procedure_names(organisation: Organisation) -> dict[str, str]:
    """The organisation's procedures by series key (``procedure:<id>``) → name: documents
    knows procedures only by key, the console says their names."""
    return {
        f"procedure:{p.pk}": p.name
        for p in procedures_of(organisation=organisation, published_only=False)
    }


def _series_label(series: NumberSeries, names: dict[str, str]) -> str:
    default = "団体の番号" if series.key == "decision" else "削除された手続"
    kind = names.get(series.key) or default
    return f"{series.fiscal_year}年度 {series.prefix}第…号（{kind}）"


@require_safe
@admin_required
def numbers(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """文書番号の系列（今年度と過去の年度）、欠番、欠番にする操作."""
    return _numbers_page(request, staff, form=None)


def _numbers_page(
    request: HttpRequest, staff: Staff, *, form: NumberVoidForm | None, status: int = 200
) -> HttpResponse:
    rows = number_series_of(organisation=staff.organisation)
    procedures = _procedure_names(staff.organisation)
    choices = [(r.series.pk, _series_label(r.series, procedures)) for r in rows]
    if form is None:
        form = NumberVoidForm(choices=choices)
    return render(
        request,
        "console/documents/numbers.html",
        {
            "rows": [
                {
                    "row": r,
                    "used_by": "団体の番号（手続ごとの番号を使わない通知書）"
                    if r.series.key == "decision"
                    else procedures.get(r.series.key, r.series.key),
                    "year": f"{wareki_year(r.series.fiscal_year)}（{r.series.fiscal_year}年度）",
                }
                for r in rows
            ],
            "form": form,
            "this_year": fiscal_year_now(now=current_time()),
        },
        status=status,
    )


def wareki_year(fiscal_year: int) -> str:
    """令和8年度 for 2026 (the era of 1 April of that year)."""
    text = wareki(date(fiscal_year, 4, 1))
    return text.split("年", 1)[0] + "年度"


@require_POST
@admin_required
def number_void(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    rows = number_series_of(organisation=staff.organisation)
    names = _procedure_names(staff.organisation)
    choices = [(r.series.pk, _series_label(r.series, names)) for r in rows]
    form = NumberVoidForm(request.POST, choices=choices)
    if form.is_valid():
        try:
            gap = document_number_void(
                organisation=staff.organisation,
                actor=staff.user,
                series_id=form.cleaned_data["series"],
                number=form.cleaned_data["number"],
                reason=form.cleaned_data["reason"],
                now=current_time(),
            )
        except NumberSeries.DoesNotExist:
            form.add_error("series", "その系列は見つかりません。一覧から選んでください。")
        except NumberVoidRefused as refused:
            form.add_error(refused.field or None, str(refused))
        else:
            messages.success(request, f"{gap.series.prefix}第{gap.number}号を欠番にしました。")
            return redirect("console:documents_numbers")
    return _numbers_page(request, staff, form=form, status=400)


@require_safe
@admin_required
def documents(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """発行文書の一覧: number, kind, issue date, status; the application where there is one."""
    page = Paginator(documents_of(organisation=staff.organisation), DOCUMENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    ids = [d.pk for d in page.object_list]
    applications = dict(
        IssuedDocument.objects.filter(
            organisation=staff.organisation, record_id__in=ids
        ).values_list("record_id", "application_id")
    )
    return render(
        request,
        "console/documents/list.html",
        {
            "page": page,
            "rows": [
                {"document": d, "application_id": applications.get(d.pk)} for d in page.object_list
            ],
        },
    )
