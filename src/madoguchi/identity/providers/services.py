"""National login, gBizID login and signing through the national app: the services.

The views of the portal call these and nothing lower. What they keep in the session:

- :data:`PENDING_KEY`: the authorization requests under way, by ``state``. Each holds its
  ``nonce``, PKCE verifier, provider, issuer, purpose (``login`` or ``sign``), the account it
  was started for (or none), and for signing the digest and procedure. Taken out (single use)
  by the callback, whatever the outcome; refused after :data:`PENDING_SECONDS`; at most
  :data:`MAX_PENDING` at once (the oldest drop out).
- :data:`UNLINKED_KEY`: a national login whose subject no account is linked to yet, until the
  person logs in (or signs up and logs in) and confirms the link, for :data:`PENDING_SECONDS`.
- :data:`SIGNED_KEY`: the detached CMS from the national app's signing, base64, under
  ``"<procedure id>:<sha256 hex of the canonical bytes>"`` (:func:`signed_cms`).

Every login, link, signature and refusal is an audit event (``identity.*``). A refusal is
:class:`OidcRefused` with a Japanese message; nothing stored changes except its audit event.
"""

from __future__ import annotations

import base64
import importlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.db import IntegrityError, transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.identity import throttle
from madoguchi.identity.assurance import VerifiedIdentity
from madoguchi.identity.login import PORTAL_RESIDENT
from madoguchi.identity.models import IdentityLink, User
from madoguchi.identity.providers import rp
from madoguchi.identity.providers.base import (
    ProviderAnswerInvalid,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    identity_providers,
)
from madoguchi.identity.providers.config import provider_config
from madoguchi.identity.services import is_resident

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

PENDING_KEY: Final = "_madoguchi_oidc_pending"
UNLINKED_KEY: Final = "_madoguchi_oidc_unlinked"
SIGNED_KEY: Final = "_madoguchi_signed"
PENDING_SECONDS: Final = 600
MAX_PENDING: Final = 5
PURPOSE_LOGIN: Final = "login"
PURPOSE_SIGN: Final = "sign"

_MESSAGES: Final = {
    "not_configured": "{label}でのログインは、この窓口では現在お使いいただけません。",
    "unavailable": (
        "{label}に接続できませんでした。時間をおいて、もう一度最初からお試しください。"
    ),
    "invalid": (
        "{label}からの応答を確認できなかったため、安全のため手続を中止しました。"
        "もう一度最初からお試しください。"
    ),
    "state": (
        "この手続は有効期限が切れたか、すでに使われています。もう一度最初からお試しください。"
    ),
    "denied": "{label}での手続が取り消されました。必要なら、もう一度最初からお試しください。",
    "throttled": "ログインの失敗が続いたため、しばらくログインを受け付けません。",
    "staff": (
        "職員・運用者のアカウントは、マイナンバーカードやgBizIDでのログインには使えません。"
        "住民用のアカウントでログインしてください。"
    ),
    "linked_elsewhere": (
        "この{label}のIDは、別のアカウントに結び付けられています。"
        "そのアカウントでログインするか、お問い合わせください。"
    ),
    "other_subject": (
        "このアカウントには、別の{label}のIDがすでに結び付けられています。"
        "結び付けたIDでお試しください。"
    ),
    "account_unusable": (
        "結び付けられたアカウントは現在ご利用になれません（メールアドレスの確認が済んでいないか、"
        "利用が停止されています）。メールアドレスとパスワードでログインをお試しください。"
    ),
    "no_signature": (
        "デジタル認証アプリから電子署名を受け取れませんでした。もう一度署名をお試しいただくか、"
        "署名ファイルを添付してください。"
    ),
}


