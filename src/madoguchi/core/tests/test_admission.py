"""Admission control under real concurrency: requests from many threads through Django's whole
WSGI stack (every middleware), with views held busy until the test lets them go."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import include, path

from madoguchi.core.admission import (
    _FIELDS,
    ADMISSION_FILE_ENV,
    ROWS,
    SlotCounter,
    _start_time,
    admission_file_prepare,
    counter_from_environment,
)

#: The views below wait on this until the test sets it.
RELEASE = threading.Event()
ENTERED = threading.Semaphore(0)


def busy(request: HttpRequest) -> HttpResponse:
    ENTERED.release()
    RELEASE.wait(timeout=30)
    return HttpResponse("done")


def search(request: HttpRequest) -> HttpResponse:
    return HttpResponse("found")


def export(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"a,b\r\n", b"1,2\r\n"]), content_type="text/csv")


urlpatterns = [
    path("work/", busy),
    path("api/v1/work/", busy),
    path("healthz", busy),
    path("export/", export),
    # Named as the portal's search: an expensive endpoint with a per-client limit.
    path("search/", include(([path("", search, name="search")], "portal"))),
]


def call(
    handler: WSGIHandler, route: str, client: str = "192.0.2.1", method: str = "GET"
) -> tuple[int, dict[str, str], str]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": route,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": BytesIO(),
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": client,
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
def _entered_drained():
    """No permit left by an earlier test's request (``fill`` counts permits as requests)."""
    while ENTERED.acquire(blocking=False):
        pass


@pytest.fixture(autouse=True)
def _no_database():
    # These requests touch no database; Django's per-request connection check would (on a
    # connection an earlier test left open in this thread) and pytest-django forbids it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # Nor may row-level security's per-request setting (PostgreSQL) find one open: it sets the
    # scope on open connections only (a closed one gets it when it opens, which these never do).
    connections.close_all()
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def handler():
    RELEASE.clear()
    with override_settings(ROOT_URLCONF=__name__, MAX_INFLIGHT=3, ADMISSION_QUEUE_MS=0):
        yield WSGIHandler()
    RELEASE.set()


def fill(handler: WSGIHandler, pool: ThreadPoolExecutor, count: int) -> list[Any]:
    """Start ``count`` requests that stay in their view, and wait until all are inside."""
    running = [pool.submit(call, handler, "/work/") for _ in range(count)]
    for _ in range(count):
        assert ENTERED.acquire(timeout=10)
    return running


def _no_line_break_inside_a_sentence(body: str) -> None:
    """A line break between Japanese characters shows as a stray space ("でした。 8秒後")."""
    for paragraph in re.findall(r"<p[^>]*>(.*?)</p>", body, flags=re.DOTALL):
        assert "\n" not in paragraph, paragraph


def test_beyond_the_limit_a_page_is_refused_at_once_in_japanese(handler):
    with ThreadPoolExecutor(max_workers=8) as pool:
        running = fill(handler, pool, 3)
        status, headers, body = call(handler, "/work/")
        assert status == 503
        assert 1 <= int(headers["Retry-After"]) <= 10
        assert headers["Content-Type"].startswith("text/html")
        assert "ただいま混み合っています" in body
        # A page asked for: reload it (nothing was sent, so nothing to send again).
        assert f"{headers['Retry-After']}秒ほど待ってから、このページを再読み込み" in body
        assert 'class="site-header"' in body
        assert 'class="site-main"' in body
        assert 'href="/work/"' in body
        assert "送信" not in body
        assert "入力した内容" not in body
        _no_line_break_inside_a_sentence(body)
        # A form sent: what was typed is still there; go back and send again.
        status, headers, body = call(handler, "/work/", method="POST")
        assert status == 503
        assert "「戻る」で前の画面に戻り、もう一度送信してください" in body
        assert "入力した内容は失われていません" in body
        assert "再読み込み" not in body
        _no_line_break_inside_a_sentence(body)
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
    while ENTERED.acquire(blocking=False):  # the race's permits: fill must count new ones
        pass
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


