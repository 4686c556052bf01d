"""An organisation's system hears of each new application and each status change by a signed
webhook — delivered from the outbox to a real HTTP receiver, retried, and logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import transaction

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application
from madoguchi.applications.workflow import application_transition
from madoguchi.audit.models import AuditEvent
from madoguchi.core.crypto import decrypt
from madoguchi.core.time import now
from madoguchi.integrations.models import WebhookDelivery, WebhookEndpoint
from madoguchi.integrations.webhooks import (
    EVENT_STATUS_CHANGED,
    EVENT_SUBMITTED,
    MAX_ATTEMPTS,
    WebhookError,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_update,
    webhook_url_check,
    webhooks_deliver,
)
from madoguchi.testing import answers_with_file_rows as valid_answers
from madoguchi.testing import submit

ALL_EVENTS = [EVENT_SUBMITTED, EVENT_STATUS_CHANGED]


# --- A real receiver on loopback --------------------------------------------------------------


class Receiver:
    """An HTTP server in a thread that records what it gets and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 204
        self.delay = 0.0
        self.location = ""
        #: Called (in the server's thread) before each answer, with the request's number.
        self.on_request: Any = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                if receiver.on_request is not None:
                    receiver.on_request(len(receiver.requests))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                answer = b'{"echo": "personal data the receiver should never see logged"}'
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/madoguchi"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """Standard Webhooks verification, written from the specification, not from our code."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return any(
        hmac.compare_digest(part.split(",", 1)[1], expected)
        for part in headers["webhook-signature"].split(" ")
        if part.startswith("v1,")
    )


# --- The story's actors -----------------------------------------------------------------------


@pytest.fixture
def private_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def endpoint(organisation, receiver, private_allowed, staff_member):
    item, secret = webhook_endpoint_create(
        organisation=organisation,
        url=receiver.url,
        events=ALL_EVENTS,
        actor=staff_member.user,
        now=now(),
    )
    item.test_secret = secret  # type: ignore[attr-defined]
    return item


def apply(procedure, resident):
    return submit(procedure, resident, valid_answers(procedure, resident)).application


# --- Endpoints --------------------------------------------------------------------------------


def test_an_endpoint_keeps_its_secret_encrypted_and_the_change_is_audited(endpoint):
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)

    assert endpoint.test_secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.test_secret[6:])) == 32
    assert endpoint.test_secret not in stored.secret_encrypted
    assert decrypt(stored.secret_encrypted) == endpoint.test_secret
    event = AuditEvent.objects.get(action="webhook.created")
    assert endpoint.test_secret not in json.dumps(event.detail)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
    ],
)
def test_internal_addresses_are_refused_by_default(organisation, staff_member, url):
    with pytest.raises(WebhookError, match=r"内部のネットワーク|解決できません"):
        webhook_endpoint_create(
            organisation=organisation,
            url=url,
            events=ALL_EVENTS,
            actor=staff_member.user,
            now=now(),
        )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "events", "description"),
    [
        ("ftp://example.jp/hook", ALL_EVENTS, ""),
        ("javascript:alert(1)", ALL_EVENTS, ""),
        ("https://user:pass@example.jp/hook", ALL_EVENTS, ""),
        ("https://example.jp/" + "a" * 600, ALL_EVENTS, ""),
        ("https://例え.jp/hook", ALL_EVENTS, ""),
        ("https://example.jp/ho ok", ALL_EVENTS, ""),
        ("https://example.jp:99999/hook", ALL_EVENTS, ""),
        ("", ALL_EVENTS, ""),
        ("https://example.jp/hook", [], ""),
        ("https://example.jp/hook", ["application.deleted"], ""),
        ("https://example.jp/hook", ALL_EVENTS, "x" * 201),
    ],
)
def test_hostile_endpoint_input_is_refused_in_japanese(
    organisation, staff_member, private_allowed, url, events, description
):
    with pytest.raises(WebhookError) as refused:
        webhook_endpoint_create(
            organisation=organisation,
            url=url,
            events=events,
            description=description,
            actor=staff_member.user,
            now=now(),
        )
    assert any("\u3040" <= ch <= "\u30ff" for ch in str(refused.value))
    assert not WebhookEndpoint.objects.exists()