class OidcRefused(Exception):
    """A login, link or signature that did not happen; ``message`` is for the person."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _label(provider: str) -> str:
    return identity_providers[provider].label if provider in identity_providers else "外部ID"


def _refuse(
    *,
    code: str,
    provider: str,
    purpose: str,
    user: User | None,
    now: datetime,
    reason: str = "",
) -> OidcRefused:
    """Record the refusal (its own transaction) and return the exception to raise."""
    detail = {"provider": provider[:32], "purpose": purpose, "code": code}
    if reason:
        detail["reason"] = reason[:120]
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.IDENTITY_OIDC_REFUSED,
            now=now,
            actor=user,
            actor_label=user.email if user is not None else "",
            target_type="user" if user is not None else "",
            target_id=user.pk if user is not None else "",
            detail=detail,
        )
    return OidcRefused(_MESSAGES[code].format(label=_label(provider)), code=code)


# --- the pending authorization requests --------------------------------------------------------


def _pending(session: SessionBase) -> dict[str, dict[str, Any]]:
    stored = session.get(PENDING_KEY)
    return dict(stored) if isinstance(stored, Mapping) else {}


def _pending_put(session: SessionBase, record: dict[str, Any], now: datetime) -> str:
    state = secrets.token_urlsafe(32)
    pending = {
        k: v
        for k, v in _pending(session).items()
        if isinstance(v, Mapping) and float(v.get("at", 0)) + PENDING_SECONDS > now.timestamp()
    }
    pending[state] = {**record, "at": now.timestamp()}
    while len(pending) > MAX_PENDING:
        oldest = min(pending, key=lambda k: float(pending[k].get("at", 0)))
        pending.pop(oldest)
    session[PENDING_KEY] = pending
    return state


def _pending_take(session: SessionBase, state: object, now: datetime) -> dict[str, Any] | None:
    """The request ``state`` named, taken out of the session (single use); None when unknown
    or expired."""
    if not isinstance(state, str) or not state or len(state) > 100:
        return None
    pending = _pending(session)
    record = pending.pop(state, None)
    session[PENDING_KEY] = pending
    if not isinstance(record, Mapping):
        return None
    if float(record.get("at", 0)) + PENDING_SECONDS <= now.timestamp():
        return None
    return dict(record)


def _start(
    *,
    session: SessionBase,
    config: ProviderConfig,
    redirect_uri: str,
    purpose: str,
    user: User | None,
    now: datetime,
    scopes: tuple[str, ...],
    record: Mapping[str, Any],
    extra: Mapping[str, str] | None = None,
    discovery: rp.Discovery,
) -> str:
    verifier, challenge = rp.pkce_pair()
    nonce = secrets.token_urlsafe(32)
    state = _pending_put(
        session,
        {
            **record,
            "provider": config.key,
            "issuer": config.issuer,
            "purpose": purpose,
            "user": user.pk if user is not None else None,
            "nonce": nonce,
            "verifier": verifier,
            "redirect_uri": redirect_uri,
        },
        now,
    )
    return rp.authorization_url(
        config,
        discovery,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        challenge=challenge,
        scopes=scopes,
        extra=extra,
    )


def _config(
    provider: str, *, base_url: str, purpose: str, user: User | None, now: datetime
) -> ProviderConfig:
    config = provider_config(provider, base_url=base_url)
    if config is None:
        raise _refuse(code="not_configured", provider=provider, purpose=purpose, user=user, now=now)
    return config


def _failure(
    error: ProviderError, *, provider: str, purpose: str, user: User | None, now: datetime
) -> OidcRefused:
    code = "unavailable" if isinstance(error, ProviderUnavailable) else "invalid"
    return _refuse(
        code=code, provider=provider, purpose=purpose, user=user, now=now, reason=str(error)
    )


def oidc_login_start(
    *,
    session: SessionBase,
    provider: str,
    base_url: str,
    redirect_uri: str,
    user: User | None,
    next_url: str,
    now: datetime,
    address: str | None = None,
) -> str:
    """Begin a login with ``provider`` (or, for the logged-in resident ``user``, a
    verification that links the account): the URL to send the browser to.

    Raises :class:`OidcRefused` (not configured, the OP unreachable or its metadata unusable,
    a staff account, or too many failed logins from ``address``: the same limits as the
    password login, :mod:`madoguchi.identity.throttle`)."""
    decision = throttle.login_allowed(account=_oidc_account(address), address=address, now=now)
    if not decision.allowed:
        _refuse(code="throttled", provider=provider, purpose=PURPOSE_LOGIN, user=user, now=now)
        raise OidcRefused(decision.wait_message, code="throttled")
    if user is not None and not is_resident(user):
        raise _refuse(code="staff", provider=provider, purpose=PURPOSE_LOGIN, user=user, now=now)
    config = _config(provider, base_url=base_url, purpose=PURPOSE_LOGIN, user=user, now=now)
    try:
        discovery = rp.discover(config.issuer)
    except ProviderError as error:
        raise _failure(
            error, provider=provider, purpose=PURPOSE_LOGIN, user=user, now=now
        ) from None
    return _start(
        session=session,
        config=config,
        redirect_uri=redirect_uri,
        purpose=PURPOSE_LOGIN,
        user=user,
        now=now,
        scopes=config.scopes,
        record={"next": next_url[:500]},
        discovery=discovery,
    )


@dataclass(frozen=True)
class _Completed:
    config: ProviderConfig
    claims: dict[str, Any]
    tokens: rp.Tokens
    discovery: rp.Discovery
    record: dict[str, Any]


def _complete(
    *,
    session: SessionBase,
    params: Mapping[str, str],
    purpose: str,
    user: User | None,
    base_url: str,
    now: datetime,
) -> _Completed:
    """The callback's common part: state, error, code exchange, ID token, (userinfo)."""
    record = _pending_take(session, params.get("state"), now)
    if record is None or record.get("purpose") != purpose:
        raise _refuse(code="state", provider="", purpose=purpose, user=user, now=now)
    provider = str(record.get("provider", ""))
    if record.get("user") != (user.pk if user is not None else None):
        raise _refuse(
            code="state",
            provider=provider,
            purpose=purpose,
            user=user,
            now=now,
            reason="another account",
        )
    if params.get("error"):
        raise _refuse(
            code="denied",
            provider=provider,
            purpose=purpose,
            user=user,
            now=now,
            reason=f"op error {params.get('error', '')[:40]}",
        )
    config = _config(provider, base_url=base_url, purpose=purpose, user=user, now=now)
    if config.issuer != record.get("issuer"):
        raise _refuse(
            code="state",
            provider=provider,
            purpose=purpose,
            user=user,
            now=now,
            reason="issuer changed",
        )
    code = params.get("code")
    if not isinstance(code, str) or not code or len(code) > 512:
        raise _refuse(
            code="invalid",
            provider=provider,
            purpose=purpose,
            user=user,
            now=now,
            reason="no code",
        )
    try:
        discovery = rp.discover(config.issuer)
        tokens = rp.token_exchange(
            config,
            discovery,
            code=code,
            redirect_uri=str(record["redirect_uri"]),
            verifier=str(record["verifier"]),
            now=now,
        )
        claims = rp.id_token_validate(
            config, discovery, tokens.id_token, nonce=str(record["nonce"]), now=now
        )
        if purpose == PURPOSE_LOGIN:
            info = rp.userinfo(discovery, access_token=tokens.access_token, sub=claims["sub"])
            claims = {**info, **claims}
    except ProviderError as error:
        raise _failure(error, provider=provider, purpose=purpose, user=user, now=now) from None
    return _Completed(config, claims, tokens, discovery, record)


