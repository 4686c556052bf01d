"""Webhooks: an organisation's endpoints, the events queued for them, and their delivery.

Signed per Standard Webhooks (https://www.standardwebhooks.com/): each request carries
``webhook-id`` (the same on every retry, so a receiver can drop duplicates),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` keyed by the base64-decoded part of the ``whsec_`` secret.

Payloads carry ids, the receipt number, the procedure, the status and a link to the staff
API — never answers: a receiver fetches the application with its own token, and that read is
audited. Deliveries are queued in the transaction that made the change (the submission, the
workflow move), so an event is never lost and never announced for a change that rolled back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.tasks import task

from madoguchi.audit.services import audit_record
from madoguchi.core.crypto import decrypt, encrypt
from madoguchi.core.metrics import WEBHOOK_DELIVERIES
from madoguchi.core.tasks import enqueue_on_commit
from madoguchi.core.text import visible_text
from madoguchi.core.time import now as clock
from madoguchi.identity.models import User
from madoguchi.integrations.models import WebhookDelivery, WebhookEndpoint
from madoguchi.integrations.selectors import application_reference
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.services import organisation_touch

logger = logging.getLogger(__name__)

EVENT_SUBMITTED: Final = "application.submitted"
EVENT_STATUS_CHANGED: Final = "application.status_changed"
#: event type → what an admin reads when subscribing.
EVENT_TYPES: Final[Mapping[str, str]] = {
    EVENT_SUBMITTED: "申請の到達",
    EVENT_STATUS_CHANGED: "申請の状態の変更",
}
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a label, not a secret)
#: Per socket operation (connect, each read): a receiver that hangs costs this much, no more.
TIMEOUT_SECONDS: Final = 10.0
#: After this many failed attempts the delivery is given up (status gave_up).
MAX_ATTEMPTS: Final = 12
#: 30 s, 1 min, 2 min … capped at 6 hours: the twelve attempts span about a day.
BACKOFF_BASE: Final = timedelta(seconds=30)
BACKOFF_MAX: Final = timedelta(hours=6)
#: How long a claimed delivery is kept from other workers beyond its own timeout: a worker
#: killed while sending leaves that one delivery, sent again by another after this.
LEASE_MARGIN: Final = timedelta(seconds=30)
MAX_URL_LENGTH: Final = 500
MAX_DESCRIPTION: Final = 200
#: Only so much of an answer is read (and then discarded): a receiver cannot make us buffer.
MAX_RESPONSE_READ: Final = 4096
USER_AGENT: Final = "Madoguchi-Webhooks/1"


class WebhookError(ValueError):
    """An endpoint cannot be saved as given (message in Japanese, for the admin)."""


# --- Endpoints --------------------------------------------------------------------------------


def webhook_secret_new() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return True
    # A private network the operator named (MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS), e.g. LGWAN.
    return any(ip in network for network in settings.WEBHOOK_ALLOWED_NETWORKS)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def webhook_url_check(url: str) -> str:
    """``url`` as an endpoint may use it, or :class:`WebhookError` saying why not.

    http(s) only, https only in production, no credentials in the URL, and — unless
    ``MADOGUCHI_WEBHOOK_ALLOW_PRIVATE`` (development only) — every address the host resolves to
    must be a public one or inside ``MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS`` (no loopback, other
    private, link-local or reserved ranges: SSRF).
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("送信先URLを入力してください。")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(ch.isspace() for ch in url):
        raise WebhookError(
            f"送信先URLは{MAX_URL_LENGTH}文字以内の半角で、空白を含めずに入力してください。"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookError("送信先URLの形式が正しくありません。") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("送信先URLは https:// で始まるURLを入力してください。")
    if settings.PRODUCTION and parts.scheme != "https":
        raise WebhookError("送信先URLは https:// で始まるものに限ります（暗号化のため）。")
    if parts.username is not None or parts.password is not None:
        raise WebhookError(
            "送信先URLに利用者名やパスワードを含めないでください。受信側では署名で送信元を確かめてください。"
        )
    if parts.fragment:
        raise WebhookError("送信先URLに # 以降を含めないでください。")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        addresses = _resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
        if not addresses:
            raise WebhookError("送信先のホスト名を解決できません。URLを確かめてください。")
        if not all(_address_is_public(address) for address in addresses):
            raise WebhookError(
                "送信先が内部のネットワーク（ループバック・プライベートアドレスなど）を指しています。"
                "インターネットから到達できる送信先を指定してください。"
            )
    return url


def _events_check(events: Iterable[str]) -> list[str]:
    chosen = sorted({str(event) for event in events})
    if not chosen:
        raise WebhookError("送る出来事を1つ以上選んでください。")
    if any(event not in EVENT_TYPES for event in chosen):
        raise WebhookError("送る出来事の指定が正しくありません。")
    return chosen


def _description_check(description: str) -> str:
    text = visible_text(str(description or ""))
    if len(text) > MAX_DESCRIPTION:
        raise WebhookError(f"説明は{MAX_DESCRIPTION}文字以内で入力してください。")
    return text


def webhook_endpoint_create(
    *,
    organisation: Organisation,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: User,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint and return it with its signing secret, shown to the admin now only.

    The secret is stored encrypted (application keys, outside the database). The change is
    audited (``webhook.created``, without the secret). Raises :class:`WebhookError`.
    """
    url = webhook_url_check(url)
    chosen = _events_check(events)
    text = _description_check(description)
    secret = webhook_secret_new()
    with transaction.atomic(durable=True):
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation,
            url=url,
            secret_encrypted=encrypt(secret),
            events=chosen,
            description=text,
            active=True,
            created_at=now,
        )
        _audit("webhook.created", endpoint, actor, now, {"events": chosen})
    return endpoint, secret


def webhook_endpoint_update(
    *,
    organisation: Organisation,
    endpoint: WebhookEndpoint,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: User,
    now: datetime,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events and description (the secret stays). Audited.

    Raises ``WebhookEndpoint.DoesNotExist`` for another organisation's endpoint and
    :class:`WebhookError`.
    """
    if endpoint.organisation_id != organisation.pk:
        raise WebhookEndpoint.DoesNotExist
    endpoint.url = webhook_url_check(url)
    endpoint.events = _events_check(events)
    endpoint.description = _description_check(description)
    with transaction.atomic(durable=True):
        endpoint.save(update_fields=["url", "events", "description"])
        _audit("webhook.updated", endpoint, actor, now, {"events": endpoint.events})
    return endpoint


def webhook_endpoint_disable(
    *, organisation: Organisation, endpoint: WebhookEndpoint, actor: User, now: datetime
) -> WebhookEndpoint:
    """Stop sending to an endpoint: nothing new is queued and what is queued is not sent.

    Disabling twice keeps the first time. Audited. Raises ``WebhookEndpoint.DoesNotExist``
    for another organisation's endpoint.
    """
    if endpoint.organisation_id != organisation.pk:
        raise WebhookEndpoint.DoesNotExist
    with transaction.atomic(durable=True):
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
            active=False, disabled_at=now
        )
        if changed:
            _audit("webhook.disabled", endpoint, actor, now, {})
    endpoint.refresh_from_db(fields=["active", "disabled_at"])
    return endpoint


def _audit(
    action: str, endpoint: WebhookEndpoint, actor: User, now: datetime, detail: dict[str, Any]
) -> None:
    # Every change of an endpoint passes here, in its transaction: the organisation's change
    # token moves, so that no process keeps answering "no endpoints" from its cache; this
    # process also forgets at once (a caller may hold an organisation read before the change).
    organisation_touch(organisation_id=endpoint.organisation_id)
    _HAS_ENDPOINTS.pop(endpoint.organisation_id, None)
    audit_record(
        action=action,
        now=now,
        organisation=endpoint.organisation,
        actor=actor,
        actor_label="団体管理者",
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        detail=detail,
    )


def webhook_endpoints_of(*, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organisation=organisation).order_by(
        "-active", "-created_at", "-id"
    )


def webhook_endpoint_get(*, organisation: Organisation, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint of ``organisation``; another organisation's id raises DoesNotExist."""
    return WebhookEndpoint.objects.get(organisation=organisation, pk=endpoint_id)


def webhook_deliveries_of(
    *, organisation: Organisation, endpoint: WebhookEndpoint, limit: int = 100
) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    return list(
        WebhookDelivery.objects.filter(organisation=organisation, endpoint=endpoint).order_by(
            "-created_at", "-id"
        )[:limit]
    )


# --- Queueing ---------------------------------------------------------------------------------


def webhooks_enqueue(
    *, organisation_id: int, event_type: str, data: Mapping[str, Any], now: datetime
) -> list[WebhookDelivery]:
    """Queue ``data`` for every active endpoint of the organisation subscribed to the event,
    in the caller's transaction: the rows commit (or roll back) with the caller's change.

    ``data`` must hold ids, codes and statuses only, never answers or names.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(organisation_id=organisation_id, active=True)
        if event_type in (endpoint.events or [])
    ]
    if not endpoints:
        return []
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": dict(data)}
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organisation_id=organisation_id,
                endpoint=endpoint,
                message_id=f"msg_{secrets.token_hex(16)}",
                event_type=event_type,
                payload=payload,
                created_at=now,
                available_at=now,
            )
            for endpoint in endpoints
        ]
    )
    # With tasks on Redis, delivered right after the commit; the worker's sweep otherwise.
    enqueue_on_commit(webhooks_deliver_task, [row.pk for row in rows if row.pk is not None])
    return rows


# --- Delivery ---------------------------------------------------------------------------------


def webhook_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message (Standard Webhooks ``v1``)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 20)), BACKOFF_MAX)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (not 2xx), never followed: it could lead into the internal
    network past the address check."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class WebhookReport:
    delivered: int
    failed: int
    gave_up: int


def _claim(
    now: datetime, lease: timedelta, ids: Sequence[int] | None = None
) -> WebhookDelivery | None:
    """Take the next due delivery for this worker: locked (SKIP LOCKED on PostgreSQL, so
    several workers split the work), then leased by moving ``available_at`` to ``now + lease``,
    and committed at once — no transaction stays open while a receiver is slow.

    One at a time, just before it is sent: a worker that dies mid-way leaves only the delivery
    it was sending, due again when that short lease ends (at least once, never zero). A batch
    leased together would keep every row of it from the others for the whole batch's worst
    case (10 minutes) after a crash."""
    with transaction.atomic():
        due = WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status__in=(WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED),
            available_at__lte=now,
        )
        if ids is not None:  # the task that follows a commit: only its own rows
            due = due.filter(pk__in=list(ids))
        row = due.order_by("available_at", "id").first()
        if row is not None:
            WebhookDelivery.objects.filter(pk=row.pk).update(available_at=now + lease)
    return row


def _send(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime, timeout: float
) -> tuple[int | None, str]:
    """POST one message; (HTTP status or None, error text without any response body)."""
    try:
        url = webhook_url_check(endpoint.url)
    except WebhookError as error:
        return None, str(error)
    body = json.dumps(
        delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
    timestamp = int(now.timestamp())
    request = urllib.request.Request(  # noqa: S310 (scheme checked: http or https only)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_signature(
                secret=decrypt(endpoint.secret_encrypted),
                message_id=delivery.message_id,
                timestamp=timestamp,
                body=body,
            ),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_READ)
            return int(response.status), ""
    except urllib.error.HTTPError as error:
        # Not read: the body of an error page may echo what we sent or hold anything.
        error.close()
        return int(error.code), f"HTTP {error.code}"
    except TimeoutError:
        return None, f"タイムアウト（{timeout:g}秒）"
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            return None, f"タイムアウト（{timeout:g}秒）"
        return None, f"接続できません（{type(error.reason).__name__}）"
    except (OSError, ValueError, http.client.HTTPException) as error:  # resets, garbage
        return None, f"接続できません（{type(error).__name__}）"


def webhooks_deliver(
    *,
    now: datetime,
    limit: int = 50,
    timeout: float = TIMEOUT_SECONDS,
    ids: Sequence[int] | None = None,
) -> WebhookReport:
    """Send due webhook deliveries and record each answer.

    A 2xx answer is delivered; anything else (another status, a redirect, a timeout, a
    refused connection, an address that now resolves into the internal network) is retried
    with exponential backoff (30 s doubling, at most 6 hours) and given up after
    :data:`MAX_ATTEMPTS` attempts. A disabled endpoint's deliveries are given up unsent. The
    log keeps the status code and a short error, never a response body. At least once: a
    receiver deduplicates by ``webhook-id``. ``ids`` limits the delivery to those rows (the
    task that follows a commit); a row another worker holds is left to it.
    """
    delivered = failed = gave_up = 0
    endpoints: dict[int, WebhookEndpoint | None] = {}
    started = time.monotonic()
    for _ in range(limit):
        # Leased from when its turn comes (``now`` plus the time this call has taken so far)
        # for the longest one send may take: the receiver's timeout, with a margin.
        elapsed = timedelta(seconds=time.monotonic() - started)
        row = _claim(now, elapsed + timedelta(seconds=timeout) + LEASE_MARGIN, ids)
        if row is None:
            break
        if row.endpoint_id not in endpoints:
            endpoints[row.endpoint_id] = WebhookEndpoint.objects.filter(pk=row.endpoint_id).first()
        endpoint = endpoints[row.endpoint_id]
        if endpoint is None or not endpoint.active:
            WebhookDelivery.objects.filter(pk=row.pk).update(
                status=WebhookDelivery.Status.GAVE_UP,
                last_error="送信先が無効になったため送信しませんでした。",
                available_at=now,
            )
            gave_up += 1
            continue
        try:
            code, error = _send(endpoint, row, now, timeout)
        except Exception as problem:  # e.g. a secret the current keys cannot decrypt
            # One bad row must not hold up the batch it was claimed with.
            code, error = None, f"送信の準備に失敗しました（{type(problem).__name__}）"
        row.attempts += 1
        row.last_attempt_at = now
        row.last_status_code = code
        if code is not None and 200 <= code < 300:
            row.status = WebhookDelivery.Status.DELIVERED
            row.delivered_at = now
            row.last_error = ""
            delivered += 1
        elif row.attempts >= MAX_ATTEMPTS:
            row.status = WebhookDelivery.Status.GAVE_UP
            row.last_error = (error or f"HTTP {code}")[:300]
            gave_up += 1
        else:
            row.status = WebhookDelivery.Status.FAILED
            row.last_error = (error or f"HTTP {code}")[:300]
            row.available_at = now + _backoff(row.attempts)
            failed += 1
        if row.status != WebhookDelivery.Status.FAILED:
            row.available_at = now
        row.save(
            update_fields=[
                "status",
                "attempts",
                "last_attempt_at",
                "last_status_code",
                "last_error",
                "delivered_at",
                "available_at",
            ]
        )
        logger.info(
            "webhook %s to endpoint %s: %s (attempt %s, code %s)",
            row.message_id,
            row.endpoint_id,
            row.status,
            row.attempts,
            code,
        )
    WEBHOOK_DELIVERIES.labels("delivered").inc(delivered)
    WEBHOOK_DELIVERIES.labels("retry").inc(failed)
    WEBHOOK_DELIVERIES.labels("failed").inc(gave_up)
    return WebhookReport(delivered, failed, gave_up)


@task()
def webhooks_deliver_task(delivery_ids: list[int]) -> int:
    """Deliver the given webhook deliveries now (Django Tasks on Redis, enqueued after the
    commit that queued them). Returns how many were delivered; the rest stay for the sweep."""
    return webhooks_deliver(now=clock(), ids=delivery_ids).delivered


# --- Receivers of application events ----------------------------------------------------------


def _application_data(application_id: int, procedure_id: int, status: str) -> dict[str, Any] | None:
    """The payload's data, or None for an operational-test application (運用テスト): no
    webhook is ever queued for one, so no core system hears of it."""
    reference = application_reference(application_id=application_id)
    if reference.is_test:
        return None
    return {
        "application_id": application_id,
        "receipt_number": reference.receipt_number,
        "organisation": reference.lg_code,
        "procedure_id": procedure_id,
        "status": status,
        "href": f"/api/v1/staff/applications/{application_id}/",
    }


#: Whether an organisation has an active endpoint, per process: organisation id →
#: (the organisation's change token it was read under, the answer). See
#: :func:`madoguchi.tenants.services.organisation_touch`.
_HAS_ENDPOINTS: dict[int, tuple[datetime, bool]] = {}
_HAS_ENDPOINTS_MAX = 4096


def _has_endpoints(organisation_id: int, version: datetime) -> bool:
    """Whether the organisation has an active endpoint, read once per change token.

    The token is the organisation's ``updated_at`` as the sender read it: fresh in every
    request (the API reads it with the procedure). Another process's endpoint change moves it;
    this process's own change also empties the entry (``_audit``)."""
    known = _HAS_ENDPOINTS.get(organisation_id)
    if known is not None and known[0] == version:
        return known[1]
    answer = WebhookEndpoint.objects.filter(organisation_id=organisation_id, active=True).exists()
    if len(_HAS_ENDPOINTS) >= _HAS_ENDPOINTS_MAX:
        _HAS_ENDPOINTS.clear()
    _HAS_ENDPOINTS[organisation_id] = (version, answer)
    return answer


def on_application_arrived(
    sender: Any,
    *,
    organisation_id: int,
    procedure_id: int,
    application_id: int,
    arrived_at: datetime,
    receipt_number: str | None = None,
    lg_code: str | None = None,
    is_test: bool = False,
    organisation_version: datetime | None = None,
    **kwargs: Any,
) -> None:
    """Queue ``application.submitted`` (inside the submission transaction).

    The event carries the receipt number, the organisation's code and the test flag, so the
    application is not read back; with the organisation's change token, an organisation
    without endpoints costs no query at all (once per process and change)."""
    if is_test:
        return
    if organisation_version is not None and not _has_endpoints(
        organisation_id, organisation_version
    ):
        return
    if receipt_number is not None and lg_code is not None:
        data: dict[str, Any] | None = {
            "application_id": application_id,
            "receipt_number": receipt_number,
            "organisation": lg_code,
            "procedure_id": procedure_id,
            "status": "submitted",
            "href": f"/api/v1/staff/applications/{application_id}/",
        }
    else:
        data = _application_data(application_id, procedure_id, "submitted")
    if data is None:
        return
    data["arrived_at"] = arrived_at.isoformat()
    webhooks_enqueue(
        organisation_id=organisation_id, event_type=EVENT_SUBMITTED, data=data, now=arrived_at
    )


def on_application_status_changed(
    sender: Any,
    *,
    organisation_id: int,
    procedure_id: int,
    application_id: int,
    from_status: str,
    to_status: str,
    changed_at: datetime,
    **kwargs: Any,
) -> None:
    """Queue ``application.status_changed`` (inside the workflow transaction)."""
    data = _application_data(application_id, procedure_id, to_status)
    if data is None:
        return
    data["from_status"] = from_status
    data["changed_at"] = changed_at.isoformat()
    webhooks_enqueue(
        organisation_id=organisation_id, event_type=EVENT_STATUS_CHANGED, data=data, now=changed_at
    )
