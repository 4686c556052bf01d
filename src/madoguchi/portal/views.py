"""Resident-facing pages: national top, prefecture portals, organisation pages."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from madoguchi.applications.services import procedure_is_open
from madoguchi.catalog.models import LifeEvent, Procedure
from madoguchi.catalog.organisation_info import organisation_contact_of
from madoguchi.catalog.presentation import procedure_guide
from madoguchi.catalog.selectors import (
    life_events_list,
    online_organisations_in_prefecture,
    procedures_of,
    procedures_search,
)
from madoguchi.catalog.testers import procedure_for_applicant
from madoguchi.core.lgcode import InvalidLgCode, parse_lg_code
from madoguchi.core.text import strip_invisible
from madoguchi.core.time import now
from madoguchi.identity.assurance import LEVEL_NAMES, assurance_shortfall, identity_current
from madoguchi.identity.models import User
from madoguchi.reservations.selectors import facilities_published
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import (
    MAX_QUERY_LENGTH,
    UnknownPrefecture,
    group_get,
    group_members,
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
    # Controls and bidi overrides are never part of a name: drop them before searching and
    # before echoing the words back (a bare NUL would otherwise match every organisation).
    q = strip_invisible(request.GET.get("q", "")[:MAX_QUERY_LENGTH]).strip()
    if not q:
        return "", [], 0
    qs = organisations_filter(q=q).exclude(kind=OrganisationKind.WARD)
    results = list(qs.select_related("prefecture")[: SEARCH_LIMIT + 1])
    return q, results[:SEARCH_LIMIT], len(results)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/index.html",
        {"regions": prefectures_by_region(), "life_events": list(life_events_list())},
    )


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    q, results, found = _search(request)
    procedures = (
        list(procedures_search(q=q).prefetch_related("life_events")[:SEARCH_LIMIT]) if q else []
    )
    context = {
        "q": q,
        "results": results,
        "more": found > SEARCH_LIMIT,
        "limit": SEARCH_LIMIT,
        "procedures": procedures,
    }
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
            "online": online_organisations_in_prefecture(prefecture_code=pref.prefecture_code),
        },
    )


@require_GET
def group(request: HttpRequest, slug: str) -> HttpResponse:
    """The portal of a shared group (共同利用グループ), prefecture-wide or not."""
    try:
        shared_group = group_get(slug=slug)
    except SharedGroup.DoesNotExist:
        raise Http404("その共同利用グループはありません。") from None
    if shared_group.prefecture is not None:
        return redirect("portal:prefecture", shared_group.prefecture.prefecture_code)
    return render(
        request,
        "portal/group.html",
        {"group": shared_group, "members": list(group_members(group=shared_group))},
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
            "procedures": list(procedures_of(organisation=org).prefetch_related("life_events")),
            "life_events": list(life_events_list()),
            "contact": organisation_contact_of(organisation=org),
            "has_facilities": facilities_published(org).exists(),
        },
    )


def _organisation_or_404(code: str) -> Organisation:
    try:
        return organisation_get(code=code)
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404("その団体コードの団体はありません。") from None


@require_GET
def procedure(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    org = _organisation_or_404(code)
    try:
        item = procedure_for_applicant(
            organisation=org, procedure_id=procedure_id, user=request.user
        )
    except Procedure.DoesNotExist:
        raise Http404("その手続はありません。") from None
    return render(
        request,
        "portal/procedure.html",
        {
            "org": org,
            "procedure": item,
            "guide": procedure_guide(item),
            "life_events": list(item.life_events.all()),
            "is_open": procedure_is_open(item, now(), applicant=request.user),
            "mine": _my_levels(request, item),
            "contact": organisation_contact_of(organisation=org),
        },
    )


def _my_levels(request: HttpRequest, item: Procedure) -> dict[str, Any] | None:
    """For a logged-in resident: the levels this session has, and what is still missing for
    this procedure before sending (the rule the submission service applies)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    identity = identity_current(user=user, session=request.session)
    if identity is None:
        return None
    short = assurance_shortfall(
        ial=item.ial,
        aal=item.aal,
        signature_required=item.signature_required,
        identity=identity,
        signed=False,
    )
    return {
        "text": f"身元確認{LEVEL_NAMES[identity.ial]}・当人認証{LEVEL_NAMES[identity.aal]}",
        # A signature is given on the confirmation page; only a level short of it is a gap now.
        "short": short
        if short is not None and (short.needs_ial > identity.ial or short.needs_aal > identity.aal)
        else None,
    }


@require_GET
def life_event(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        event = life_events_list().get(slug=slug[:64])
    except LifeEvent.DoesNotExist:
        raise Http404("そのライフイベントはありません。") from None
    org = None
    code = strip_invisible(request.GET.get("o", "")[:16])
    if code:
        try:
            org = organisation_get(code=code)
        except (InvalidLgCode, Organisation.DoesNotExist):
            org = None
    procedures = (
        list(procedures_search(life_event=event.slug, organisation=org)[:200]) if org else []
    )
    templates = list(event.templates.filter(group__isnull=True).order_by("category", "slug"))
    return render(
        request,
        "portal/life_event.html",
        {
            "event": event,
            "org": org,
            "procedures": procedures,
            "templates": templates,
            "code": code,
        },
    )
