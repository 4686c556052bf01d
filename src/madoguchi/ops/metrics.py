"""``/metrics``: the platform's Prometheus metrics (計測値), for the monitoring server only.

What is exposed:

- the counters and histograms of :mod:`madoguchi.core.metrics`, counted where the work happens
  (HTTP requests by this module's middleware; submissions, failed logins, rate limits, virus
  scans, mail and webhook deliveries in the domain apps). Under ``madoguchi serve`` they are
  added up over every server process and the outbox worker (``PROMETHEUS_MULTIPROC_DIR``);
- figures read from the database when scraped (:class:`DatabaseCollector`, one bounded query
  each): the outbox backlog and the age of its oldest item (mail, webhooks), mails failing and
  webhooks given up, the background task queue (django_tasks_db), the outbox worker's last
  heartbeat, and the connection pool's statistics when the database has a pool.

Who may read it (anyone else gets 404: the endpoint is not advertised):

- ``MADOGUCHI_METRICS_TOKEN`` set: the request must carry ``Authorization: Bearer <token>``
  (compared in constant time);
- ``MADOGUCHI_METRICS_NETWORKS`` set: the client address (``REMOTE_ADDR``) must be in one of
  the networks; with both set, both must hold;
- neither set: loopback clients only, and in production nobody.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.db.utils import Error as DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from madoguchi.core.metrics import HTTP_DURATION, HTTP_REQUESTS
from madoguchi.core.time import now as clock
from madoguchi.integrations.selectors import webhook_backlog
from madoguchi.notifications.selectors import mail_backlog
from madoguchi.ops.models import WorkerHeartbeat

#: The route label of a request that matched no URL (never the raw path: unbounded labels).
UNMATCHED: Final = "unmatched"


# --- HTTP requests ---------------------------------------------------------------------------


class HttpMetricsMiddleware:
    """Count each answered request by method, route name and status, and time it.

    The route is the resolved view's name (``console:home``) or, for a view without one, its
    URL pattern; a request that matched nothing (a 404 without a match) is ``unmatched``. No
    database access; two dictionary look-ups and a lock-free counter add per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = _route(request)
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_DURATION.labels(method, route).observe(elapsed)
        return response


_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return str(match.view_name or match.route or UNMATCHED)[:120]


# --- Figures read from the database at scrape time -------------------------------------------


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class DatabaseCollector(Collector):
    """Gauges read from the database when ``/metrics`` is scraped (never counted in memory:
    a restart must not reset a backlog). A database that does not answer gives
    ``madoguchi_database_up 0`` and none of these gauges, never an error page."""

    def collect(self) -> Iterator[Metric]:
        now = clock()
        up = GaugeMetricFamily(
            "madoguchi_database_up", "1 when the database answered the scrape's queries."
        )
        try:
            families = list(self._families(now))
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        yield from _pool_families()

    def _families(self, now: datetime) -> Iterator[Metric]:
        mail = mail_backlog()
        hooks = webhook_backlog()
        pending = GaugeMetricFamily(
            "madoguchi_outbox_pending", "Items waiting to be delivered, by kind.", labels=["kind"]
        )
        pending.add_metric(["mail"], mail.pending)
        pending.add_metric(["webhook"], hooks.pending)
        yield pending
        oldest = GaugeMetricFamily(
            "madoguchi_outbox_oldest_age_seconds",
            "Age of the oldest item waiting to be delivered (0 when none), by kind.",
            labels=["kind"],
        )
        oldest.add_metric(["mail"], mail.oldest_age_seconds(now))
        oldest.add_metric(["webhook"], hooks.oldest_age_seconds(now))
        yield oldest
        failing = GaugeMetricFamily(
            "madoguchi_outbox_failed",
            "Mails not sent after at least one attempt (retried) and webhook deliveries "
            "given up (再送を終了), by kind.",
            labels=["kind"],
        )
        failing.add_metric(["mail"], mail.failing)
        failing.add_metric(["webhook"], hooks.gave_up)
        yield failing
        yield from _task_families(now)
        beat = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True)
        last = beat.first()
        heartbeat = GaugeMetricFamily(
            "madoguchi_worker_heartbeat_age_seconds",
            "Seconds since the outbox worker's last completed loop (-1: it never ran).",
        )
        heartbeat.add_metric([], _age(now, last) if last is not None else -1)
        yield heartbeat


def _task_families(now: datetime) -> Iterator[Metric]:
    """The django_tasks_db queue (tasks ready to run), when that backend is installed."""
    if not apps.is_installed("django_tasks_db"):
        return
    from django_tasks_db.models import DBTaskResult  # only when installed

    row = DBTaskResult.objects.filter(status="READY").aggregate(
        n=Count("id"), oldest=Min("enqueued_at")
    )
    pending = GaugeMetricFamily(
        "madoguchi_tasks_pending", "Background tasks waiting to run (django_tasks_db)."
    )
    pending.add_metric([], row["n"] or 0)
    yield pending
    oldest = GaugeMetricFamily(
        "madoguchi_tasks_oldest_age_seconds",
        "Age of the oldest background task waiting to run (0 when none).",
    )
    oldest.add_metric([], _age(now, row["oldest"]))
    yield oldest


def _pool_families() -> Iterator[Metric]:
    """psycopg's pool statistics (``OPTIONS["pool"]``), when this process has a pool."""
    pool: Any = getattr(connection, "pool", None)
    stats = getattr(pool, "get_stats", None)
    if not callable(stats):
        return
    family = GaugeMetricFamily(
        "madoguchi_db_pool",
        "psycopg connection pool statistics of this process (pool_size, pool_available, "
        "requests_waiting, ...), by name.",
        labels=["stat"],
    )
    for name, value in sorted(stats().items()):
        if isinstance(value, int | float):
            family.add_metric([str(name)], float(value))
    yield family


# --- The view --------------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether this request may read ``/metrics`` (see the module text)."""
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    networks = list(getattr(settings, "METRICS_NETWORKS", []) or [])
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not token and not networks:
        return not settings.PRODUCTION and address.is_loopback
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), token.encode("utf-8")
        ):
            return False
    return not networks or any(
        address.version == network.version and address in network for network in networks
    )


def _registry() -> tuple[CollectorRegistry, ...]:
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
        return shared, database
    return REGISTRY, database


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format; 404 for anyone :func:`metrics_allowed` refuses."""
    if not metrics_allowed(request):
        raise Http404
    body = b"".join(generate_latest(registry) for registry in _registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
