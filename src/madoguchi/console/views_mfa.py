"""The console's second factor: the code step, recovery codes, and enrolment after the password.

After a correct password the session holds only a *pending* user id with a short expiry; the
session becomes a login (``django.contrib.auth.login``) only after the second factor, and only
then is :data:`~madoguchi.console.access.MFA_SESSION_KEY` set. Staff without a confirmed TOTP are
led to enrol right after the password; until they do, no console page opens for them.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime
from typing import Any, Final

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from madoguchi.audit.services import audit_record
from madoguchi.console.access import MFA_SESSION_KEY
from madoguchi.core.time import now as current_time
from madoguchi.identity import mfa, throttle
from madoguchi.identity.models import Staff, User
from madoguchi.identity.selectors import active_staff_of, groups_operated_by

PENDING_KEY: Final = "_madoguchi_mfa_pending"
#: How long the second step may take after the password (enrolment: scanning a QR code).
PENDING_SECONDS: Final = 5 * 60
ENROL_SECONDS: Final = 15 * 60
#: Wrong codes in one pending login before the password must be typed again.
MAX_CODE_TRIES: Final = throttle.PAIR_FREE_FAILURES
MAX_CODE_LENGTH: Final = 64

CODE_ERROR: Final = (
    "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください。"
)
RECOVERY_ERROR: Final = "リカバリーコードが正しくないか、すでに使用されています。"
EXPIRED_MESSAGE: Final = "時間が経ったため、ログインをやり直してください。"


# --- Helpers shared with the password step (console/views.py) -------------------------------


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as the server saw it (a proxy in front must set REMOTE_ADDR)."""
    address = str(request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None  # not an address (a misconfigured proxy): throttled by account only


def may_use_console(user: User) -> bool:
    """Active staff and group operators log in to the console; nobody else does."""
    return active_staff_of(user=user) is not None or groups_operated_by(user=user).exists()


def _organisation_of(user: User | None) -> Any:
    if user is None:
        return None
    staff = Staff.objects.select_related("organisation").filter(user=user).first()
    return staff.organisation if staff is not None else None


def record_attempt(
    request: HttpRequest,
    *,
    account: object,
    user: User | None,
    success: bool,
    stage: str,
    now: datetime,
    reason: str = "",
) -> None:
    """One login attempt: a ``LoginAttempt`` row and an audit event, in one transaction.

    The audit event names the account only when it exists; for an address that is not an
    account only a prefix of its hash is kept (never what was typed, never the password).
    """
    address = client_address(request)
    complete = success and stage in throttle.FULL_LOGIN_STAGES
    if success:
        action = "staff.login" if complete else "staff.login_first_factor"
    else:
        action = "staff.login_failed"
    detail: dict[str, Any] = {"stage": stage, "address": address or ""}
    if reason:
        detail["reason"] = reason
    if user is None:
        detail["account_key"] = throttle.account_key_of(account)[:16]
    with transaction.atomic():
        throttle.login_record(
            account=account, address=address, now=now, success=success, stage=stage, user=user
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


def safe_next(request: HttpRequest, candidate: object) -> str:
    if isinstance(candidate, str) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("console:home")


def pending_start(request: HttpRequest, *, user: User, next_url: str) -> HttpResponse:
    """After a correct password: remember the user for the second step, and go there."""
    # A new session id: whatever a planted cookie knew is gone.
    request.session.cycle_key()
    enrolled = mfa.totp_is_confirmed(user=user)
    lifetime = PENDING_SECONDS if enrolled else ENROL_SECONDS
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "until": time.time() + lifetime,
        "next": next_url,
        "tries": 0,
    }
    return redirect("console:login_code" if enrolled else "console:login_enrol")


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict) or float(state.get("until", 0)) < time.time():
        request.session.pop(PENDING_KEY, None)
        return None
    user_id = state.get("user")
    if type(user_id) is not int:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not may_use_console(user):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, state


def _restart(request: HttpRequest, message: str = EXPIRED_MESSAGE) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    request.session["login_message"] = message
    return redirect("console:login")


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


def _complete(request: HttpRequest, *, user: User, stage: str, now: datetime) -> tuple[str, str]:
    """Both factors passed: log in and mark the session. Returns where to go next and the
    device cookie that makes this browser trusted for this account (see identity.throttle)."""
    state = request.session.get(PENDING_KEY) or {}
    next_url = safe_next(request, state.get("next"))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(PENDING_KEY, None)
    request.session.pop("login_message", None)
    request.session[MFA_SESSION_KEY] = user.pk
    record_attempt(request, account=user.email, user=user, success=True, stage=stage, now=now)
    token = throttle.device_token_make(
        account=user.email, previous=request.COOKIES.get(throttle.DEVICE_COOKIE)
    )
    return next_url, token


