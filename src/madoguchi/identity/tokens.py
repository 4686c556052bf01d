"""API tokens: created with a secret shown once, kept only as its SHA-256, revocable.

A token reads ``mdg_<prefix>_<secret>``: the prefix (8 hex digits) lets a person tell their
tokens apart in a list without the secret; the secret (43 URL-safe characters, 256 bits)
is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from django.db.models import Q

from madoguchi.audit.services import audit_record
from madoguchi.core.metrics import LOGIN_FAILURES
from madoguchi.identity.models import AccessToken, User
from madoguchi.tenants.models import Organisation

TOKEN_PREFIX: Final = "mdg"  # noqa: S105 (a label, not a secret)
#: A resident's app submitting and reading their own applications.
SCOPE_APPLICATIONS: Final = "applications"
#: Staff integrations (``madoguchi.integrations.tokens``): read, or change the status of,
#: the applications of the token's organisation.
SCOPE_STAFF_READ: Final = "applications:read"
SCOPE_STAFF_WRITE: Final = "applications:write"
#: Staff integrations: read the forms (様式の定義) of the organisation's procedures, or
#: create and replace its own procedures' forms (an organisation keeping them in a repository).
SCOPE_PROCEDURES_READ: Final = "procedures:read"
SCOPE_PROCEDURES_WRITE: Final = "procedures:write"
KNOWN_SCOPES: Final = frozenset(
    {
        SCOPE_APPLICATIONS,
        SCOPE_STAFF_READ,
        SCOPE_STAFF_WRITE,
        SCOPE_PROCEDURES_READ,
        SCOPE_PROCEDURES_WRITE,
    }
)
#: ``last_used_at`` is a hint for the owner ("used 3 days ago"), not an audit trail: writing
#: it on every request would turn every API read into a write.
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
#: Longer input is refused before hashing (a token is 56 characters).
MAX_RAW_LENGTH: Final = 200


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def access_token_organisation_id(*, raw: str) -> int | None:
    """The organisation id of the token that ``raw`` claims to be, or ``None`` (no such
    token, or a token of no organisation). Only chooses the database scope of a staff API
    request (``identity.middleware``); :func:`access_token_authenticate` still decides whether
    the token may be used."""
    if not isinstance(raw, str) or len(raw) > MAX_RAW_LENGTH or not raw.isascii():
        return None
    if not raw.startswith(f"{TOKEN_PREFIX}_"):
        return None
    found = (
        AccessToken.objects.filter(token_hash=_digest(raw))
        .values_list("organisation_id", flat=True)
        .first()
    )
    return int(found) if found is not None else None


def access_token_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    now: datetime,
    organisation: Organisation | None = None,
    expires_at: datetime | None = None,
) -> tuple[AccessToken, str]:
    """Create a token for ``user`` and return it with its secret, which is shown only now.

    Raises ``ValueError`` for an unknown scope, an empty name or an expiry in the past.
    """
    wanted = sorted(set(scopes))
    unknown = set(wanted) - KNOWN_SCOPES
    if unknown or not wanted:
        raise ValueError("トークンの権限（scope）が正しくありません。")
    if not name.strip():
        raise ValueError("トークンの名前を入力してください。")
    if expires_at is not None and expires_at <= now:
        raise ValueError("有効期限は未来の日時にしてください。")
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = AccessToken.objects.create(
        user=user,
        organisation=organisation,
        name=name.strip()[:100],
        prefix=prefix,
        token_hash=_digest(raw),
        scopes=wanted,
        created_at=now,
        expires_at=expires_at,
    )
    return token, raw


def access_token_authenticate(*, raw: str, now: datetime) -> AccessToken | None:
    """The usable token that ``raw`` is, or ``None``.

    None for anything malformed, unknown, revoked, expired or belonging to an inactive
    user (counted as a failed login of kind ``api_token`` in ``/metrics``). The look-up is by
    SHA-256 of the whole secret (an attacker cannot steer which stored hash is compared), and
    the match is confirmed with a constant-time comparison. ``last_used_at`` is updated at
    most once a minute.
    """
    token = _token_usable(raw, now)
    if token is None:
        LOGIN_FAILURES.labels("api_token").inc()
    return token


def _token_usable(raw: str, now: datetime) -> AccessToken | None:
    if not isinstance(raw, str) or len(raw) > MAX_RAW_LENGTH:
        return None
    if not raw.startswith(f"{TOKEN_PREFIX}_") or not raw.isascii():
        return None
    digest = _digest(raw)
    token = AccessToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None and token.revoked_at <= now:
        return None  # revoked, or ended with its owner's role or activity (staff_tokens_end)
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so that concurrent requests of one token write once, not each.
        AccessToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


def access_token_revoke(*, token: AccessToken, now: datetime) -> AccessToken:
    """Revoke ``token`` from ``now`` on; revoking twice keeps the first time."""
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    return token


def staff_tokens_end(*, user: User, now: datetime, reason: str) -> list[AccessToken]:
    """End every staff token of ``user`` from ``now`` on, for good (in the caller's
    transaction): called whenever the owner is disabled, changes role or leaves, so that a
    token never outlives the authority it was issued under and re-enabling the owner does not
    revive it. Each ended token is an ``access_token.ended`` audit event giving ``reason``.
    Returns the tokens ended (already revoked ones are left as they were)."""
    ended = list(
        AccessToken.objects.select_for_update().filter(
            user=user, organisation__isnull=False, revoked_at__isnull=True
        )
    )
    AccessToken.objects.filter(pk__in=[token.pk for token in ended]).update(revoked_at=now)
    for token in ended:
        token.revoked_at = now
        audit_record(
            action="access_token.ended",
            now=now,
            organisation=token.organisation,
            actor_label="システム",
            target_type="access_token",
            target_id=token.pk,
            detail={"prefix": token.prefix, "reason": reason, "owner": user.pk},
        )
    return ended
