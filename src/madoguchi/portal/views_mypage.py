"""My page (マイページ): my applications, drafts, messages, corrections, withdrawal."""

from __future__ import annotations

from typing import Any

import segno
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.applications.attachments import attachments_upload
from madoguchi.applications.constants import WITHDRAWABLE, ApplicationStatus
from madoguchi.applications.documents import document_download_name
from madoguchi.applications.inbox import application_documents, issued_document_get
from madoguchi.applications.models import Application, IssuedDocument
from madoguchi.applications.review import (
    TransitionRefused,
    application_correction_answer,
    application_messages_mark_read,
    application_withdraw,
)
from madoguchi.applications.selectors import (
    application_history,
    application_messages,
    application_of_applicant,
    application_rows,
    applications_of_applicant,
    correction_prefill,
    drafts_of_applicant,
    open_correction,
)
from madoguchi.applications.services import ValidationFailed
from madoguchi.core.roles import role_reverse
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.answers import holds_specific
from madoguchi.forms.base import FieldSpec, FormSpec, SectionSpec, StepSpec
from madoguchi.forms.rendering import answers_from_post, error_summary, input_name, render_step
from madoguchi.forms.selectors import form_spec
from madoguchi.portal.access import resident_of, resident_required

PAGE_SIZE = 50


def _application(request: HttpRequest, receipt_number: str) -> Application:
    try:
        return application_of_applicant(
            applicant=resident_of(request), receipt_number=receipt_number
        )
    except Application.DoesNotExist:
        raise Http404("その申請はありません。") from None


@require_GET
@resident_required
def index(request: HttpRequest) -> HttpResponse:
    items = list(applications_of_applicant(applicant=resident_of(request))[: PAGE_SIZE + 1])
    return render(
        request,
        "portal/mypage/index.html",
        {
            "applications": items[:PAGE_SIZE],
            "more": len(items) > PAGE_SIZE,
            "drafts": list(drafts_of_applicant(applicant=resident_of(request))[:50]),
        },
    )


@require_GET
@resident_required
def detail(request: HttpRequest, receipt_number: str) -> HttpResponse:
    application = _application(request, receipt_number)
    thread = application_messages(application)
    application_messages_mark_read(
        applicant=resident_of(request), application=application, now=now()
    )
    return render(
        request,
        "portal/mypage/detail.html",
        {
            "application": application,
            "arrived": to_tokyo(application.arrived_at),
            "rows": application_rows(application),
            "history": application_history(application),
            "thread": thread,
            "documents": application_documents(application),
            "correction": open_correction(application),
            "withdrawable": application.status in WITHDRAWABLE
            and application.procedure.settings.get("allow_withdrawal") is not False,
            "status_label": ApplicationStatus(application.status).label,
        },
    )


def _correction_step(spec: FormSpec, fields: list[str]) -> StepSpec:
    """A step made of only the fields the organisation asked to correct."""
    chosen: tuple[FieldSpec, ...] = tuple(f for f in spec.fields if f.key in fields)
    section = SectionSpec(key="correction", title="補正する項目", description="", fields=chosen)
    return StepSpec(key="correction", title="補正する項目", sections=(section,))


