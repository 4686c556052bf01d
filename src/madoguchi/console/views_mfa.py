"""The console's second factor: the code step, recovery codes, and enrolment after the password.

After a correct password the session holds only a *pending* user id with a short expiry; the
session becomes a login (``django.contrib.auth.login``) only after the second factor, and only
then is :data:`~madoguchi.console.access.MFA_SESSION_KEY` set. Staff without a confirmed TOTP are
led to enrol right after the password; until they do, no console page opens for them.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Final

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from madoguchi.console.access import MFA_SESSION_KEY
from madoguchi.core.request import client_address
from madoguchi.core.time import now as current_time
from madoguchi.identity import login as identity_login
from madoguchi.identity import mfa, throttle
from madoguchi.identity.models import User

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


def may_use_console(user: User) -> bool:
    """Active staff, group operators and platform operators log in to the console."""
    return identity_login.may_use_console(user=user)


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
    """One console login attempt, recorded by identity (``LoginAttempt`` and audit event,
    with the device of the browser's device cookie: see ``identity.throttle``)."""
    identity_login.login_attempt_record(
        account=account,
        user=user,
        success=success,
        stage=stage,
        address=client_address(request),
        now=now,
        portal=identity_login.PORTAL_CONSOLE,
        reason=reason,
        device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
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
    return identity_login.login_decision(
        account=user.email,
        address=client_address(request),
        device_token=request.COOKIES.get(throttle.DEVICE_COOKIE),
        now=now,
    )


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
