"""A database that cannot be reached answers 503 with ``Retry-After``, not a server error.

While PostgreSQL restarts (or the network to it is down), every query raises
``OperationalError``/``InterfaceError``. :class:`DatabaseUnavailableMiddleware` turns those into
the same plain Japanese page (or API JSON) that admission control answers with
(:func:`madoguchi.core.admission.refusal`), counts them (``DATABASE_UNAVAILABLE``) and logs one
line per request without the path's or the error's text (which may name a host or a value).
:func:`server_error` (``handler500``) does the same for an error raised outside a view, in a
middleware (the session, the tenant scope).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Final

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error as default_server_error

from madoguchi.core.admission import refusal
from madoguchi.core.metrics import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

#: A restarting PostgreSQL is usually back within this many seconds.
RETRY_AFTER_SECONDS: Final = 10
_TITLE: Final = "ただいまシステムの一部が止まっています"
_REASON: Final = "データベースに接続できないため、いまはこの操作を受け付けられませんでした。"


def database_unavailable(request: HttpRequest, error: BaseException) -> HttpResponse | None:
    """The 503 for a lost or refused database connection; ``None`` for any other error."""
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    DATABASE_UNAVAILABLE.inc()
    match = getattr(request, "resolver_match", None)
    logger.warning(
        "database unavailable: answered 503 (%s)",
        type(error).__name__,
        extra={"route": str(getattr(match, "view_name", "") or "unmatched")[:120]},
    )
    return refusal(
        request,
        status=503,
        seconds=RETRY_AFTER_SECONDS,
        title=_TITLE,
        reason=_REASON,
    )


class DatabaseUnavailableMiddleware:
    """Answer a view's lost database connection with 503 (see the module text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a database error raised in a middleware is a 503 too; else Django's
    plain 500 page."""
    error = sys.exc_info()[1]
    if error is not None and (response := database_unavailable(request, error)) is not None:
        return response
    return default_server_error(request)
