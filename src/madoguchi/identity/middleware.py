"""Idle and absolute session timeouts for everyone who logs in; the database scope of
row-level security for every request."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.db import connection
from django.http import HttpRequest, HttpResponse

from madoguchi.core.tenancy import ALL, Scope, scope_activate, scope_clear
from madoguchi.identity.selectors import organisations_worked_for
from madoguchi.identity.tokens import access_token_organisation_id

_STARTED = "_madoguchi_started"
_SEEN = "_madoguchi_seen"


class SessionTimeoutMiddleware:
    """Log out a session idle for ``MADOGUCHI_SESSION_IDLE_SECONDS`` or older than
    ``MADOGUCHI_SESSION_MAX_SECONDS``, whatever the cookie says.

    The cookie's own expiry is under the browser's control; this check is on the server.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(_STARTED)
            seen = request.session.get(_SEEN)
            if started is None:
                request.session[_STARTED] = now
            elif now - float(started) > settings.SESSION_MAX_SECONDS or (
                seen is not None and now - float(seen) > settings.SESSION_IDLE_SECONDS
            ):
                logout(request)
                request.session["timed_out"] = True
                return self.get_response(request)
            request.session[_SEEN] = now
        return self.get_response(request)


#: Paths where a staff member works on their organisation's data: the console and the staff
#: API. Everything else (the portal, resident pages and API, public pages, the statistics)
#: spans organisations by design.
_CONSOLE_PREFIX = "/console/"
_STAFF_API_PREFIX = "/api/v1/staff/"


def request_scope(request: HttpRequest) -> Scope:
    """The organisations this request may see in the database (``core.tenancy``).

    - console, a platform operator (``is_staff`` or ``is_superuser``, who also works on
      /operator-admin/ with every organisation): every organisation;
    - console, logged in: the staff member's organisation and the member organisations of
      the groups they operate (nothing when they are neither);
    - console, not logged in (login, second factor, password reset, invitation): no tenant
      row, so a console view that forgot its login check shows nothing; the few services
      that need a tenant row before login give themselves an explicit, narrow scope;
    - staff API: the organisation of the bearer token (nothing without a known token);
    - everything else: every organisation (a resident applies to many; the catalog lists
      many); the application's own checks are the guard there.
    """
    path = request.path_info
    if path.startswith(_CONSOLE_PREFIX):
        user = request.user
        if not user.is_authenticated:
            return None
        if user.is_staff or user.is_superuser:
            return ALL
        return organisations_worked_for(user_id=int(user.pk))
    if path.startswith(_STAFF_API_PREFIX):
        header = request.headers.get("Authorization", "")
        kind, _, raw = header.partition(" ")
        organisation_id = (
            access_token_organisation_id(raw=raw.strip()) if kind.lower() == "bearer" else None
        )
        return [organisation_id] if organisation_id is not None else None
    return ALL


#: Requests that never read tenant rows and must not touch the database at all.
UNSCOPED_PREFIXES = ("/healthz", "/favicon.ico", "/static/")


class TenantScopeMiddleware:
    """Set the database scope of row-level security at the start of every request, and clear
    it when the response is closed (after a streamed export's last row), so that a reused or
    pooled connection never carries one request's scope into the next.

    One ``SELECT set_config(...)`` at the start and one at the end on PostgreSQL; nothing on
    SQLite, where the application's checks are the only guard.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = connection.vendor == "postgresql"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # /healthz touches nothing, the database included (an outage must not fail liveness).
        if not self.enabled or request.path_info.startswith(UNSCOPED_PREFIXES):
            return self.get_response(request)
        scope_activate(request_scope(request))
        try:
            response = self.get_response(request)
        except BaseException:
            scope_clear()
            raise
        # HttpResponseBase.close() calls these before request_finished, which hands the
        # connection back (CONN_MAX_AGE, pool); a streamed response is still reading until then.
        response._resource_closers.append(scope_clear)  # type: ignore[attr-defined]
        return response
