"""Resident accounts: sign-up, e-mail verification, login, password reset, profile, deletion.

Views parse, make one domain call (:mod:`madoguchi.identity.accounts`, which records the audit
events and queues the mail in its own transaction) and render; they open no transaction.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.applications.selectors import applications_of_applicant
from madoguchi.core.request import client_address
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.japanese import wareki
from madoguchi.identity import accounts, passkeys, throttle
from madoguchi.identity.login import LoginRefused, resident_login
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.identity.services import (
    PROFILE_FIELDS,
    InvalidToken,
    is_resident,
    resident_verification_token_check,
)
from madoguchi.notifications.ratelimit import MailRateLimited
from madoguchi.portal.access import resident_required, safe_next
from madoguchi.portal.forms_account import (
    DeleteForm,
    EmailForm,
    ProfileForm,
    ResidentLoginForm,
    SignupForm,
)

#: Where a resident lands after logging in when no (safe) ``next`` was given.
MY_PAGE = "/mypage/"


def _base_url(request: HttpRequest) -> str:
    """This site's address as the client reached it, for links in mail."""
    return request.build_absolute_uri("/")


def _next(request: HttpRequest) -> str:
    """The page to return to (a checked local path), from the form or the query, or ""."""
    raw = request.POST.get("next") if request.method == "POST" else None
    return safe_next(request, raw if raw is not None else request.GET.get("next", ""))


def _address(request: HttpRequest) -> str | None:
    return client_address(request)


def _resident(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # resident_required ran first
    return user


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    next_path = _next(request)
    status = 422
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                base_url=_base_url(request),
                now=now(),
                client_address=_address(request),
                next_path=next_path,
            )
        except ValidationError as error:
            form.add_error("password", error)
        except MailRateLimited as limited:
            # New and taken addresses both get a mail, so both meet the same limit: no oracle.
            form.add_error(None, str(limited))
            status = 429
        else:
            # The same page whether the address was new or taken (PRG, nothing in the URL).
            return redirect("portal:account:signup_sent")
    return render(
        request,
        "portal/account/signup.html",
        {"form": form, "next": next_path},
        status=status if form.errors else 200,
    )


@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/account/signup_sent.html")


