"""Passkeys (WebAuthn) for residents: 当人認証 level 2.

A passkey is a key pair the resident's device (or its synced keychain) creates for this site;
the private key never leaves the device and is unlocked with biometrics or a PIN. Every
ceremony here asks for ``user_verification="required"``, so a passkey login proves two factors
at once (the device, and the fingerprint/face/PIN) — level 2 — and a response without the UV
flag is refused.

The server is the authority: the browser's script only carries options and responses.
Each challenge is 32 random bytes kept in the resident's *session* (so bound to it), for one
purpose (``register`` or ``login``), expiring after :data:`CHALLENGE_SECONDS`, and removed
the moment a response is checked, whatever the outcome (single use). Responses are checked by
the ``webauthn`` package (origin, RP ID hash, challenge, flags, signature, sign counter).

Registration needs a fresh proof of the password (or a passkey login) in this session, within
:data:`REAUTH_SECONDS`: a session left open on a shared PC cannot add a key for someone else.

The relying party is configured by ``MADOGUCHI_WEBAUTHN_RP_ID`` and
``MADOGUCHI_WEBAUTHN_ORIGINS``; without them, the origin the request reached (whose host has
already passed ``ALLOWED_HOSTS``) and its host name.

The login itself is in :mod:`madoguchi.identity.login` (one login module, one throttle).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from madoguchi.audit.services import audit_record
from madoguchi.core.text import strip_invisible
from madoguchi.identity.models import PasskeyCredential, User
from madoguchi.identity.services import is_resident

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

RP_NAME: Final = "窓口 電子申請"
CHALLENGE_KEY: Final = "_madoguchi_webauthn"
CHALLENGE_SECONDS: Final = 300
REAUTH_KEY: Final = "_madoguchi_reauth"
REAUTH_SECONDS: Final = 600
#: Passkeys one account may hold.
MAX_PASSKEYS: Final = 20
#: A response longer than this is refused before it is parsed.
MAX_RESPONSE_LENGTH: Final = 64 * 1024
MAX_NAME_LENGTH: Final = 64
TIMEOUT_MS: Final = 120_000
PURPOSE_REGISTER: Final = "register"
PURPOSE_LOGIN: Final = "login"
#: ES256 first (every platform authenticator), RS256 for Windows Hello, EdDSA for keys.
ALGORITHMS: Final = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)

EXPIRED: Final = (
    "時間が経ちすぎたか、別の画面で操作したため、受け付けられませんでした。"
    "もう一度はじめから操作してください。"
)
MALFORMED: Final = (
    "パスキーの応答を読み取れませんでした。もう一度お試しください。"
    "続く場合は、別のブラウザーをお使いください。"
)
REAUTH_NEEDED: Final = "パスキーを登録する前に、もう一度パスワードを入力してください。"


class PasskeyRefused(Exception):
    """A passkey ceremony that did not succeed; ``str()`` is what the resident reads."""

    def __init__(self, message: str, *, reason: str = "invalid", status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class RelyingParty:
    """This site as WebAuthn knows it: the RP ID and the origins ceremonies may come from."""

    id: str
    name: str
    origins: tuple[str, ...]


def relying_party(*, request_origin: str) -> RelyingParty:
    """The configured relying party, or one derived from ``request_origin`` (``scheme://host``
    as the request reached this site) when ``MADOGUCHI_WEBAUTHN_ORIGINS`` is empty."""
    configured = tuple(o.rstrip("/") for o in settings.WEBAUTHN_ORIGINS if o)
    origins = configured or (request_origin.rstrip("/"),)
    rp_id = settings.WEBAUTHN_RP_ID or (urlsplit(origins[0]).hostname or "localhost")
    return RelyingParty(id=rp_id, name=RP_NAME, origins=origins)


# --- Challenges and the fresh-login mark (kept in the session) ------------------------------


def challenge_issue(
    session: SessionBase, *, purpose: str, user_id: int | None, now: datetime, **extra: str
) -> bytes:
    """A new challenge for ``purpose``, replacing any earlier one of this session."""
    challenge = secrets.token_bytes(32)
    session[CHALLENGE_KEY] = {
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "user": user_id,
        "expires": (now + timedelta(seconds=CHALLENGE_SECONDS)).isoformat(),
        **extra,
    }
    return challenge


def challenge_take(
    session: SessionBase, *, purpose: str, user_id: int | None, now: datetime
) -> Mapping[str, Any] | None:
    """The pending challenge of ``purpose`` (its ``challenge`` as bytes), removed from the
    session whatever the answer: a challenge is checked once. None when there is none, it
    expired, or it was issued for another purpose or account."""
    stored = session.pop(CHALLENGE_KEY, None)
    if not isinstance(stored, Mapping):
        return None
    if stored.get("purpose") != purpose or stored.get("user") != user_id:
        return None
    try:
        expires = datetime.fromisoformat(str(stored.get("expires")))
        challenge = b64url_decode(str(stored.get("challenge")))
    except (TypeError, ValueError):
        return None
    if expires <= now:
        return None
    return {**stored, "challenge": challenge}


def reauth_mark(session: SessionBase, *, user_id: int, now: datetime) -> None:
    """Remember that this session just proved the account's password (or a passkey)."""
    session[REAUTH_KEY] = {"user": user_id, "at": now.isoformat()}


