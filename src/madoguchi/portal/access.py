"""Who may use which resident page: a logged-in resident with a verified address."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from madoguchi.identity.models import Staff, User

View = Callable[..., HttpResponse]


def resident_required(view: View) -> View:
    """Let a logged-in resident through; send anyone else to the resident login.

    Anonymous visitors go to ``portal:account:login?next=<this page>``. Staff accounts are
    refused with a 403 page pointing to the staff console (a staff member's session must not
    apply, nor see a resident's pages); an account whose address is not yet verified (it can
    only have logged in through another door) gets a 403 page with the way to verify.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:account:login"))
        if Staff.objects.filter(user_id=user.pk).exists():
            return render(request, "portal/account/staff_refused.html", status=403)
        if not isinstance(user, User) or user.email_verified_at is None:
            return render(request, "portal/account/unverified.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def resident_of(request: HttpRequest) -> User:
    """The account of a view behind :func:`resident_required`, typed as such.

    The decorator has already refused anyone else; a view that forgot it gets
    ``PermissionDenied`` (403) here rather than acting for an anonymous visitor.
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


#: A ``next`` longer than this is dropped (no page of ours has such a path).
MAX_NEXT_LENGTH = 1000


def safe_next(request: HttpRequest, value: object) -> str:
    """``value`` when it is a path on this site to return to after sign-up, verification or
    login; otherwise "" (the caller then goes to its default page).

    Only a local absolute path is kept: ``//evil.example``, ``https://evil.example``,
    ``javascript:…``, backslash tricks and control characters are all dropped, by Django's
    ``url_has_allowed_host_and_scheme`` and by refusing anything that is not a plain path.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return ""
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return ""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        return ""
    if not url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return value
