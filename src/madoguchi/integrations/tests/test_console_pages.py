"""An organisation admin issues and revokes API tokens and manages webhook endpoints in the
console; nobody else can, and nobody sees another organisation's."""

from __future__ import annotations

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.models import AccessToken
from madoguchi.identity.tokens import access_token_authenticate
from madoguchi.integrations.models import WebhookDelivery, WebhookEndpoint
from madoguchi.integrations.tokens import SCOPE_READ, SCOPE_WRITE, staff_token_create
from madoguchi.integrations.webhooks import EVENT_SUBMITTED, webhook_endpoint_create
from madoguchi.testing import console_login

pytestmark = pytest.mark.urls("madoguchi.integrations.tests.urls_spliced")

TOKENS = "/console/settings/tokens/"
WEBHOOKS = "/console/settings/webhooks/"


@pytest.fixture
def admin(admin_staff):
    return admin_staff


def test_an_admin_issues_a_token_that_is_shown_once(admin_client, admin):
    page = admin_client.get(TOKENS)
    assert page.status_code == 200
    assert "トークンを発行する" in page.content.decode()

    response = admin_client.post(
        TOKENS, {"name": "基幹系連携", "scopes": [SCOPE_READ, SCOPE_WRITE], "expiry": "90"}
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = AccessToken.objects.get()
    raw = response.context["raw"]
    assert raw in response.content.decode()
    assert token.organisation_id == admin.organisation_id
    assert sorted(token.scopes) == [SCOPE_READ, SCOPE_WRITE]
    assert access_token_authenticate(raw=raw, now=now()) == token
    listing = admin_client.get(TOKENS).content.decode()
    assert "基幹系連携" in listing
    assert raw not in listing
    assert AuditEvent.objects.filter(action="access_token.created").count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "scopes": [SCOPE_READ], "expiry": "90"},
        {"name": "連携", "scopes": [], "expiry": "90"},
        {"name": "連携", "scopes": ["applications"], "expiry": "90"},
        {"name": "連携", "scopes": [SCOPE_READ], "expiry": "forever"},
        {"name": "x" * 101, "scopes": [SCOPE_READ], "expiry": "90"},
        {"name": "連携\x00", "scopes": [SCOPE_READ], "expiry": "-5"},
    ],
)
def test_a_wrong_token_form_is_answered_with_an_error_summary(admin_client, data):
    response = admin_client.post(TOKENS, data)

    assert response.status_code == 422
    assert 'id="error-summary"' in response.content.decode()
    assert not AccessToken.objects.exists()


def test_an_admin_revokes_a_token_and_another_organisation_cannot(
    admin_client, admin, other_admin, client
):
    token, raw = staff_token_create(staff=admin, name="連携", scopes=[SCOPE_READ], now=now())

    response = admin_client.post(f"{TOKENS}{token.pk}/revoke/")

    assert response.status_code == 302
    assert access_token_authenticate(raw=raw, now=now()) is None
    theirs, their_raw = staff_token_create(
        staff=other_admin, name="鎌倉連携", scopes=[SCOPE_READ], now=now()
    )
    assert admin_client.post(f"{TOKENS}{theirs.pk}/revoke/").status_code == 404
    assert access_token_authenticate(raw=their_raw, now=now()) is not None
    assert "鎌倉連携" not in admin_client.get(TOKENS).content.decode()


def test_reviewers_and_residents_cannot_manage_tokens_or_webhooks(client, staff_member):
    assert client.get(TOKENS).status_code == 302  # to the login page
    console_login(client, staff_member.user)
    assert client.get(WEBHOOKS).status_code == 403
    # A reviewer sees only the tokens they issued (none), and no form to issue one.
    own = client.get(TOKENS)
    assert own.status_code == 200
    assert "発行する</button>" not in own.content.decode()
    assert (
        client.post(TOKENS, {"name": "x", "scopes": [SCOPE_READ], "expiry": "90"}).status_code
        == 403
    )
    assert not AccessToken.objects.exists()


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    response = admin_client.post(
        WEBHOOKS, {"url": "http://127.0.0.1:9/hook", "events": [EVENT_SUBMITTED]}
    )

    assert response.status_code == 200, response.content.decode()
    assert response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == [EVENT_SUBMITTED]
    assert secret not in admin_client.get(f"{WEBHOOKS}{endpoint.pk}/").content.decode()
    assert secret not in admin_client.get(WEBHOOKS).content.decode()


def test_an_internal_address_is_refused_with_a_japanese_error(admin_client):
    response = admin_client.post(
        WEBHOOKS, {"url": "http://169.254.169.254/latest/", "events": [EVENT_SUBMITTED]}
    )

    assert response.status_code == 422
    assert "内部のネットワーク" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_and_disabling_an_endpoint(admin_client, admin, other_admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint, _ = webhook_endpoint_create(
        organisation=admin.organisation,
        url="http://127.0.0.1:9/hook",
        events=[EVENT_SUBMITTED],
        actor=admin.user,
        now=now(),
    )
    WebhookDelivery.objects.create(
        organisation=admin.organisation,
        endpoint=endpoint,
        message_id="msg_test_0001",
        event_type=EVENT_SUBMITTED,
        payload={"type": EVENT_SUBMITTED},
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        last_status_code=500,
        last_error="HTTP 500",
        created_at=now(),
        available_at=now(),
        last_attempt_at=now(),
    )
    theirs, _ = webhook_endpoint_create(
        organisation=other_admin.organisation,
        url="http://127.0.0.1:9/kamakura",
        events=[EVENT_SUBMITTED],
        actor=other_admin.user,
        now=now(),
    )

    log = admin_client.get(f"{WEBHOOKS}{endpoint.pk}/").content.decode()

    assert "msg_test_0001" in log
    assert "HTTP 500" in log
    assert "失敗（再送予定）" in log
    assert admin_client.get(f"{WEBHOOKS}{theirs.pk}/").status_code == 404
    assert admin_client.post(f"{WEBHOOKS}{theirs.pk}/disable/").status_code == 404
    assert "kamakura" not in admin_client.get(WEBHOOKS).content.decode()

    response = admin_client.post(f"{WEBHOOKS}{endpoint.pk}/disable/")

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert WebhookEndpoint.objects.get(pk=theirs.pk).active
    assert AuditEvent.objects.filter(action="webhook.disabled").count() == 1
