"""Health check for load balancers and ``make run``; the favicon browsers ask for."""

from __future__ import annotations

import time

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from madoguchi import __version__


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with ``{"status": "ok"}`` when the database answers; 503 otherwise."""
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = {"status": "ok", "vendor": connection.vendor}
        status = 200
    except DatabaseError:
        database = {"status": "error", "vendor": connection.vendor}
        status = 503
    database["ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "error",
            "version": __version__,
            "database": database,
        },
        status=status,
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever the page links: the platform's icon, not a 404."""
    return HttpResponsePermanentRedirect(static("madoguchi/favicon.svg"))