def reauth_fresh(session: SessionBase, *, user_id: int, now: datetime) -> bool:
    stored = session.get(REAUTH_KEY)
    if not isinstance(stored, Mapping) or stored.get("user") != user_id:
        return False
    try:
        at = datetime.fromisoformat(str(stored.get("at")))
    except (TypeError, ValueError):
        return False
    return now - timedelta(seconds=REAUTH_SECONDS) <= at <= now + timedelta(seconds=5)


# --- Parsing what the browser sent ----------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    import base64
    import binascii

    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def credential_parse(raw: object) -> dict[str, Any]:
    """The browser's ``PublicKeyCredential`` as JSON text → a dict with an ``id`` string.
    Raises :class:`PasskeyRefused` (malformed) for anything else."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RESPONSE_LENGTH or "\x00" in raw:
        raise PasskeyRefused(MALFORMED, reason="malformed")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
        raise PasskeyRefused(MALFORMED, reason="malformed") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise PasskeyRefused(MALFORMED, reason="malformed")
    if not isinstance(data.get("response"), dict):
        raise PasskeyRefused(MALFORMED, reason="malformed")
    credential_id = data["id"]
    if not credential_id or len(credential_id) > 1400:
        raise PasskeyRefused(MALFORMED, reason="malformed")
    try:
        b64url_decode(credential_id)
    except ValueError:
        raise PasskeyRefused(MALFORMED, reason="malformed") from None
    return data


def name_clean(raw: object, *, default: str = "") -> str:
    """A passkey's name as typed: invisible characters dropped, trimmed; ``default`` if empty.
    Raises :class:`PasskeyRefused` when it is too long."""
    text = strip_invisible(raw).strip() if isinstance(raw, str) else ""
    if len(text) > MAX_NAME_LENGTH:
        raise PasskeyRefused(
            f"パスキーの名前は{MAX_NAME_LENGTH}文字以内で入力してください。", reason="name"
        )
    return text or default


# --- Registration ---------------------------------------------------------------------------


def passkeys_of(*, user: User) -> list[PasskeyCredential]:
    return list(PasskeyCredential.objects.filter(user=user).order_by("-created_at", "-id"))


def passkey_registration_options(
    *, user: User, session: SessionBase, rp: RelyingParty, now: datetime
) -> str:
    """The JSON options for ``navigator.credentials.create`` (a discoverable credential,
    user verification required) and a new registration challenge in ``session``.

    Raises :class:`PasskeyRefused` for a console account (staff, group operator, platform
    operator), when the session has not proved the password recently (``reason="reauth"``),
    or when the account holds :data:`MAX_PASSKEYS` already. Writes only the
    session.
    """
    if not is_resident(user):
        # The console's accounts log in there, with their own second factor.
        raise PasskeyRefused("職員のアカウントにはパスキーを登録できません。", status=403)
    if not reauth_fresh(session, user_id=user.pk, now=now):
        raise PasskeyRefused(REAUTH_NEEDED, reason="reauth", status=403)
    existing = passkeys_of(user=user)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyRefused(
            f"登録できるパスキーは{MAX_PASSKEYS}個までです。使わないものを削除してください。",
            reason="limit",
        )
    handle = bytes(existing[0].user_handle) if existing else secrets.token_bytes(32)
    challenge = challenge_issue(
        session,
        purpose=PURPOSE_REGISTER,
        user_id=user.pk,
        now=now,
        handle=bytes_to_base64url(handle),
    )
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.email,
        user_id=handle,
        user_display_name=user.display_name or user.email,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=b64url_decode(p.credential_id)) for p in existing
        ],
        supported_pub_key_algs=list(ALGORITHMS),
    )
    return options_to_json(options)


def _refusal_record(*, user: User, reason: str, now: datetime) -> None:
    with transaction.atomic(durable=True):
        audit_record(
            action="resident.passkey_refused",
            now=now,
            actor=user,
            actor_label="住民",
            target_type="user",
            target_id=user.pk,
            detail={"reason": reason},
        )


def _transports(data: Mapping[str, Any]) -> list[str]:
    response = data.get("response")
    raw = response.get("transports") if isinstance(response, Mapping) else None
    known = {t.value for t in AuthenticatorTransport}
    if not isinstance(raw, list):
        return []
    return sorted({t for t in raw if isinstance(t, str) and t in known})


def passkey_register(
    *,
    user: User,
    session: SessionBase,
    rp: RelyingParty,
    credential: object,
    name: object,
    now: datetime,
) -> PasskeyCredential:
    """Check the browser's answer to the registration challenge of ``session`` and store the
    new passkey for ``user``, with an audit event, in one transaction.

    Guarantees: the challenge is spent whatever the outcome; the response came from one of
    ``rp.origins`` for ``rp.id``, with user presence *and* verification, and a credential id
    not yet registered by anyone. Raises :class:`PasskeyRefused` (Japanese message) otherwise,
    records the refusal (``resident.passkey_refused``) and stores nothing.
    """
    pending = challenge_take(session, purpose=PURPOSE_REGISTER, user_id=user.pk, now=now)
    try:
        label = name_clean(name, default="パスキー")
        if pending is None:
            raise PasskeyRefused(EXPIRED, reason="challenge")
        if not reauth_fresh(session, user_id=user.pk, now=now):
            raise PasskeyRefused(REAUTH_NEEDED, reason="reauth", status=403)
        data = credential_parse(credential)
        try:
            verified = verify_registration_response(
                credential=data,
                expected_challenge=pending["challenge"],
                expected_rp_id=rp.id,
                expected_origin=list(rp.origins),
                require_user_verification=True,
                supported_pub_key_algs=list(ALGORITHMS),
            )
        except Exception as error:
            raise PasskeyRefused(
                "パスキーを確認できませんでした。もう一度お試しください。",
                reason=reason_of(error),
            ) from None
        credential_id = bytes_to_base64url(verified.credential_id)
        if credential_id != data["id"]:
            raise PasskeyRefused(MALFORMED, reason="malformed")
        handle = b64url_decode(str(pending.get("handle", "")))
        try:
            with transaction.atomic(durable=True):
                if PasskeyCredential.objects.filter(user=user).count() >= MAX_PASSKEYS:
                    raise PasskeyRefused(
                        f"登録できるパスキーは{MAX_PASSKEYS}個までです。", reason="limit"
                    )
                passkey = PasskeyCredential.objects.create(
                    user=user,
                    credential_id=credential_id,
                    user_handle=handle,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=_transports(data),
                    aaguid=str(verified.aaguid)[:36],
                    backed_up=bool(verified.credential_backed_up),
                    name=label,
                    created_at=now,
                )
                audit_record(
                    action="resident.passkey_added",
                    now=now,
                    actor=user,
                    actor_label="住民",
                    target_type="passkey",
                    target_id=passkey.pk,
                    detail={"backed_up": passkey.backed_up, "aaguid": passkey.aaguid},
                )
        except IntegrityError:
            raise PasskeyRefused(
                "このパスキーはすでに登録されています。", reason="duplicate"
            ) from None
    except PasskeyRefused as refused:
        _refusal_record(user=user, reason=refused.reason, now=now)
        raise
    return passkey


def reason_of(error: Exception) -> str:
    """A short code for the audit record (the library's text is English and may change)."""
    text = str(error).lower()
    for needle, reason in (
        ("origin", "origin"),
        ("rp id", "rp_id"),
        ("challenge", "challenge"),
        ("verification", "user_verification"),
        ("not present", "user_presence"),
        ("sign count", "sign_count"),
        ("signature", "signature"),
    ):
        if needle in text:
            return reason
    return "malformed"


def passkey_rename(*, user: User, passkey_id: int, name: object, now: datetime) -> bool:
    """Rename one of ``user``'s passkeys. False when it is not theirs (nothing changes);
    raises :class:`PasskeyRefused` for a name that is too long."""
    label = name_clean(name)
    if not label:
        raise PasskeyRefused("パスキーの名前を入力してください。", reason="name")
    with transaction.atomic(durable=True):
        updated = PasskeyCredential.objects.filter(user=user, pk=passkey_id).update(name=label)
        if updated:
            audit_record(
                action="resident.passkey_renamed",
                now=now,
                actor=user,
                actor_label="住民",
                target_type="passkey",
                target_id=passkey_id,
            )
    return bool(updated)


def passkey_delete(*, user: User, passkey_id: int, now: datetime) -> bool:
    """Delete one of ``user``'s passkeys (it can no longer log in). False when it is not
    theirs. The password still logs in, so deleting the last passkey locks nobody out."""
    with transaction.atomic(durable=True):
        deleted, _ = PasskeyCredential.objects.filter(user=user, pk=passkey_id).delete()
        if deleted:
            audit_record(
                action="resident.passkey_deleted",
                now=now,
                actor=user,
                actor_label="住民",
                target_type="passkey",
                target_id=passkey_id,
            )
    return bool(deleted)


# --- Login options (the login itself is identity.login.resident_passkey_login) --------------


def passkey_login_options(*, session: SessionBase, rp: RelyingParty, now: datetime) -> str:
    """The JSON options for ``navigator.credentials.get`` with no account named
    (discoverable credentials: the device offers this site's passkeys) and user verification
    required; a new login challenge in ``session``. Writes only the session."""
    challenge = challenge_issue(session, purpose=PURPOSE_LOGIN, user_id=None, now=now)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)
