"""Console pages that withdraw (取消し) or replace with a corrected notice (訂正して差し替える)
a document issued for an application. Each is a confirmation page (GET: what will happen, in
words, and the reason field) and its POST (one service call). The rules live in
:mod:`madoguchi.documents.services` and :mod:`madoguchi.applications.notices`.

The document is named by its :class:`IssuedDocument` id inside the application (as the PDF
link is), looked up in the staff member's own organisation: another organisation's answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from madoguchi.applications.constants import IssuedDocumentKind
from madoguchi.applications.inbox import applicant_name, application_get, issued_document_get
from madoguchi.applications.models import Application, IssuedDocument
from madoguchi.applications.notices import (
    OUTCOME_OF_KIND,
    application_document_withdraw,
    certificate_correct,
    decision_notice_correct,
    decision_reason_current,
)
from madoguchi.applications.review import ReviewError
from madoguchi.console.access import staff_required
from madoguchi.core.time import now
from madoguchi.documents.certificate import DAMAGE_LEVELS
from madoguchi.documents.codes import verify_url
from madoguchi.documents.seal import SealError
from madoguchi.documents.services import (
    MAX_STATUS_REASON,
    DocumentNotAllowed,
    DocumentRefused,
    staff_may_change_documents,
)
from madoguchi.identity.models import Staff

MAX_FIELD = 20000


def _issued(
    staff: Staff, application_id: int, document_id: int
) -> tuple[Application, IssuedDocument]:
    try:
        application = application_get(
            organisation=staff.organisation, application_id=application_id
        )
        issued = issued_document_get(
            organisation=staff.organisation, application=application, document_id=document_id
        )
    except (Application.DoesNotExist, IssuedDocument.DoesNotExist):
        raise Http404 from None
    return application, issued


def _require(staff: Staff) -> None:
    if not staff_may_change_documents(staff):
        raise PermissionDenied(
            "発行した文書の取消しと差替えは、団体管理者か決裁権限のある職員だけができます。"
        )


def _context(application: Application, issued: IssuedDocument, **extra: Any) -> dict[str, Any]:
    record = issued.record
    return {
        "application": application,
        "issued": issued,
        "record": record,
        "name": applicant_name(application),
        "verify_url": verify_url(record.code),
        "max_reason": MAX_STATUS_REASON,
        **extra,
    }


def _text(error: Exception) -> str:
    return str(error.args[0]) if error.args else str(error)


@require_http_methods(["GET", "POST"])
@staff_required()
def document_withdraw_view(
    request: HttpRequest, application_id: int, document_id: int, *, staff: Staff
) -> HttpResponse:
    application, issued = _issued(staff, application_id, document_id)
    _require(staff)
    reason = str(request.POST.get("reason", ""))[:MAX_FIELD]
    if request.method == "POST":
        try:
            application_document_withdraw(
                organisation=staff.organisation,
                staff=staff,
                application=application,
                issued_id=issued.pk,
                reason=reason,
                now=now(),
            )
        except (DocumentRefused, DocumentNotAllowed) as error:
            context = _context(application, issued, reason=reason, error=_text(error))
            return render(request, "console/review/document_withdraw.html", context, status=400)
        messages.success(
            request,
            f"{issued.title}を取り消しました。検証ページに「取り消されています」と表示され、"
            "申請者のマイページとメールで知らせます。",
        )
        return redirect("console:application", application.pk)
    return render(request, "console/review/document_withdraw.html", _context(application, issued))


@require_http_methods(["GET", "POST"])
@staff_required()
def document_correct_view(
    request: HttpRequest, application_id: int, document_id: int, *, staff: Staff
) -> HttpResponse:
    application, issued = _issued(staff, application_id, document_id)
    _require(staff)
    certificate = issued.kind == IssuedDocumentKind.CERTIFICATE
    if issued.kind not in OUTCOME_OF_KIND and not certificate:
        raise Http404
    reason_text = str(request.POST.get("reason_text", ""))[:MAX_FIELD]
    note = str(request.POST.get("correction_note", ""))[:MAX_FIELD]
    level = str(request.POST.get("damage_level", ""))[:MAX_FIELD]
    outcome = "approve" if certificate else OUTCOME_OF_KIND[issued.kind]  # type: ignore[index]
    extra = {
        "reason_text": reason_text,
        "correction_note": note,
        "outcome": str(outcome),
        "certificate": certificate,
        "damage_levels": DAMAGE_LEVELS,
        "damage_level": level,
    }
    if request.method == "POST":
        try:
            if certificate:
                corrected = certificate_correct(
                    organisation=staff.organisation,
                    staff=staff,
                    application=application,
                    document_id=issued.record_id,
                    damage_level=level,
                    note_text=reason_text,
                    correction_note=note,
                    now=now(),
                )
            else:
                corrected = decision_notice_correct(
                    organisation=staff.organisation,
                    staff=staff,
                    application=application,
                    document_id=issued.record_id,
                    reason_text=reason_text,
                    correction_note=note,
                    now=now(),
                )
        except (DocumentRefused, DocumentNotAllowed, ReviewError, SealError) as error:
            context = _context(application, issued, error=_text(error), **extra)
            return render(request, "console/review/document_correct.html", context, status=400)
        except IssuedDocument.DoesNotExist:
            raise Http404 from None
        messages.success(
            request,
            f"訂正した文書（{corrected.record.number or corrected.title}）を交付し、"
            "以前の文書を差し替えました。申請者にマイページとメールで知らせます。",
        )
        return redirect("console:application", application.pk)
    extra["reason_text"] = decision_reason_current(application)  # changed, not retyped
    return render(
        request, "console/review/document_correct.html", _context(application, issued, **extra)
    )