def _with_device_cookie(response: HttpResponse, token: str) -> HttpResponse:
    if token:
        response.set_cookie(
            throttle.DEVICE_COOKIE,
            token,
            max_age=throttle.DEVICE_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def _throttled(request: HttpRequest, user: User, now: datetime) -> throttle.LoginDecision:
    address = client_address(request)
    trusted = throttle.login_trusted(
        account=user.email,
        address=address,
        now=now,
        device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
    )
    return throttle.login_allowed(account=user.email, address=address, now=now, trusted=trusted)


def _failed_code(
    request: HttpRequest, *, user: User, state: dict[str, Any], stage: str, now: datetime
) -> bool:
    """Record a wrong code; True when the pending login is used up (back to the password)."""
    record_attempt(
        request,
        account=user.email,
        user=user,
        success=False,
        stage=stage,
        now=now,
        reason="bad_code",
    )
    tries = int(state.get("tries", 0)) + 1
    state["tries"] = tries
    request.session[PENDING_KEY] = state
    return tries >= MAX_CODE_TRIES


def _code_step(request: HttpRequest, *, stage: str) -> HttpResponse:
    template = (
        "console/mfa/recovery.html" if stage == throttle.STAGE_RECOVERY else "console/mfa/code.html"
    )
    pending = _pending(request)
    if pending is None:
        return _restart(request)
    user, state = pending
    if not mfa.totp_is_confirmed(user=user):
        return redirect("console:login_enrol")
    error = ""
    status = 200
    if request.method == "POST":
        now = current_time()
        code = request.POST.get("code", "")
        decision = _throttled(request, user, now)
        if not decision.allowed:
            record_attempt(
                request,
                account=user.email,
                user=user,
                success=False,
                stage=throttle.STAGE_THROTTLED,
                now=now,
                reason=decision.limit,
            )
            error, status = decision.message, 429
        elif len(code) > MAX_CODE_LENGTH:
            error, status = (
                (RECOVERY_ERROR if stage == throttle.STAGE_RECOVERY else CODE_ERROR),
                400,
            )
            if _failed_code(request, user=user, state=state, stage=stage, now=now):
                return _restart(
                    request, "確認コードの誤りが続いたため、最初からやり直してください。"
                )
        else:
            if stage == throttle.STAGE_RECOVERY:
                ok = mfa.recovery_code_use(user=user, code=code, now=now)
            else:
                ok = mfa.totp_verify(user=user, code=code, now=now)
            if ok:
                next_url, token = _complete(request, user=user, stage=stage, now=now)
                if stage == throttle.STAGE_RECOVERY:
                    left = mfa.recovery_codes_remaining(user=user)
                    messages.warning(
                        request,
                        f"リカバリーコードでログインしました。残りは{left}個です。"
                        "認証アプリを失くした場合は、団体管理者に二要素認証のリセットを依頼してください。",
                    )
                return _with_device_cookie(HttpResponseRedirect(next_url), token)
            error, status = (
                (RECOVERY_ERROR if stage == throttle.STAGE_RECOVERY else CODE_ERROR),
                400,
            )
            if _failed_code(request, user=user, state=state, stage=stage, now=now):
                return _restart(
                    request, "確認コードの誤りが続いたため、最初からやり直してください。"
                )
    return _no_store(render(request, template, {"error": error}, status=status))


@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """Second step: the 6-digit code of the authenticator app."""
    return _code_step(request, stage=throttle.STAGE_TOTP)


@require_http_methods(["GET", "POST"])
def login_recovery(request: HttpRequest) -> HttpResponse:
    """Second step with a recovery code instead (a lost phone)."""
    return _code_step(request, stage=throttle.STAGE_RECOVERY)


def _qr_data_uri(uri: str) -> str:
    # A PNG data URI: allowed by the CSP (img-src data:) and needs no script or inline style.
    return str(segno.make(uri, error="m").png_data_uri(scale=5, border=4))


def _group(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@require_http_methods(["GET", "POST"])
def login_enrol(request: HttpRequest) -> HttpResponse:
    """First login without a second factor: set up the authenticator app, then show the
    recovery codes once. Only then is the session logged in."""
    pending = _pending(request)
    if pending is None:
        return _restart(request)
    user, state = pending
    if mfa.totp_is_confirmed(user=user):
        return redirect("console:login_code")
    now = current_time()
    secret = mfa.totp_pending_secret(user=user)
    if secret is None:
        secret = mfa.totp_begin_enrolment(user=user, now=now)
    error = ""
    status = 200
    if request.method == "POST":
        code = request.POST.get("code", "")
        decision = _throttled(request, user, now)
        if not decision.allowed:
            record_attempt(
                request,
                account=user.email,
                user=user,
                success=False,
                stage=throttle.STAGE_THROTTLED,
                now=now,
                reason=decision.limit,
            )
            error, status = decision.message, 429
        elif len(code) <= MAX_CODE_LENGTH and mfa.totp_confirm(user=user, code=code, now=now):
            codes = mfa.recovery_codes_generate(user=user, now=now)
            next_url, token = _complete(request, user=user, stage=throttle.STAGE_ENROL, now=now)
            response = render(
                request, "console/mfa/recovery_codes.html", {"codes": codes, "next_url": next_url}
            )
            return _with_device_cookie(_no_store(response), token)
        else:
            error, status = CODE_ERROR, 400
            if _failed_code(request, user=user, state=state, stage=throttle.STAGE_ENROL, now=now):
                return _restart(
                    request, "確認コードの誤りが続いたため、最初からやり直してください。"
                )
    uri = mfa.otpauth_uri(secret_b32=secret, account=user.email)
    context = {
        "error": error,
        "secret": _group(secret),
        "otpauth_uri": uri,
        "qr": _qr_data_uri(uri),
        "account": user.email,
    }
    return _no_store(render(request, "console/mfa/enrol.html", context, status=status))
