"""Console: a print view of one application (answers, facts, files by name and the 経過),
without navigation or forms. Opening it is recorded like opening the application."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.applications.attachments import attachments_of_application
from madoguchi.applications.inbox import applicant_name, application_get
from madoguchi.applications.models import Application
from madoguchi.applications.received import received_facts
from madoguchi.applications.review import application_view_record
from madoguchi.applications.selectors import application_rows
from madoguchi.applications.versions import application_history_rows
from madoguchi.console.access import staff_required
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.models import Staff


@require_GET
@staff_required()
def application_print(request: HttpRequest, application_id: int, *, staff: Staff) -> HttpResponse:
    try:
        application = application_get(
            organisation=staff.organisation, application_id=application_id
        )
    except Application.DoesNotExist:
        raise Http404 from None
    when = now()
    application_view_record(
        organisation=staff.organisation,
        application=application,
        staff=staff,
        now=when,
        channel="print",
    )
    response = render(
        request,
        "console/review/print.html",
        {
            "staff": staff,
            "application": application,
            "name": applicant_name(application),
            "rows": application_rows(application),
            "attachments": attachments_of_application(
                organisation=staff.organisation, application=application
            ),
            "history": application_history_rows(
                organisation=staff.organisation, application=application
            ),
            "received": received_facts(application),
            "printed": to_tokyo(when),
        },
    )
    response["Cache-Control"] = "private, no-store"
    return response
