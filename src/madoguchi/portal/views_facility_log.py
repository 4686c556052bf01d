"""施設の公開記録 (public): each time a slot of a facility was released, cancelled, expired,
closed or changed by staff — when, which slot, by which rule — so that anyone can see that
slots change hands by the published rules (公平性のため). No personal data is stored in the
log, so none can be shown."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.reservations.models import Facility
from madoguchi.reservations.selectors import facility_get
from madoguchi.reservations.staff_selectors import facility_log
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

PER_PAGE = 50


@require_GET
def facility_log_page(request: HttpRequest, code: str, facility_id: int) -> HttpResponse:
    try:
        org = organisation_get(code=code)
        facility = facility_get(org, facility_id)
    except (InvalidLgCode, Organisation.DoesNotExist, Facility.DoesNotExist):
        raise Http404("その施設はありません。") from None
    page = Paginator(facility_log(facility), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/facility_log.html",
        {"org": org, "facility": facility, "page": page},
    )