@dataclass(frozen=True)
class LoginOutcome:
    """``logged_in``: log ``user`` in, then store ``identity`` for it; ``verified``: the
    logged-in resident's session gets ``identity``; ``needs_account``: nobody is linked to
    the subject yet (kept in the session; ask the person to log in or sign up, then link)."""

    kind: str
    identity: VerifiedIdentity
    provider: str
    user: User | None
    next_url: str


class _Decline(Exception):
    def __init__(self, code: str, reason: str = "") -> None:
        self.code, self.reason = code, reason


def _audit(
    action: AuditAction, *, user: User, provider: str, identity: VerifiedIdentity, now: datetime
) -> None:
    audit_record(
        action=action,
        now=now,
        actor=user,
        actor_label=user.email,
        target_type="user",
        target_id=user.pk,
        detail={"provider": provider, "ial": identity.ial, "aal": identity.aal},
    )


def _link(
    *, user: User, provider: str, subject: str, identity: VerifiedIdentity, now: datetime
) -> None:
    """Link inside the caller's transaction (or decline)."""
    if not is_resident(user):
        raise _Decline("staff")
    existing = IdentityLink.objects.select_for_update().filter(provider=provider, subject=subject)
    link = existing.first()
    if link is not None:
        if link.user_id != user.pk:
            raise _Decline("linked_elsewhere")
        return
    if IdentityLink.objects.filter(user=user, provider=provider).exists():
        raise _Decline("other_subject")
    try:
        with transaction.atomic():
            IdentityLink.objects.create(
                user=user, provider=provider, subject=subject, linked_at=now
            )
    except IntegrityError:
        raise _Decline("linked_elsewhere") from None
    _audit(AuditAction.IDENTITY_LINKED, user=user, provider=provider, identity=identity, now=now)


