"""Logging in, for both doors: the console (password, then a second factor) and the resident
portal (password). One mechanism for both: the limits of :mod:`madoguchi.identity.throttle`,
one ``LoginAttempt`` row and one audit event per attempt, and one answer for every failure.

The resident login answers a staff account (even with the right password) exactly as it answers
a wrong password, and counts it as a failure of that account: the portal is no way around the
console's limits, and it says nothing about who is staff.

A console session is complete only once the second factor has passed; the mark of that is
:data:`MFA_SESSION_KEY` in the session, shared by the console and the operators' admin site.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn

from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from webauthn import verify_authentication_response

from madoguchi.audit.services import audit_record
from madoguchi.core.tenancy import tenant_scope
from madoguchi.identity import passkeys, throttle
from madoguchi.identity.assurance import IdentityMethod, VerifiedIdentity
from madoguchi.identity.models import PasskeyCredential, Staff, User
from madoguchi.identity.selectors import active_staff_of, groups_operated_by
from madoguchi.identity.services import is_resident
from madoguchi.tenants.models import Organisation

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

#: Set (to the user's id) only when a console login passed both factors. A session logged in
#: any other way (the resident portal) is neither a console session nor an admin-site session.
MFA_SESSION_KEY: Final = "_madoguchi_mfa"

PORTAL_CONSOLE: Final = "console"
PORTAL_RESIDENT: Final = "portal"

#: The one answer of the resident login to a wrong password, an unknown address, a locked
#: account and a staff account (right password or not).
RESIDENT_INVALID_LOGIN: Final = (
    "メールアドレスまたはパスワードが違います。入力し直してください。"
    "パスワードを忘れた場合は、再設定できます。"
)
RESIDENT_UNVERIFIED: Final = (
    "メールアドレスの確認が済んでいません。登録時にお送りしたメールのリンクを開いてください。"
)
#: Longer input is refused before any hashing or look-up.
MAX_EMAIL_LENGTH: Final = 254
MAX_PASSWORD_LENGTH: Final = 4096


def session_mfa_complete(*, session: Mapping[str, Any], user: User | AnonymousUser) -> bool:
    """True when ``session`` belongs to ``user`` logged in with both factors."""
    if not user.is_authenticated:
        return False
    return session.get(MFA_SESSION_KEY) == user.pk


def may_use_console(*, user: User) -> bool:
    """Who passes the console's door: active staff, group operators, and platform operators
    (``is_staff``, the admin site's people, who log in there with both factors too)."""
    if not user.is_active:
        return False
    if user.is_staff:
        return True
    return active_staff_of(user=user) is not None or groups_operated_by(user=user).exists()


def _organisation_of(user: User | None) -> Organisation | None:
    if user is None:
        return None
    staff = Staff.objects.select_related("organisation").filter(user=user).first()
    return staff.organisation if staff is not None else None


def _record(
    *,
    account: object,
    user: User | None,
    success: bool,
    stage: str,
    address: str | None,
    now: datetime,
    portal: str,
    reason: str,
    device_token: str | None = None,
) -> None:
    if portal == PORTAL_RESIDENT:
        action = "resident.login" if success else "resident.login_failed"
    elif success:
        complete = stage in throttle.FULL_LOGIN_STAGES
        action = "staff.login" if complete else "staff.login_first_factor"
    else:
        action = "staff.login_failed"
    detail: dict[str, Any] = {"stage": stage, "address": address or ""}
    if reason:
        detail["reason"] = reason
    if user is None:
        # Not an account: only a prefix of the hash, never what was typed.
        detail["account_key"] = throttle.account_key_of(account)[:16]
    throttle.login_record(
        account=account,
        address=address,
        now=now,
        success=success,
        stage=stage,
        user=user,
        portal=portal,
        device_token=device_token,
    )
    audit_record(
        action=action,
        now=now,
        organisation=_organisation_of(user),
        actor=user,
        actor_label=user.email if user is not None else "",
        target_type="user" if user is not None else "",
        target_id=user.pk if user is not None else "",
        detail=detail,
    )


def login_attempt_record(
    *,
    account: object,
    user: User | None,
    success: bool,
    stage: str,
    address: str | None,
    now: datetime,
    portal: str = PORTAL_CONSOLE,
    reason: str = "",
    device_token: str | None = None,
) -> None:
    """Record one login attempt: a ``LoginAttempt`` row (what the limits count) and an audit
    event, together or not at all. The audit event names the account only when it exists;
    otherwise only a prefix of the typed address's hash is kept (never the text, never the
    password). ``device_token`` is the device cookie the request presented: the row keeps the
    keyed hash of its device id (``identity.throttle``), so that the failures of that browser
    are counted apart from the rest of its address. Never raises for what a client typed.

    Runs before the login is known, where a console request sees no tenant row: the audit
    event belongs to the account's organisation, so exactly that organisation is the database
    scope of the record (none for an unknown account or a resident)."""
    organisation = _organisation_of(user)
    with (
        tenant_scope([organisation.pk] if organisation is not None else None),
        transaction.atomic(durable=True),
    ):
        _record(
            account=account,
            user=user,
            success=success,
            stage=stage,
            address=address,
            now=now,
            portal=portal,
            reason=reason,
            device_token=device_token,
        )


def login_decision(
    *, account: object, address: str | None, device_token: str | None, now: datetime
) -> throttle.LoginDecision:
    """May this client try ``account`` now? The limits of :mod:`identity.throttle`, with the
    device cookie and known addresses of that account trusted, and a device cookie of that
    account counting its own browser's failures apart from its address's. Reads only."""
    trusted = throttle.login_trusted(
        account=account, address=address, now=now, device_token=device_token
    )
    return throttle.login_allowed(
        account=account, address=address, now=now, trusted=trusted, device_token=device_token
    )


def known_user(typed: object) -> User | None:
    """The account an address typed at a login belongs to, if any (for the record only)."""
    if not isinstance(typed, str) or not typed or len(typed) > MAX_EMAIL_LENGTH:
        return None
    if "\x00" in typed:
        return None
    return User.objects.filter(email=typed.strip().lower()).first()


@dataclass
class LoginRefused(Exception):
    """A login that did not happen. ``message`` is what the person reads (Japanese);
    ``status`` the HTTP status to answer with (422, or 429 while throttled); ``code`` tells
    a template which help to offer (``invalid``, ``unverified``, ``throttled``)."""

    message: str
    status: int = 422
    code: str = "invalid"


def resident_login(
    *,
    email: object,
    password: object,
    address: str | None,
    device_token: str | None,
    now: datetime,
) -> User:
    """Check a resident's address and password under the same limits as the console's.

    Returns the verified resident on success (the caller then logs the session in). Raises
    :class:`LoginRefused`: throttled (429, refused before the password is even checked, so no
    timing says whether it was right), unverified address (only after the right password), or
    anything else — wrong password, unknown address, locked account, and a *staff* account,
    with or without its right password — with the one answer :data:`RESIDENT_INVALID_LOGIN`,
    counted as a failure of that account. Every attempt is recorded (``LoginAttempt`` and an
    audit event, in one transaction of its own).
    """
    typed = email if isinstance(email, str) else ""
    decision = login_decision(account=typed, address=address, device_token=device_token, now=now)
    if not decision.allowed:
        login_attempt_record(
            account=typed,
            user=known_user(typed),
            success=False,
            stage=throttle.STAGE_THROTTLED,
            address=address,
            now=now,
            portal=PORTAL_RESIDENT,
            device_token=device_token,
            reason=decision.limit,
        )
        raise LoginRefused(decision.resident_message, status=429, code="throttled")
    user: User | None = None
    if (
        typed
        and isinstance(password, str)
        and len(typed) <= MAX_EMAIL_LENGTH
        and len(password) <= MAX_PASSWORD_LENGTH
        and "\x00" not in typed
    ):
        found = authenticate(None, username=typed.strip(), password=password)
        user = found if isinstance(found, User) else None
    reason = ""
    if user is None:
        reason = "bad_credentials"
    elif not is_resident(user):
        reason = "staff_account"
    elif user.email_verified_at is None:
        reason = "unverified"
    if reason:
        login_attempt_record(
            account=typed,
            user=user if user is not None else known_user(typed),
            success=False,
            stage=throttle.STAGE_RESIDENT,
            address=address,
            now=now,
            portal=PORTAL_RESIDENT,
            device_token=device_token,
            reason=reason,
        )
        if reason == "unverified":
            raise LoginRefused(RESIDENT_UNVERIFIED, code="unverified")
        raise LoginRefused(RESIDENT_INVALID_LOGIN)
    assert user is not None
    login_attempt_record(
        account=typed,
        user=user,
        success=True,
        stage=throttle.STAGE_RESIDENT,
        address=address,
        now=now,
        portal=PORTAL_RESIDENT,
        device_token=device_token,
    )
    return user


# --- Passkeys (当人認証 level 2) ---------------------------------------------------------------

RESIDENT_PASSKEY_INVALID: Final = (
    "パスキーでログインできませんでした。もう一度お試しいただくか、"
    "メールアドレスとパスワードでログインしてください。"
)


@dataclass(frozen=True)
class PasskeyLogin:
    """A passkey login that succeeded: the resident, and what it proved for the session."""

    user: User
    identity: VerifiedIdentity


def resident_passkey_login(
    *,
    credential: object,
    session: SessionBase,
    rp: passkeys.RelyingParty,
    address: str | None,
    device_token: str | None,
    now: datetime,
) -> PasskeyLogin:
    """Log a resident in with a passkey: the browser's answer (``credential``, JSON text) to
    the login challenge of ``session``, under the same limits and with the same records as
    the password login (``LoginAttempt`` stage ``passkey`` and ``resident.login`` /
    ``resident.login_failed``).

    The account is the one whose stored credential the answer names (discoverable
    credentials: nothing is typed). Guarantees: the challenge is spent whatever the outcome;
    origin, RP ID hash, user presence *and* verification and the signature are checked; the
    sign counter only moves forward (a regression — a cloned key — is refused), and moves in
    the same transaction as the attempt's record. Raises :class:`LoginRefused`: throttled
    (429), expired challenge, or — for anything else: malformed answer, unknown credential,
    bad signature, missing UV, counter regression, staff or inactive account — the one
    answer :data:`RESIDENT_PASSKEY_INVALID`. The caller logs the session in and stores
    ``identity`` with :func:`identity_session_store`.
    """
    pending = passkeys.challenge_take(
        session, purpose=passkeys.PURPOSE_LOGIN, user_id=None, now=now
    )
    try:
        data: dict[str, Any] | None = passkeys.credential_parse(credential)
    except passkeys.PasskeyRefused:
        data = None
    stored = (
        PasskeyCredential.objects.select_related("user").filter(credential_id=data["id"]).first()
        if data is not None
        else None
    )
    user = stored.user if stored is not None else None
    # The throttle's account: the address of the account the passkey belongs to, so that its
    # limits are the same whichever door is tried; an unknown credential counts by its id.
    account = user.email if user is not None else "passkey:" + (data["id"] if data else "")[:64]

    def refuse(reason: str, message: str = RESIDENT_PASSKEY_INVALID, status: int = 422) -> NoReturn:
        login_attempt_record(
            account=account,
            user=user,
            success=False,
            stage=throttle.STAGE_THROTTLED if status == 429 else throttle.STAGE_PASSKEY,
            address=address,
            now=now,
            portal=PORTAL_RESIDENT,
            device_token=device_token,
            reason=reason,
        )
        code = {429: "throttled"}.get(status, "passkey")
        raise LoginRefused(message, status=status, code=code)

    decision = login_decision(account=account, address=address, device_token=device_token, now=now)
    if not decision.allowed:
        refuse(decision.limit, decision.resident_message, 429)
    if pending is None:
        refuse("challenge", passkeys.EXPIRED)
    if data is None:
        refuse("malformed")
    if stored is None or user is None:
        refuse("unknown_credential")
    handle = data["response"].get("userHandle")
    if handle is not None:
        try:
            given = passkeys.b64url_decode(handle) if isinstance(handle, str) else b""
        except ValueError:
            given = b""
        if given != bytes(stored.user_handle):
            refuse("user_handle")
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=pending["challenge"],
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=bytes(stored.public_key),
            credential_current_sign_count=stored.sign_count,
            require_user_verification=True,
        )
    except Exception as error:
        refuse(passkeys.reason_of(error))
    if not is_resident(user):
        refuse("staff_account")
    if not user.is_active or user.email_verified_at is None:
        refuse("inactive")
    with transaction.atomic(durable=True):
        moved = PasskeyCredential.objects.filter(pk=stored.pk, sign_count=stored.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=now
        )
        if moved:
            _record(
                account=account,
                user=user,
                success=True,
                stage=throttle.STAGE_PASSKEY,
                address=address,
                now=now,
                portal=PORTAL_RESIDENT,
                device_token=device_token,
                reason="",
            )
    if not moved:
        # Another login with the same counter value won the race: a replay or a clone.
        refuse("sign_count")
    identity = VerifiedIdentity(
        # The account's identity proofing is added on every request by identity_current (so a
        # revoked proofing stops counting at once); the session holds what the login proved.
        ial=1,
        aal=2,
        methods=(IdentityMethod.PASSKEY.value,),
        verified_at=now.isoformat(),
        extra={"passkey": str(stored.pk)},
    )
    return PasskeyLogin(user=user, identity=identity)