def test_many_racing_threads_never_exceed_the_limit_and_every_one_is_answered_with_a_queue():
    """Racing threads with the queue on: each is admitted or refused once, and every slot and
    queue place is given back."""
    RELEASE.set()
    with override_settings(ROOT_URLCONF=__name__, MAX_INFLIGHT=2, ADMISSION_QUEUE_MS=5):
        handler = WSGIHandler()
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: call(handler, "/work/")[0], range(200)))
    assert set(results) <= {200, 503}
    while ENTERED.acquire(blocking=False):
        pass


@pytest.fixture
def shared_file(tmp_path, monkeypatch):
    """The count file `madoguchi serve` makes, named as it names it for its workers."""
    path = admission_file_prepare(tmp_path)
    monkeypatch.setenv(ADMISSION_FILE_ENV, str(path))
    return path


def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(5000):
        if condition():
            return
        threading.Event().wait(0.002)
    raise AssertionError("never happened")


def test_a_queued_request_gets_in_when_a_slot_frees(shared_file):
    RELEASE.clear()
    seen = SlotCounter(shared_file)
    with override_settings(
        ROOT_URLCONF=__name__, MAX_INFLIGHT=1, ADMISSION_QUEUE_MS=30_000, ADMISSION_QUEUE_MAX=4
    ):
        handler = WSGIHandler()
        with ThreadPoolExecutor(max_workers=4) as pool:
            running = fill(handler, pool, 1)
            queued = pool.submit(call, handler, "/work/")
            _wait_until(lambda: seen.totals() == (1, 1))  # one in, one waiting
            assert not queued.done()
            RELEASE.set()
            assert running[0].result(timeout=10)[0] == 200
            assert queued.result(timeout=10)[0] == 200
    assert seen.totals() == (0, 0)
    while ENTERED.acquire(blocking=False):
        pass


def test_beyond_the_queue_a_request_is_refused_at_once_and_reaches_no_view(shared_file):
    RELEASE.clear()
    seen = SlotCounter(shared_file)
    with override_settings(
        ROOT_URLCONF=__name__, MAX_INFLIGHT=1, ADMISSION_QUEUE_MS=30_000, ADMISSION_QUEUE_MAX=1
    ):
        handler = WSGIHandler()
        with ThreadPoolExecutor(max_workers=4) as pool:
            running = fill(handler, pool, 1)
            queued = pool.submit(call, handler, "/work/")
            _wait_until(lambda: seen.totals() == (1, 1))
            status, headers, body = call(handler, "/api/v1/work/")  # the queue is full
            assert status == 503
            assert int(headers["Retry-After"]) >= 1
            assert "混み合っています" in body
            assert not ENTERED.acquire(blocking=False)  # the refused one ran no view
            RELEASE.set()
            assert queued.result(timeout=10)[0] == 200
            running[0].result(timeout=10)
    while ENTERED.acquire(blocking=False):
        pass


_OTHER_PROCESS = """
import os, sys
from pathlib import Path
from madoguchi.core.admission import SlotCounter
counter = SlotCounter(Path(sys.argv[1]))
print(counter.try_acquire(2), flush=True)
if sys.argv[2] == "die":
    os._exit(0)  # killed with its request in flight: never released
"""


def _other_process(path, mode="stay"):
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, str(path), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_two_real_processes_share_the_server_wide_count(tmp_path):
    path = admission_file_prepare(tmp_path)
    here = SlotCounter(path)
    assert here.try_acquire(2) == "in"
    assert here.try_acquire(2) == "in"
    # Another process of the same server sees the two slots taken.
    assert _other_process(path) == "full"
    here.release()
    # One free: the other process takes it, and dies holding it (SIGKILL-like).
    assert _other_process(path, "die") == "in"
    assert here.totals() == (2, 0)
    # The dead process's slot is not lost: when the server looks full, it is cleared.
    assert here.try_acquire(2) == "in"
    assert here.totals() == (2, 0)


