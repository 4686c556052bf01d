"""Console pages for hand-over exports (基幹系への引き渡し): choose a procedure, a format, a
period and statuses, and download the file as it is produced (streamed).

Who may export (decided here, documented in the README's staff guide):

- every active staff member of the organisation may export its procedures with My Number
  masked — 閲覧のみ included, since they may already read every application on screen;
- only 団体管理者 and the 審査担当 who may handle the procedure may include My Number
  (特定個人情報), with a stated purpose, exactly as for revealing it on screen.

- bank accounts (振込先口座) are masked too; the same people may include them in full, with
  their own stated purpose (e.g. 支払処理), without unmasking My Number — each choice and
  its purpose is recorded in the export's audit event.

A Shift_JIS (cp932) export passes a check page first only when something must be replaced:
the page lists, in Japanese, every character that Shift_JIS cannot hold and says that it will
be written as 〓; the list itself can be downloaded. When every character fits, the file is
downloaded at once. Another organisation's procedure answers 404.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any, cast

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedure_get, procedures_of
from madoguchi.console.access import staff_required
from madoguchi.core.replica import replica_reads_download, replica_reads_view
from madoguchi.core.time import now
from madoguchi.identity.models import Staff
from madoguchi.integrations.exports import (
    CHOICE_OUTPUTS,
    GETA,
    ExportFormat,
    ExportOptions,
    ExportRefused,
    PreparedExport,
    applications_export,
    export_cp932_check,
    export_cp932_report,
    export_layout,
    staff_may_export_specific,
)

#: Problems listed on the check page; the downloadable report holds all of them.
CHECK_LIMIT = 200


class _JapaneseDateField(forms.DateField):
    """A date typed as 2025-04-01, full-width digits included (the browser's date picker
    sends the same form)."""

    input_formats = ["%Y-%m-%d"]  # noqa: RUF012  (Django reads it from the instance)

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
        return super().to_python(value)


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        label="出力形式",
        choices=ExportFormat.choices,
        initial=ExportFormat.CSV_UTF8,
        error_messages={
            "required": "出力形式を選んでください。",
            "invalid_choice": "出力形式を選んでください。",
        },
    )
    arrived_from = _JapaneseDateField(
        label="到達日（から）",
        required=False,
        error_messages={"invalid": "到達日（から）は 2025-04-01 の形で入力してください。"},
    )
    arrived_to = _JapaneseDateField(
        label="到達日（まで）",
        required=False,
        error_messages={"invalid": "到達日（まで）は 2025-04-01 の形で入力してください。"},
    )
    statuses = forms.MultipleChoiceField(
        label="状態",
        choices=ApplicationStatus.choices,
        required=False,
        error_messages={"invalid_choice": "状態の指定に、知らない値が含まれています。"},
    )
    labels = forms.BooleanField(label="2行目に日本語の項目名を入れる", required=False)
    choices = forms.ChoiceField(
        label="選択肢の書き方",
        choices=CHOICE_OUTPUTS,
        initial="labels",
        required=False,  # not sent (an older form, a script): labels
        error_messages={
            "required": "選択肢の書き方を選んでください。",
            "invalid_choice": "選択肢の書き方は「選択肢の名前」か「コード」から選んでください。",
        },
    )
    drop_empty = forms.BooleanField(
        label="選んだ申請のすべてで空欄の列は出力しない", required=False
    )
    include_specific = forms.BooleanField(
        label="個人番号（特定個人情報）を伏せずに出力する", required=False
    )
    purpose = forms.CharField(
        label="利用目的",
        required=False,
        max_length=500,
        error_messages={"max_length": "利用目的は500文字以内で入力してください。"},
    )
    include_bank = forms.BooleanField(label="口座番号・名義を伏せずに出力する", required=False)
    bank_purpose = forms.CharField(
        label="口座を伏せずに出力する利用目的",
        required=False,
        max_length=500,
        error_messages={"max_length": "口座の利用目的は500文字以内で入力してください。"},
    )

    def __init__(self, *args: Any, may_specific: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_specific = may_specific

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("arrived_from"), data.get("arrived_to")
        if start and end and start > end:
            self.add_error(
                "arrived_to", "到達日の「まで」は「から」と同じか、後の日付にしてください。"
            )
        if data.get("include_specific"):
            if not self.may_specific:
                self.add_error(
                    "include_specific",
                    "個人番号を含めて出力できるのは、団体管理者と、この手続を担当する"
                    "審査担当だけです。個人番号は伏せた形で出力できます。",
                )
            elif not (data.get("purpose") or "").strip():
                self.add_error(
                    "purpose",
                    "個人番号を含めるときは、利用目的を入力してください"
                    "（例: 基幹系システムへの登録のため）。",
                )
        if data.get("include_bank"):
            if not self.may_specific:
                self.add_error(
                    "include_bank",
                    "口座番号を伏せずに出力できるのは、団体管理者と、この手続を担当する"
                    "審査担当だけです。口座は伏せた形で出力できます。",
                )
            elif not (data.get("bank_purpose") or "").strip():
                self.add_error(
                    "bank_purpose",
                    "口座を伏せずに出力するときは、利用目的を入力してください"
                    "（例: 児童手当の支払処理のため）。",
                )
        return data

    def options(self) -> ExportOptions:
        data = self.cleaned_data
        return ExportOptions(
            format=data["format"],
            arrived_from=data.get("arrived_from"),
            arrived_to=data.get("arrived_to"),
            statuses=tuple(data.get("statuses") or ()),
            labels=bool(data.get("labels")),
            include_specific=bool(data.get("include_specific")),
            purpose=data.get("purpose") or "",
            include_bank=bool(data.get("include_bank")),
            bank_purpose=data.get("bank_purpose") or "",
            choices=data.get("choices") or "labels",
            drop_empty=bool(data.get("drop_empty")),
        )


def _procedure(staff: Staff, procedure_id: int) -> Procedure:
    try:
        return procedure_get(organisation=staff.organisation, procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise Http404 from None


def _stream(prepared: PreparedExport) -> HttpResponse:
    response = StreamingHttpResponse(prepared.chunks, content_type=prepared.content_type)
    response["Content-Disposition"] = prepared.content_disposition
    # Personal data: never kept by a shared proxy or the browser's cache.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # console.access types views as returning HttpResponse; a streaming one is as good.
    return cast(HttpResponse, response)


def _carry(request: HttpRequest) -> list[tuple[str, str]]:
    """The submitted choices, to be sent again from the check page as hidden fields."""
    keep = {"format", "arrived_from", "arrived_to", "statuses", "labels", "choices"}
    keep |= {"include_specific", "purpose", "include_bank", "bank_purpose", "drop_empty"}
    return [
        (key, value) for key in request.POST if key in keep for value in request.POST.getlist(key)
    ]


@require_GET
@staff_required()
@replica_reads_view
def exports(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    procedures = procedures_of(organisation=staff.organisation, published_only=False)
    return render(
        request, "console/exports/index.html", {"staff": staff, "procedures": list(procedures)}
    )


@require_http_methods(["GET", "POST"])
@staff_required()
@replica_reads_download
def export(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    procedure = _procedure(staff, procedure_id)
    layout = export_layout(procedure=procedure)
    may_specific = (layout.has_specific or layout.has_bank) and staff_may_export_specific(
        staff=staff, procedure=procedure
    )
    context: dict[str, Any] = {
        "staff": staff,
        "procedure": procedure,
        "columns": layout.columns,
        "has_specific": layout.has_specific,
        "has_bank": layout.has_bank,
        "may_specific": may_specific,
        "statuses": ApplicationStatus.choices,
        "formats": ExportFormat.choices,
        "geta": GETA,
    }
    if request.method == "GET":
        context["form"] = ExportForm(may_specific=may_specific)
        return render(request, "console/exports/form.html", context)

    form = ExportForm(request.POST, may_specific=may_specific)
    context["form"] = form
    if not form.is_valid():
        return render(request, "console/exports/form.html", context, status=400)
    options = form.options()
    action = request.POST.get("action", "download")
    moment = now()
    try:
        if action == "report":
            return _stream(
                export_cp932_report(
                    organisation=staff.organisation,
                    procedure=procedure,
                    staff=staff,
                    options=options,
                    now=moment,
                )
            )
        if options.format == ExportFormat.CSV_CP932 and (
            action == "check" or request.POST.get("acknowledged") != "1"
        ):
            check = export_cp932_check(
                organisation=staff.organisation,
                procedure=procedure,
                staff=staff,
                options=options,
                limit=CHECK_LIMIT,
            )
            # Only when something must be replaced (or the check was asked for) is there
            # anything to confirm; otherwise the file is downloaded at once.
            if check.total or action == "check":
                context.update({"check": check, "carry": _carry(request), "limit": CHECK_LIMIT})
                return render(request, "console/exports/check.html", context)
        prepared = applications_export(
            organisation=staff.organisation,
            procedure=procedure,
            staff=staff,
            options=options,
            now=moment,
        )
    except ExportRefused as error:
        form.add_error(None, str(error))
        return render(request, "console/exports/form.html", context, status=400)
    except Procedure.DoesNotExist:
        raise Http404 from None
    return _stream(prepared)
