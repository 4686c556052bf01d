"""Idle and absolute session timeouts for everyone who logs in."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

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
