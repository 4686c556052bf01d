"""Admission control (混雑時の受付制限): when a process already works on as many requests as it
can, the next one is answered at once with 503 and ``Retry-After`` instead of joining a queue
that slows everyone down.

The rule: each server process counts the requests it is working on (``in flight``). When that
count has reached ``MADOGUCHI_MAX_INFLIGHT``, a new request is not handed to Django's views: it
gets ``503 Service Unavailable`` with ``Retry-After`` (a few seconds, varied a little so that
the refused do not all come back in the same instant) and

- for the API (``/api/``): the API's JSON error (``{"detail": "…"}``);
- for pages: a plain Japanese page that says when to try again and that what the person typed
  is still in their browser (the refused request changed nothing; going back and sending again
  is safe, and forms carry an idempotency key where it matters).

``/healthz``, ``/readyz`` and static files (served by WhiteNoise before this middleware) are
never refused: a load balancer must see a busy server as alive.

``MADOGUCHI_MAX_INFLIGHT`` is per process and defaults to 8; 0 turns admission control off.
``madoguchi serve`` sets it to its ``--threads`` unless the operator set it, and starts granian
with spare threads beyond it, so that the requests over the limit are answered with the 503 by
a spare thread in microseconds rather than waiting in granian's queue for a busy one (granian
itself never runs more requests at once than it has threads: without spare threads this
middleware could never see an excess).

The count is a plain integer under a lock (granian runs a process's requests in several
threads); a request is counted from the moment this middleware admits it to the moment its
response is returned, whether the view returned or raised.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

#: Never refused: health checks (a load balancer must see a busy server as alive).
EXEMPT_PREFIXES: Final = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.")
#: Retry-After is drawn from this range (seconds).
RETRY_AFTER: Final = (3, 8)

PAGE: Final = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ただいま混み合っています</title>
<link rel="stylesheet" href="{static}madoguchi/madoguchi.css">
</head>
<body>
<main id="main" class="container">
<h1>ただいま混み合っています</h1>
<p>多くの方が同時に利用しているため、いまはこの操作を受け付けられませんでした。
<strong>{seconds}秒後にもう一度お試しください。</strong></p>
<p>入力した内容は失われていません。ブラウザーの「戻る」で前の画面に戻り、
もう一度送信してください。この操作では、まだ何も受け付けていません（二重に申し込まれることはありません）。</p>
</main>
</body>
</html>
"""


class AdmissionControlMiddleware:
    """Answer 503 at once beyond ``settings.MAX_INFLIGHT`` requests in flight in this process."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = int(getattr(settings, "MAX_INFLIGHT", 0) or 0)
        self._lock = threading.Lock()
        self.in_flight = 0

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        seconds = random.randint(*RETRY_AFTER)  # noqa: S311 (spreading retries, not a secret)
        message = (
            f"ただいま混み合っています。{seconds}秒後にもう一度お試しください。"
            "このリクエストは処理していません（何も保存していません）。"
        )
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"detail": message}, status=503, json_dumps_params={"ensure_ascii": False}
            )
        else:
            response = HttpResponse(
                PAGE.format(seconds=seconds, static=settings.STATIC_URL),
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = str(seconds)
        response["Cache-Control"] = "no-store"
        # Set here: CommonMiddleware, which would, sits inside this one.
        response["Content-Length"] = str(len(response.content))
        # An expected answer under a rush, not a server error: one log line per refused
        # request would flood the log exactly when the operator needs it.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.limit <= 0 or request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        with self._lock:
            if self.in_flight >= self.limit:
                refused = True
            else:
                refused = False
                self.in_flight += 1
        if refused:
            return self._refuse(request)
        try:
            return self.get_response(request)
        finally:
            with self._lock:
                self.in_flight -= 1
