"""The platform's Prometheus metrics (計測値): one place that names every metric, so that each
app counts what it does and ``ops`` exposes all of them at ``/metrics``.

Counters and histograms here are counted in the process that does the work. With several
server processes (granian workers) and the outbox worker, ``prometheus_client``'s multiprocess
mode adds them up: it is on when ``PROMETHEUS_MULTIPROC_DIR`` is set before this module is
imported (``madoguchi serve`` sets it to a fresh folder under the data directory). Without it
(tests, ``madoguchi shell``), each process counts on its own.

Figures that live in the database (outbox backlog and age, submissions by organisation and
channel, failed webhooks and mails) are read when ``/metrics`` is scraped, by collectors in
``madoguchi.ops.metrics``, not counted here: a restart must not reset a backlog.

Labels carry codes, never personal data: an organisation's 団体コード, a channel, a route's
name, an outcome. Never an address, a name, a receipt number or an e-mail address.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

#: Request durations (seconds): a page is expected well under a second.
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS: Final = Counter(
    "madoguchi_http_requests_total",
    "HTTP requests answered, by method, route name and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION: Final = Histogram(
    "madoguchi_http_request_duration_seconds",
    "Time from admission to response, by method and route name.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
)
HTTP_IN_FLIGHT: Final = Gauge(
    "madoguchi_http_requests_in_flight",
    "Requests being worked on now (admitted, not yet answered).",
    multiprocess_mode="livesum",
)
ADMISSION_REFUSED: Final = Counter(
    "madoguchi_admission_refused_total",
    "Requests refused by admission control: 'server' (503: too many in flight, no slot "
    "within the queue's wait), 'client' (429: one client's limit on expensive endpoints).",
    ["reason"],
)
ADMISSION_LIMIT: Final = Gauge(
    "madoguchi_admission_limit",
    "Admission control's configured limits: 'in_flight' (requests worked on at once by the "
    "server; 0: off), 'queue' (requests that may wait for a slot at once).",
    ["limit"],
    multiprocess_mode="max",
)
ADMISSION_QUEUE_SECONDS: Final = Histogram(
    "madoguchi_admission_queue_seconds",
    "Time a request waited in admission control's short queue before it was admitted.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
SUBMISSIONS: Final = Counter(
    "madoguchi_submissions_total",
    "Applications received (committed), by organisation (団体コード) and channel.",
    ["organisation", "channel"],
)
LOGIN_FAILURES: Final = Counter(
    "madoguchi_login_failures_total",
    "Failed logins, by kind: console, operator, resident, api_token, second_factor.",
    ["kind"],
)
RATE_LIMITED: Final = Counter(
    "madoguchi_rate_limited_total",
    "Attempts refused by a rate limit, by the limit's name.",
    ["limit"],
)
VIRUS_SCANS: Final = Counter(
    "madoguchi_virus_scans_total",
    "Virus-scan results for uploads: clean, infected, error, unavailable, not_scanned.",
    ["result"],
)
MAIL_DELIVERIES: Final = Counter(
    "madoguchi_mail_deliveries_total",
    "Mail delivery attempts from the outbox, by outcome: sent, retry, failed.",
    ["result"],
)
WEBHOOK_DELIVERIES: Final = Counter(
    "madoguchi_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome: delivered, retry, failed.",
    ["result"],
)
TASK_ENQUEUE_FAILURES: Final = Counter(
    "madoguchi_task_enqueue_failures_total",
    "Background tasks that could not be handed to their backend (the outbox still holds "
    "the work; the worker's sweep delivers it), by backend.",
    ["backend"],
)
STORAGE_ERRORS: Final = Counter(
    "madoguchi_storage_errors_total",
    "File storage operations that failed, by operation (save, open, delete, exists, size, "
    "listdir).",
    ["operation"],
)
WORKER_HEARTBEAT: Final = Gauge(
    "madoguchi_worker_heartbeat_timestamp_seconds",
    "Unix time of the outbox worker's last completed loop (this process).",
    multiprocess_mode="max",
)
REPLICA_LAG: Final = Gauge(
    "madoguchi_replica_lag_seconds",
    "How far the read replica was behind the primary at the last check (this process).",
    multiprocess_mode="max",
)
REPLICA_FALLBACKS: Final = Counter(
    "madoguchi_replica_fallbacks_total",
    "Reads meant for the replica that went to the primary instead, by reason: lag (behind "
    "more than MADOGUCHI_REPLICA_MAX_LAG_SECONDS), unreachable.",
    ["reason"],
)
DATABASE_UNAVAILABLE: Final = Counter(
    "madoguchi_database_unavailable_total",
    "Requests answered 503 because the database could not be reached (connection lost or "
    "refused), instead of a server error.",
)
