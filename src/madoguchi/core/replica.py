"""Reads from a PostgreSQL read replica (``MADOGUCHI_DATABASE_REPLICA_URL``), where asked.

Most reads come before a write and must see the primary, so nothing reads from the replica
by default: only code inside :func:`replica_reads` (the read-heavy pages — the staff inbox,
statistics, exports — through :func:`replica_reads_view`) does, and even then only when

- a replica is configured (the ``replica`` database alias),
- the acting user has not written in the last ``MADOGUCHI_REPLICA_STICKY_SECONDS``
  (read-your-writes: :class:`ReplicaStickinessMiddleware` marks a browser that made a
  successful non-GET request with a short-lived signed cookie, and its reads stay on the
  primary until it expires),
- the replica answers and lags at most ``MADOGUCHI_REPLICA_MAX_LAG_SECONDS`` behind (checked
  with one cheap query, the answer kept for :data:`LAG_CHECK_SECONDS`).

Otherwise the same code reads from the primary, and ``madoguchi_replica_fallbacks_total``
counts why (``lag``, ``unreachable``); ``madoguchi_replica_lag_seconds`` shows the lag.
Writes always go to the primary.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Final, cast

from django.conf import settings
from django.core import signing
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from madoguchi.core.metrics import REPLICA_FALLBACKS, REPLICA_LAG

logger = logging.getLogger(__name__)

REPLICA: Final = "replica"
#: How long one lag reading is trusted (seconds): one query per process every few seconds.
LAG_CHECK_SECONDS: Final = 3.0
#: The signed cookie that keeps a browser's reads on the primary after it wrote.
STICKY_COOKIE: Final = "madoguchi_primary"
_STICKY_SALT: Final = "madoguchi.core.replica.sticky"

#: The lag, in seconds, of a PostgreSQL standby: 0 when it has replayed everything it
#: received (an idle primary sends nothing, which is no lag), else the age of the last
#: transaction it replayed. A primary used as its own "replica" has no lag.
POSTGRESQL_LAG_QUERY: Final = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)

_reading: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_reading", default=False)
_pinned: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_pinned", default=False)
_lag_lock = threading.Lock()
#: (monotonic time of the reading, lag in seconds or None when the replica did not answer)
_lag_reading: tuple[float, float | None] | None = None


def replica_configured() -> bool:
    return REPLICA in connections.settings


def _lag_query(vendor: str) -> str:
    configured = getattr(settings, "REPLICA_LAG_QUERY", "")
    if configured:
        return str(configured)
    return POSTGRESQL_LAG_QUERY if vendor == "postgresql" else "SELECT 0"


def _measure() -> float | None:
    """The replica's lag in seconds, or None when it does not answer."""
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_lag_query(connection.vendor))
            row = cursor.fetchone()
        return float(row[0] or 0) if row else 0.0
    except DatabaseError as error:
        logger.warning("replica not used: it does not answer (%s)", type(error).__name__)
        with suppress(DatabaseError):
            connection.close()
        return None


def replica_lag() -> float | None:
    """The replica's lag (seconds; None: unreachable), measured at most every few seconds."""
    global _lag_reading
    with _lag_lock:
        reading = _lag_reading
        if reading is not None and time.monotonic() - reading[0] < LAG_CHECK_SECONDS:
            return reading[1]
        lag = _measure()
        _lag_reading = (time.monotonic(), lag)
    if lag is not None:
        REPLICA_LAG.set(lag)
    return lag


def replica_lag_forget() -> None:
    """Measure again at the next use (tests; after the replica came back)."""
    global _lag_reading
    with _lag_lock:
        _lag_reading = None


def _usable() -> bool:
    if not replica_configured() or _pinned.get():
        return False
    lag = replica_lag()
    if lag is None:
        REPLICA_FALLBACKS.labels(reason="unreachable").inc()
        return False
    if lag > float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 5)):
        REPLICA_FALLBACKS.labels(reason="lag").inc()
        return False
    return True


@contextmanager
def replica_reads() -> Iterator[bool]:
    """Inside: reads go to the replica when it may be used (see the module); yields whether
    they do. Use it only around code that writes nothing: a read here may be a moment old."""
    token = _reading.set(_usable())
    try:
        yield _reading.get()
    finally:
        _reading.reset(token)


def replica_reads_view[**P, R](view: Callable[P, R]) -> Callable[P, R]:
    """A view whose GET (and HEAD) requests read from the replica, rendering included (a
    lazy ``TemplateResponse`` is rendered inside). Other methods read from the primary."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        request = args[0] if args else None
        if not isinstance(request, HttpRequest) or request.method not in {"GET", "HEAD"}:
            return view(*args, **kwargs)
        with replica_reads():
            response = view(*args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render) and getattr(response, "is_rendered", True) is False:
                render()
            return response

    return wrapped


def replica_reads_download[**P, R](view: Callable[P, R]) -> Callable[P, R]:
    """A download view (any method) whose reads, and those of a streamed body, go to the
    replica: for exports, whose only write (the audit record) goes to the primary anyway."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with replica_reads() as used:
            response = view(*args, **kwargs)
        if used and isinstance(response, StreamingHttpResponse) and not response.is_async:
            chunks = cast(Iterator[bytes], response.streaming_content)
            response.streaming_content = _on_replica(chunks)
        return response

    return wrapped


def _on_replica[T](chunks: Iterable[T]) -> Iterator[T]:
    """``chunks`` produced with reads on the replica (set around each step only, so nothing
    else the server does between chunks reads there)."""
    iterator = iter(chunks)
    while True:
        token = _reading.set(True)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _reading.reset(token)
        yield chunk


class ReplicaRouter:
    """Reads to the replica inside :func:`replica_reads` only; writes and migrations to the
    primary (``default``)."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return REPLICA if _reading.get() else None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # A row read from the replica is the primary's row: relating them is fine.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


def _sticky_seconds() -> int:
    return int(getattr(settings, "REPLICA_STICKY_SECONDS", 10))


class ReplicaStickinessMiddleware:
    """Read-your-writes: after a successful non-GET request, the browser's reads stay on the
    primary for ``MADOGUCHI_REPLICA_STICKY_SECONDS`` (a signed cookie with the deadline).
    Without a replica it does nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        pinned = False
        raw = request.COOKIES.get(STICKY_COOKIE)
        if raw:
            try:
                until = float(signing.loads(raw, salt=_STICKY_SALT, max_age=_sticky_seconds()))
            except (signing.BadSignature, TypeError, ValueError):
                until = 0.0
            pinned = until > time.time()
        token = _pinned.set(pinned)
        try:
            response = self.get_response(request)
        finally:
            _pinned.reset(token)
        wrote = request.method not in {"GET", "HEAD", "OPTIONS", "TRACE"}
        if wrote and response.status_code < 400 and _sticky_seconds() > 0:
            response.set_cookie(
                STICKY_COOKIE,
                signing.dumps(time.time() + _sticky_seconds(), salt=_STICKY_SALT),
                max_age=_sticky_seconds(),
                secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
                httponly=True,
                samesite="Lax",
            )
        return response
