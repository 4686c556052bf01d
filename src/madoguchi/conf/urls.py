"""The URL configuration, built from the role this process serves (``MADOGUCHI_ROLE``).

- ``portal`` (the internet side): the resident portal, public statistics, ``/verify/``, the
  public and resident parts of ``/api/v1/``, the demo identity provider (itself 404 in
  production). No console, no staff API (``/api/v1/staff/``), no operators' admin site: those
  paths are not in the URL configuration at all, so they answer 404 like any unknown path.
- ``console`` (the LGWAN side): the staff console, the staff API (with the API's docs), the
  operators' admin site. The resident pages are not served (404); the console's links to them
  go to ``MADOGUCHI_PORTAL_URL`` (:func:`madoguchi.core.roles.role_reverse`).
- ``all`` (the default, ``make run``): both.

Every role serves the shared parts: health checks, the favicon and the language switch (and
WhiteNoise's static files, before any URL). :mod:`madoguchi.ops.roles` checks the same split
again per request (a second line, by path prefix) and keeps staff sessions out of the portal.

``madoguchi.conf.urls_all`` (and ``_portal``, ``_console``) hold the same patterns for a fixed
role: links across roles are reversed against ``urls_all``, and the tests take each role's
URL set from them.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import include, path
from django.urls.resolvers import URLPattern, URLResolver

from madoguchi.api.v1 import api as api_v1
from madoguchi.ops.admin import site as operator_admin
from madoguchi.ops.metrics import metrics
from madoguchi.ops.views import favicon, healthz, readyz

type Pattern = URLPattern | URLResolver

#: The staff part of the API: every route under it is staff-only (bearer tokens of staff).
STAFF_API_PREFIX = "staff/"
#: The API's own pages, served on both sides: its root, the OpenAPI schema and the docs.
_API_SHARED = frozenset({"", "openapi.json", "docs"})

_api_patterns, _api_app, _api_namespace = api_v1.urls


def _api(role: str) -> Pattern:
    """``/api/v1/`` with the routes of ``role``: the staff part on the console side, the rest
    (public and resident) on the portal side, the API's own pages on both."""
    kept = []
    for pattern in _api_patterns:
        route = str(pattern.pattern)
        staff = route.startswith(STAFF_API_PREFIX)
        if (
            role == "all"
            or route in _API_SHARED
            or (staff and role == "console")
            or (not staff and role == "portal")
        ):
            kept.append(pattern)
    return path("api/v1/", (kept, _api_app, _api_namespace))


def patterns_for(role: str) -> list[Pattern]:
    """The URL patterns a process of ``role`` (``all``, ``portal`` or ``console``) serves."""
    shared: list[Pattern] = [
        path("healthz", healthz, name="healthz"),
        path("readyz", readyz, name="readyz"),
        # Prometheus; 404 unless MADOGUCHI_METRICS_TOKEN/_NETWORKS (or loopback outside production).
        path("metrics", metrics, name="metrics"),
        # Browsers ask for /favicon.ico whatever the page says: the icon, not a 404.
        path("favicon.ico", favicon, name="favicon"),
        # set_language (POST /i18n/setlang/): the header's language switch.
        path("i18n/", include("django.conf.urls.i18n")),
        _api(role),
    ]
    console: list[Pattern] = [
        path("console/", include("madoguchi.console.urls")),
        # The operators' admin site: the console's login (both factors, throttled), audited.
        path("operator-admin/", operator_admin.urls),
    ]
    portal: list[Pattern] = [
        # The demo identity provider (national login and signing, gBizID): 404 in production.
        path("demo-idp/", include("madoguchi.demo_idp.urls")),
        # Online usage statistics (オンライン利用率): public pages and open data.
        path("statistics/", include("madoguchi.portal.urls_statistics")),
        path("", include("madoguchi.portal.urls")),
    ]
    if role == "portal":
        return shared + portal
    if role == "console":
        return shared + console
    return shared + console + portal


urlpatterns = patterns_for(settings.ROLE)
#: A database that cannot be reached is a 503 with Retry-After, also outside a view.
handler500 = "madoguchi.core.dbguard.server_error"
