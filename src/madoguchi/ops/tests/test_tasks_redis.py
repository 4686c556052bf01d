"""Background tasks on Redis (MADOGUCHI_TASKS_URL): the outbox rows a request commits are
handed to a real rq worker on the Redis server of this machine, and when Redis is away the
request still succeeds, the failure is counted and the outbox worker's sweep delivers them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from django.db import connection
from rq import Queue, SimpleWorker

from madoguchi.applications.services import new_idempotency_key
from madoguchi.conf.scale import redis_url_with_timeouts, tasks_settings
from madoguchi.core import tasks as core_tasks
from madoguchi.core.metrics import TASK_ENQUEUE_FAILURES
from madoguchi.core.time import now
from madoguchi.identity.tokens import access_token_create
from madoguchi.integrations.models import WebhookDelivery
from madoguchi.integrations.webhooks import EVENT_SUBMITTED, webhook_endpoint_create
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.services import outbox_deliver_email, outbox_enqueue_email
from madoguchi.ops.management.commands.serve import task_worker_argv
from madoguchi.tenants.models import Organisation
from madoguchi.testing import free_port, procedure_publish, valid_answers


def _use_redis(settings: Any, url: str) -> None:
    settings.TASKS_URL, settings.TASKS, settings.RQ_QUEUES = tasks_settings(
        {"MADOGUCHI_TASKS_URL": url}
    )


@pytest.fixture
def redis_url(settings: Any) -> Iterator[str]:
    """A Redis database of these tests' own (13 for SQLite runs, 14 for PostgreSQL runs, so
    that the two CI runs side by side never take each other's jobs), emptied before and after."""
    number = 13 if connection.vendor == "sqlite" else 14
    url = f"redis://127.0.0.1:6379/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    _use_redis(settings, url)
    core_tasks.pause_reset()
    yield url
    client.flushdb()
    client.close()
    core_tasks.pause_reset()


@pytest.fixture
def redis_away(settings: Any) -> Iterator[str]:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens here
    _use_redis(settings, url)
    core_tasks.pause_reset()
    yield url
    core_tasks.pause_reset()


def failures() -> float:
    return float(TASK_ENQUEUE_FAILURES.labels(backend="redis")._value.get())


def submit_over_http(client: Any, resident: Any) -> Any:
    """A resident's app applies (粗大ごみ…) through the API: one receipt mail is queued."""
    procedure = procedure_publish(
        Organisation.objects.get(lg_code="141003"), "kaigo-hihokensha-saikofu"
    )
    token = access_token_create(user=resident, name="スマホ", scopes=["applications"], now=now())[1]
    return client.post(
        "/api/v1/applications/",
        data=json.dumps({"procedure": procedure.pk, "answers": valid_answers(procedure)}),
        content_type="application/json",
        headers={"Idempotency-Key": new_idempotency_key(), "Authorization": f"Bearer {token}"},
    )


def work(url: str) -> None:
    """A real rq worker, in burst mode, with django-tasks-rq's job class (as `madoguchi
    rqworker --job-class django_tasks_rq.Job` runs it), in this process."""
    client = redis.Redis.from_url(url)
    queue = Queue("default", connection=client)
    SimpleWorker([queue], connection=client, job_class="django_tasks_rq.Job").work(burst=True)
    client.close()


def test_a_committed_submission_is_mailed_by_the_redis_worker(
    client, resident, redis_url, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit_over_http(client, resident)

    assert response.status_code == 201, response.content
    queued = redis.Redis.from_url(redis_url).llen("rq:queue:default")
    assert queued == 1
    assert smtp_server.messages == []  # nothing sent before a worker runs

    work(redis_url)

    assert len(smtp_server.messages) == 1
    assert OutboxMessage.objects.get().delivered_at is not None
    # The sweep finds nothing left: the mail is not sent twice.
    assert outbox_deliver_email(now=now()).delivered == 0
    assert len(smtp_server.messages) == 1


def test_nothing_is_enqueued_before_the_commit_or_after_a_rollback(
    db, redis_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox_enqueue_email(to="hanako@example.jp", subject="件名", body="本文", now=now())

    assert redis.Redis.from_url(redis_url).llen("rq:queue:default") == 0
    assert len(callbacks) == 1  # runs only if the transaction commits


def test_redis_away_the_request_succeeds_it_is_counted_and_the_sweep_delivers(
    client, resident, redis_away, smtp_server, django_capture_on_commit_callbacks
):
    before = failures()

    with django_capture_on_commit_callbacks(execute=True):
        response = submit_over_http(client, resident)

    assert response.status_code == 201, response.content
    assert failures() == before + 1
    message = OutboxMessage.objects.get()
    assert message.delivered_at is None  # nothing lost: the row waits for the sweep

    report = outbox_deliver_email(now=now())

    assert report.delivered == 1
    assert len(smtp_server.messages) == 1


def test_after_a_failure_redis_is_not_tried_again_for_a_few_seconds(
    db, redis_away, django_capture_on_commit_callbacks
):
    before = failures()
    with django_capture_on_commit_callbacks(execute=True):
        outbox_enqueue_email(to="a@example.jp", subject="件名", body="本文", now=now())
    paused_until = core_tasks._paused_until

    with django_capture_on_commit_callbacks(execute=True):
        outbox_enqueue_email(to="b@example.jp", subject="件名", body="本文", now=now())

    assert failures() == before + 2
    assert core_tasks._paused_until == paused_until  # skipped, not tried (no new timeout)


def test_with_the_database_backend_nothing_is_enqueued(
    db, settings, django_capture_on_commit_callbacks
):
    settings.TASKS_URL, settings.TASKS, _ = tasks_settings({})

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox_enqueue_email(to="hanako@example.jp", subject="件名", body="本文", now=now())

    assert callbacks == []  # the outbox worker of `make run` is the worker


def test_the_tasks_url_must_be_redis_and_gets_short_timeouts():
    from madoguchi.conf.env import SettingError

    with pytest.raises(SettingError, match="redis://"):
        tasks_settings({"MADOGUCHI_TASKS_URL": "amqp://127.0.0.1/"})
    url = redis_url_with_timeouts("redis://127.0.0.1:6379/2?socket_timeout=3")
    assert "socket_connect_timeout=0.5" in url
    assert "socket_timeout=3" in url  # the operator's own value is kept


def test_serve_starts_the_rq_worker_with_the_tasks_job_class():
    argv = task_worker_argv()

    assert argv[1:4] == ["-m", "madoguchi", "rqworker"]
    assert "django_tasks_rq.Job" in argv
    assert argv[-1] == "default"


@pytest.fixture
def hook_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A real HTTP receiver on loopback; yields its URL and the bodies it got."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", bodies
    server.shutdown()
    server.server_close()


def test_a_committed_submission_reaches_the_webhook_through_the_redis_worker(
    client,
    resident,
    staff_member,
    redis_url,
    hook_receiver,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    url, bodies = hook_receiver
    webhook_endpoint_create(
        organisation=staff_member.organisation,
        url=url,
        events=[EVENT_SUBMITTED],
        actor=staff_member.user,
        now=now(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert submit_over_http(client, resident).status_code == 201
    work(redis_url)

    assert len(bodies) == 1
    assert json.loads(bodies[0])["type"] == EVENT_SUBMITTED
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.DELIVERED
