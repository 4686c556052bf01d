"""Who may use which console page: a complete (two-factor) login, the staff member's own
organisation, and a role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from madoguchi.identity.constants import StaffRole
from madoguchi.identity.login import MFA_SESSION_KEY, session_mfa_complete
from madoguchi.identity.models import Staff, User
from madoguchi.identity.selectors import active_staff_of

View = Callable[..., HttpResponse]

__all__ = ["MFA_SESSION_KEY", "can_manage", "mfa_complete", "mfa_required", "staff_required"]


def mfa_complete(request: HttpRequest) -> bool:
    """True when this session logged in to the console with both factors (the mark is
    identity's, shared with the operators' admin site)."""
    return session_mfa_complete(session=request.session, user=request.user)


def mfa_required(view: View) -> View:
    """Require a console login with both factors; anyone else is sent to the login page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not mfa_complete(request):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(*roles: StaffRole) -> Callable[[View], View]:
    """Require an active staff member logged in with both factors; with ``roles``, one of those.

    The staff record is passed to the view as ``staff``; every query in the view is scoped
    to ``staff.organisation``, so another organisation's object is simply not found (404).
    The staff record is read on every request, so a member disabled by an admin is refused
    at once, whatever their session says.
    """

    def decorator(view: View) -> View:
        @mfa_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            assert isinstance(user, User)
            staff = active_staff_of(user=user)
            if staff is None:
                raise PermissionDenied("このアカウントには職員の権限がありません。")
            if roles and staff.role not in roles:
                raise PermissionDenied("この操作は団体管理者だけができます。")
            return view(request, *args, staff=staff, **kwargs)

        return wrapped

    return decorator


def can_manage(staff: Staff) -> bool:
    return staff.role == StaffRole.ADMIN