def identity_link_remove(*, user: User, link_id: int, now: datetime) -> bool:
    """Unlink one national login from ``user``'s own account (e.g. before linking a renewed
    card, whose subject may differ). Another account's link, or one already gone, changes
    nothing and gives False. One transaction with its audit event (ids and provider only)."""
    with transaction.atomic(durable=True):
        link = IdentityLink.objects.select_for_update().filter(pk=link_id, user=user).first()
        if link is None:
            return False
        provider = link.provider
        link.delete()
        audit_record(
            action=AuditAction.IDENTITY_UNLINKED,
            now=now,
            actor=user,
            actor_label=user.email,
            target_type="user",
            target_id=user.pk,
            detail={"provider": provider},
        )
    return True


def _oidc_account(address: str | None) -> str:
    """The key failed card and gBizID logins are counted under. The person is not known
    until the provider answers, so they are counted per client address (one key for all
    addresses would let anyone lock every card login out)."""
    return f"oidc:{address or '-'}"


def oidc_login_finish(
    *,
    session: SessionBase,
    params: Mapping[str, str],
    user: User | None,
    address: str | None,
    base_url: str,
    now: datetime,
) -> LoginOutcome:
    """See :func:`_login_finish`; a refusal is also counted as a failed login from
    ``address`` (so that a client hammering the callback meets the login limits)."""
    try:
        return _login_finish(
            session=session, params=params, user=user, address=address, base_url=base_url, now=now
        )
    except OidcRefused:
        with transaction.atomic(durable=True):
            throttle.login_record(
                account=_oidc_account(address),
                address=address,
                now=now,
                success=False,
                stage=throttle.STAGE_RESIDENT,
                user=user,
                portal=PORTAL_RESIDENT,
            )
        raise


def _login_finish(
    *,
    session: SessionBase,
    params: Mapping[str, str],
    user: User | None,
    address: str | None,
    base_url: str,
    now: datetime,
) -> LoginOutcome:
    """The callback of a login (or a logged-in resident's verification).

    Guarantees: the ``state`` is used once, by the session (and account) that started it;
    the ID token passed every check of :mod:`.rp`; a logged-in resident gets the subject
    linked (refused when it belongs to another account, or the account has another one);
    a linked subject logs its account in only when that account is an active, verified
    resident. The link, the audit event and the ``LoginAttempt`` row are one transaction.
    Raises :class:`OidcRefused` (recorded) for everything else.
    """
    done = _complete(
        session=session,
        params=params,
        purpose=PURPOSE_LOGIN,
        user=user,
        base_url=base_url,
        now=now,
    )
    provider = done.config.key
    plugin = identity_providers[provider]
    try:
        identity = plugin.identity_from_claims(
            issuer=done.config.issuer, claims=done.claims, verified_at=now.isoformat()
        )
    except ProviderAnswerInvalid as error:
        raise _failure(
            error, provider=provider, purpose=PURPOSE_LOGIN, user=user, now=now
        ) from None
    next_url = str(done.record.get("next", ""))
    try:
        with transaction.atomic(durable=True):
            if user is not None:
                _link(
                    user=user,
                    provider=provider,
                    subject=identity.subject,
                    identity=identity,
                    now=now,
                )
                _audit(
                    AuditAction.IDENTITY_OIDC_VERIFIED,
                    user=user,
                    provider=provider,
                    identity=identity,
                    now=now,
                )
                return LoginOutcome("verified", identity, provider, user, next_url)
            link = (
                IdentityLink.objects.select_for_update()
                .select_related("user")
                .filter(provider=provider, subject=identity.subject)
                .first()
            )
            if link is None:
                audit_record(
                    action=AuditAction.IDENTITY_OIDC_REFUSED,
                    now=now,
                    detail={"provider": provider, "purpose": PURPOSE_LOGIN, "code": "not_linked"},
                )
                session[UNLINKED_KEY] = {
                    "provider": provider,
                    "identity": identity.to_json(),
                    "at": now.timestamp(),
                }
                return LoginOutcome("needs_account", identity, provider, None, next_url)
            target = link.user
            if not is_resident(target):
                raise _Decline("staff")
            if not target.is_active or target.email_verified_at is None:
                raise _Decline("account_unusable")
            link.last_login_at = now
            link.save(update_fields=["last_login_at"])
            throttle.login_record(
                account=target.email,
                address=address,
                now=now,
                success=True,
                stage=throttle.STAGE_RESIDENT,
                user=target,
                portal=PORTAL_RESIDENT,
            )
            _audit(
                AuditAction.IDENTITY_OIDC_LOGIN,
                user=target,
                provider=provider,
                identity=identity,
                now=now,
            )
            return LoginOutcome("logged_in", identity, provider, target, next_url)
    except _Decline as declined:
        raise _refuse(
            code=declined.code,
            provider=provider,
            purpose=PURPOSE_LOGIN,
            user=user,
            now=now,
            reason=declined.reason,
        ) from None


