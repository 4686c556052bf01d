"""Staff console: login (the password step), the organisation's home, and the group
operator's view. The second factor is in ``views_mfa``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from madoguchi.applications.worklist import work_counts
from madoguchi.catalog.selectors import group_library_of
from madoguchi.console.access import mfa_complete, mfa_required
from madoguchi.console.views_mfa import (
    may_use_console,
    pending_start,
    record_attempt,
    safe_next,
)
from madoguchi.core.request import client_address
from madoguchi.core.time import now as current_time
from madoguchi.identity import login as identity_login
from madoguchi.identity import throttle
from madoguchi.identity.models import User
from madoguchi.identity.selectors import active_staff_of, groups_operated_by
from madoguchi.tenants.models import SharedGroup
from madoguchi.tenants.selectors import group_get, group_members, groups_of_organisation


def _known_user(typed: object) -> User | None:
    """The account an address typed at login belongs to, if any (for the record only)."""
    if not isinstance(typed, str) or not typed or len(typed) > 254 or "\x00" in typed:
        return None
    return User.objects.filter(email=typed.strip().lower()).first()


class LoginView(auth_views.LoginView):
    """The password step. A correct password does not log in: it starts the second step
    (code, or enrolment for staff without one). Throttled as ``identity.throttle`` explains,
    and every attempt is recorded."""

    template_name = "console/login.html"
    redirect_authenticated_user = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "GET" and mfa_complete(request):
            return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["login_message"] = self.request.session.pop("login_message", "")
        context["throttle_message"] = getattr(self, "throttle_message", "")
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.now = current_time()
        typed = request.POST.get("username", "")
        address = client_address(request)
        decision = identity_login.login_decision(
            account=typed,
            address=address,
            device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
            now=self.now,
        )
        if not decision.allowed:
            # Refused before the password is even checked: no timing says whether it was right.
            record_attempt(
                request,
                account=typed,
                user=_known_user(typed),
                success=False,
                stage=throttle.STAGE_THROTTLED,
                now=self.now,
                reason=decision.limit,
            )
            self.throttle_message = decision.message
            form = self.get_form_class()(request)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        typed = self.request.POST.get("username", "")
        if not may_use_console(user):
            # The same answer as a wrong password: the console does not say who has an account.
            record_attempt(
                self.request,
                account=typed,
                user=user,
                success=False,
                stage=throttle.STAGE_PASSWORD,
                now=self.now,
                reason="not_console_user",
            )
            form.add_error(None, forms.ValidationError("ログインできませんでした。"))
            return self.render_to_response(self.get_context_data(form=form))
        record_attempt(
            self.request,
            account=typed,
            user=user,
            success=True,
            stage=throttle.STAGE_PASSWORD,
            now=self.now,
        )
        next_url = safe_next(self.request, self.request.POST.get("next"))
        return pending_start(self.request, user=user, next_url=next_url)

    def form_invalid(self, form: Any) -> HttpResponse:
        typed = self.request.POST.get("username", "")
        record_attempt(
            self.request,
            account=typed,
            user=_known_user(typed),
            success=False,
            stage=throttle.STAGE_PASSWORD,
            now=self.now,
            reason="bad_credentials",
        )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    next_page = "console:login"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # mfa_required ran first
    return user


@require_GET
@mfa_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    staff = active_staff_of(user=user)
    groups = list(groups_operated_by(user=user))
    context = {
        "work": work_counts(staff=staff, now=current_time()) if staff else [],
        "staff": staff,
        "operated_groups": groups,
        "member_groups": list(groups_of_organisation(organisation=staff.organisation))
        if staff
        else [],
    }
    return render(request, "console/home.html", context)


@require_GET
@mfa_required
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
    library = group_library_of(group=shared_group)
    total_population = sum(org.population or 0 for org in members)
    return render(
        request,
        "console/group.html",
        {
            "group": shared_group,
            "members": members,
            "total_population": total_population,
            "without_population": sum(1 for org in members if org.population is None),
            "library": library,
        },
    )
