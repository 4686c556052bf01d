"""The status page of a guest's application (no account, so no my page): reached only from
the signed link in the guest's mail (:mod:`madoguchi.applications.links`)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.documents import document_download_name
from madoguchi.applications.inbox import application_documents, issued_document_get
from madoguchi.applications.links import guest_application_from_token
from madoguchi.applications.models import Application, IssuedDocument
from madoguchi.applications.selectors import application_history, application_messages
from madoguchi.core.time import to_tokyo


def _guest_application(request: HttpRequest, token: str) -> Application:
    application = guest_application_from_token(token)
    if application is None:
        raise Http404("このリンクは正しくないか、申請が見つかりません。")
    return application


def _private(response: HttpResponse) -> HttpResponse:
    # The link is the key: never cached, never sent on as a referrer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def guest_status(request: HttpRequest, token: str) -> HttpResponse:
    application = _guest_application(request, token)
    return _private(
        render(
            request,
            "portal/status/status.html",
            {
                "application": application,
                "token": token,
                "arrived": to_tokyo(application.arrived_at),
                "status_label": ApplicationStatus(application.status).label,
                "history": application_history(application),
                "thread": application_messages(application),
                "documents": application_documents(application),
            },
        )
    )


@require_GET
def guest_document(request: HttpRequest, token: str, document_id: int) -> HttpResponse:
    application = _guest_application(request, token)
    try:
        document = issued_document_get(
            organisation=application.organisation, application=application, document_id=document_id
        )
    except IssuedDocument.DoesNotExist:
        raise Http404("その文書はありません。") from None
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = document_download_name(
        document, application, disposition="attachment"
    )
    return _private(response)
