"""Console: record staff's decision on a possible duplicate (the panel is part of the
application page). The view parses the form, calls one service, and shows the page again with
the message next to the panel when the service refuses."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from madoguchi.applications.duplicate_review import duplicate_resolve
from madoguchi.applications.review import ReviewError
from madoguchi.console.access import staff_required
from madoguchi.console.views_review import _after_post, _application, _post, _refused
from madoguchi.core.text import parse_int
from madoguchi.core.time import now
from madoguchi.identity.models import Staff


@require_POST
@staff_required()
def application_duplicate_resolve(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    application = _application(staff, application_id)
    other = _post(request, "other")
    reason = _post(request, "reason")
    try:
        duplicate_resolve(
            organisation=staff.organisation,
            staff=staff,
            application=application,
            other_id=other,
            verdict=_post(request, "verdict"),
            reason=reason,
            now=now(),
        )
    except ReviewError as error:
        values = {"dup_other": parse_int(other), "dup_reason": reason}
        return _refused(request, staff, application, "duplicates", error, values)
    return _after_post(request, application, "重複の可能性についての判断を記録しました。")
