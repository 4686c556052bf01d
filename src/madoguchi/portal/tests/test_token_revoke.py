"""A resident revokes a personal API token; an id that is not ASCII digits is explained,
never a server error, and no token is touched (issue 9, finding 9)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.core.time import now
from madoguchi.identity.models import AccessToken, User
from madoguchi.identity.tokens import SCOPE_APPLICATIONS, access_token_create

TOKENS = reverse("portal:account:tokens")


@pytest.fixture
def resident_client(client: Client, db) -> Client:
    user = User.objects.create_user("hanako@example.jp", "blue whale under 7 bridges")
    user.email_verified_at = now()
    user.save()
    access_token_create(user=user, name="アプリ", scopes=[SCOPE_APPLICATIONS], now=now())
    client.force_login(user)
    return client


@pytest.mark.parametrize("revoke", ["①", "²", "٣", "３", "9" * 40, "-1", "", "1 OR 1=1"])
def test_a_revoke_id_that_is_not_ascii_digits_is_explained_and_revokes_nothing(
    resident_client, revoke
):
    before = list(AccessToken.objects.values_list("pk", "revoked_at"))

    response = resident_client.post(TOKENS, {"revoke": revoke}, follow=True)

    assert response.status_code == 200
    assert "失効させるトークンが見つかりません" in response.content.decode()
    assert list(AccessToken.objects.values_list("pk", "revoked_at")) == before


def test_the_own_token_is_revoked_by_its_id(resident_client):
    token = AccessToken.objects.get()

    response = resident_client.post(TOKENS, {"revoke": str(token.pk)}, follow=True)

    assert "トークンを失効させました" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
