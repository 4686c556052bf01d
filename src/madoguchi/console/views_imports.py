"""Counts of procedures done in other systems (eLTAX, the library's OPAC, the water utility …):
the organisation admin's upload, its result, the past imports and the counts in force.

An admin imports only their own organisation's rows (``scope_organisation``); the checks,
the all-or-nothing storing and the audit are :func:`madoguchi.stats.imports.counts_import`'s,
the same service ``madoguchi stats import`` calls. An import of another organisation answers
404.

The upload is refused early when it is too large: a request that declares more than the limit
is answered before its body is read, and one that does not say (or lies) is cut off by an
upload handler as soon as the limit is passed, so a 100 MB file is never read whole.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from madoguchi.console.access import staff_required
from madoguchi.core.time import now as current_time
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.stats.categories import category
from madoguchi.stats.figures import rate
from madoguchi.stats.imports import (
    COLUMN_HELP,
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportRejected,
    count_import_of,
    count_imports_of,
    counts_import,
    imported_counts_of,
    period_label,
    template_csv,
)

admin_required = staff_required(StaffRole.ADMIN)

#: Room for the multipart envelope and the CSRF field around the file itself.
_ENVELOPE = 64 * 1024
_TOO_LARGE = (
    f"ファイルが大きすぎます（{MAX_FILE_BYTES // (1024 * 1024)} MB まで）。"
    "ファイルを分けて取り込んでください。何も取り込んでいません。"
)


class CountsFileForm(forms.Form):
    counts_file = forms.FileField(
        label="件数のファイル（CSV または Excel）",
        help_text=(
            f"CSV（UTF-8 または Shift_JIS）か Excel（xlsx）。{MAX_FILE_BYTES // (1024 * 1024)} MB、"
            f"{MAX_ROWS:,} 行まで。"
        ),
        error_messages={
            "required": "件数のファイルを選んでください。",
            "empty": "ファイルが空です。",
            "invalid": "ファイルを選び直してください。",
        },
    )


class _UploadLimit(FileUploadHandler):
    """Stops reading the request as soon as the file passes the limit (the rest of the body
    is not read: nothing beyond the limit is kept in memory or on disk)."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _counts_rows(staff: Staff, batch_id: int | None = None) -> list[dict[str, Any]]:
    rows = []
    for count in imported_counts_of(organisation=staff.organisation, batch_id=batch_id):
        found = category(count.category_code)
        rows.append(
            {
                "category_code": count.category_code,
                "category_name": found.name if found else count.category_code,
                "period": period_label(count.fiscal_year, count.month),
                "total": count.total,
                "online": count.online,
                "rate": rate(total=count.total, online=count.online),
                "batch_id": count.batch_id,
            }
        )
    return rows


def _index(
    request: HttpRequest,
    staff: Staff,
    *,
    form: CountsFileForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "staff": staff,
        "form": form or CountsFileForm(),
        "errors": errors or [],
        "columns": COLUMN_HELP,
        "imports": list(count_imports_of(organisation=staff.organisation)[:100]),
        "counts": _counts_rows(staff),
        "max_mb": MAX_FILE_BYTES // (1024 * 1024),
        "max_rows": MAX_ROWS,
    }
    return render(request, "console/imports/index.html", context, status=status)


@require_GET
@admin_required
def imports(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return _index(request, staff)


@require_GET
@admin_required
def import_template(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        "attachment; filename=\"counts-template.csv\"; filename*=UTF-8''"
        "%E4%BB%B6%E6%95%B0%E3%81%AE%E3%81%B2%E3%81%AA%E5%BD%A2.csv"
    )
    return response


@csrf_exempt  # checked by _import_checked, once the size is known to be acceptable
@require_POST
@admin_required
def import_upload(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_FILE_BYTES + _ENVELOPE:
        # Answered without reading the body.
        return _index(request, staff, errors=[_TOO_LARGE], status=413)
    limit = _UploadLimit(request, MAX_FILE_BYTES)
    request.upload_handlers.insert(0, limit)
    return _import_checked(request, staff=staff, limit=limit)


@csrf_protect
def _import_checked(request: HttpRequest, *, staff: Staff, limit: _UploadLimit) -> HttpResponse:
    form = CountsFileForm(request.POST, request.FILES)
    if limit.exceeded:
        return _index(request, staff, errors=[_TOO_LARGE], status=413)
    if not form.is_valid():
        return _index(request, staff, form=form, status=400)
    upload = form.cleaned_data["counts_file"]
    try:
        report = counts_import(
            content=upload.read(MAX_FILE_BYTES + 1),
            file_name=str(upload.name or ""),
            scope_organisation=staff.organisation,
            actor=staff.user,
            now=current_time(),
        )
    except ImportRejected as error:
        context = {"staff": staff, "error": error, "file_name": upload.name}
        return render(request, "console/imports/result.html", context, status=400)
    return render(request, "console/imports/result.html", {"staff": staff, "report": report})


@require_GET
@admin_required
def import_detail(request: HttpRequest, *, staff: Staff, batch_id: int) -> HttpResponse:
    touched = count_import_of(organisation=staff.organisation, batch_id=batch_id)
    if touched is None:
        raise Http404
    context = {"staff": staff, "touched": touched, "counts": _counts_rows(staff, batch_id)}
    return render(request, "console/imports/detail.html", context)
