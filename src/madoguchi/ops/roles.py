"""The second line of the split across networks (三層の対策), per request.

The first line is the URL configuration (:mod:`madoguchi.conf.urls`): a ``portal`` process has
no console URL at all. This middleware checks the same split by path prefix, so that a page
added under a wrong prefix or a mistake in the URL configuration still answers 404 — and it
keeps staff sessions out of the portal:

- **Paths.** ``portal``: ``/console``, ``/operator-admin`` and ``/api/v1/staff/`` answer 404.
  ``console``: only the console, the operators' admin site, the staff API and the API's own
  pages (root, schema, docs), the health checks and metrics, the favicon, the language switch
  and static files are served; every other path answers 404 (the resident pages live on the
  portal host).
- **Staff sessions on the portal.** The session table is shared (one database), so a console
  session's cookie would be a valid session on the portal host too. A ``portal`` process
  therefore treats every request whose session belongs to a staff member (a ``Staff`` row,
  active or not), a shared group's operator (a ``GroupOperator`` row) or a platform operator
  (``is_staff`` / ``is_superuser``) as anonymous:
  ``request.user`` is an ``AnonymousUser``. The session itself is left alone (deleting it
  would log the person out of the console). This holds however the session was made — in
  the console, through the resident login, or before the split — because it is decided by
  whom the session belongs to, not by where it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from madoguchi.identity.services import is_resident

#: Served only by ``console`` (and ``all``).
CONSOLE_PREFIXES: Final = ("/console", "/operator-admin", "/api/v1/staff/")
#: Served by every role.
SHARED_PREFIXES: Final = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/favicon.ico",
    "/i18n/",
    "/static/",
    "/api/v1/docs",
    "/api/v1/openapi.json",
)
SHARED_PATHS: Final = frozenset({"/api/v1/"})


def path_served(role: str, path: str) -> bool:
    """Whether a process of ``role`` may serve ``path`` at all (by prefix)."""
    if role == "portal":
        return not path.startswith(CONSOLE_PREFIXES)
    if role == "console":
        return (
            path in SHARED_PATHS
            or path.startswith(CONSOLE_PREFIXES)
            or path.startswith(SHARED_PREFIXES)
        )
    return True


def is_staff_account(user: Any) -> bool:
    """Whether ``user`` is a console account — a staff member (active or not), a shared
    group's operator or a platform operator — never a resident
    (:func:`madoguchi.identity.services.is_resident` is the one rule)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return not is_resident(user)


class RoleMiddleware:
    """404 for paths of another role; no staff session on the portal (see the module text).
    Sits after ``AuthenticationMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        role = str(getattr(settings, "ROLE", "all"))
        # path_info, as request_scope: without the SCRIPT_NAME prefix of a sub-path install.
        if not path_served(role, request.path_info):
            raise Http404("この窓口では提供していないページです。")
        if role == "portal" and hasattr(request, "user"):
            original = request.user

            def resident_only() -> Any:
                return AnonymousUser() if is_staff_account(original) else original

            request.user = SimpleLazyObject(resident_only)  # type: ignore[assignment]

            async def auser() -> Any:
                return await sync_to_async(resident_only)()

            request.auser = auser
        return self.get_response(request)
