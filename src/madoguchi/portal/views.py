"""Resident-facing pages: national top, prefecture portals, organisation pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from madoguchi.core.lgcode import InvalidLgCode, parse_lg_code
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import (
    MAX_QUERY_LENGTH,
    UnknownPrefecture,
    groups_of_organisation,
    municipalities_by_kind,
    organisation_get,
    organisations_filter,
    portal_group_for_prefecture,
    prefecture_get,
    prefectures_by_region,
)

SEARCH_LIMIT = 50


def _search(request: HttpRequest) -> tuple[str, list[Organisation], int]:
    q = request.GET.get("q", "")[:MAX_QUERY_LENGTH].strip()
    if not q:
        return "", [], 0
    qs = organisations_filter(q=q).exclude(kind=OrganisationKind.WARD)
    results = list(qs.select_related("prefecture")[: SEARCH_LIMIT + 1])
    return q, results[:SEARCH_LIMIT], len(results)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/index.html", {"regions": prefectures_by_region()})


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    q, results, found = _search(request)
    context = {"q": q, "results": results, "more": found > SEARCH_LIMIT, "limit": SEARCH_LIMIT}
    if request.headers.get("HX-Request") == "true":
        return render(request, "portal/_search_results.html", context)
    return render(request, "portal/search.html", context)


@require_GET
def prefecture(request: HttpRequest, code: str) -> HttpResponse:
    try:
        pref = prefecture_get(code=code)
    except UnknownPrefecture:
        raise Http404("その都道府県コードの都道府県はありません。") from None
    if code != pref.prefecture_code:
        return HttpResponsePermanentRedirect(
            reverse("portal:prefecture", args=[pref.prefecture_code])
        )
    return render(
        request,
        "portal/prefecture.html",
        {
            "prefecture": pref,
            "groups": municipalities_by_kind(prefecture=pref),
            "portal": portal_group_for_prefecture(prefecture=pref),
        },
    )


@require_GET
def organisation(request: HttpRequest, code: str) -> HttpResponse:
    try:
        lg_code = parse_lg_code(code)
    except InvalidLgCode:
        raise Http404("団体コードが正しくありません。") from None
    if lg_code != code:
        return HttpResponsePermanentRedirect(reverse("portal:organisation", args=[lg_code]))
    try:
        org = organisation_get(code=lg_code)
    except Organisation.DoesNotExist:
        raise Http404("その団体コードの団体はありません。") from None
    return render(
        request,
        "portal/organisation.html",
        {
            "org": org,
            "wards": list(org.wards.filter(active=True).order_by("lg_code")),
            "groups": list(groups_of_organisation(organisation=org)),
        },
    )
