"""Admission control (混雑時の受付制限): a rush slows nobody who already got in.

**The server-wide limit.** At most ``MADOGUCHI_MAX_INFLIGHT`` requests are worked on at once
by the whole server — every granian worker process of one ``madoguchi serve`` together, not
each on its own. A request beyond it waits in a short queue: up to
``MADOGUCHI_ADMISSION_QUEUE_MS`` milliseconds (default 200) for a slot to free, and at most
``MADOGUCHI_ADMISSION_QUEUE_MAX`` requests wait at once (default 16; beyond them no one
waits). A request that gets no slot in time is answered ``503 Service Unavailable`` with
``Retry-After`` (a few seconds, varied a little so that the refused do not all come back in
the same instant):

- for the API (``/api/``): the API's JSON error (``{"detail": "…"}``);
- for pages: a small Japanese page in the site's layout that says when to try again — for a
  page asked for (GET, HEAD), to reload it; for a form sent, that what the person typed is
  still in their browser and that going back and sending again is safe (the refused request
  changed nothing, and forms carry an idempotency key where it matters).

A refused request never reaches a view: nothing is stored. ``/healthz``, ``/readyz``,
``/metrics`` and static files are never refused or queued (a load balancer must see a busy
server as alive; static files are served by WhiteNoise before this middleware anyway).
``MADOGUCHI_MAX_INFLIGHT=0`` turns the limit off (and the queue with it).

**Where the count lives.** ``madoguchi serve`` creates a small file under the data directory
(``run/<role>-<port>/admission``: each server its own) before it starts granian and names it in ``MADOGUCHI_ADMISSION_FILE``;
every worker maps it into memory (``mmap``, shared) and counts there under an exclusive
``flock`` (plus a thread lock: granian runs a process's requests in several threads, and
``flock`` does not exclude threads sharing one file). The file holds the server's totals and one row per
process — its pid, the process's start time (``/proc/<pid>/stat``, in clock ticks since
boot), its requests in flight and its requests waiting — so a worker killed with requests in
flight (SIGKILL) does not leak its slots for ever: when the server looks full, rows of
processes that no longer exist are taken off the totals first. A row is alive only while a
process with its pid *and* its start time exists: a pid the kernel has since given to another
process (or to the worker granian respawns in its place) does not keep a dead row's counts.
Admitting and releasing cost two lock round trips each (a few microseconds; ``make bench``
does not need to notice). Without the file (``runserver``, tests, a server started by hand),
the same count is kept in the process's own memory: the limit is then per process.

**Waiting.** A queued request checks for a free slot again whenever a request of its own
process finishes, and at least every few milliseconds (a slot freed by another process
sends no signal). How long it waited is in ``madoguchi_admission_queue_seconds``.

**Per-client limits on expensive endpoints** (:class:`ExpensiveEndpointLimitMiddleware`):
exports, PDF downloads and prints, the ``/verify/`` upload, statistics files and the
statistics API, searches. Each client network (:func:`madoguchi.core.ratelimit.network_of`:
the IPv4 address or the IPv6 /64) may make ``MADOGUCHI_CLIENT_LIMIT_EXPENSIVE`` such requests
(default ``60/60``: 60 a minute) over all of them together, counted with
:func:`madoguchi.core.ratelimit.window_admit` under a keyed hash of the network (never the
address itself). Beyond it: ``429 Too Many Requests`` with ``Retry-After`` (the seconds
until the window ends) and the same kind of plain Japanese page or JSON. Other clients are
not affected.

Metrics (:mod:`madoguchi.core.metrics`): ``madoguchi_http_requests_in_flight``,
``madoguchi_admission_refused_total{reason="server"|"client"}``,
``madoguchi_admission_queue_seconds``, ``madoguchi_admission_limit{limit=…}``.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import mmap
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

from madoguchi.core import metrics
from madoguchi.core.ratelimit import network_of, window_admit
from madoguchi.core.request import client_address
from madoguchi.core.time import now

#: Never refused or queued: health checks and metrics (a load balancer must see a busy server
#: as alive), static files.
EXEMPT_PREFIXES: Final = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.")
#: Retry-After for the server-wide refusal is drawn from this range (seconds).
RETRY_AFTER: Final = (3, 8)
#: The environment variable ``madoguchi serve`` names the shared count file in.
ADMISSION_FILE_ENV: Final = "MADOGUCHI_ADMISSION_FILE"
#: Rows in the shared file: processes of one server (granian workers) that can count at once.
ROWS: Final = 256
#: Each row: pid, requests in flight, requests waiting, the process's start time (signed
#: 64-bit integers).
_FIELDS: Final = 4
_SIZE: Final = ROWS * _FIELDS * 8
#: A waiting request re-checks at least this often (seconds).
_POLL: Final = 0.002

#: The refusal page: a static string (no template, no database), in the site's own layout
#: and classes (``madoguchi.css``). No line breaks inside a Japanese sentence: the browser
#: would show each as a space.
PAGE: Final = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | 窓口 電子申請</title>
<link rel="stylesheet" href="{static}madoguchi/madoguchi.css">
</head>
<body>
<header class="site-header">
<div class="site-header__inner">
<span class="site-title">窓口<small>地方公共団体の電子申請</small></span>
</div>
</header>
<main id="main" class="site-main">
<h1>{title}</h1>
<p class="lead">{reason}</p>
<div class="notice" role="status">
<p><strong>{seconds}秒ほど待ってから、{again}</strong></p>
{after}
</div>
{action}
</main>
<footer class="site-footer">
<div class="site-footer__inner">
<p>窓口 — 共同利用型の汎用的電子申請システム</p>
</div>
</footer>
</body>
</html>
"""

