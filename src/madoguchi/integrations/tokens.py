"""Staff API tokens of an organisation: created by its admins, scoped, revocable, audited.

A staff token belongs to the admin who created it and acts for the organisation only while
that person is active staff of it, in the role it was issued under: when the owner is disabled,
changes role or leaves, their tokens end for good (``identity.tokens.staff_tokens_end``, called
by every service that changes those); re-enabling the owner does not revive them. As a second
line, authentication refuses a token whose scopes the owner's current role does not allow.
The owner can always list and revoke their own tokens. The secret is shown once
(``madoguchi.identity.tokens`` keeps only its SHA-256).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from django.db import transaction
from django.db.models import QuerySet

from madoguchi.audit.services import audit_record
from madoguchi.core.text import visible_text
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import AccessToken, Staff
from madoguchi.identity.selectors import active_staff_of
from madoguchi.identity.tokens import (
    SCOPE_PROCEDURES_READ,
    SCOPE_PROCEDURES_WRITE,
    SCOPE_STAFF_READ,
    SCOPE_STAFF_WRITE,
    access_token_authenticate,
    access_token_create,
    access_token_revoke,
)

SCOPE_READ: Final = SCOPE_STAFF_READ
SCOPE_WRITE: Final = SCOPE_STAFF_WRITE
SCOPE_DEFINITION_READ: Final = SCOPE_PROCEDURES_READ
SCOPE_DEFINITION_WRITE: Final = SCOPE_PROCEDURES_WRITE
#: scope → what an admin reads when choosing.
STAFF_SCOPES: Final[Mapping[str, str]] = {
    SCOPE_READ: "申請の一覧・内容の取得（applications:read）",
    SCOPE_WRITE: "申請の状態の変更（applications:write）",
    SCOPE_PROCEDURES_READ: "手続の様式（定義）の取得（procedures:read）",
    SCOPE_PROCEDURES_WRITE: "独自の手続の様式の登録・置き換え（procedures:write）",
}


#: The scopes each role may hold: only organisation admins issue (and so hold) tokens.
ROLE_SCOPES: Final[Mapping[str, frozenset[str]]] = {
    StaffRole.ADMIN: frozenset(
        {SCOPE_READ, SCOPE_WRITE, SCOPE_PROCEDURES_READ, SCOPE_PROCEDURES_WRITE}
    ),
    StaffRole.REVIEWER: frozenset(),
    StaffRole.VIEWER: frozenset(),
}


class TokenError(ValueError):
    """A token cannot be created as asked (message in Japanese)."""


class TokenRefused(Exception):
    """A request's staff token does not let it in; ``status`` (401/403) and a Japanese
    ``message`` that says what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def staff_token_authenticate(*, raw: object, now: datetime) -> tuple[AccessToken, Staff]:
    """The staff token ``raw`` is and the active staff member it acts as.

    Raises :class:`TokenRefused`: 401 for anything unknown, revoked, ended, expired, or whose
    owner is no longer active staff of the token's organisation or no longer has a role that
    allows its scopes; 403 for a resident's token.
    """
    found = access_token_authenticate(raw=raw if isinstance(raw, str) else "", now=now)
    if found is None:
        raise TokenRefused(
            401,
            "アクセストークンが正しくないか、失効または期限切れです。"
            "団体管理者に新しいトークンの発行を依頼してください。",
        )
    if found.organisation_id is None:
        raise TokenRefused(403, "このアクセストークンは職員用ではありません。")
    staff = active_staff_of(user=found.user)
    if (
        staff is None
        or staff.organisation_id != found.organisation_id
        or not set(found.scopes) <= ROLE_SCOPES.get(staff.role, frozenset())
    ):
        raise TokenRefused(
            401,
            "このアクセストークンを発行した職員は、現在この団体の職員として有効ではありません。",
        )
    return found, staff


def staff_token_create(
    *,
    staff: Staff,
    name: str,
    scopes: Iterable[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[AccessToken, str]:
    """Create a token acting for ``staff.organisation``; return it with its secret (shown now
    only). Only an organisation admin may; audited as ``access_token.created`` (prefix and
    scopes, never the secret). Raises :class:`TokenError`.
    """
    if staff.role != StaffRole.ADMIN or not staff.active:
        raise TokenError("APIトークンを発行できるのは団体管理者だけです。")
    wanted = sorted({str(scope) for scope in scopes})
    if not wanted or any(scope not in STAFF_SCOPES for scope in wanted):
        raise TokenError("権限（scope）を1つ以上、一覧から選んでください。")
    if not isinstance(name, str) or not visible_text(name):
        raise TokenError("トークンの名前を入力してください（例: 基幹系連携）。")
    if len(visible_text(name)) > 100:
        raise TokenError("トークンの名前は100文字以内で入力してください。")
    with transaction.atomic(durable=True):
        try:
            token, raw = access_token_create(
                user=staff.user,
                name=visible_text(name),
                scopes=wanted,
                now=now,
                organisation=staff.organisation,
                expires_at=expires_at,
            )
        except ValueError as error:
            raise TokenError(str(error)) from None
        audit_record(
            action="access_token.created",
            now=now,
            organisation=staff.organisation,
            actor=staff.user,
            actor_label="団体管理者",
            target_type="access_token",
            target_id=token.pk,
            detail={"prefix": token.prefix, "scopes": wanted},
        )
    return token, raw


def staff_tokens_of(*, organisation_id: int) -> QuerySet[AccessToken]:
    """Every token acting for the organisation, newest first (revoked ones included)."""
    return (
        AccessToken.objects.filter(organisation_id=organisation_id)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def staff_tokens_owned_by(*, staff: Staff) -> QuerySet[AccessToken]:
    """The tokens ``staff`` created for their organisation, whatever their role now."""
    return staff_tokens_of(organisation_id=staff.organisation_id).filter(user_id=staff.user_id)


def staff_tokens_visible_to(*, staff: Staff) -> QuerySet[AccessToken]:
    """What the console's token page lists: every token of the organisation for an admin,
    the member's own tokens for anyone else (a demoted owner still sees and revokes theirs)."""
    if staff.role == StaffRole.ADMIN:
        return staff_tokens_of(organisation_id=staff.organisation_id)
    return staff_tokens_owned_by(staff=staff)


def staff_token_revoke(*, staff: Staff, token: AccessToken, now: datetime) -> AccessToken:
    """Revoke a token of the organisation from ``now`` on (twice: the first time stays).
    An admin may revoke any token of the organisation; the owner always their own, whatever
    their role now. Audited. Raises ``AccessToken.DoesNotExist`` for another organisation's
    token and :class:`TokenError` for someone else's token without the admin role."""
    if token.organisation_id != staff.organisation_id:
        raise AccessToken.DoesNotExist
    own = token.user_id == staff.user_id
    if not own and (staff.role != StaffRole.ADMIN or not staff.active):
        raise TokenError("APIトークンを失効できるのは団体管理者と発行した本人だけです。")
    with transaction.atomic(durable=True):
        already = token.revoked_at is not None
        token = access_token_revoke(token=token, now=now)
        if not already:
            audit_record(
                action="access_token.revoked",
                now=now,
                organisation=staff.organisation,
                actor=staff.user,
                actor_label="発行した本人" if own else "団体管理者",
                target_type="access_token",
                target_id=token.pk,
                detail={"prefix": token.prefix},
            )
    return token
