"""Handing work to Django Tasks after commit, without ever making a request depend on it.

The outbox tables stay the durable record of work to do (mail, webhooks): a row commits with
the change it announces, and the outbox worker's poll loop delivers whatever is due. With
``MADOGUCHI_TASKS_URL`` (Redis), :func:`enqueue_on_commit` also hands the new rows to a task
after the commit, so that a Redis worker delivers them at once instead of at the next poll.
That hand-over is an optimisation: when Redis is slow or away, the request still succeeds,
``madoguchi_task_enqueue_failures_total`` counts it, and the sweep delivers the rows later.

With the database backend (the embedded default) nothing is enqueued: the outbox worker that
``make run`` already starts is the worker, and a second one would only poll the same rows.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.tasks import Task

from madoguchi.core.metrics import TASK_ENQUEUE_FAILURES

logger = logging.getLogger(__name__)

#: After a failed hand-over, this process stops trying for this many seconds (each skipped
#: hand-over is counted as a failure): a Redis that times out must not cost every request
#: its timeout.
PAUSE_AFTER_FAILURE_SECONDS = 5.0

_paused_until = 0.0
_lock = threading.Lock()


def tasks_on_redis() -> bool:
    """True when Django Tasks run on Redis (``MADOGUCHI_TASKS_URL``)."""
    return bool(getattr(settings, "TASKS_URL", ""))


def _enqueue(task: Task[Any, Any], args: tuple[Any, ...]) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        TASK_ENQUEUE_FAILURES.labels(backend="redis").inc()
        return
    try:
        task.enqueue(*args)
    except Exception as error:  # Redis away, slow, full, refusing: the sweep delivers it
        with _lock:
            _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
        TASK_ENQUEUE_FAILURES.labels(backend="redis").inc()
        logger.warning(
            "task %s not enqueued, the outbox sweep will do it (%s)",
            task.name,
            type(error).__name__,
        )


def enqueue_on_commit(task: Task[Any, Any], *args: Any) -> None:
    """Enqueue ``task(*args)`` after the current transaction commits (at once outside one),
    when tasks run on Redis; do nothing with the database backend.

    Never raises and never blocks for long: Redis is reached with short socket timeouts,
    a failure is counted and logged (task name and error type only), and for a few seconds
    after one this process does not try again. ``args`` must be ids, never personal data:
    they are stored in Redis.
    """
    if not tasks_on_redis():
        return
    transaction.on_commit(lambda: _enqueue(task, args), robust=True)


def pause_reset() -> None:
    """Forget an earlier failure (tests; an operator's shell after Redis came back)."""
    global _paused_until
    with _lock:
        _paused_until = 0.0