def oidc_unlinked(session: SessionBase, *, now: datetime) -> tuple[str, VerifiedIdentity] | None:
    """The national login waiting for an account in this session (provider, identity)."""
    stored = session.get(UNLINKED_KEY)
    if not isinstance(stored, Mapping):
        return None
    if float(stored.get("at", 0)) + PENDING_SECONDS <= now.timestamp():
        session.pop(UNLINKED_KEY, None)
        return None
    identity = VerifiedIdentity.from_json(stored.get("identity"))
    provider = str(stored.get("provider", ""))
    if identity is None or provider not in identity_providers or not identity.subject:
        return None
    return provider, identity


def oidc_link_pending(*, session: SessionBase, user: User, now: datetime) -> VerifiedIdentity:
    """Link the national login kept in the session (:func:`oidc_unlinked`) to the resident
    ``user`` who has just logged in, and return its identity (for the session).

    Raises :class:`OidcRefused` (recorded): nothing waiting or expired, a staff account,
    the subject linked elsewhere, the account linked to another subject."""
    waiting = oidc_unlinked(session, now=now)
    if waiting is None:
        raise _refuse(code="state", provider="", purpose=PURPOSE_LOGIN, user=user, now=now)
    provider, identity = waiting
    try:
        with transaction.atomic(durable=True):
            _link(
                user=user, provider=provider, subject=identity.subject, identity=identity, now=now
            )
            _audit(
                AuditAction.IDENTITY_OIDC_VERIFIED,
                user=user,
                provider=provider,
                identity=identity,
                now=now,
            )
    except _Decline as declined:
        raise _refuse(
            code=declined.code, provider=provider, purpose=PURPOSE_LOGIN, user=user, now=now
        ) from None
    session.pop(UNLINKED_KEY, None)
    return identity


# --- signing through the national app ------------------------------------------------------------


def _digest_key(procedure_id: int, digest: bytes) -> str:
    return f"{procedure_id}:{digest.hex()}"


def national_sign_start(
    *,
    session: SessionBase,
    digest: bytes,
    procedure_id: int,
    user: User,
    base_url: str,
    redirect_uri: str,
    now: datetime,
) -> str:
    """Ask the national app to sign ``digest`` (SHA-256 of the application's canonical bytes)
    for ``procedure_id``: the URL to send the browser to. The transaction is kept in the
    session, bound to the digest, the procedure and ``user``.

    Raises :class:`OidcRefused` (recorded)."""
    purpose = PURPOSE_SIGN
    if len(digest) != 32:
        raise ValueError("digest must be a SHA-256 digest (32 bytes)")
    if not is_resident(user):
        raise _refuse(code="staff", provider="national", purpose=purpose, user=user, now=now)
    config = _config("national", base_url=base_url, purpose=purpose, user=user, now=now)
    try:
        discovery = rp.discover(config.issuer)
        transaction_id = rp.signing_request(config, discovery, digest=digest, now=now)
    except ProviderError as error:
        raise _failure(error, provider="national", purpose=purpose, user=user, now=now) from None
    return _start(
        session=session,
        config=config,
        redirect_uri=redirect_uri,
        purpose=purpose,
        user=user,
        now=now,
        scopes=("openid",),
        record={"digest": digest.hex(), "procedure": procedure_id, "sign_tx": transaction_id},
        extra={"sign_tx": transaction_id},
        discovery=discovery,
    )


