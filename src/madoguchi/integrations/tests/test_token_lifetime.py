"""A staff API token ends with its owner's role or activity, for good; the owner can always
see and revoke their own tokens."""

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.conftest import STAFF_PASSWORD
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.services import staff_set_active, staff_set_role, staff_upsert
from madoguchi.integrations.tokens import (
    SCOPE_READ,
    SCOPE_WRITE,
    staff_token_create,
    staff_token_revoke,
    staff_tokens_owned_by,
)

LIST = "/api/v1/staff/applications/"


@pytest.fixture
def owner(organisation):
    return staff_upsert(
        organisation=organisation,
        email="owner-admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )


@pytest.fixture
def colleague(organisation):
    return staff_upsert(
        organisation=organisation,
        email="colleague-admin@yokohama.test",
        password=STAFF_PASSWORD,
        role=StaffRole.ADMIN,
    )


def _token(owner):
    _token, raw = staff_token_create(
        staff=owner, name="基幹系連携", scopes=[SCOPE_READ, SCOPE_WRITE], now=now()
    )
    return raw


def _status(client, raw):
    return client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code


def test_a_token_of_a_disabled_admin_stays_refused_after_re_enabling(
    client, organisation, owner, colleague
):
    raw = _token(owner)
    assert _status(client, raw) == 200

    staff_set_active(
        organisation=organisation, staff_id=owner.pk, active=False, actor=colleague, now=now()
    )
    assert _status(client, raw) == 401
    staff_set_active(
        organisation=organisation, staff_id=owner.pk, active=True, actor=colleague, now=now()
    )

    assert _status(client, raw) == 401
    token = staff_tokens_owned_by(staff=owner).get()
    assert token.revoked_at is not None
    ended = AuditEvent.objects.get(action="access_token.ended")
    assert ended.detail["reason"] == "disabled"


def test_a_token_of_a_demoted_admin_is_refused_even_when_promoted_again(
    client, organisation, owner, colleague
):
    raw = _token(owner)

    staff_set_role(
        organisation=organisation,
        staff_id=owner.pk,
        role=StaffRole.REVIEWER,
        actor=colleague,
        now=now(),
    )
    assert _status(client, raw) == 401
    staff_set_role(
        organisation=organisation,
        staff_id=owner.pk,
        role=StaffRole.ADMIN,
        actor=colleague,
        now=now(),
    )

    assert _status(client, raw) == 401


def test_a_demoted_owner_still_sees_and_revokes_their_own_tokens(organisation, owner, colleague):
    _token(owner)
    _token(colleague)
    owner.role = StaffRole.REVIEWER  # as if demoted by a path that forgot to end the tokens
    owner.save()

    mine = list(staff_tokens_owned_by(staff=owner))
    assert len(mine) == 1
    revoked = staff_token_revoke(staff=owner, token=mine[0], now=now())
    assert revoked.revoked_at is not None


def test_a_token_whose_scopes_the_role_no_longer_allows_is_refused(client, owner):
    raw = _token(owner)
    # A demotion written past the services (a data fix): authentication still refuses.
    type(owner).objects.filter(pk=owner.pk).update(role=StaffRole.VIEWER)

    assert _status(client, raw) == 401


def test_a_demoted_owner_sees_and_revokes_their_tokens_in_the_console(client, owner, colleague):
    from madoguchi.identity.models import AccessToken
    from madoguchi.testing import console_login

    _token(owner)
    _token(colleague)
    owner.role = StaffRole.REVIEWER  # as if demoted by a path that forgot to end the tokens
    owner.save()
    console_login(client, owner.user)

    page = client.get("/console/settings/tokens/")
    mine = AccessToken.objects.get(user=owner.user)
    theirs = AccessToken.objects.get(user=colleague.user)

    assert page.status_code == 200
    html = page.content.decode()
    assert f"mdg_{mine.prefix}_" in html
    assert f"mdg_{theirs.prefix}_" not in html
    assert "発行する</button>" not in html
    assert client.post(f"/console/settings/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.post(f"/console/settings/tokens/{mine.pk}/revoke/").status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None
    assert theirs.revoked_at is None
    issued = client.post("/console/settings/tokens/", {"name": "x", "scopes": [SCOPE_READ]})
    assert issued.status_code == 403