@require_http_methods(["GET", "POST"])
@resident_required
def correct(request: HttpRequest, receipt_number: str) -> HttpResponse:
    """Answer a correction request (補正): change only the indicated answers."""
    application = _application(request, receipt_number)
    request_message = open_correction(application)
    if request_message is None:
        messages.info(request, _("この申請には、回答が必要な補正のお願いはありません。"))
        return redirect("portal:apply:mypage_detail", application.receipt_number)
    spec = form_spec(application.form_version)
    step = _correction_step(spec, list(request_message.fields))
    current = correction_prefill(application=application, fields=request_message.fields)
    errors: dict[str, str] = {}
    answers: dict[str, Any] = dict(current)
    if request.method == "POST":
        posted = answers_from_post(spec, request.POST)
        changes: dict[str, Any] = {}
        for f in step.fields:
            if f.type == "attachment":
                # The same upload as when applying: limits, checks, cleaned names.
                batch = attachments_upload(
                    procedure=application.procedure,
                    field_key=f.key,
                    files=request.FILES.getlist(input_name(f.key)),
                    kept=[
                        i
                        for i in (current.get(f.key) or [])
                        if i.get("id") not in request.POST.getlist("_remove_file")
                    ],
                    owner=resident_of(request),
                    application=application,
                    now=now(),
                )
                if batch.refusals:
                    errors[f.key] = batch.error
                changes[f.key] = batch.items
            elif f.key in posted:
                changes[f.key] = posted[f.key]
        answers = {**current, **changes}
        if not errors:
            try:
                application_correction_answer(
                    applicant=resident_of(request),
                    application=application,
                    changes=changes,
                    note=request.POST.get("note", ""),
                    now=now(),
                )
            except ValidationFailed as failure:
                errors = failure.errors
            except TransitionRefused as error:
                messages.error(request, str(error))
                return redirect("portal:apply:mypage_detail", application.receipt_number)
            else:
                messages.success(request, _("補正した内容を送信しました。担当者が確認します。"))
                return redirect("portal:apply:mypage_detail", application.receipt_number)
    return render(
        request,
        "portal/mypage/correct.html",
        {
            "application": application,
            "request_message": request_message,
            "fields_html": render_step(spec, step, answers, errors),
            "errors": error_summary(spec, errors),
            "multipart": any(f.type == "attachment" for f in step.fields),
            "files": [
                {"key": f.key, "label": f.label, "items": list(answers.get(f.key) or [])}
                for f in step.fields
                if f.type == "attachment"
            ],
            "asked_again": [f.label for f in step.fields if holds_specific(f)],
            "masked_account": any(
                f.type == "bank_account" and isinstance(current.get(f.key), dict)
                for f in step.fields
            ),
            "note": request.POST.get("note", "")[:4000],
        },
        status=422 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
@resident_required
def withdraw(request: HttpRequest, receipt_number: str) -> HttpResponse:
    """Withdraw (取下げ) after a confirmation page that says what it means."""
    application = _application(request, receipt_number)
    error = ""
    if request.method == "POST":
        try:
            application_withdraw(
                applicant=resident_of(request),
                application=application,
                reason=request.POST.get("reason", ""),
                now=now(),
            )
        except TransitionRefused as refused:
            error = str(refused)
        else:
            messages.success(request, _("申請を取り下げました。"))
            return redirect("portal:apply:mypage_detail", application.receipt_number)
    return render(
        request,
        "portal/mypage/withdraw.html",
        {"application": application, "error": error},
        status=409 if error else 200,
    )


@require_GET
@resident_required
def document_pdf(request: HttpRequest, receipt_number: str, document_id: int) -> HttpResponse:
    """A document the organisation issued for this application (決定通知書 …)."""
    application = _application(request, receipt_number)
    try:
        document = issued_document_get(
            organisation=application.organisation,
            application=application,
            document_id=document_id,
        )
    except IssuedDocument.DoesNotExist:
        raise Http404("その文書はありません。") from None
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = document_download_name(
        document, application, disposition="attachment"
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@resident_required
def draft_counter(request: HttpRequest, draft_id: str) -> HttpResponse:
    """書かない窓口: show a QR code and a short code that counter staff use to open this draft.

    GET explains; POST issues a new code (the previous one stops working) and shows it once:
    only its hash is stored, so it cannot be shown again later.
    """
    from madoguchi.applications.models import Draft
    from madoguchi.applications.received import counter_handoff_issue, handoff_code_display

    user = resident_of(request)
    drafts = {str(d.pk): d for d in drafts_of_applicant(applicant=user)[:50]}
    draft = drafts.get(str(draft_id))
    if draft is None:
        raise Http404("その下書きはありません。")
    context: dict[str, Any] = {"draft": draft}
    if request.method == "POST":
        try:
            issued = counter_handoff_issue(applicant=user, draft_id=draft.pk, now=now())
        except Draft.DoesNotExist:
            raise Http404("その下書きはありません。") from None
        # The counter staff scan it in the console, which may run on another host (LGWAN).
        url = request.build_absolute_uri(role_reverse("console:counter_handoff", [issued.token]))
        context.update(
            {
                "qr_svg": mark_safe(  # noqa: S308 (segno's own SVG, no user text in it)
                    segno.make(url, error="m").svg_inline(
                        scale=5, border=4, title="窓口で読み取るQRコード"
                    )
                ),
                "code": handoff_code_display(issued.code),
                "expires_at": to_tokyo(issued.expires_at),
            }
        )
    return render(request, "portal/mypage/counter.html", context)