def test_production_accepts_https_only(organisation, staff_member, private_allowed, settings):
    settings.PRODUCTION = True

    with pytest.raises(WebhookError, match="https"):
        webhook_endpoint_create(
            organisation=organisation,
            url="http://127.0.0.1/hook",
            events=ALL_EVENTS,
            actor=staff_member.user,
            now=now(),
        )


def test_an_update_is_checked_like_a_creation_and_other_organisations_cannot_touch_it(
    endpoint, other_organisation, staff_member, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    with pytest.raises(WebhookError):
        webhook_endpoint_update(
            organisation=endpoint.organisation,
            endpoint=endpoint,
            url="http://127.0.0.2/",
            events=ALL_EVENTS,
            actor=staff_member.user,
            now=now(),
        )
    with pytest.raises(WebhookEndpoint.DoesNotExist):
        webhook_endpoint_disable(
            organisation=other_organisation, endpoint=endpoint, actor=staff_member.user, now=now()
        )
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).active


# --- Queueing in the same transaction ---------------------------------------------------------


def test_a_submission_queues_one_delivery_per_subscribed_endpoint(
    endpoint, procedure, resident, receiver, staff_member, other_organisation, other_admin
):
    organisation = procedure.organisation
    second, _ = webhook_endpoint_create(
        organisation=organisation,
        url=receiver.url + "/second",
        events=[EVENT_SUBMITTED],
        actor=staff_member.user,
        now=now(),
    )
    webhook_endpoint_create(
        organisation=organisation,
        url=receiver.url + "/changes-only",
        events=[EVENT_STATUS_CHANGED],
        actor=staff_member.user,
        now=now(),
    )
    disabled, _ = webhook_endpoint_create(
        organisation=organisation,
        url=receiver.url + "/disabled",
        events=ALL_EVENTS,
        actor=staff_member.user,
        now=now(),
    )
    webhook_endpoint_disable(
        organisation=organisation, endpoint=disabled, actor=staff_member.user, now=now()
    )
    webhook_endpoint_create(
        organisation=other_organisation,
        url=receiver.url + "/kamakura",
        events=ALL_EVENTS,
        actor=other_admin.user,
        now=now(),
    )

    application = apply(procedure, resident)

    deliveries = WebhookDelivery.objects.filter(event_type=EVENT_SUBMITTED)
    assert sorted(d.endpoint_id for d in deliveries) == sorted([endpoint.pk, second.pk])
    assert len({d.message_id for d in deliveries}) == 2
    payload = deliveries[0].payload
    assert payload["type"] == EVENT_SUBMITTED
    assert payload["data"] == {
        "application_id": application.pk,
        "receipt_number": application.receipt_number,
        "organisation": "141003",
        "procedure_id": procedure.pk,
        "status": "submitted",
        "href": f"/api/v1/staff/applications/{application.pk}/",
        "arrived_at": application.arrived_at.isoformat(),
    }


def test_a_submission_that_rolls_back_leaves_no_delivery(endpoint, procedure, resident):
    def submission_that_fails_late():
        with transaction.atomic():
            apply(procedure, resident)
            assert WebhookDelivery.objects.count() == 1
            raise RuntimeError("the submission's transaction fails after the signal")

    with pytest.raises(RuntimeError):
        submission_that_fails_late()

    assert not Application.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_status_change_is_queued_with_both_statuses(endpoint, procedure, resident, staff_member):
    application = apply(procedure, resident)

    application_transition(
        organisation=procedure.organisation,
        application=application,
        to_status=S.ACCEPTED,
        staff_user=staff_member.user,
        expected_status=S.SUBMITTED,
        now=now(),
    )

    change = WebhookDelivery.objects.get(event_type=EVENT_STATUS_CHANGED)
    assert change.payload["data"]["from_status"] == S.SUBMITTED
    assert change.payload["data"]["status"] == S.ACCEPTED
    assert change.payload["data"]["receipt_number"] == application.receipt_number


# --- Delivery ---------------------------------------------------------------------------------


