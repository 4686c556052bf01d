"""Who may use which console page: the staff member's own organisation, and a role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.identity.selectors import active_staff_of

View = Callable[..., HttpResponse]


def staff_required(*roles: StaffRole) -> Callable[[View], View]:
    """Require an active staff member; with ``roles``, one of those roles.

    The staff record is passed to the view as ``staff``; every query in the view is scoped
    to ``staff.organisation``, so another organisation's object is simply not found (404).
    """

    def decorator(view: View) -> View:
        @login_required
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