def test_without_serve_the_count_is_this_process_own(monkeypatch):
    monkeypatch.delenv(ADMISSION_FILE_ENV, raising=False)
    counter = counter_from_environment()
    assert counter.shared is False
    assert counter.try_acquire(1) == "in"
    assert counter.try_acquire(1, queue=0) == "full"
    counter.release()
    assert counter.totals() == (0, 0)


def test_one_client_over_its_limit_on_an_expensive_endpoint_gets_429_and_another_does_not():
    RELEASE.set()
    with override_settings(ROOT_URLCONF=__name__, CLIENT_LIMIT_EXPENSIVE=(3, 3600)):
        handler = WSGIHandler()
        assert [call(handler, "/search/")[0] for _ in range(3)] == [200, 200, 200]
        status, headers, body = call(handler, "/search/")
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= 3600
        assert "短い時間に多くの操作がありました" in body
        assert f"{headers['Retry-After']}秒ほど待ってから、このページを再読み込み" in body
        assert "found" not in body
        # Another client (another network) is not held back; nor is this one elsewhere.
        assert call(handler, "/search/", client="198.51.100.7")[0] == 200
        assert call(handler, "/work/")[0] == 200
        # The same IPv6 /64 counts as one client.
        for _ in range(3):
            assert call(handler, "/search/", client="2001:db8:1:2::1")[0] == 200
        assert call(handler, "/search/", client="2001:db8:1:2::99")[0] == 429


def _plant_row(path, *, pid: int, started: int, in_flight: int) -> None:
    """Write a row as a process that counted ``in_flight`` requests would have left it."""
    import mmap as _mmap

    with path.open("r+b") as handle, _mmap.mmap(handle.fileno(), 0) as shared:
        cells = memoryview(shared).cast("q")
        base = (ROWS - 1) * _FIELDS  # the last row: no live counter takes it first
        cells[base], cells[base + 1], cells[base + 3] = pid, in_flight, started
        cells[0] += in_flight
        del cells


def test_a_dead_row_whose_pid_now_belongs_to_another_live_process_is_reclaimed(tmp_path):
    """SIGKILL, then the kernel hands the pid to another process: the slots come back."""
    path = admission_file_prepare(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = _start_time(other.pid)
        assert started
        # The row's process had this pid but started earlier: it is gone.
        _plant_row(path, pid=other.pid, started=started - 1, in_flight=2)
        here = SlotCounter(path)
        assert here.totals() == (2, 0)
        assert here.try_acquire(2) == "in"
        assert here.totals() == (1, 0)
    finally:
        other.kill()
        other.wait()


def test_a_live_other_process_row_is_kept(tmp_path):
    path = admission_file_prepare(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _plant_row(path, pid=other.pid, started=_start_time(other.pid) or 0, in_flight=2)
        assert SlotCounter(path).try_acquire(2) == "full"
    finally:
        other.kill()
        other.wait()


def test_a_dead_row_with_this_process_pid_is_not_taken_over(tmp_path):
    """A respawned worker that got the dead one's pid does not inherit its counts."""
    path = admission_file_prepare(tmp_path)
    started = _start_time(os.getpid())
    assert started
    _plant_row(path, pid=os.getpid(), started=started - 1, in_flight=2)
    here = SlotCounter(path)
    assert here.try_acquire(2) == "in"
    here.release()
    assert here.totals() == (0, 0)


def test_a_streamed_response_holds_its_slot_until_it_is_closed(shared_file):
    seen = SlotCounter(shared_file)
    with override_settings(ROOT_URLCONF=__name__, MAX_INFLIGHT=1, ADMISSION_QUEUE_MS=0):
        handler = WSGIHandler()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/export/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.input": BytesIO(),
            "wsgi.url_scheme": "http",
            "REMOTE_ADDR": "192.0.2.1",
        }
        response = handler(environ, lambda status, headers, exc_info=None: lambda data: None)
        assert seen.totals() == (1, 0)  # the view returned; the body is not sent yet
        assert call(handler, "/search/")[0] == 503
        assert b"".join(response) == b"a,b\r\n1,2\r\n"
        response.close()  # the server has sent it
        assert seen.totals() == (0, 0)
        assert call(handler, "/search/")[0] == 200