@dataclass(frozen=True)
class NationalSignature:
    procedure_id: int
    digest: bytes
    #: The detached CMS SignedData (DER).
    cms: bytes


def _wrap(raw: rp.RawSignature) -> bytes:
    """The detached CMS from the card's raw signature and certificate, built by
    ``signature_wrap_raw`` of :mod:`madoguchi.identity.signatures.services`."""
    module = importlib.import_module("madoguchi.identity.signatures.services")
    wrap = getattr(module, "signature_wrap_raw", None)
    if wrap is None:
        raise ProviderAnswerInvalid("signature_wrap_raw is not available")
    return bytes(wrap(signature=raw.signature, certificate=raw.certificate))


def national_sign_fetch(
    *,
    session: SessionBase,
    params: Mapping[str, str],
    user: User,
    base_url: str,
    now: datetime,
) -> tuple[int, bytes, rp.RawSignature]:
    """The callback's exchange: (procedure id, digest, the card's raw signature and
    certificate). A step of :func:`national_sign_finish`; raises :class:`OidcRefused`."""
    done = _complete(
        session=session,
        params=params,
        purpose=PURPOSE_SIGN,
        user=user,
        base_url=base_url,
        now=now,
    )
    try:
        digest = bytes.fromhex(str(done.record["digest"]))
        raw = rp.signing_result(
            done.config,
            done.discovery,
            access_token=done.tokens.access_token,
            transaction=str(done.record["sign_tx"]),
            digest=digest,
        )
    except ProviderError as error:
        raise _failure(
            error, provider="national", purpose=PURPOSE_SIGN, user=user, now=now
        ) from None
    return int(done.record["procedure"]), digest, raw


def national_sign_finish(
    *,
    session: SessionBase,
    params: Mapping[str, str],
    user: User,
    base_url: str,
    now: datetime,
) -> NationalSignature:
    """The callback of a signing: the detached CMS over the digest given to
    :func:`national_sign_start`, also kept in the session (:func:`signed_cms`).

    The CMS is not verified here: the submission verifies it, like any uploaded signature.
    Raises :class:`OidcRefused` (recorded) with a Japanese message."""
    procedure_id, digest, raw = national_sign_fetch(
        session=session, params=params, user=user, base_url=base_url, now=now
    )
    try:
        cms = _wrap(raw)
    except Exception as error:
        raise _refuse(
            code="no_signature",
            provider="national",
            purpose=PURPOSE_SIGN,
            user=user,
            now=now,
            reason=type(error).__name__,
        ) from None
    stored = session.get(SIGNED_KEY)
    signed = dict(stored) if isinstance(stored, Mapping) else {}
    signed[_digest_key(procedure_id, digest)] = base64.b64encode(cms).decode("ascii")
    session[SIGNED_KEY] = signed
    with transaction.atomic(durable=True):
        audit_record(
            action=AuditAction.IDENTITY_OIDC_SIGNED,
            now=now,
            actor=user,
            actor_label=user.email,
            target_type="procedure",
            target_id=procedure_id,
            detail={"provider": "national", "digest": digest.hex()[:16]},
        )
    return NationalSignature(procedure_id=procedure_id, digest=digest, cms=cms)


def signed_cms(session: SessionBase, *, procedure_id: int, digest: bytes) -> bytes | None:
    """The CMS the national app made in this session for exactly this digest, if any."""
    stored = session.get(SIGNED_KEY)
    if not isinstance(stored, Mapping):
        return None
    value = stored.get(_digest_key(procedure_id, digest))
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None
