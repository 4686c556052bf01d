"""Admission control under real concurrency: requests from many threads through Django's whole
WSGI stack (every middleware), with views held busy until the test lets them go."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path

#: The views below wait on this until the test sets it.
RELEASE = threading.Event()
ENTERED = threading.Semaphore(0)


def busy(request: HttpRequest) -> HttpResponse:
    ENTERED.release()
    RELEASE.wait(timeout=30)
    return HttpResponse("done")


urlpatterns = [
    path("work/", busy),
    path("api/v1/work/", busy),
    path("healthz", busy),
]


def call(handler: WSGIHandler, route: str) -> tuple[int, dict[str, str], str]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": BytesIO(),
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "192.0.2.1",
    }
    seen: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)
        return lambda data: None

    body = b"".join(handler(environ, start_response))
    return seen["status"], seen["headers"], body.decode("utf-8")


@pytest.fixture(autouse=True)
def _no_database():
    # These requests touch no database; Django's per-request connection check would (on a
    # connection an earlier test left open in this thread) and pytest-django forbids it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def handler():
    RELEASE.clear()
    with override_settings(ROOT_URLCONF=__name__, MAX_INFLIGHT=3):
        yield WSGIHandler()
    RELEASE.set()


def fill(handler: WSGIHandler, pool: ThreadPoolExecutor, count: int) -> list[Any]:
    """Start ``count`` requests that stay in their view, and wait until all are inside."""
    running = [pool.submit(call, handler, "/work/") for _ in range(count)]
    for _ in range(count):
        assert ENTERED.acquire(timeout=10)
    return running


def test_beyond_the_limit_a_page_is_refused_at_once_in_japanese(handler):
    with ThreadPoolExecutor(max_workers=8) as pool:
        running = fill(handler, pool, 3)
        status, headers, body = call(handler, "/work/")
        assert status == 503
        assert 1 <= int(headers["Retry-After"]) <= 10
        assert headers["Content-Type"].startswith("text/html")
        assert "ただいま混み合っています" in body
        assert f"{headers['Retry-After']}秒後にもう一度お試しください" in body
        assert "入力した内容は失われていません" in body
        RELEASE.set()
        assert [r.result(timeout=10)[0] for r in running] == [200, 200, 200]
    # Once the work is done, the next request is admitted again.
    assert call(handler, "/work/")[0] == 200


def test_the_api_is_refused_with_its_json_error(handler):
    with ThreadPoolExecutor(max_workers=8) as pool:
        running = fill(handler, pool, 3)
        status, headers, body = call(handler, "/api/v1/work/")
        assert status == 503
        assert headers["Content-Type"].startswith("application/json")
        assert "混み合っています" in body
        assert '"detail"' in body
        RELEASE.set()
        for r in running:
            r.result(timeout=10)


def test_health_checks_are_never_refused(handler):
    with ThreadPoolExecutor(max_workers=8) as pool:
        running = fill(handler, pool, 3)
        health = pool.submit(call, handler, "/healthz")
        assert ENTERED.acquire(timeout=10)  # admitted though three are in flight
        RELEASE.set()
        assert health.result(timeout=10)[0] == 200
        for r in running:
            r.result(timeout=10)


def test_many_racing_threads_never_exceed_the_limit_and_every_one_is_answered(handler):
    RELEASE.set()  # views return at once: the race is in the counting itself
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda _: call(handler, "/work/")[0], range(400)))
    assert set(results) <= {200, 503}
    assert results.count(200) >= 3
    # Every admitted request was counted out again: a fresh burst of three is admitted.
    RELEASE.clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        running = fill(handler, pool, 3)
        assert call(handler, "/work/")[0] == 503
        RELEASE.set()
        assert [r.result(timeout=10)[0] for r in running] == [200, 200, 200]
    while ENTERED.acquire(blocking=False):
        pass


def test_limit_zero_turns_admission_control_off():
    RELEASE.set()
    with override_settings(ROOT_URLCONF=__name__, MAX_INFLIGHT=0):
        handler = WSGIHandler()
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: call(handler, "/work/")[0], range(50)))
    assert statuses == [200] * 50
    while ENTERED.acquire(blocking=False):
        pass
