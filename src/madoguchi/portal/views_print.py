"""My page: a print view of one of my applications (申請の控え), answers without navigation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.selectors import application_history, application_rows
from madoguchi.core.time import now, to_tokyo
from madoguchi.portal.access import resident_required
from madoguchi.portal.views_mypage import _application


@require_GET
@resident_required
def application_print(request: HttpRequest, receipt_number: str) -> HttpResponse:
    """The applicant's own application laid out for paper; another person's: 404."""
    application = _application(request, receipt_number)
    response = render(
        request,
        "portal/mypage/print.html",
        {
            "application": application,
            "arrived": to_tokyo(application.arrived_at),
            "printed": to_tokyo(now()),
            "rows": application_rows(application),
            "history": application_history(application),
            "status_label": ApplicationStatus(application.status).label,
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response