#: A page was asked for (GET, HEAD): nothing was sent, so the advice is to reload.
_AGAIN_READ: Final = "このページを再読み込みしてください。"
_AFTER_READ: Final = (
    "<p>再読み込みは、ブラウザーの再読み込みボタンか、下の「もう一度表示する」でできます。</p>"
)
_ACTION_READ: Final = '<p><a class="button" href="{url}">もう一度表示する</a></p>'
#: A form was sent (POST …): what was typed is still in the browser; go back and send again.
_AGAIN_SEND: Final = "ブラウザーの「戻る」で前の画面に戻り、もう一度送信してください。"
_AFTER_SEND: Final = (
    "<p>入力した内容は失われていません（前の画面に残っています）。この操作では、まだ何も"
    "受け付けていません。もう一度送信しても、二重に申し込まれることはありません。</p>"
)

_BUSY_TITLE: Final = "ただいま混み合っています"
_BUSY_REASON: Final = "多くの方が同時に利用しているため、いまはお応えできませんでした。"
_CLIENT_TITLE: Final = "短い時間に多くの操作がありました"
_CLIENT_REASON: Final = (
    "この操作（ダウンロード・検索・検証など）は、同じ接続元から短い時間に多く行われたため、"
    "いったん受付を止めています。"
)


def refusal(
    request: HttpRequest, *, status: int, seconds: int, title: str, reason: str
) -> HttpResponse:
    """The 503/429 answer: JSON for the API, a plain Japanese page otherwise."""
    message = (
        f"{title}。{seconds}秒後にもう一度お試しください。"
        "このリクエストは処理していません（何も保存していません）。"
    )
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message}, status=status, json_dumps_params={"ensure_ascii": False}
        )
    else:
        reading = request.method in ("GET", "HEAD")
        page = PAGE.format(
            title=title,
            reason=reason,
            seconds=seconds,
            static=settings.STATIC_URL,
            again=_AGAIN_READ if reading else _AGAIN_SEND,
            after=_AFTER_READ if reading else _AFTER_SEND,
            action=_ACTION_READ.format(url=escape(request.get_full_path())) if reading else "",
        )
        response = HttpResponse(
            page,
            status=status,
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


class SlotCounter:
    """The in-flight and waiting counts of one server (see the module text): rows of
    ``(pid, in flight, waiting)`` in a shared memory map, or in this process's memory when
    ``path`` is ``None``."""

    def __init__(self, path: Path | None) -> None:
        self.shared = path is not None
        self._path = path
        self._thread_lock = threading.Lock()
        self._freed = threading.Condition(threading.Lock())
        self._fd = -1
        self._pid = 0
        self._started = 0
        self._row = -1
        self._open()

    def _open(self) -> None:
        """Map the count (again after a fork: an inherited descriptor would share its
        ``flock`` with the parent, and an inherited anonymous map its counts)."""
        if self._fd >= 0:
            os.close(self._fd)
        if self._path is not None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._fd).st_size < _SIZE:
                os.ftruncate(self._fd, _SIZE)
            self._map = mmap.mmap(self._fd, _SIZE)
        else:
            self._map = mmap.mmap(-1, _SIZE)
        self._cells = memoryview(self._map).cast("q")
        self._opened_by = os.getpid()

    def _lock(self) -> None:
        """Take the thread lock and the file lock (a plain method, not a context manager:
        this runs twice per request and must stay cheap)."""
        self._thread_lock.acquire()
        try:
            pid = os.getpid()
            if self._opened_by != pid:
                self._open()
            if self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if self._pid != pid:  # first use, or a fork since
                    self._claim_row()
            except BaseException:
                if self._fd >= 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                raise
        except BaseException:
            self._thread_lock.release()
            raise

    def _unlock(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def _claim_row(self) -> None:
        """Take this process's row (under the lock): a free one, else one of a dead process
        (whose counts are taken off the totals first). Row 0 holds the totals."""
        cells = self._cells
        pid = os.getpid()
        started = _start_time(pid) or 0
        free = -1
        for row in range(1, ROWS):
            base = row * _FIELDS
            owner = cells[base]
            if owner == pid and cells[base + 3] == started:
                # another counter of this process (another handler): share it
                self._pid, self._started, self._row = pid, started, row
                return
            if free < 0 and (owner == 0 or not _alive(owner, cells[base + 3])):
                free = row
        if free < 0:
            raise RuntimeError("admission: no free row for this process")
        self._clear_row(free)
        cells[free * _FIELDS] = pid
        cells[free * _FIELDS + 3] = started
        self._pid, self._started, self._row = pid, started, free

    def _clear_row(self, row: int) -> None:
        cells = self._cells
        base = row * _FIELDS
        cells[0] -= cells[base + 1]
        cells[1] -= cells[base + 2]
        cells[base], cells[base + 1], cells[base + 2], cells[base + 3] = 0, 0, 0, 0

    def _clear_dead(self) -> None:
        """Clear the rows of processes that no longer exist (killed with requests counted)."""
        cells = self._cells
        for row in range(1, ROWS):
            base = row * _FIELDS
            owner = cells[base]
            if (
                owner
                and (cells[base + 1] or cells[base + 2])
                and not _alive(owner, cells[base + 3])
            ):
                self._clear_row(row)

    def _add(self, field: int, amount: int) -> None:
        """Count ``amount`` on this process's row and on the totals (1: in flight, 2: waiting)."""
        self._cells[field - 1] += amount
        self._cells[self._row * _FIELDS + field] += amount

    def try_acquire(self, limit: int, *, queue: int | None = None) -> str:
        """Take a slot: ``"in"``; or, when full, join the queue if fewer than ``queue`` wait
        (``"wait"``) or not (``"full"``)."""
        self._lock()
        try:
            cells = self._cells
            if cells[0] >= limit and self.shared:
                self._clear_dead()
            if cells[0] < limit:
                self._add(1, 1)
                return "in"
            if queue is not None and cells[1] < queue:
                self._add(2, 1)
                return "wait"
            return "full"
        finally:
            self._unlock()

    def retry_from_queue(self, limit: int) -> bool:
        """For a queued request: take a slot (and leave the queue) if one is free."""
        self._lock()
        try:
            if self._cells[0] >= limit:
                return False
            self._add(2, -1)
            self._add(1, 1)
            return True
        finally:
            self._unlock()

    def leave_queue(self) -> None:
        self._lock()
        try:
            self._add(2, -1)
        finally:
            self._unlock()

    def release(self) -> None:
        self._lock()
        try:
            self._add(1, -1)
            waiting = self._cells[1]
        finally:
            self._unlock()
        if waiting:
            with self._freed:
                self._freed.notify()

    def wait_for_release(self, timeout: float) -> None:
        with self._freed:
            self._freed.wait(timeout)

    def totals(self) -> tuple[int, int]:
        """``(in flight, waiting)`` of the whole server now."""
        self._lock()
        try:
            return self._cells[0], self._cells[1]
        finally:
            self._unlock()


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat`` field 22);
    ``None`` when no such process exists; 0 where there is no ``/proc`` (then only the pid is
    compared)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else 0
    except OSError:
        return 0
    # The command name (field 2) is in parentheses and may hold spaces or ")": split after
    # the last ")"; the fields after it start with field 3.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return 0


