"""Staff console: login, the organisation's home, and the group operator's view."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.identity.models import User
from madoguchi.identity.selectors import active_staff_of, groups_operated_by
from madoguchi.tenants.models import SharedGroup
from madoguchi.tenants.selectors import group_get, group_members, groups_of_organisation


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "console:login"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    staff = active_staff_of(user=user)
    groups = list(groups_operated_by(user=user))
    context = {
        "staff": staff,
        "operated_groups": groups,
        "member_groups": list(groups_of_organisation(organisation=staff.organisation))
        if staff
        else [],
    }
    return render(request, "console/home.html", context)


@require_GET
@login_required
def group(request: HttpRequest, slug: str) -> HttpResponse:
    user = _user(request)
    try:
        shared_group = group_get(slug=slug)
    except SharedGroup.DoesNotExist:
        raise Http404 from None
    # Only the group's own operators: anyone else gets the same 404 as a missing group.
    if not groups_operated_by(user=user).filter(pk=shared_group.pk).exists():
        raise Http404
    members = list(group_members(group=shared_group))
    total_population = sum(org.population or 0 for org in members)
    return render(
        request,
        "console/group.html",
        {
            "group": shared_group,
            "members": members,
            "total_population": total_population,
            "without_population": sum(1 for org in members if org.population is None),
        },
    )