def test_a_delivery_is_signed_per_standard_webhooks_and_carries_no_answers(
    endpoint, procedure, resident, receiver
):
    answers = valid_answers(procedure, resident)
    application = submit(procedure, resident, answers).application

    report = webhooks_deliver(now=now())

    assert (report.delivered, report.failed, report.gave_up) == (1, 0, 0)
    (request,) = receiver.requests
    headers, body = request["headers"], request["body"]
    assert verify(endpoint.test_secret, headers, body)
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
    assert not verify(endpoint.test_secret, headers, body + b" ")
    assert headers["content-type"].startswith("application/json")
    data = json.loads(body)
    assert data["data"]["receipt_number"] == application.receipt_number
    for value in _leaves(answers):
        if isinstance(value, str) and len(value) >= 3:
            assert value not in body.decode(), value
    delivery = WebhookDelivery.objects.get()
    assert headers["webhook-id"] == delivery.message_id
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 204, "")
    assert delivery.delivered_at is not None


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_a_500_is_retried_with_growing_intervals_then_delivered_with_the_same_id(
    endpoint, procedure, resident, receiver
):
    apply(procedure, resident)
    receiver.status = 500
    start = now()

    first = webhooks_deliver(now=start)
    delivery = WebhookDelivery.objects.get()
    assert first.failed == 1
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert delivery.last_error == "HTTP 500"
    assert "personal" not in delivery.last_error
    assert delivery.available_at == start + timedelta(seconds=30)

    # Not due yet: nothing is sent.
    assert webhooks_deliver(now=start + timedelta(seconds=29)).failed == 0
    assert len(receiver.requests) == 1

    webhooks_deliver(now=start + timedelta(seconds=30))
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.available_at == start + timedelta(seconds=30 + 60)

    receiver.status = 200
    webhooks_deliver(now=start + timedelta(seconds=90))
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_status_code == 200
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1


def test_a_receiver_that_keeps_failing_is_given_up_after_the_last_attempt(
    endpoint, procedure, resident, receiver
):
    apply(procedure, resident)
    receiver.status = 503
    at = now()

    for _ in range(MAX_ATTEMPTS):
        webhooks_deliver(now=at)
        at = WebhookDelivery.objects.get().available_at

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.GAVE_UP
    assert delivery.attempts == MAX_ATTEMPTS
    assert len(receiver.requests) == MAX_ATTEMPTS
    # Given up is final: later runs leave it alone.
    webhooks_deliver(now=at + timedelta(days=30))
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_a_receiver_that_times_out_is_retried(endpoint, procedure, resident, receiver):
    apply(procedure, resident)
    receiver.delay = 1.5

    report = webhooks_deliver(now=now(), timeout=0.3)

    delivery = WebhookDelivery.objects.get()
    assert report.failed == 1
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_status_code is None
    assert "タイムアウト" in delivery.last_error
    receiver.delay = 0
    webhooks_deliver(now=delivery.available_at, timeout=2)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2


def test_a_redirect_is_not_followed(endpoint, procedure, resident, receiver):
    apply(procedure, resident)
    receiver.status = 307
    receiver.location = "http://169.254.169.254/latest/meta-data/"

    webhooks_deliver(now=now())

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_status_code == 307
    assert len(receiver.requests) == 1


def test_a_refused_connection_is_retried(endpoint, procedure, resident, receiver):
    apply(procedure, resident)
    receiver.close()

    webhooks_deliver(now=now(), timeout=1)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_error.startswith("接続できません")
    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.server.RequestHandlerClass)
    receiver.thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    receiver.thread.start()


def test_the_address_is_checked_again_before_each_delivery(
    endpoint, procedure, resident, receiver, settings
):
    apply(procedure, resident)
    settings.WEBHOOK_ALLOW_PRIVATE = False

    webhooks_deliver(now=now())

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "内部のネットワーク" in delivery.last_error
    assert receiver.requests == []


