"""A resident creates an API token for an app: shown once, stored only as a hash, revocable."""

from datetime import timedelta

import pytest

from madoguchi.core.time import now
from madoguchi.identity.models import AccessToken
from madoguchi.identity.tokens import (
    access_token_authenticate,
    access_token_create,
    access_token_revoke,
)


def test_the_secret_is_shown_once_and_only_its_hash_is_kept(resident):
    token, raw = access_token_create(
        user=resident, name="スマホ", scopes=["applications"], now=now()
    )

    assert raw.startswith(f"mdg_{token.prefix}_")
    assert len(raw) > 50
    stored = AccessToken.objects.get()
    assert raw not in (stored.token_hash, stored.prefix, stored.name)
    assert len(stored.token_hash) == 64
    assert access_token_authenticate(raw=raw, now=now()) == token


def test_last_use_is_written_at_most_once_a_minute(resident):
    _, raw = access_token_create(user=resident, name="アプリ", scopes=["applications"], now=now())
    start = now()

    access_token_authenticate(raw=raw, now=start)
    access_token_authenticate(raw=raw, now=start + timedelta(seconds=30))
    assert AccessToken.objects.get().last_used_at == start
    access_token_authenticate(raw=raw, now=start + timedelta(seconds=61))
    assert AccessToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_revoked_and_expired_tokens_do_not_authenticate(resident):
    at = now()
    revoked, raw_revoked = access_token_create(
        user=resident, name="古い", scopes=["applications"], now=at
    )
    _, raw_expiring = access_token_create(
        user=resident,
        name="期限付き",
        scopes=["applications"],
        now=at,
        expires_at=at + timedelta(hours=1),
    )

    access_token_revoke(token=revoked, now=at)
    first = AccessToken.objects.get(pk=revoked.pk).revoked_at
    access_token_revoke(token=revoked, now=at + timedelta(days=1))

    assert AccessToken.objects.get(pk=revoked.pk).revoked_at == first
    assert access_token_authenticate(raw=raw_revoked, now=at) is None
    assert access_token_authenticate(raw=raw_expiring, now=at) is not None
    assert access_token_authenticate(raw=raw_expiring, now=at + timedelta(hours=1)) is None


@pytest.mark.parametrize(
    "raw", ["", "mdg_", "mdg_00000000_" + "x" * 43, "Bearer x", "mdg_\u202e", "m" * 10_000, None]
)
def test_anything_else_is_not_a_token(resident, raw):
    access_token_create(user=resident, name="アプリ", scopes=["applications"], now=now())

    assert access_token_authenticate(raw=raw, now=now()) is None


@pytest.mark.parametrize(
    ("scopes", "name", "expires"),
    [
        ([], "a", None),
        (["admin"], "a", None),
        (["applications"], " ", None),
        (["applications"], "a", -1),
    ],
)
def test_a_token_is_refused_with_unknown_scopes_no_name_or_a_past_expiry(
    resident, scopes, name, expires
):
    at = now()
    with pytest.raises(ValueError, match="。"):
        access_token_create(
            user=resident,
            name=name,
            scopes=scopes,
            now=at,
            expires_at=at + timedelta(seconds=expires) if expires else None,
        )
    assert not AccessToken.objects.exists()
