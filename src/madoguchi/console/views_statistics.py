"""The monthly detail of the online usage statistics (category × month, where counts come
from) for an organisation's staff and its groups' operators. Anyone else — another
organisation's staff included — gets the same 404 as an unknown code."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from madoguchi.console.access import mfa_required
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.replica import replica_reads_view
from madoguchi.identity.models import User
from madoguchi.identity.selectors import active_staff_of, groups_operated_by
from madoguchi.stats.categories import category_lists
from madoguchi.stats.figures import MONTH_LABELS, FiguresNotVisible, organisation_monthly_for
from madoguchi.stats.params import (
    MAX_PARAM_LENGTH,
    BadQuery,
    current_fiscal_year,
    parse_fiscal_year,
    parse_list,
    selectable_years,
)
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import group_members, organisation_get


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # mfa_required ran first
    return user


@require_GET
@mfa_required
@replica_reads_view
def statistics_home(request: HttpRequest) -> HttpResponse:
    """Staff go straight to their organisation; group operators choose a member."""
    user = _user(request)
    staff = active_staff_of(user=user)
    groups = [
        {"group": group, "members": list(group_members(group=group))}
        for group in groups_operated_by(user=user)
    ]
    if staff is not None and not groups:
        return redirect("console:statistics", staff.organisation.lg_code)
    return render(request, "console/statistics/index.html", {"staff": staff, "groups": groups})


@require_GET
@mfa_required
@replica_reads_view
def statistics_monthly(request: HttpRequest, code: str) -> HttpResponse:
    try:
        org = organisation_get(code=code[:MAX_PARAM_LENGTH])
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404 from None
    try:
        fiscal_year = parse_fiscal_year(request.GET.get("fy"), default=current_fiscal_year())
        chosen = parse_list(request.GET.get("list"), fiscal_year=fiscal_year)
    except BadQuery as error:
        return render(
            request, "console/statistics/bad_request.html", {"message": str(error)}, status=400
        )
    try:
        monthly = organisation_monthly_for(
            user=_user(request), organisation=org, category_list=chosen, fiscal_year=fiscal_year
        )
    except FiguresNotVisible:
        raise Http404 from None
    return render(
        request,
        "console/statistics/monthly.html",
        {
            "org": org,
            "monthly": monthly,
            "month_labels": MONTH_LABELS,
            "lists": category_lists(),
            "chosen": chosen,
            "fiscal_year": fiscal_year,
            "years": selectable_years(),
            "list_applies": chosen.applies_to(fiscal_year),
        },
    )
