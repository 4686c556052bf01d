"""Console pages for identity proofing (身元確認 level 2).

「窓口で本人確認」: counter staff type the resident's 本人確認コード, see what the resident
registered, tick the documents they saw, confirm or correct name, address and birth date, and
record. From an application whose applicant attached an ID image: the same form, recorded as
``image_proofing`` for the applicant and linked to the application. Staff revoke records their
organisation made. Reviewers and admins only; everything is scoped to the staff member's
organisation (another organisation's record or application answers 404).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications.attachments import attachments_of_application
from madoguchi.applications.inbox import applicant_name, application_get
from madoguchi.applications.models import Application
from madoguchi.console.access import staff_required
from madoguchi.core.request import client_address
from madoguchi.core.time import now
from madoguchi.identity.constants import PHOTO_DOCUMENTS, ProofingDocument, StaffRole
from madoguchi.identity.models import Staff
from madoguchi.identity.proofing import (
    ProofingRefused,
    ProofingSubject,
    identity_proofing_record,
    identity_proofing_revoke,
    proofing_code_lookup,
    proofings_recorded_by,
)

ROLES = (StaffRole.ADMIN, StaffRole.REVIEWER)
MAX_FIELD = 1000


def _document_choices() -> list[tuple[str, str]]:
    return [
        (value, f"{label}{'（顔写真付き）' if value in PHOTO_DOCUMENTS else ''}")
        for value, label in ProofingDocument.choices
    ]


class ProofingForm(forms.Form):
    """What staff confirm: the documents seen and the attributes as the documents show them.
    Parsing only; the rule (one photo ID, or two without) is the service's."""

    documents = forms.MultipleChoiceField(
        label="確認した本人確認書類（顔写真付きなら1点、顔写真なしなら2点）",
        choices=_document_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "確認した書類を選んでください。",
            "invalid_choice": "書類は一覧から選んでください。",
        },
    )
    name = forms.CharField(
        label="氏名（書類のとおり）",
        max_length=128,
        error_messages={
            "required": "氏名を入力してください。",
            "max_length": "氏名は128文字以内で入力してください。",
        },
    )
    address = forms.CharField(
        label="住所（書類のとおり）",
        max_length=256,
        error_messages={
            "required": "住所を入力してください。",
            "max_length": "住所は256文字以内で入力してください。",
        },
    )
    birth_date = forms.DateField(
        label="生年月日（例: 1990-04-01）",
        input_formats=["%Y-%m-%d", "%Y/%m/%d"],
        error_messages={
            "required": "生年月日を入力してください。",
            "invalid": "生年月日は 1990-04-01 の形で入力してください。",
        },
    )


def _counter_page(
    request: HttpRequest,
    staff: Staff,
    *,
    subject: ProofingSubject | None = None,
    form: ProofingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "console/proofing/counter.html",
        {
            "staff": staff,
            "subject": subject,
            "form": form,
            "error": error,
            "records": proofings_recorded_by(organisation_id=staff.organisation_id),
        },
        status=status,
    )


def _initial(subject: ProofingSubject) -> dict[str, Any]:
    return {
        "name": subject.name,
        "address": subject.address,
        "birth_date": subject.birth_date.isoformat() if subject.birth_date else "",
    }


@require_http_methods(["GET", "POST"])
@staff_required(*ROLES)
def counter(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """GET: the code field and the organisation's recent records. POST ``code``: the account
    it names (the look-up is audited), with the form to record."""
    if request.method == "GET":
        return _counter_page(request, staff)
    try:
        subject = proofing_code_lookup(
            staff=staff,
            code=str(request.POST.get("code", ""))[:MAX_FIELD],
            address=client_address(request),
            now=now(),
        )
    except ProofingRefused as refused:
        return _counter_page(request, staff, error=refused.message, status=refused.status)
    return _counter_page(
        request, staff, subject=subject, form=ProofingForm(initial=_initial(subject))
    )


@require_POST
@staff_required(*ROLES)
def counter_record(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """Record counter proofing for the account of the posted code."""
    code = str(request.POST.get("code", ""))[:MAX_FIELD]
    form = ProofingForm(request.POST)
    if form.is_valid():
        try:
            identity_proofing_record(
                staff=staff,
                method="counter_proofing",
                code=code,
                documents=form.cleaned_data["documents"],
                name=form.cleaned_data["name"],
                address=form.cleaned_data["address"],
                birth_date=form.cleaned_data["birth_date"],
                now=now(),
            )
        except ProofingRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "身元確認を記録しました。住民の方の身元確認はレベル2です。")
            return redirect("console:proofing_counter")
    try:
        subject = proofing_code_lookup(
            staff=staff, code=code, address=client_address(request), now=now()
        )
    except ProofingRefused as refused:
        return _counter_page(request, staff, error=refused.message, status=refused.status)
    return _counter_page(request, staff, subject=subject, form=form, status=422)


@require_POST
@staff_required(*ROLES)
def revoke(request: HttpRequest, proofing_id: int, *, staff: Staff) -> HttpResponse:
    """Revoke a record this organisation made (with a reason); another's answers 404."""
    try:
        done = identity_proofing_revoke(
            staff=staff,
            proofing_id=proofing_id,
            reason=str(request.POST.get("reason", ""))[:MAX_FIELD],
            now=now(),
        )
    except ProofingRefused as refused:
        return _counter_page(request, staff, error=refused.message, status=refused.status)
    if not done:
        raise Http404
    messages.success(request, "身元確認の記録を取り消しました。")
    return redirect("console:proofing_counter")


# --- From an application ----------------------------------------------------------------------


def _application(staff: Staff, application_id: int) -> Application:
    try:
        return application_get(organisation=staff.organisation, application_id=application_id)
    except Application.DoesNotExist:
        raise Http404 from None


@require_http_methods(["GET", "POST"])
@staff_required(*ROLES)
def application_proofing(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    """Record image proofing for the applicant of one of this organisation's applications,
    from the ID image they attached."""
    application = _application(staff, application_id)
    form = ProofingForm(
        request.POST if request.method == "POST" else None,
        initial={"name": applicant_name(application)},
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                identity_proofing_record(
                    staff=staff,
                    method="image_proofing",
                    applicant=application.applicant,
                    application_id=application.pk,
                    documents=form.cleaned_data["documents"],
                    name=form.cleaned_data["name"],
                    address=form.cleaned_data["address"],
                    birth_date=form.cleaned_data["birth_date"],
                    now=now(),
                )
            except ProofingRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, "申請者の身元確認（画像による確認）を記録しました。")
                return redirect("console:application", application_id=application.pk)
    return render(
        request,
        "console/proofing/application.html",
        {
            "staff": staff,
            "application": application,
            "has_account": application.applicant_id is not None,
            "attachments": attachments_of_application(
                organisation=staff.organisation, application=application
            ),
            "form": form,
        },
        status=status,
    )