@never_cache
@require_http_methods(["GET", "POST"])
def verification_resend(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST if request.method == "POST" else None)
    next_path = _next(request)
    if request.method == "POST" and form.is_valid():
        with suppress(MailRateLimited):  # limited or not: the same page (no oracle)
            accounts.account_verification_resend(
                email=form.cleaned_data["email"],
                base_url=_base_url(request),
                now=now(),
                client_address=_address(request),
                next_path=next_path,
            )
        return redirect("portal:account:signup_sent")
    return render(
        request,
        "portal/account/resend.html",
        {"form": form, "next": next_path},
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button: mail scanners open links, and must not spend the token.
    After it, the login page leads on to ``next`` (the procedure the resident started from)."""
    next_path = _next(request)
    try:
        if request.method == "POST":
            accounts.account_verify(token=token, now=now())
            messages.success(
                request,
                _("メールアドレスを確認しました。登録したパスワードでログインしてください。"),
            )
            login_url = reverse("portal:account:login")
            if next_path:
                login_url += "?" + urlencode({"next": next_path})
            return redirect(login_url)
        resident_verification_token_check(token=token)
    except InvalidToken:
        return render(request, "portal/account/verify_invalid.html", status=400)
    return render(request, "portal/account/verify.html", {"next": next_path})


class LoginView(auth_views.LoginView):
    """Resident login: verified residents only, under the console's limits (one mechanism:
    ``identity.login.resident_login``); the session key is rotated by ``login``; ``next`` is
    followed only to this site (Django's own check)."""

    template_name = "portal/account/login.html"
    # Shaped like AuthenticationForm (username, password, request, get_user); it only parses.
    authentication_form = ResidentLoginForm  # type: ignore[assignment]
    next_page = MY_PAGE

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        # Only a plain local path (portal.access.safe_next), stricter than Django's check.
        request = request or self.request
        name = self.redirect_field_name
        return safe_next(request, request.POST.get(name, request.GET.get(name)))

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            user = resident_login(
                email=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                address=_address(self.request),
                device_token=self.request.COOKIES.get(throttle.DEVICE_COOKIE),
                now=now(),
            )
        except LoginRefused as refused:
            form.add_error(None, ValidationError(refused.message, code=refused.code))
            return self.render_to_response(self.get_context_data(form=form), status=refused.status)
        form.user = user
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        # A password typed just now: the passkey page may add a passkey without asking again.
        passkeys.reauth_mark(self.request.session, user_id=user.pk, now=now())
        response = HttpResponseRedirect(self.get_success_url())
        # This browser is now trusted for this account (identity.throttle): the limits an
        # attacker could turn against the resident no longer lock them out here.
        response.set_cookie(
            throttle.DEVICE_COOKIE,
            throttle.device_token_make(
                account=user.email, previous=self.request.COOKIES.get(throttle.DEVICE_COOKIE)
            ),
            max_age=throttle.DEVICE_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django's): a link or an image cannot log anyone out."""

    next_page = "portal:index"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("ログアウトしました。"))
        return response


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Same answer for every address; the mail (residents only) goes through the outbox."""
    form = EmailForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with suppress(MailRateLimited):  # limited or not: the same page (no oracle)
            accounts.account_password_reset_request(
                email=form.cleaned_data["email"],
                base_url=_base_url(request),
                now=now(),
                client_address=_address(request),
            )
        return redirect("portal:account:password_reset_done")
    return render(
        request,
        "portal/account/password_reset_form.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/account/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/account/password_reset_confirm.html"
    success_url = reverse_lazy("portal:account:password_reset_complete")
    post_reset_login = False

    def get_user(self, uidb64: str) -> User | None:
        # Overlong ids are refused before decoding; staff reset nothing through this page.
        if len(uidb64) > 40:
            return None
        user = super().get_user(uidb64)
        if user is not None and not is_resident(user):
            return None
        return user

    def form_valid(self, form: Any) -> HttpResponse:
        # Django's form would save the password by itself: identity's service does it, with
        # the verification and the audit event, in one transaction.
        accounts.account_password_reset_complete(
            user=form.user, password=form.cleaned_data["new_password1"], now=now()
        )
        self.request.session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/account/password_reset_complete.html"


@require_GET
@resident_required
def profile(request: HttpRequest) -> HttpResponse:
    item = ResidentProfile.objects.filter(user=_resident(request)).first()
    return render(
        request,
        "portal/account/profile.html",
        {
            "profile": item,
            "birth_date_wareki": wareki(item.birth_date) if item and item.birth_date else "",
        },
    )


def _initial(item: ResidentProfile | None) -> dict[str, Any]:
    if item is None:
        return {}
    initial = {name: getattr(item, name) for name in PROFILE_FIELDS}
    initial["birth_date"] = item.birth_date.isoformat() if item.birth_date else ""
    return initial


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    user = _resident(request)
    today = to_tokyo(now()).date()
    if request.method == "POST":
        form = ProfileForm(request.POST, today=today)
        if form.is_valid():
            accounts.account_profile_update(user=user, data=form.cleaned_data, now=now())
            messages.success(request, "登録情報を保存しました。")
            return redirect("portal:account:profile")
    else:
        form = ProfileForm(
            initial=_initial(ResidentProfile.objects.filter(user=user).first()), today=today
        )
    return render(
        request,
        "portal/account/profile_edit.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@resident_required
def delete(request: HttpRequest) -> HttpResponse:
    user = _resident(request)
    form = DeleteForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        accounts.account_delete(user=user, now=now())
        logout(request)
        return render(request, "portal/account/deleted.html")
    return render(
        request,
        "portal/account/delete.html",
        {"form": form, "retained": applications_of_applicant(applicant=user).exists()},
        status=422 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@resident_required
def tokens(request: HttpRequest) -> HttpResponse:
    """Personal API tokens for apps that apply on the resident's behalf."""
    user = request.user
    assert isinstance(user, User)
    created = ""
    error = ""
    if request.method == "POST":
        if "revoke" in request.POST:
            token_id = parse_int(request.POST["revoke"])
            if token_id is not None and accounts.account_token_revoke(
                user=user, token_id=token_id, now=now()
            ):
                messages.success(request, "トークンを失効させました。")
            else:
                messages.error(
                    request, "失効させるトークンが見つかりません。一覧から選んでください。"
                )
            return redirect("portal:account:tokens")
        try:
            _token, created = accounts.account_token_create(
                user=user, name=request.POST.get("name", ""), now=now()
            )
        except ValueError as refused:
            error = str(refused)
    return render(
        request,
        "portal/account/tokens.html",
        {"tokens": accounts.account_tokens(user=user), "created": created, "error": error},
        status=422 if error else 200,
    )