def test_a_disabled_endpoints_queue_is_given_up_unsent(
    endpoint, procedure, resident, receiver, staff_member
):
    apply(procedure, resident)
    webhook_endpoint_disable(
        organisation=endpoint.organisation, endpoint=endpoint, actor=staff_member.user, now=now()
    )

    report = webhooks_deliver(now=now())

    assert report.gave_up == 1
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.GAVE_UP
    assert receiver.requests == []


def test_the_worker_command_delivers_webhooks_too(endpoint, procedure, resident, receiver):
    from io import StringIO

    from django.core.management import call_command

    apply(procedure, resident)
    out = StringIO()

    call_command("outbox_worker", "--once", stdout=out, stderr=StringIO())

    assert "Webhook: 配信 1" in out.getvalue()
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.DELIVERED


def test_rows_taken_by_one_worker_are_not_sent_by_another(endpoint, procedure, resident, receiver):
    from madoguchi.integrations.webhooks import _claim

    apply(procedure, resident)
    at = now()
    taken = _claim(at, timedelta(minutes=5))

    report = webhooks_deliver(now=at)

    assert taken is not None
    assert (report.delivered, report.failed) == (0, 0)
    assert receiver.requests == []
    # A worker that died mid-way: the lease ends and the row is sent (at least once).
    assert webhooks_deliver(now=at + timedelta(minutes=5)).delivered == 1


@pytest.mark.django_db(transaction=True)  # the receiver's thread reads what was committed
def test_a_worker_holds_only_the_delivery_it_is_sending(endpoint, procedure, resident, receiver):
    """A worker killed while sending (SIGKILL in the fault benchmark) leaves behind exactly
    what it held at that moment: the one delivery in flight, leased for one timeout and a
    margin — never the rest of a batch, which would wait out the whole batch's lease."""
    from django.db import connection

    from madoguchi.integrations.webhooks import LEASE_MARGIN

    for _ in range(3):
        apply(procedure, resident)
    at = now()
    started = time.monotonic()
    held: list[list[tuple[int, Any]]] = []
    elapsed: list[timedelta] = []

    def snapshot(number: int) -> None:
        if number == 2:  # while the second delivery is being received
            elapsed.append(timedelta(seconds=time.monotonic() - started))
            held.append(
                list(
                    WebhookDelivery.objects.filter(available_at__gt=at)
                    .exclude(status=WebhookDelivery.Status.DELIVERED)
                    .values_list("pk", "available_at")
                )
            )
            connection.close()

    receiver.on_request = snapshot
    queued = list(
        WebhookDelivery.objects.order_by("available_at", "id").values_list("pk", flat=True)
    )

    report = webhooks_deliver(now=at, timeout=10)

    assert report.delivered == 3
    ((pk, until),) = held[0]  # one row held: the second, nothing else
    assert pk == queued[1]
    # Leased from when its turn came, for one timeout and the margin.
    assert at < until <= at + elapsed[0] + timedelta(seconds=10) + LEASE_MARGIN


def test_one_broken_endpoint_does_not_hold_up_the_others(
    endpoint, procedure, resident, receiver, staff_member
):
    broken, _ = webhook_endpoint_create(
        organisation=procedure.organisation,
        url=receiver.url + "/broken",
        events=[EVENT_SUBMITTED],
        actor=staff_member.user,
        now=now(),
    )
    WebhookEndpoint.objects.filter(pk=broken.pk).update(secret_encrypted="not a fernet token")
    apply(procedure, resident)

    report = webhooks_deliver(now=now())

    assert (report.delivered, report.failed) == (1, 1)
    failed = WebhookDelivery.objects.get(endpoint=broken)
    assert failed.last_error.startswith("送信の準備に失敗しました")
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [
        WebhookDelivery.objects.get(endpoint=endpoint).message_id
    ]


# --- Closed networks (LGWAN) without turning the guard off -------------------------------------


def test_a_named_private_network_is_allowed_and_nothing_else_private(settings):
    import ipaddress

    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]

    assert webhook_url_check("https://10.20.1.5/hook") == "https://10.20.1.5/hook"
    for url in ("https://10.21.1.5/hook", "https://127.0.0.1/hook", "https://169.254.169.254/"):
        with pytest.raises(WebhookError, match="内部のネットワーク"):
            webhook_url_check(url)