def _alive(pid: int, started: int) -> bool:
    """Whether the process of a row (its pid and its start time) still exists."""
    now_started = _start_time(pid)
    if now_started is None:
        return False
    if now_started and started and now_started != started:
        return False  # the pid belongs to another process now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def counter_from_environment() -> SlotCounter:
    """The server's shared count when ``madoguchi serve`` named one, else this process's own."""
    named = os.environ.get(ADMISSION_FILE_ENV, "").strip()
    return SlotCounter(Path(named) if named else None)


def admission_file_prepare(folder: Path) -> Path:
    """For ``madoguchi serve``, before it starts granian: a fresh, empty count file in the
    server's own run folder (``<DATA_DIR>/run/<role>-<port>/``, so that a second server on
    the same data directory — the portal beside the console — never resets this one's)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "admission"
    with path.open("wb") as handle:
        handle.write(bytes(_SIZE))
    path.chmod(0o600)
    return path


class AdmissionControlMiddleware:
    """The server-wide in-flight limit with its short queue (see the module text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = int(getattr(settings, "MAX_INFLIGHT", 0) or 0)
        self.queue_seconds = max(0, int(getattr(settings, "ADMISSION_QUEUE_MS", 0) or 0)) / 1000
        self.queue_max = max(0, int(getattr(settings, "ADMISSION_QUEUE_MAX", 0) or 0))
        self.counter = counter_from_environment()
        metrics.ADMISSION_LIMIT.labels("in_flight").set(self.limit)
        metrics.ADMISSION_LIMIT.labels("queue").set(self.queue_max if self.queue_seconds else 0)

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        metrics.ADMISSION_REFUSED.labels("server").inc()
        seconds = random.randint(*RETRY_AFTER)  # noqa: S311 (spreading retries, not a secret)
        return refusal(request, status=503, seconds=seconds, title=_BUSY_TITLE, reason=_BUSY_REASON)

    def _queued(self) -> bool:
        """Wait in the queue for a slot; True when one was taken in time."""
        started = time.monotonic()
        deadline = started + self.queue_seconds
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.counter.leave_queue()
                    return False
                self.counter.wait_for_release(min(remaining, _POLL))
                if self.counter.retry_from_queue(self.limit):
                    return True
        finally:
            metrics.ADMISSION_QUEUE_SECONDS.observe(time.monotonic() - started)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.limit <= 0 or request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        queue = self.queue_max if self.queue_seconds > 0 else None
        state = self.counter.try_acquire(self.limit, queue=queue)
        if state == "full" or (state == "wait" and not self._queued()):
            return self._refuse(request)
        metrics.HTTP_IN_FLIGHT.inc()
        try:
            response = self.get_response(request)
        except BaseException:
            self._release()
            raise
        if response.streaming:
            # A streamed response (CSV exports) is still being worked on until the server has
            # sent it: its slot is freed when the server closes it (HttpResponseBase.close()
            # calls these), not when the view returns.
            response._resource_closers.append(self._release)  # type: ignore[attr-defined]
        else:
            self._release()
        return response

    def _release(self) -> None:
        metrics.HTTP_IN_FLIGHT.dec()
        self.counter.release()


#: Route names (namespace:name) of the expensive endpoints that count against the per-client
#: limit: exports, PDFs and prints, the /verify/ upload, statistics files and API, searches.
EXPENSIVE_ROUTES: Final = frozenset(
    {
        "console:export",
        "console:document_pdf",
        "console:application_print",
        "statistics:national_file",
        "statistics:deployment_file",
        "statistics:prefecture_file",
        "statistics:prefecture_deployment_file",
        "statistics:organisation_file",
        "portal:verify:upload",
        "portal:search",
        "portal:facilities:permit",
        "portal:apply:receipt_pdf",
        "portal:apply:guest_document",
        "portal:apply:mypage_document",
        "portal:apply:mypage_print",
        "api-v1:organisation_statistics",
        "api-v1:prefecture_statistics",
        "api-v1:national_statistics",
        "api-v1:list_organisations",
    }
)


def _client_key(request: HttpRequest) -> str | None:
    address = client_address(request)
    if address is None:
        return None
    digest = hmac.new(
        settings.SECRET_KEY.encode(), network_of(address).encode(), hashlib.sha256
    ).hexdigest()
    return f"madoguchi.expensive.{digest[:32]}"


class ExpensiveEndpointLimitMiddleware:
    """One client network's limit over the expensive endpoints (see the module text): 429
    with ``Retry-After`` beyond it, before the view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        most, window = getattr(settings, "CLIENT_LIMIT_EXPENSIVE", (0, 1))
        match = request.resolver_match
        if most <= 0 or match is None or match.view_name not in EXPENSIVE_ROUTES:
            return None
        key = _client_key(request)
        if key is None:
            return None
        wait = window_admit(checks=[(key, (most, window))], now=now())
        if wait is None:
            return None
        metrics.ADMISSION_REFUSED.labels("client").inc()
        return refusal(
            request, status=429, seconds=wait, title=_CLIENT_TITLE, reason=_CLIENT_REASON
        )
